import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLITE_FILE } from '../../src/store/sqlite.js';
import { type FakeNotion, fakeWorkspace, startFakeNotion } from '../helpers/fake-notion.js';
import { authorizeHeadless, authorizeUrl, pkce, callTool, connect, mcpPost, type RegisteredClient, register, type TokenSet, tokenRequest } from '../helpers/oauth-client.js';
import { freePort, type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';

/**
 * Durability: the BUILT server (dist/main.js, `npm run build` first) as a child process on a real
 * SQLite file, killed with SIGKILL at random moments while OAuth writes and refreshes are in flight;
 * then Notion outages, and a read-only and a full disk (a small tmpfs, when mounting is allowed).
 */

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');
const ROUNDS = 10;
const WORKERS = 6;
const ws = fakeWorkspace('A');

describe('kill -9 mid-flight', () => {
  let fake: FakeNotion;
  let dataDir: string;
  let port: number;
  let baseUrl: string;
  let child: ChildProcess | undefined;
  let stderr = '';

  beforeAll(async () => {
    fake = await startFakeNotion();
    dataDir = mkdtempSync(join(tmpdir(), 'nmr-crash-'));
    port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await fake?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function startChild(): Promise<void> {
    stderr = '';
    const proc = spawn(process.execPath, [MAIN], {
      cwd: dataDir,
      env: {
        PATH: process.env.PATH ?? '',
        NOTION_OAUTH_CLIENT_ID: fake.clientId,
        NOTION_OAUTH_CLIENT_SECRET: fake.clientSecret,
        BASE_URL: baseUrl,
        SESSION_SECRET: TEST_SECRET,
        PORT: String(port),
        DATA_DIR: join(dataDir, 'data'),
        LOG_LEVEL: 'error',
        NOTION_API_BASE_URL: fake.url,
        NOTION_OAUTH_AUTHORIZE_URL: `${fake.url}/v1/oauth/authorize`,
        RATE_LIMIT_REGISTER_PER_HOUR: '100000',
        RATE_LIMIT_AUTHORIZE_PER_MINUTE: '1000000',
        RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
        RATE_LIMIT_MCP_PER_MINUTE: '1000000',
        NOTION_RATE_LIMIT_PER_SECOND: '100000',
        NOTION_RATE_LIMIT_BURST: '100000',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child = proc;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}: ${stderr}`);
      try {
        if ((await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(1000) })).status === 200) return;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no /health within 10 s: ${stderr}`);
  }

  async function kill9(): Promise<void> {
    const proc = child!;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
    child = undefined;
  }

  it(`${ROUNDS} rounds: every token the client received works after the crash, no code works twice, the store is intact`, async () => {
    // What the client knows for sure: only token responses that fully reached it.
    interface Grant {
      client: RegisteredClient;
      tokens: TokenSet;
      busy: boolean;
    }
    const grants: Grant[] = [];
    const pendingCodes: { client: RegisteredClient; code: string; verifier: string }[] = [];
    const stack = { get baseUrl() { return baseUrl; }, fake } as unknown as Stack;
    const counts = { connects: 0, refreshes: 0, calls: 0, interrupted: 0, codeReplaysRefused: 0, pendingRedeemed: 0, checked: 0 };
    const failures: string[] = [];

    const exchange = (client: RegisteredClient, code: string, verifier: string) =>
      tokenRequest(baseUrl, client, { grant_type: 'authorization_code', code, redirect_uri: client.redirect_uris[0]!, code_verifier: verifier, resource: `${baseUrl}/mcp` });
    const refresh = (g: Grant) => tokenRequest(baseUrl, g.client, { grant_type: 'refresh_token', refresh_token: g.tokens.refresh_token });

    await startChild();
    for (let round = 0; round < ROUNDS; round++) {
      let dead = false;
      const worker = async () => {
        while (!dead) {
          const op = grants.length < 3 ? 0 : Math.random();
          try {
            if (op < 0.35) {
              const client = await register(baseUrl);
              const auth = await authorizeHeadless(stack, client, { workspace: ws });
              const pending = { client, code: auth.redirect.searchParams.get('code')!, verifier: auth.verifier };
              pendingCodes.push(pending);
              const res = await exchange(client, pending.code, pending.verifier);
              const body = await res.text();
              pendingCodes.splice(pendingCodes.indexOf(pending), 1);
              if (res.status !== 200) failures.push(`exchange ${res.status} ${body}`);
              else {
                grants.push({ client, tokens: JSON.parse(body) as TokenSet, busy: false });
                counts.connects++;
              }
            } else {
              const free = grants.filter((x) => !x.busy);
              const g = free[Math.floor(Math.random() * free.length)];
              if (!g) {
                await new Promise((r) => setTimeout(r, 5));
                continue;
              }
              g.busy = true;
              try {
                if (op < 0.7) {
                  const res = await refresh(g);
                  const body = await res.text();
                  if (res.status !== 200) failures.push(`refresh ${res.status} ${body}`);
                  else {
                    g.tokens = JSON.parse(body) as TokenSet;
                    counts.refreshes++;
                  }
                } else {
                  const r = await callTool(baseUrl, g.tokens.access_token, 'get_self');
                  if (r.isError) failures.push(`get_self ${JSON.stringify(r.data)}`);
                  counts.calls++;
                }
              } finally {
                g.busy = false;
              }
            }
          } catch {
            if (!dead) failures.push('request failed while the server was up');
            counts.interrupted++;
            return;
          }
        }
      };
      const running = Array.from({ length: WORKERS }, worker);
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 900));
      dead = true;
      await kill9();
      await Promise.all(running);
      for (const g of grants) g.busy = false;

      await startChild();
      // Every grant whose token response reached the client: its access token and its latest refresh token work.
      for (const g of grants) {
        const r = await callTool(baseUrl, g.tokens.access_token, 'get_self');
        expect(r.isError, JSON.stringify(r.data)).toBe(false);
        const res = await refresh(g);
        expect(res.status, await res.clone().text()).toBe(200);
        g.tokens = (await res.json()) as TokenSet;
        counts.checked++;
      }
      // A code whose exchange was cut off: the client's retry connects, whether or not the code
      // was redeemed before the crash (then it gets that first answer); a replay by anyone without
      // the PKCE verifier fails and revokes the grant.
      for (const p of pendingCodes.splice(0)) {
        const first = await exchange(p.client, p.code, p.verifier);
        expect(first.status, await first.clone().text()).toBe(200);
        counts.pendingRedeemed++;
        const tokens = (await first.json()) as TokenSet;
        expect((await mcpPost(baseUrl, tokens.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(200);
        expect((await exchange(p.client, p.code, pkce().verifier)).status).toBe(400);
        expect((await mcpPost(baseUrl, tokens.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(401);
        counts.codeReplaysRefused++;
      }
    }
    expect(failures).toEqual([]);

    // A fresh grant, its code replayed after a crash without the verifier: refused, and everything
    // from that code revoked.
    const { client, tokens } = await connectWithCode();
    await kill9();
    await startChild();
    expect((await exchange(client, tokens.code, pkce().verifier)).status).toBe(400);
    expect((await mcpPost(baseUrl, tokens.set.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(401);

    await kill9();
    const db = new Database(join(dataDir, 'data', SQLITE_FILE));
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('foreign_key_check')).toEqual([]);
    } finally {
      db.close();
    }
    console.log(`crash rounds: ${ROUNDS}; ${JSON.stringify(counts)}; grants alive: ${grants.length}`);
    expect(counts.connects).toBeGreaterThan(ROUNDS);
    expect(counts.refreshes).toBeGreaterThan(ROUNDS);
    expect(counts.checked).toBeGreaterThan(ROUNDS * 3);

    async function connectWithCode() {
      const c = await register(baseUrl);
      const auth = await authorizeHeadless(stack, c, { workspace: ws });
      const code = auth.redirect.searchParams.get('code')!;
      const res = await exchange(c, code, auth.verifier);
      expect(res.status).toBe(200);
      return { client: c, tokens: { code, verifier: auth.verifier, set: (await res.json()) as TokenSet } };
    }
  }, 120_000);
});

describe('Notion outage', () => {
  let stack: Stack;
  let token: string;
  beforeAll(async () => {
    stack = await startStack({ env: { NOTION_TIMEOUT_SECONDS: '2', RATE_LIMIT_AUTHORIZE_PER_MINUTE: '1000000', RATE_LIMIT_TOKEN_PER_MINUTE: '1000000', RATE_LIMIT_MCP_PER_MINUTE: '1000000', LOG_LEVEL: 'fatal' } });
    token = (await connect(stack, ws)).tokens.access_token;
  });
  afterAll(async () => stack?.close());

  async function timed(name: string, args: Record<string, unknown> = {}) {
    const t0 = Date.now();
    const r = await callTool(stack.baseUrl, token, name, args);
    return { ...r, ms: Date.now() - t0 };
  }

  it('Notion down, then slow: clear tool errors within a bounded time; recovers by itself', async () => {
    expect((await timed('get_self')).isError).toBe(false);

    stack.fake.down = true;
    const down = await timed('get_self');
    expect(down.isError).toBe(true);
    expect(down.data.error.code).not.toBe('internal_error');
    expect(down.data.error.message).toMatch(/Notion/);
    expect(down.ms).toBeLessThan(15_000);
    const write = await timed('create_comment', { parent: { page_id: '1d3a7b5c-0000-4000-8000-000000000001' }, markdown: 'hi' });
    expect(write.isError).toBe(true);
    stack.fake.down = false;
    expect((await timed('get_self')).isError).toBe(false);

    stack.fake.latencyMs = 6_000; // NOTION_TIMEOUT_SECONDS=2
    const slow = await timed('get_self');
    expect(slow.isError).toBe(true);
    expect(slow.data.error.code).toBe('notion_timeout');
    expect(slow.ms).toBeLessThan(15_000);
    stack.fake.latencyMs = 0;
    const back = await timed('get_self');
    expect(back.isError).toBe(false);
    expect(await fetch(`${stack.baseUrl}/health`).then((r) => r.status)).toBe(200);
    console.log(`outage: down answered in ${down.ms} ms (${down.data.error.code}), slow in ${slow.ms} ms, recovered in ${back.ms} ms`);
  }, 60_000);
});

/** A tmpfs needs CAP_SYS_ADMIN; where mounting is not allowed these tests are skipped (see docs/reliability.md). */
const MOUNT = mkdtempSync(join(tmpdir(), 'nmr-disk-'));
const canMount = (() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', MOUNT], { stdio: 'ignore' });
    return true;
  } catch {
    rmSync(MOUNT, { recursive: true, force: true });
    return false;
  }
})();

describe.skipIf(!canMount)('read-only and full disk (tmpfs)', () => {
  let stack: Stack;
  const dataDir = join(MOUNT, 'data');
  beforeAll(async () => {
    mkdirSync(dataDir);
    stack = await startStack({ dataDir, env: { LOG_LEVEL: 'fatal', RATE_LIMIT_REGISTER_PER_HOUR: '100000' , RATE_LIMIT_AUTHORIZE_PER_MINUTE: '1000000', RATE_LIMIT_TOKEN_PER_MINUTE: '1000000', RATE_LIMIT_MCP_PER_MINUTE: '1000000' } });
  });
  afterAll(async () => {
    await stack?.close();
    execFileSync('umount', ['-l', MOUNT], { stdio: 'ignore' });
    rmSync(MOUNT, { recursive: true, force: true });
  });

  const tryRegister = () => fetch(`${stack.baseUrl}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'x', redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], token_endpoint_auth_method: 'none' }) });

  it('full disk: writes fail with a clear 503, nothing claimed that was not stored, and it recovers', async () => {
    const { tokens } = await connect(stack, ws);
    // Fill the tmpfs to the last byte.
    const filler = join(MOUNT, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
    } catch {
      /* ENOSPC: the disk is full now */
    }
    let refused = 0;
    const stored: RegisteredClient[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await tryRegister();
      const body = await res.text();
      if (res.status === 201) {
        stored.push(JSON.parse(body) as RegisteredClient); // a page still free inside the DB file: checked below
        continue;
      }
      expect(res.status, body).toBe(503);
      expect(body).toMatch(/Storage is unavailable/);
      expect(body).not.toMatch(/    at |SQLITE_|\/src\//);
      refused++;
    }
    expect(refused).toBeGreaterThan(0);
    expect([200, 503]).toContain((await fetch(`${stack.baseUrl}/health`)).status);
    rmSync(filler);
    for (const c of stored) expect((await fetch(authorizeUrl(stack.baseUrl, c, { challenge: pkce().challenge }))).status).toBe(200);
    // Recovers by itself once space is back; the earlier grant still works.
    expect((await tryRegister()).status).toBe(201);
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_self')).isError).toBe(false);
    console.log(`full disk: ${refused}/20 registrations refused with 503`);
  }, 60_000);

  it('read-only disk: the server refuses to start with one clear line, and starts with its data once writable', async () => {
    const { tokens } = await connect(stack, ws);
    await stack.app.close();
    // A mount with files open for writing cannot be made read-only ("busy"), so the store is closed first.
    execFileSync('mount', ['-o', 'remount,ro', MOUNT]);
    try {
      const port = await freePort();
      const run = spawn(process.execPath, [MAIN], {
        cwd: MOUNT,
        env: { PATH: process.env.PATH ?? '', NOTION_OAUTH_CLIENT_ID: 'x', NOTION_OAUTH_CLIENT_SECRET: 'y', BASE_URL: `http://127.0.0.1:${port}`, SESSION_SECRET: TEST_SECRET, PORT: String(port), DATA_DIR: dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      run.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
      const code = await new Promise((r) => run.once('close', r));
      expect(code).toBe(1);
      expect(err).toMatch(/^notion-mcp-remote: cannot open the store at .*Check DATA_DIR and its permissions/);
      expect(err.trimEnd().split('\n')).toHaveLength(1);
      expect(err).not.toContain('    at ');
      console.log(`read-only disk: ${err.trim()}`);
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', MOUNT]);
    }
    await stack.restart();
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_self')).isError).toBe(false);
    expect((await tryRegister()).status).toBe(201);
  }, 60_000);
});

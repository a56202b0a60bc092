import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeNotion, fakeWorkspace, startFakeNotion } from '../helpers/fake-notion.js';
import { authorizeHeadless, callTool, exchangeCode, mcpPost, pkce, register, tokenRequest } from '../helpers/oauth-client.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { freePort, type Stack, TEST_SECRET } from '../helpers/stack.js';

/**
 * Two BUILT servers (dist/main.js, `npm run build` first) in child processes sharing one real
 * redis-server: what an operator runs behind a load balancer. Both serve the same BASE_URL
 * (instance A's origin); B is reached on its own port, allowed through ADDITIONAL_ALLOWED_HOSTS.
 * Each instance serves an access token it verified before without reading Redis, until a
 * deletion is announced on the revocation channel; a revocation on one instance is therefore
 * refused on the other as soon as that message arrives (milliseconds), cached or not.
 */

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');
const WAIT_MS = 10_000;

interface Instance {
  base: string;
  port: number;
  child: ChildProcess;
  stderr: () => string;
}

let redis: RedisServer;
let fake: FakeNotion;
let portA: number;
let portB: number;
let baseUrl: string;
const running = new Set<ChildProcess>();

function spawnServer(port: number, secret = TEST_SECRET): Instance {
  const child = spawn(process.execPath, [MAIN], {
    cwd: redis.dir,
    env: {
      PATH: process.env.PATH ?? '',
      NOTION_OAUTH_CLIENT_ID: fake.clientId,
      NOTION_OAUTH_CLIENT_SECRET: fake.clientSecret,
      NOTION_API_BASE_URL: fake.url,
      NOTION_OAUTH_AUTHORIZE_URL: `${fake.url}/v1/oauth/authorize`,
      BASE_URL: baseUrl,
      ADDITIONAL_ALLOWED_HOSTS: `127.0.0.1:${portB}`,
      SESSION_SECRET: secret,
      PORT: String(port),
      REDIS_URL: redis.url,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { base: `http://127.0.0.1:${port}`, port, child, stderr: () => err };
}

async function startServer(port: number): Promise<Instance> {
  const inst = spawnServer(port);
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (inst.child.exitCode !== null) throw new Error(`server on ${port} exited: ${inst.stderr()}`);
    try {
      const res = await fetch(`${inst.base}/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return inst;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server on ${port} did not become healthy: ${inst.stderr()}`);
}

async function kill9(inst: Instance): Promise<void> {
  if (inst.child.exitCode !== null || inst.child.signalCode !== null) return;
  const exited = new Promise((r) => inst.child.once('exit', r));
  inst.child.kill('SIGKILL');
  await exited;
}

const ping = (base: string, token: string) => mcpPost(base, token, { jsonrpc: '2.0', id: 1, method: 'ping' });

let a: Instance;
let b: Instance;

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeNotion();
  portA = await freePort();
  portB = await freePort();
  baseUrl = `http://127.0.0.1:${portA}`;
  [a, b] = await Promise.all([startServer(portA), startServer(portB)]);
});

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await fake?.close();
  await redis?.dispose();
});

describe('two instances on one Redis', () => {
  it('authorizes on A, serves and refreshes on B, revokes on B and A refuses; survives kill -9 of both', async () => {
    // Everything the browser does happens on A: cookies and flows are A's.
    const client = await register(a.base);
    const stackA = { baseUrl: a.base, fake } as unknown as Stack;
    const auth = await authorizeHeadless(stackA, client, { workspace: fakeWorkspace('A') });
    const tokens = await exchangeCode(stackA, client, auth);

    // B sees the same grant: tools, then a refresh rotated on B.
    expect((await callTool(b.base, tokens.access_token, 'search', { query: 'Page' })).isError).toBe(false);
    const refreshed = await tokenRequest(b.base, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    const pair = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect((await callTool(a.base, pair.access_token, 'search')).isError).toBe(false);
    // The code was single use across instances too. B answers the client's own retry with the
    // tokens A issued, and refuses a replay without the PKCE verifier.
    const exchangeOnB = (verifier: string) =>
      tokenRequest(b.base, client, {
        grant_type: 'authorization_code',
        code: auth.redirect.searchParams.get('code')!,
        redirect_uri: client.redirect_uris[0]!,
        code_verifier: verifier,
        resource: `${baseUrl}/mcp`,
      });
    const retry = await exchangeOnB(auth.verifier);
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as { access_token: string }).access_token).toBe(tokens.access_token);
    const replay = await exchangeOnB(pkce().verifier);
    expect(replay.status).toBe(400);

    // A second connection, to check that nothing is lost across kill -9.
    const client2 = await register(b.base);
    const tokens2 = await exchangeCode(stackA, client2, await authorizeHeadless(stackA, client2, { workspace: fakeWorkspace('B') }));

    // The replayed code revoked the first grant everywhere (B never cached pair's access token).
    expect((await ping(b.base, pair.access_token)).status).toBe(401);
    const refreshAfterReplay = await tokenRequest(a.base, client, { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
    expect(refreshAfterReplay.status).toBe(400);

    await Promise.all([kill9(a), kill9(b)]);
    [a, b] = await Promise.all([startServer(portA), startServer(portB)]);
    expect((await callTool(a.base, tokens2.access_token, 'search')).isError).toBe(false);
    expect((await callTool(b.base, tokens2.access_token, 'search')).isError).toBe(false);
    const r2 = await tokenRequest(a.base, client2, { grant_type: 'refresh_token', refresh_token: tokens2.refresh_token });
    expect(r2.status).toBe(200);
    const pair2 = (await r2.json()) as { access_token: string; refresh_token: string };

    // Revoke on B; A refuses the tokens right away.
    const revoke = await fetch(`${b.base}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: pair2.refresh_token, client_id: client2.client_id, client_secret: client2.client_secret! }).toString(),
    });
    expect(revoke.status).toBe(200);
    // pair2's access token was never verified on A: refused at once.
    expect((await ping(a.base, pair2.access_token)).status).toBe(401);
    // tokens2's access token is in A's verified cache: refused once B's announcement reached A.
    await vi.waitFor(async () => expect((await ping(a.base, tokens2.access_token)).status).toBe(401), { timeout: 1000, interval: 20 });
    const again = await tokenRequest(a.base, client2, { grant_type: 'refresh_token', refresh_token: pair2.refresh_token });
    expect(again.status).toBe(400);

    // Redis holds no token, code or secret in clear (its append-only file is what a backup copies).
    const secrets = [tokens2.access_token, tokens2.refresh_token, pair.refresh_token, client.client_secret!, ...fake.tokens.keys()];
    const dumps = readdirSync(join(redis.dir, 'appendonlydir')).map((f) => readFileSync(join(redis.dir, 'appendonlydir', f)).toString('latin1'));
    expect(dumps.join('').length).toBeGreaterThan(0);
    for (const s of secrets) expect(dumps.some((d) => d.includes(s))).toBe(false);
  }, 60_000);

  it('refuses to start, in one line, on a Redis written with another SESSION_SECRET', async () => {
    const other = spawnServer(await freePort(), '7c2e9a4f1b8d3e6a0c5f2b9e4d7a1c8f3e6b0d9a2c5f8e1b4d7a0c3f6e9b2d5a');
    const code = await new Promise((r) => other.child.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(other.stderr().trimEnd().split('\n')).toHaveLength(1);
    expect(other.stderr()).toMatch(/SESSION_SECRET does not match.*REDIS_URL/);
  });

  it('answers 503 with a JSON error while Redis is down, stays up, and works again once Redis is back', async () => {
    const client = await register(a.base);
    const stackA = { baseUrl: a.base, fake } as unknown as Stack;
    const tokens = await exchangeCode(stackA, client, await authorizeHeadless(stackA, client, { workspace: fakeWorkspace('C') }));
    // In both instances' verified-token caches: still refused while Redis is down, since a
    // revocation could not be announced meanwhile.
    for (const inst of [a, b]) expect((await ping(inst.base, tokens.access_token)).status).toBe(200);

    await redis.stop();
    for (const inst of [a, b]) {
      // The instance learns of the outage when its connections to Redis close: on a loaded
      // machine that event can come a moment after the process has gone.
      let res = await ping(inst.base, tokens.access_token);
      for (const deadline = Date.now() + 2000; res.status === 200 && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 50));
        res = await ping(inst.base, tokens.access_token);
      }
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/Storage is unavailable/);
      expect((await fetch(`${inst.base}/ready`)).status).toBe(503);
      expect((await fetch(`${inst.base}/health`)).status).toBe(200); // alive, only not ready
      const token = await tokenRequest(inst.base, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      expect(token.status).toBe(503);
      expect(((await token.json()) as { error: string }).error).toBe('temporarily_unavailable');
    }
    expect(a.child.exitCode).toBeNull();
    expect(b.child.exitCode).toBeNull();

    await redis.start();
    for (const inst of [a, b]) {
      const deadline = Date.now() + WAIT_MS;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await ping(inst.base, tokens.access_token)).status;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
    }
    // Nothing written before the outage was lost (append-only file).
    expect((await callTool(b.base, tokens.access_token, 'search')).isError).toBe(false);
    const r = await tokenRequest(a.base, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(r.status).toBe(200);
  });
});

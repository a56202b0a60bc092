import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialRef } from '../../src/oauth/grants.js';
import { type FakeNotion, type FakeWorkspace, fakeWorkspace, startFakeNotion } from '../helpers/fake-notion.js';
import { callTool, connect, mcpPost, type TokenSet } from '../helpers/oauth-client.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';
import { ADMIN, type AdminResult, runAdmin, startAgain } from './support.js';

/**
 * The BUILT admin CLI (dist/admin.js, from `npm run build`) in a child process with a clean
 * environment, against a store the real app wrote (startStack + connect, then closed).
 */

const TOOLS_LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
const PAGE = '5e6f7a8b-0000-4000-8000-000000000042';
const MISSING = '00000000-0000-4000-8000-000000000001';


const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

const admin = (args: string[], vars: Record<string, string>) => runAdmin(args, vars, tempDir('nmr-admin-cwd-'));

interface Connected {
  workspace: FakeWorkspace;
  tokens: TokenSet;
  grantId: string;
}

async function connectAs(stack: Stack, workspace: FakeWorkspace): Promise<Connected> {
  const { tokens } = await connect(stack, workspace);
  const found = await stack.app.store.getToken(credentialRef(tokens.access_token));
  return { workspace, tokens, grantId: found!.grant.id };
}

/** No token, code, wrapped key or secret of any kind in what the CLI printed. */
function expectNoSecrets(r: AdminResult, all: Connected[]): void {
  const text = r.stdout + r.stderr;
  expect(text).not.toMatch(/nmr_(at|rt|ac)_/);
  expect(text).not.toMatch(/ntn_/);
  for (const c of all) {
    expect(text).not.toContain(c.tokens.access_token);
    expect(text).not.toContain(c.tokens.refresh_token);
  }
  expect(text).not.toContain(TEST_SECRET);
}

beforeAll(() => {
  if (!existsSync(ADMIN)) throw new Error(`${ADMIN} is missing: run \`npm run build\` first`);
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('notion-mcp-remote-admin on the SQLite store', () => {
  let fake: FakeNotion;
  let dataDir: string;
  let baseUrl: string;
  let env: Record<string, string>;
  let a: Connected;
  let b1: Connected;
  let b2: Connected;
  let c: Connected;
  let d: Connected;
  let all: Connected[];

  beforeAll(async () => {
    fake = await startFakeNotion();
    dataDir = tempDir('nmr-admin-data-');
    const stack = await startStack({ fake, dataDir });
    baseUrl = stack.baseUrl;
    a = await connectAs(stack, fakeWorkspace('A'));
    b1 = await connectAs(stack, fakeWorkspace('B'));
    b2 = await connectAs(stack, fakeWorkspace('B'));
    c = await connectAs(stack, fakeWorkspace('C'));
    d = await connectAs(stack, fakeWorkspace('D'));
    all = [a, b1, b2, c, d];
    // Use one connection, so "last used" has a value.
    expect((await mcpPost(stack.baseUrl, d.tokens.access_token, TOOLS_LIST)).status).toBe(200);
    // Tool calls for the activity export; close() writes the entries still buffered.
    await callTool(stack.baseUrl, a.tokens.access_token, 'get_page', { page_id: `https://www.notion.so/Plan-${PAGE.replace(/-/g, '')}?pvs=4` });
    await callTool(stack.baseUrl, c.tokens.access_token, 'get_page', { page_id: PAGE });
    await callTool(stack.baseUrl, c.tokens.access_token, 'get_page', { page_id: MISSING });
    await stack.close();
    env = {
      NOTION_OAUTH_CLIENT_ID: fake.clientId,
      NOTION_OAUTH_CLIENT_SECRET: fake.clientSecret,
      BASE_URL: baseUrl,
      SESSION_SECRET: TEST_SECRET,
      DATA_DIR: dataDir,
    };
  });
  afterAll(async () => fake?.close());

  it('prints usage on stderr and exits 2 for an unknown command or a missing argument', async () => {
    for (const args of [[], ['frobnicate'], ['revoke'], ['revoke', '--user'], ['revoke', '--workspace', '--user'], ['grants', 'extra'], ['revoke', 'x', 'y']]) {
      const r = await admin(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('usage: notion-mcp-remote-admin <command>');
      expect(r.stderr).toContain('rotate-secret');
      expect(r.stdout).toBe('');
    }
    const help = await admin(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('revoke --workspace <id>');
  });

  it('exits 1 with one line when the configuration is missing or DATA_DIR holds no store', async () => {
    const noConfig = await admin(['grants'], { DATA_DIR: dataDir });
    expect(noConfig.code).toBe(1);
    expect(noConfig.stderr).toMatch(/SESSION_SECRET is required/);
    const empty = tempDir('nmr-admin-empty-');
    const noStore = await admin(['stats'], { ...env, DATA_DIR: empty });
    expect(noStore.code).toBe(1);
    expect(noStore.stderr).toMatch(/there is no store at .*check DATA_DIR/);
    expect(existsSync(join(empty, 'notion-mcp-remote.db'))).toBe(false);
  });

  it('refuses a store written with another SESSION_SECRET, with the server\'s error', async () => {
    const r = await admin(['grants'], { ...env, SESSION_SECRET: '7c2e9a4f1b8d3e6a0c5f2b9e4d7a1c8f3e6b0d9a2c5f8e1b4d7a0c3f6e9b2d5a' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SESSION_SECRET does not match/);
  });

  it('grants: lists every grant with its Notion user, workspace, client, created and last used, and no token', async () => {
    const r = await admin(['grants'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^GRANT\s+NOTION USER\s+WORKSPACE\s+CLIENT\s+CREATED\s+LAST USED$/);
    expect(lines.at(-1)).toBe('5 grants');
    for (const g of all) {
      const line = lines.find((l) => l.startsWith(g.grantId));
      expect(line, g.grantId).toBeDefined();
      expect(line).toContain(`${g.workspace.user.id} (${g.workspace.user.name})`);
      expect(line).toContain(`${g.workspace.id} (${g.workspace.name})`);
      expect(line).toContain('Claude');
      expect(line).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    }
    // The last column is "last used": a time, or "never".
    expect(lines.find((l) => l.startsWith(d.grantId))).toMatch(/Z {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expectNoSecrets(r, all);

    const json = await admin(['grants', '--json'], env);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as { id: string; notionUserId: string; notionWorkspaceId: string; clientName: string }[];
    expect(rows.map((x) => x.id).sort()).toEqual(all.map((g) => g.grantId).sort());
    expect(rows.find((x) => x.id === c.grantId)).toMatchObject({ notionUserId: c.workspace.user.id, notionWorkspaceId: c.workspace.id, clientName: 'Claude' });
    expectNoSecrets(json, all);
  });

  it('stats: prints the store counts', async () => {
    const r = await admin(['stats'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^clients\s+5$/m);
    expect(r.stdout).toMatch(/^grants\s+5$/m);
    expect(r.stdout).toMatch(/^live tokens\s+10$/m);
    expect(r.stdout).toMatch(/^pending flows\s+0$/m);
    const json = await admin(['stats', '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual({ clients: 5, grants: 5, liveTokens: 10, pendingFlows: 0 });
  });

  it('activity: exports the log as JSON lines, each connection oldest first, by grant and since a time, with no token or argument value', async () => {
    const r = await admin(['activity'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { at: string; grant: string; tool: string; write: boolean; outcome: string; objects: { id: string }[] });
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.grant === a.grantId)).toMatchObject({ tool: 'get_page', write: false, outcome: 'ok', objects: [{ id: PAGE }] });
    const ofC = lines.filter((l) => l.grant === c.grantId);
    expect(ofC.map((l) => [l.outcome, l.objects[0]!.id])).toEqual([['ok', PAGE], ['object_not_found', MISSING]]);
    expect(Date.parse(ofC[0]!.at)).toBeLessThanOrEqual(Date.parse(ofC[1]!.at));
    expectNoSecrets(r, all);
    // The URL the model passed is not kept: only the page's ID.
    expect(r.stdout).not.toContain('pvs=4');
    expect(r.stdout).not.toContain('notion.so');

    const one = await admin(['activity', '--grant', c.grantId], env);
    expect(one.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { grant: string }).grant)).toEqual([c.grantId, c.grantId]);
    const later = await admin(['activity', '--since', new Date(Date.now() + 60_000).toISOString()], env);
    expect(later).toMatchObject({ code: 0, stdout: '' });
    const since = await admin(['activity', '--grant', c.grantId, '--since', ofC[1]!.at], env);
    expect(since.stdout.trimEnd().split('\n')).toHaveLength(ofC[0]!.at === ofC[1]!.at ? 2 : 1);

    expect((await admin(['activity', '--grant', 'no-such-grant'], env)).code).toBe(1);
    for (const args of [['activity', '--since', 'yesterday'], ['activity', '--grant'], ['activity', '--json']]) {
      const bad = await admin(args, env);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr).toContain('usage:');
    }
  });

  it('revoke <grantId>, --user and --workspace delete the grants, say Notion was not revoked, and the tokens get 401', async () => {
    const one = await admin(['revoke', a.grantId], env);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`revoked grant ${a.grantId}`);
    expect(one.stdout).toContain('1 grant revoked');
    expect(one.stdout).toMatch(/NOT revoked at Notion/);
    expect(one.stdout).toContain('Notion → Settings → Connections');
    expectNoSecrets(one, all);

    const again = await admin(['revoke', a.grantId], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no grant ${a.grantId} found`);

    const user = await admin(['revoke', '--user', b1.workspace.user.id], env);
    expect(user.code).toBe(0);
    expect(user.stdout).toContain(`revoked grant ${b1.grantId}`);
    expect(user.stdout).toContain(`revoked grant ${b2.grantId}`);
    expect(user.stdout).toContain('2 grants revoked');
    expect(user.stdout).toMatch(/NOT revoked at Notion/);

    const ws = await admin(['revoke', '--workspace', c.workspace.id], env);
    expect(ws.code).toBe(0);
    expect(ws.stdout).toContain(`revoked grant ${c.grantId}`);
    expect(ws.stdout).toContain('1 grant revoked');

    const none = await admin(['revoke', '--workspace', 'no-such-workspace'], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('nothing was revoked');

    const left = await admin(['grants', '--json'], env);
    expect((JSON.parse(left.stdout) as { id: string }[]).map((x) => x.id)).toEqual([d.grantId]);
    // The activity of a and c went with their grants.
    expect((await admin(['activity'], env)).stdout).toBe('');

    const stack = await startAgain({ baseUrl }, { fake, dataDir });
    try {
      for (const g of [a, b1, b2, c]) {
        expect((await mcpPost(stack.baseUrl, g.tokens.access_token, TOOLS_LIST)).status, g.grantId).toBe(401);
      }
      expect((await mcpPost(stack.baseUrl, d.tokens.access_token, TOOLS_LIST)).status).toBe(200);
    } finally {
      await stack.close();
    }
  });

  it('rotate-secret prints a new secret and the env lines; with them the server keeps old tokens working', async () => {
    const r = await admin(['rotate-secret'], env);
    expect(r.code).toBe(0);
    const next = /^SESSION_SECRET=([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
    const previous = /^SESSION_SECRET_PREVIOUS=(.+)$/m.exec(r.stdout)?.[1];
    expect(next).toBeDefined();
    expect(next).not.toBe(TEST_SECRET);
    expect(previous).toBe(TEST_SECRET);
    expect(r.stdout).toContain('REFRESH_TOKEN_IDLE_TTL_SECONDS');
    expect(r.stdout).toContain('7776000 s, 90 days');
    expect(r.stdout).not.toMatch(/nmr_(at|rt|ac)_/);
    // A second rotation keeps the older secret listed after the current one.
    const twice = await admin(['rotate-secret'], { ...env, SESSION_SECRET: next!, SESSION_SECRET_PREVIOUS: previous! });
    expect(/^SESSION_SECRET_PREVIOUS=(.+)$/m.exec(twice.stdout)?.[1]).toBe(`${next},${TEST_SECRET}`);

    const rotated = { SESSION_SECRET: next!, SESSION_SECRET_PREVIOUS: previous! };
    const stack = await startAgain({ baseUrl }, { fake, dataDir, env: rotated });
    try {
      expect((await mcpPost(stack.baseUrl, d.tokens.access_token, TOOLS_LIST)).status).toBe(200);
    } finally {
      await stack.close();
    }
    // The CLI opens the rotated store with the rotated environment.
    const listed = await admin(['grants', '--json'], { ...env, ...rotated });
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((x) => x.id)).toEqual([d.grantId]);
  });
});

describe('notion-mcp-remote-admin on the Redis store', () => {
  let fake: FakeNotion;
  let redis: RedisServer;
  let baseUrl: string;
  let env: Record<string, string>;
  let a: Connected;
  let b: Connected;

  beforeAll(async () => {
    fake = await startFakeNotion();
    redis = await startRedis();
    const stack = await startStack({ fake, env: { REDIS_URL: redis.url } });
    baseUrl = stack.baseUrl;
    a = await connectAs(stack, fakeWorkspace('A'));
    b = await connectAs(stack, fakeWorkspace('B'));
    await callTool(stack.baseUrl, b.tokens.access_token, 'get_page', { page_id: PAGE });
    await stack.close();
    env = {
      NOTION_OAUTH_CLIENT_ID: fake.clientId,
      NOTION_OAUTH_CLIENT_SECRET: fake.clientSecret,
      BASE_URL: baseUrl,
      SESSION_SECRET: TEST_SECRET,
      REDIS_URL: redis.url,
    };
  });
  afterAll(async () => {
    await fake?.close();
    await redis?.dispose();
  });

  it('lists, counts and revokes grants in Redis', async () => {
    const listed = await admin(['grants'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(a.grantId);
    expect(listed.stdout).toContain(b.grantId);
    expect(listed.stdout.trimEnd().split('\n').at(-1)).toBe('2 grants');
    expectNoSecrets(listed, [a, b]);

    const stats = await admin(['stats'], env);
    expect(stats.stdout).toMatch(/^grants\s+2$/m);

    const revoked = await admin(['revoke', '--workspace', a.workspace.id], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked grant ${a.grantId}`);
    expect(revoked.stdout).toMatch(/NOT revoked at Notion/);

    const stack = await startAgain({ baseUrl }, { fake, dataDir: tempDir('nmr-admin-unused-'), env: { REDIS_URL: redis.url } });
    try {
      expect((await mcpPost(stack.baseUrl, a.tokens.access_token, TOOLS_LIST)).status).toBe(401);
      expect((await mcpPost(stack.baseUrl, b.tokens.access_token, TOOLS_LIST)).status).toBe(200);
    } finally {
      await stack.close();
    }
  });

  it('exports the activity log from Redis', async () => {
    const r = await admin(['activity'], env);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      expect.objectContaining({ grant: b.grantId, tool: 'get_page', write: false, outcome: 'ok', objects: [expect.objectContaining({ id: PAGE })] }),
    ]);
    expectNoSecrets(r, [a, b]);
  });

  it('exits 1 naming REDIS_URL when Redis does not answer', async () => {
    await redis.stop();
    try {
      const r = await admin(['grants'], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot reach Redis at .*REDIS_URL/);
    } finally {
      await redis.start();
    }
  });
});

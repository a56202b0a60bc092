import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type FakeNotion, fakeWorkspace, startFakeNotion } from '../helpers/fake-notion.js';
import { callTool, connect, mcpPost, type RegisteredClient, tokenRequest } from '../helpers/oauth-client.js';
import { type RedisCluster, startCluster } from '../helpers/redis.js';
import { freePort, type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';
import { runAdmin } from '../admin/support.js';

/**
 * Redis Cluster: three masters and three replicas (real redis-server processes), and two app
 * instances on it (REDIS_URL=redis+cluster://...) serving one BASE_URL, as behind a load
 * balancer. The OAuth flow runs on A; tools, refreshes and revocations on both. The data spreads
 * over every master; a master is SIGKILLed, its replica promoted, and no connection is lost.
 */
let cluster: RedisCluster;
let fake: FakeNotion;
let a: Stack;
let b: Stack;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ping = (base: string, token: string) => mcpPost(base, token, { jsonrpc: '2.0', id: 1, method: 'ping' });
const revokeOn = (base: string, client: RegisteredClient, token: string) =>
  fetch(`${base}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, client_id: client.client_id, client_secret: client.client_secret! }).toString(),
  });

/** Retries while the answer is a 503 (what a careful client does during a failover). */
async function until503Ends(what: string, call: () => Promise<Response>, ms = 20_000): Promise<Response> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await call();
    if (res.status !== 503) return res;
    await res.arrayBuffer();
    if (Date.now() > deadline) throw new Error(`still 503 for ${what}`);
    await sleep(200);
  }
}

/** `fn` on a connection to each node the cluster calls a master. */
async function onMasters<T>(fn: (r: Redis) => Promise<T>): Promise<T[]> {
  const { masters } = await cluster.topology();
  return Promise.all(
    masters.map(async (port) => {
      const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null }).on('error', () => undefined);
      try {
        return await fn(r);
      } finally {
        r.disconnect();
      }
    }),
  );
}
const keysPerMaster = () => onMasters((r) => r.dbsize());

beforeAll(async () => {
  [cluster, fake] = await Promise.all([startCluster(3), startFakeNotion()]);
  a = await startStack({ fake, env: { REDIS_URL: cluster.url } });
  const portB = await freePort();
  b = await startStack({ fake, port: portB, env: { REDIS_URL: cluster.url, BASE_URL: a.baseUrl, ADDITIONAL_ALLOWED_HOSTS: `127.0.0.1:${portB}` } });
}, 60_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await fake?.close();
  await cluster?.dispose();
});

it('runs the OAuth flow, tools and revocation across two instances, with the data on every master', async () => {
  const users = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => connect(a, fakeWorkspace(`cluster-${i}`))));
  for (const u of users) {
    expect((await callTool(b.baseUrl, u.tokens.access_token, 'get_self')).isError).toBe(false);
    expect((await callTool(a.baseUrl, u.tokens.access_token, 'get_self')).isError).toBe(false);
  }
  // Sharded, not one hash tag: every master holds some of the data.
  expect((await keysPerMaster()).filter((n) => n > 0)).toHaveLength(3);

  // Refreshed on B, used on A.
  const [first] = users;
  const refreshed = await tokenRequest(b.baseUrl, first!.client, { grant_type: 'refresh_token', refresh_token: first!.tokens.refresh_token });
  expect(refreshed.status).toBe(200);
  const pair = (await refreshed.json()) as { access_token: string; refresh_token: string };
  expect((await callTool(a.baseUrl, pair.access_token, 'get_self')).isError).toBe(false);

  // Revoked on B: A, which has the token in its verified cache, refuses it once B's announcement arrives.
  expect((await ping(a.baseUrl, pair.access_token)).status).toBe(200);
  await vi.waitFor(() => expect(a.app.store.revocationMark()).not.toBeNull(), { timeout: 5000 });
  expect((await revokeOn(b.baseUrl, first!.client, pair.refresh_token)).status).toBe(200);
  await vi.waitFor(async () => expect((await ping(a.baseUrl, pair.access_token)).status).toBe(401), { timeout: 2000, interval: 20 });
  expect((await tokenRequest(a.baseUrl, first!.client, { grant_type: 'refresh_token', refresh_token: pair.refresh_token })).status).toBe(400);

  // The operator's view: stats and the grants of one user, from either instance.
  const stats = await b.app.store.stats(Date.now());
  expect(stats).toMatchObject({ grants: 5, clients: 6 });
  expect((await a.app.store.listGrants()).map((g) => g.id).sort()).toEqual((await b.app.store.listGrants()).map((g) => g.id).sort());
  expect(await a.app.store.listGrants()).toHaveLength(5);
}, 60_000);

it('sweeps, evicts never-used clients beyond the bound, shares the rate-limit counters, and serves the admin CLI', async () => {
  const store = a.app.store;
  // The limiters count in the cluster (they fail open, so a broken counter would only show as missing keys).
  const counters = await onMasters(async (r) => (await r.keys('nmr:rl:*')).length);
  expect(counters.reduce((x, n) => x + n, 0)).toBeGreaterThan(0);
  expect(a.logs.join('')).not.toMatch(/rate limit store unavailable/);

  // At most 3 never-used clients are kept; the clients of connections always stay.
  const before = await store.countClients();
  for (let i = 0; i < 10; i++) {
    await store.createClient({ clientId: `flood-${i}`, redirectUris: [], grantTypes: [], tokenEndpointAuthMethod: 'none', metadata: {}, createdAt: Date.now() + i }, 3);
  }
  expect(await store.countClients()).toBe(before + 3);
  expect(await store.getClient('flood-9')).not.toBeNull();
  expect(await store.getClient('flood-0')).toBeNull();

  // One user's grants, and the admin CLI on the cluster.
  const [grant] = await store.listGrants();
  expect((await b.app.store.listGrantsByUser(grant!.notionUserId!)).map((g) => g.id)).toContain(grant!.id);
  const env = {
    NOTION_OAUTH_CLIENT_ID: fake.clientId,
    NOTION_OAUTH_CLIENT_SECRET: fake.clientSecret,
    BASE_URL: a.baseUrl,
    SESSION_SECRET: TEST_SECRET,
    REDIS_URL: cluster.url,
  };
  const stats = await runAdmin(['stats', '--json'], env, a.dataDir);
  expect(stats.code, stats.stderr).toBe(0);
  expect(JSON.parse(stats.stdout)).toMatchObject({ grants: 5, clients: before + 3 });
  const revoked = await runAdmin(['revoke', grant!.id], env, a.dataDir);
  expect(revoked.code, revoked.stderr).toBe(0);
  expect(await store.getGrant(grant!.id)).toBeNull();

  // Far in the future every token and code has expired: the sweep removes them, their grants, and the idle clients.
  const DAY = 86_400_000;
  expect(await store.sweep(Date.now() + 400 * DAY, a.app.config.clientIdleMs)).toBeGreaterThan(0);
  expect(await store.stats(Date.now() + 400 * DAY)).toEqual({ clients: 0, grants: 0, liveTokens: 0, pendingFlows: 0 });
}, 60_000);

it('keeps every connection through a failover: a master SIGKILLed, its replica promoted', async () => {
  const users = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => connect(a, fakeWorkspace(`failover-${i}`))));
  for (const u of users) expect((await callTool(a.baseUrl, u.tokens.access_token, 'get_self')).isError).toBe(false);

  // Kill the master that holds the most keys; the cluster promotes its replica.
  const before = await cluster.topology();
  const sizes = await keysPerMaster();
  const victimPort = before.masters[sizes.indexOf(Math.max(...sizes))]!;
  const victim = cluster.nodes.find((n) => n.port === victimPort)!;
  await victim.stop('SIGKILL');
  await vi.waitFor(
    async () => {
      const now = await cluster.topology();
      expect(now.masters).not.toContain(victimPort);
      expect(now.masters.filter((p) => !before.masters.includes(p))).toHaveLength(1);
    },
    { timeout: 20_000, interval: 200 },
  );
  const promoted = (await cluster.topology()).masters.find((p) => !before.masters.includes(p))!;
  await cluster.waitUntilMaster(promoted);

  // Every connection, on either instance: a tool call with its access token, then a refresh and a
  // tool call with the new one (each retried while it answers 503).
  for (const [i, u] of users.entries()) {
    const inst = i % 2 === 0 ? a : b;
    const call = await until503Ends('a tool call', () => mcpPost(inst.baseUrl, u.tokens.access_token, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_self', arguments: {} } }));
    expect(call.status).toBe(200);
    const res = await until503Ends('a refresh', () => tokenRequest(inst.baseUrl, u.client, { grant_type: 'refresh_token', refresh_token: u.tokens.refresh_token }));
    expect(res.status, await res.clone().text()).toBe(200);
    const next = (await res.json()) as { access_token: string };
    expect((await callTool(a.baseUrl, next.access_token, 'get_self')).isError).toBe(false);
  }
  // A new user connects, and a revocation on A still reaches B, which has the token cached.
  const late = await connect(a, fakeWorkspace('failover-late'));
  expect((await ping(b.baseUrl, late.tokens.access_token)).status).toBe(200);
  await vi.waitFor(() => expect(b.app.store.revocationMark()).not.toBeNull(), { timeout: 10_000 });
  expect((await revokeOn(a.baseUrl, late.client, late.tokens.refresh_token)).status).toBe(200);
  await vi.waitFor(async () => expect((await ping(b.baseUrl, late.tokens.access_token)).status).toBe(401), { timeout: 2000, interval: 20 });
}, 60_000);

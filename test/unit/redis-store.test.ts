import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { loadConfig } from '../../src/config.js';
import { Keyring, newGrantKey, randomSecret, seal, sha256 } from '../../src/lib/crypto.js';
import { credentialRef, Grants } from '../../src/oauth/grants.js';
import { BUCKETS, bucketOf, RedisStore } from '../../src/store/redis.js';
import { StoreOpenError } from '../../src/store/sqlite.js';
import type { GrantRecord, TokenRecord } from '../../src/store/types.js';
import { freePort, TEST_SECRET } from '../helpers/stack.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
// Importing the suite also runs it once more for SQLite in this file (it registers at import).
import { type StoreBackend, storeContract } from './sqlite-store.test.js';

/** The same contract as SQLite, against a real redis-server; each test gets its own key prefix. */
let redis: RedisServer;
let admin: Redis;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  await admin?.quit();
  await redis?.dispose();
});

async function dropPrefix(prefix: string): Promise<void> {
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
}

/** The key `sub` of the bucket that `id` is filed under. */
const keyOf = (prefix: string, id: string, sub: string) => `${prefix}{${bucketOf(id)}}:${sub}`;

function redisBackend(): Promise<StoreBackend> {
  const prefix = `t${randomSecret(6)}:`;
  return Promise.resolve({
    open: (keyCheck: string) => RedisStore.open(redis.url, keyCheck, { prefix }),
    dispose: () => dropPrefix(prefix),
  });
}

storeContract('redis', redisBackend);

describe('RedisStore specifics', () => {
  const T = Date.now();
  const grant = (): GrantRecord => ({
    id: `grant_${randomSecret(8)}`,
    clientId: 'client_x',
    scope: 'notion:read',
    resource: 'https://mcp.example.com/mcp',
    notionUserId: 'user-1',
    notionWorkspaceId: null,
    info: { workspaceName: null },
    sealedNotion: 'sealed.x',
    createdAt: T,
    lastUsedAt: null,
  });
  const token = (grantId: string, kind: TokenRecord['kind'], expiresAt: number): TokenRecord => ({
    hash: sha256(randomSecret()),
    grantId,
    kind,
    scope: 'notion:read',
    wrappedKey: 'kid.x',
    expiresAt,
    createdAt: T,
    replacedAt: null,
    answer: null,
  });
  const code = (grantId: string) => ({
    hash: sha256(randomSecret()),
    grantId,
    clientId: 'client_x',
    redirectUri: 'https://claude.ai/api/mcp/auth_callback',
    codeChallenge: 'c',
    resource: 'https://mcp.example.com/mcp',
    scope: 'notion:read',
    wrappedKey: 'kid.y',
    expiresAt: T + 600_000,
    usedAt: null,
    answer: null,
  });

  it('gives every expiring key a Redis TTL no earlier than its expiry, and keeps a rotated token\'s expiry', async () => {
    const prefix = `ttl${randomSecret(4)}:`;
    const store = await RedisStore.open(redis.url, 'kc', { prefix });
    try {
      const g = grant();
      const c = code(g.id);
      await store.createGrant(g, c);
      const refresh = token(g.id, 'refresh', T + 90 * 86_400_000);
      expect(await store.redeemCode(c, T, [refresh], 'a')).toEqual({ status: 'issued' });
      await store.putFlow('f1', 'consent', {}, T + 600_000);
      const key = (sub: string) => keyOf(prefix, g.id, sub);
      expect(await admin.pexpiretime(key(`code:${c.hash}`))).toBeGreaterThanOrEqual(c.expiresAt);
      expect(await admin.pexpiretime(key(`tok:${refresh.hash}`))).toBe(refresh.expiresAt);
      expect(await admin.pexpiretime(keyOf(prefix, 'f1', 'flow:consent:f1'))).toBeGreaterThanOrEqual(T + 600_000);
      // Grants have no TTL: sweep removes them once no token or code is left.
      expect(await admin.pexpiretime(key(`grant:${g.id}`))).toBe(-1);

      const now = Date.now() + 2 * 3_600_000; // past the one-hour floor of backstop TTLs
      expect(await store.rotateRefreshToken(refresh, now, [token(g.id, 'refresh', now + 86_400_000)], 'a')).toEqual({ status: 'issued' });
      expect(await admin.pexpiretime(key(`tok:${refresh.hash}`))).toBe(refresh.expiresAt);
      // Nothing of the rotated token can open the grant key any more.
      expect(await admin.hexists(key(`tok:${refresh.hash}`), 'wrappedKey')).toBe(0);
      expect(await admin.hexists(key(`code:${c.hash}`), 'wrappedKey')).toBe(0);
      // The store holds the hashes it was given, never anything else.
      expect(await admin.hget(key(`tok:${refresh.hash}`), 'hash')).toBe(refresh.hash);
    } finally {
      await store.close();
      await dropPrefix(prefix);
    }
  });

  it('sweep with clientIdleMs removes only old clients without a grant; countClients counts them', async () => {
    const prefix = `cl${randomSecret(4)}:`;
    const store = await RedisStore.open(redis.url, 'kc', { prefix });
    try {
      const DAY = 86_400_000;
      const mk = (clientId: string, createdAt: number) =>
        store.createClient({ clientId, redirectUris: [], grantTypes: [], tokenEndpointAuthMethod: 'none', metadata: {}, createdAt });
      await mk('old-idle', T - 2 * DAY);
      await mk('old-used', T - 2 * DAY);
      await mk('new-idle', T);
      const g = { ...grant(), clientId: 'old-used' };
      await store.createGrant(g, code(g.id));
      expect(await store.countClients()).toBe(3);
      expect(await store.sweep(T, DAY)).toBe(1);
      expect(await store.getClient('old-idle')).toBeNull();
      // Gone from the never-used clients too, so it takes no room under MAX_CLIENTS.
      expect(await admin.zscore(`${prefix}unused-clients`, 'old-idle')).toBeNull();
      expect(await admin.zscore(`${prefix}unused-clients`, 'new-idle')).not.toBeNull();
      expect(await store.getClient('old-used')).not.toBeNull();
      expect(await store.countClients()).toBe(2);
      // Once its grant is gone, the old client goes too.
      await store.deleteGrant(g.id);
      expect(await store.sweep(T, DAY)).toBe(1);
      expect(await store.countClients()).toBe(1);
    } finally {
      await store.close();
      await dropPrefix(prefix);
    }
  });

  it('sweeps many expired grants and idle clients in few, bounded script calls, keeping every live grant', async () => {
    const prefix = `sw${randomSecret(4)}:`;
    const store = await RedisStore.open(redis.url, 'kc', { prefix });
    const DAY = 86_400_000;
    const now = T + 700_000; // past every code (10 min) and the expired tokens below
    try {
      const N = 600;
      const CLIENTS = 300;
      const dead: string[] = [];
      await Promise.all(
        Array.from({ length: N }, async () => {
          const g = grant();
          const c = code(g.id);
          await store.createGrant(g, c);
          await store.redeemCode(c, T, [token(g.id, 'access', T + 1000), token(g.id, 'refresh', T + 2000)], 'a');
          dead.push(g.id);
        }),
      );
      // Live: an unredeemed code; only a refresh token left; only an access token left.
      const live = [grant(), grant(), grant()];
      const liveCode = { ...code(live[0]!.id), expiresAt: now + 60_000 };
      await store.createGrant(live[0]!, liveCode);
      const liveRefresh = token(live[1]!.id, 'refresh', now + DAY);
      const liveAccess = token(live[2]!.id, 'access', now + DAY);
      for (const [g, tokens] of [
        [live[1]!, [token(live[1]!.id, 'access', T + 1000), liveRefresh]],
        [live[2]!, [liveAccess, token(live[2]!.id, 'refresh', T + 1000)]],
      ] as const) {
        const c = code(g.id);
        await store.createGrant(g, c);
        expect(await store.redeemCode(c, T, [...tokens], 'a')).toEqual({ status: 'issued' });
      }
      await Promise.all(
        Array.from({ length: CLIENTS }, (_, i) =>
          store.createClient({ clientId: `idle-${i}`, redirectUris: [], grantTypes: [], tokenEndpointAuthMethod: 'none', metadata: {}, createdAt: T - 2 * DAY }),
        ),
      );

      // MONITOR shows every command the store sends, with its arguments ('lua' marks those run inside a script).
      const monitor = await admin.monitor();
      const scripts: string[][] = [];
      let markerSeen: () => void = () => undefined;
      const marker = new Promise<void>((resolve) => (markerSeen = resolve));
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        const cmd = String(args[0]).toLowerCase();
        if (source !== 'lua' && (cmd === 'evalsha' || cmd === 'eval')) scripts.push(args);
        if (cmd === 'echo' && args[1] === `${prefix}done`) markerSeen();
      });
      const removed = await store.sweep(now, DAY);
      await admin.echo(`${prefix}done`);
      await marker;
      monitor.disconnect();

      // Each dead grant: itself, its code and two tokens; each half-live grant: its code and one token; each idle client.
      expect(removed).toBe(4 * N + 4 + CLIENTS);
      // Batched: far fewer calls than one per grant or client, each over a bounded number of ids.
      // Here every bucket's share fits one batch: one call each for expired members, grants, clients.
      expect(scripts.length).toBeLessThanOrEqual(3 * BUCKETS);
      expect(scripts.length).toBeLessThan((N + CLIENTS) / 4);
      expect(Math.max(...scripts.map((a) => a.length))).toBeLessThanOrEqual(110);

      for (const id of dead.slice(0, 20)) expect(await store.getGrant(id)).toBeNull();
      const liveIds = live.map((g) => g.id).sort();
      const bucketSets = [...new Set(live.map((g) => keyOf(prefix, g.id, 'grants')))];
      expect((await Promise.all(bucketSets.map((k) => admin.smembers(k)))).flat().sort()).toEqual(liveIds);
      expect((await admin.smembers(keyOf(prefix, 'user-1', 'user:user-1'))).sort()).toEqual(liveIds);
      expect((await admin.smembers(keyOf(prefix, 'client_x', 'client-grants:client_x'))).sort()).toEqual(liveIds);
      for (const g of live) expect(await store.countLiveCredentials(g.id, now)).toBe(1);
      expect(await store.getCode(liveCode)).toEqual(liveCode);
      expect((await store.getToken(liveRefresh))?.grant.id).toBe(live[1]!.id);
      expect((await store.getToken(liveAccess))?.grant.id).toBe(live[2]!.id);
      expect(await store.countClients()).toBe(0);
      // Nothing of the dead grants is left behind: no token, code, credential set or index entry.
      const keys = (await admin.keys(`${prefix}*`)).sort();
      const [g0, g1, g2] = live.map((g) => g.id) as [string, string, string];
      expect(keys).toEqual(
        [
          ...new Set([
            `${prefix}meta`,
            ...bucketSets,
            keyOf(prefix, 'user-1', 'user:user-1'),
            keyOf(prefix, 'client_x', 'client-grants:client_x'),
            keyOf(prefix, g0, 'exp:code'),
            keyOf(prefix, g0, `code:${liveCode.hash}`),
            keyOf(prefix, g1, 'exp:tok'),
            keyOf(prefix, g1, `tok:${liveRefresh.hash}`),
            keyOf(prefix, g2, 'exp:tok'),
            keyOf(prefix, g2, `tok:${liveAccess.hash}`),
            ...live.flatMap((g) => [keyOf(prefix, g.id, `grant:${g.id}`), keyOf(prefix, g.id, `creds:${g.id}`)]),
          ]),
        ].sort(),
      );
    } finally {
      await store.close();
      await dropPrefix(prefix);
    }
  });

  /**
   * Two instances on separate connections sharing one fresh key prefix, with one grant and its code
   * created through the first; both are closed and the prefix dropped afterwards.
   */
  async function withTwoInstances(
    label: string,
    run: (a: RedisStore, b: RedisStore, g: GrantRecord, c: ReturnType<typeof code>) => Promise<void>,
  ): Promise<void> {
    const prefix = `${label}${randomSecret(4)}:`;
    const a = await RedisStore.open(redis.url, 'kc', { prefix });
    const b = await RedisStore.open(redis.url, 'kc', { prefix });
    try {
      const g = grant();
      const c = code(g.id);
      await a.createGrant(g, c);
      await run(a, b, g, c);
    } finally {
      await a.close();
      await b.close();
      await dropPrefix(prefix);
    }
  }

  it('redeems a code once when two instances race on separate connections', async () => {
    await withTwoInstances('race', async (a, b, g, c) => {
      const results = await Promise.all([
        a.redeemCode(c, T, [token(g.id, 'access', T + 1000)], 'A'),
        b.redeemCode(c, T, [token(g.id, 'access', T + 1000)], 'B'),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['again', 'issued']);
      expect(await a.countLiveCredentials(g.id, T)).toBe(1);
    });
  });

  it('two instances rotating one refresh token at once: one is issued, the other gets its answer', async () => {
    await withTwoInstances('rot', async (a, b, g, c) => {
      const r0 = token(g.id, 'refresh', T + 86_400_000);
      await a.redeemCode(c, T, [r0], 'x');
      const next = [token(g.id, 'refresh', T + 86_400_000), token(g.id, 'refresh', T + 86_400_000)];
      const results = await Promise.all([a.rotateRefreshToken(r0, T, [next[0]!], 'A'), b.rotateRefreshToken(r0, T, [next[1]!], 'B')]);
      const winner = results[0]!.status === 'issued' ? 'A' : 'B';
      expect(results).toContainEqual({ status: 'again', answer: winner });
      expect(await a.getToken(next[winner === 'A' ? 1 : 0]!)).toBeNull();
    });
  });

  it('upgrades a schema-2 store in place on open: every key moves into its bucket, and the old tokens, code, clients and flow still work', async () => {
    const P = `mig${randomSecret(4)}:`;
    const keyring = new Keyring(TEST_SECRET);
    const config = loadConfig({
      NOTION_OAUTH_CLIENT_ID: 'notion-client',
      NOTION_OAUTH_CLIENT_SECRET: 'notion-secret',
      BASE_URL: 'https://mcp.example.com',
      SESSION_SECRET: TEST_SECRET,
    });
    const now = Date.now();
    // Schema 2, as the previous build wrote it: one key space, codes and access tokens naming no grant.
    await admin.hset(`${P}meta`, 'schema_version', '2', 'key_check', keyring.checkValues()[0]!);
    const client = { clientId: 'c-used', redirectUris: [], grantTypes: [], tokenEndpointAuthMethod: 'none', metadata: {}, createdAt: now };
    await admin.set(`${P}client:c-used`, JSON.stringify(client));
    await admin.set(`${P}client:c-new`, JSON.stringify({ ...client, clientId: 'c-new' }));
    await admin.sadd(`${P}clients`, 'c-used', 'c-new');
    await admin.zadd(`${P}unused-clients`, now, 'c-new');
    const writeGrant = async (gid: string, grantKey: Buffer) => {
      const g = { id: gid, clientId: 'c-used', scope: 'notion:read', resource: config.resource, notionUserId: 'u-old', info: '{}', createdAt: String(now) };
      await admin.hset(`${P}grant:${gid}`, { ...g, sealedNotion: seal(grantKey, JSON.stringify({ accessToken: 'ntn_x', refreshToken: 'ntn_y' }), gid) });
      await admin.sadd(`${P}grants`, gid);
      await admin.sadd(`${P}user:u-old`, gid);
      await admin.sadd(`${P}client-grants:c-used`, gid);
    };
    const writeCred = async (sub: 'tok' | 'code', secret: string, gid: string, grantKey: Buffer, f: Record<string, string>) => {
      const hash = sha256(secret);
      const expiresAt = now + 3_600_000;
      await admin.hset(`${P}${sub}:${hash}`, { hash, grantId: gid, scope: 'notion:read', wrappedKey: keyring.wrapGrantKey(secret, grantKey), expiresAt: String(expiresAt), ...f });
      await admin.pexpireat(`${P}${sub}:${hash}`, expiresAt + 3_600_000);
      await admin.zadd(`${P}exp:${sub}`, expiresAt, `${sub}:${hash}`);
      await admin.sadd(`${P}creds:${gid}`, `${sub}:${hash}`);
    };
    const gid = randomUUID();
    const key = newGrantKey();
    await writeGrant(gid, key);
    const access = `nmr_at_${randomSecret()}`;
    const nonce = randomSecret();
    const refresh = `nmr_rt_${gid}.${nonce}.${keyring.sign(`refresh/${gid}.${nonce}`)}`;
    await writeCred('tok', access, gid, key, { kind: 'access', createdAt: String(now) });
    await writeCred('tok', refresh, gid, key, { kind: 'refresh', createdAt: String(now) });
    const gid2 = randomUUID();
    const key2 = newGrantKey();
    await writeGrant(gid2, key2);
    const code = `nmr_ac_${randomSecret()}`;
    await writeCred('code', code, gid2, key2, { clientId: 'c-used', redirectUri: 'https://claude.ai/cb', codeChallenge: 'x', resource: config.resource });
    await admin.set(`${P}flow:consent:f-old`, JSON.stringify({ data: { step: 1 }, expiresAt: now + 600_000 }), 'PXAT', now + 3_600_000);
    await admin.zadd(`${P}exp:flow`, now + 600_000, 'flow:consent:f-old');

    const store = await RedisStore.open(redis.url, keyring.checkValues(), { prefix: P });
    try {
      expect(await admin.hget(`${P}meta`, 'schema_version')).toBe('3');
      // Nothing is left in the old key space; only meta, unused-clients and the counters keep their names.
      const old = (await admin.keys(`${P}*`)).filter((k) => !k.startsWith(`${P}{`));
      expect(old.sort()).toEqual([`${P}meta`, `${P}unused-clients`]);
      // The old access token opens its grant (found through its alias), and the bearer check passes.
      const grants = new Grants(store, keyring, config, () => Date.now());
      expect((await grants.verifyAccessToken(access))?.grantId).toBe(gid);
      expect((await store.getToken(credentialRef(refresh)))?.grant.id).toBe(gid);
      // The old refresh token rotates; the old code redeems.
      const pair = grants.mintPair(gid, grants.openKey(refresh, (await store.getToken(credentialRef(refresh)))!.token.wrappedKey), 'notion:read', 'notion:read');
      expect(await store.rotateRefreshToken(credentialRef(refresh), Date.now(), pair.records, 'sealed')).toEqual({ status: 'issued' });
      expect((await grants.verifyAccessToken(pair.answer.accessToken))?.grantId).toBe(gid);
      expect((await store.getCode(credentialRef(code)))?.grantId).toBe(gid2);
      expect(await store.redeemCode(credentialRef(code), Date.now(), [], 'a')).toEqual({ status: 'issued' });
      // Clients, user index, flow and counts came along.
      expect(await store.getClient('c-used')).toEqual(client);
      expect(await store.countClients()).toBe(2);
      expect((await store.listGrantsByUser('u-old')).map((g) => g.id).sort()).toEqual([gid, gid2].sort());
      expect(await store.takeFlow('f-old', 'consent', Date.now())).toEqual({ step: 1 });
      expect(await store.stats(Date.now())).toMatchObject({ clients: 2, grants: 2 });
      // The upgraded store opens again as it is.
      const again = await RedisStore.open(redis.url, keyring.checkValues(), { prefix: P });
      expect((await again.getToken(credentialRef(access)))?.grant.id).toBe(gid);
      await again.close();
      // Revoking the old access token works, and so does deleting a grant with everything of it.
      await store.deleteToken(credentialRef(access));
      expect(await grants.verifyAccessToken(access)).toBeNull();
      await store.deleteGrant(gid);
      expect(await store.listGrantsByUser('u-old')).toHaveLength(1);
    } finally {
      await store.close();
      await dropPrefix(P);
    }
  });

  it('refuses to open with StoreOpenError naming REDIS_URL when Redis does not answer', async () => {
    const port = await freePort();
    const started = Date.now();
    await expect(RedisStore.open(`redis://127.0.0.1:${port}`, 'kc')).rejects.toThrow(StoreOpenError);
    await expect(RedisStore.open(`redis://127.0.0.1:${port}`, 'kc')).rejects.toThrow(/REDIS_URL/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails fast with StoreUnavailableError while Redis is down, and works again once it is back, keeping its data', async () => {
    const prefix = `down${randomSecret(4)}:`;
    const store = await RedisStore.open(redis.url, 'kc', { prefix });
    try {
      const g = grant();
      const c = code(g.id);
      await store.createGrant(g, c);
      await vi.waitFor(() => expect(store.revocationMark()).not.toBeNull(), { timeout: 2000 });
      const markBefore = store.revocationMark();
      await redis.stop();
      // No announcement can arrive meanwhile, so no verified token may be reused unread.
      await vi.waitFor(() => expect(store.revocationMark()).toBeNull(), { timeout: 2000 });
      const started = Date.now();
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.getCode(c)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.redeemCode(c, T, [], 'a')).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(5000);

      await redis.start();
      // ioredis reconnects in the background (backoff up to 2 s).
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await store.ping();
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(await store.getCode(c)).toEqual(c);
      expect(await store.redeemCode(c, T, [], 'a')).toEqual({ status: 'issued' });
      // Subscribed again, under a new mark: entries checked before the outage are read again.
      await vi.waitFor(() => expect(store.revocationMark()).not.toBeNull(), { timeout: 10_000 });
      expect(store.revocationMark()).not.toBe(markBefore);
    } finally {
      await store.close();
    }
  });
});

import { hash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import { parseClusterUrl, parseSentinelUrl } from '../lib/redis-url.js';
import { StoreOpenError } from './sqlite.js';
import {
  ACTIVITY_MAX_PER_GRANT,
  type ActivityEntry,
  type ClientRecord,
  type CodeRecord,
  type CredentialRef,
  type FlowKind,
  type GrantRecord,
  type IssueResult,
  type Store,
  type StoreStats,
  type TokenRecord,
} from './types.js';

/** ioredis (CommonJS) is loaded on first use only, so a server without REDIS_URL starts without it (~150 ms). */
const requireCjs = createRequire(import.meta.url);
const loadIoredis = () => requireCjs('ioredis') as typeof import('ioredis');

/**
 * The shared store for several instances: one Redis, a Sentinel-managed one, or a Redis Cluster,
 * on the same key layout and scripts (only the client differs). Keys live in BUCKETS hash-tagged
 * buckets: a grant, its codes and tokens, and the bucket's indexes share the bucket's tag, so
 * every change that spans keys runs in one Lua script on one hash slot, atomically, and the data
 * spreads over every master. Expiry is decided on the caller's clock (`now`), exactly as in
 * SQLite; each expiring key also carries a Redis TTL (PEXPIREAT) as a backstop, never before its
 * logical expiry. docs/storage.md lists the keys and which scripts touch which.
 */

const SCHEMA_VERSION = '3';
/** Versions 1 and 2 (one key space, no buckets) are moved into the buckets in place on open. */
const MIGRATABLE = ['1', '2'];
/**
 * Hash-tagged buckets: `<prefix>{<n>}:…`. Fixed, as part of the schema: a key's bucket is a hash
 * of the id it is named after (grant, client, flow, Notion user). 64 slots spread over up to a
 * few dozen masters; each sweep and stats call visits every bucket.
 */
export const BUCKETS = 64;
/** Backstop TTLs never fire less than this after the write, so a clock skew cannot lose live data. */
const TTL_FLOOR_MS = 60 * 60 * 1000;
/**
 * Sweep batch sizes: expired members per nmrSweepExpired call, and grant or client ids per
 * nmrSweepGrants / nmrSweepClients call, so that each call takes about a millisecond of Redis time
 * (a script blocks every client; bench/redis-sweep.ts). SSCAN itself is cheap, so it reads more.
 */
const SWEEP_EXPIRED = 100;
const SWEEP_IDS = 50;
const SWEEP_SCAN = 200;
/**
 * In a cluster with replicas, a write that a failover must not lose (issued tokens, new clients
 * and grants, revocations) is answered only once a replica has it, or after this long at most.
 */
const REPLICA_WAIT_MS = 500;
/** Grants, clients or flows moved per round of the schema upgrade (each one script call). */
const MIGRATE_BATCH = 100;

export const bucketOf = (id: string): number => parseInt(hash('sha1', id, 'hex').slice(0, 4), 16) % BUCKETS;

/**
 * Shared Lua helpers. ARGV[1] is always the bucket's key prefix `<prefix>{<n>}:`: the keys a
 * script reads from a set or sorted set (a grant's tokens, expired members) are named from it, so
 * they are in the slot of the KEYS it was called with.
 */
const LIB = `
local P = ARGV[1]
local function zset_of(sub)
  if string.sub(sub, 1, 4) == 'tok:' then return P .. 'exp:tok' end
  return P .. 'exp:code'
end
local function drop(sub, gid)
  local n = redis.call('DEL', P .. sub)
  redis.call('ZREM', zset_of(sub), sub)
  if gid then redis.call('SREM', P .. 'creds:' .. gid, sub) end
  return n
end
local function check_new(list)
  for _, c in ipairs(list) do
    if redis.call('EXISTS', P .. c.s) == 1 then return redis.error_reply('ERR duplicate key ' .. c.s) end
  end
end
local function put(c)
  redis.call('HSET', P .. c.s, unpack(c.f))
  redis.call('PEXPIREAT', P .. c.s, c.x)
  redis.call('ZADD', zset_of(c.s), c.e, c.s)
  redis.call('SADD', P .. 'creds:' .. c.g, c.s)
end
-- Deletes the grant and everything of it in this bucket; returns {grant id, Notion user id, client
-- id} (empty strings for none), whose index entries in other buckets the caller removes, or nil.
local function delete_grant(gid)
  for _, m in ipairs(redis.call('SMEMBERS', P .. 'creds:' .. gid)) do drop(m, nil) end
  redis.call('DEL', P .. 'creds:' .. gid, P .. 'activity:' .. gid)
  local v = redis.call('HMGET', P .. 'grant:' .. gid, 'notionUserId', 'clientId')
  redis.call('SREM', P .. 'grants', gid)
  if redis.call('DEL', P .. 'grant:' .. gid) == 0 then return nil end
  return {gid, v[1] or '', v[2] or ''}
end
`;

/** Each script with the number of KEYS it declares (null: the caller passes the count first). */
const SCRIPTS = {
  // KEYS: meta. ARGV: '', version, keyCheck, accepted key checks (JSON array), migratable
  // versions (JSON array), '1' once migrated → 'ok' | 'migrate' | 'version:<v>' | 'key'.
  // Data written under any accepted check value opens; the current one (ARGV[3]) is then recorded.
  nmrOpen: [1, `
local v = redis.call('HMGET', KEYS[1], 'schema_version', 'key_check')
local old = false
for _, m in ipairs(cjson.decode(ARGV[5])) do if m == v[1] then old = true end end
if v[1] and v[1] ~= ARGV[2] and not old then return 'version:' .. v[1] end
if v[2] and v[2] ~= ARGV[3] then
  local known = false
  for _, k in ipairs(cjson.decode(ARGV[4])) do if k == v[2] then known = true end end
  if not known then return 'key' end
end
if old and ARGV[6] ~= '1' then return 'migrate' end
redis.call('HSET', KEYS[1], 'schema_version', ARGV[2], 'key_check', ARGV[3])
return 'ok'`],
  // KEYS: client, the bucket's clients. ARGV: P, clientId, json → 1 | 0 (exists). ioredis re-sends
  // a command whose reply was lost: the second run then finds its own record and answers as the
  // first did (here and below).
  nmrCreateClient: [2, `
if not redis.call('SET', KEYS[1], ARGV[3], 'NX') then
  if redis.call('GET', KEYS[1]) == ARGV[3] then return 1 end
  return 0
end
redis.call('SADD', KEYS[2], ARGV[2])
return 1`],
  // KEYS: unused-clients. ARGV: '', clientId, created at, most never-used clients kept or -1 →
  // the ids of the oldest beyond it (a few per call), to be evicted unless they got a grant meanwhile.
  nmrQueueUnused: [1, `
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
local max = tonumber(ARGV[4])
if max < 0 then return {} end
local excess = redis.call('ZCARD', KEYS[1]) - max
if excess <= 0 then return {} end
local ids = {}
local popped = redis.call('ZPOPMIN', KEYS[1], math.min(excess, 10))
for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end -- member, score, member, score, ...
return ids`],
  // KEYS: client, its client-grants, the bucket's clients. ARGV: P, clientId → 1 if deleted (it had no grant)
  nmrEvictClient: [3, `
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
redis.call('SREM', KEYS[3], ARGV[2])
return redis.call('DEL', KEYS[1])`],
  // KEYS: an index set. ARGV: '', 'SADD' | 'SREM' | 'ZREM', member: an index entry in another
  // bucket than the grant's (a script, so that it can be made durable like the others)
  nmrIndex: [1, `return redis.call(ARGV[2], KEYS[1], ARGV[3])`],
  // KEYS: flow, the bucket's exp:flow. ARGV: P, sub → the flow JSON, deleted, or nil
  nmrTakeFlow: [2, `
local v = redis.call('GET', KEYS[1])
if not v then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return v`],
  // KEYS: grant, the bucket's grants, code. ARGV: P, grantId, grant fields (JSON array), code (JSON)
  nmrCreateGrant: [3, `
local c = cjson.decode(ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[3], 'grantId') == ARGV[2] then return 1 end
  return redis.error_reply('ERR duplicate grant')
end
local dup = check_new({c}); if dup then return dup end
redis.call('HSET', KEYS[1], unpack(cjson.decode(ARGV[3])))
redis.call('SADD', KEYS[2], ARGV[2])
put(c)
return 1`],
  // KEYS: code. ARGV: P, code hash, now, tokens (JSON), answer → {'issued'} | {'again', answer} | {'spent'} | {'invalid'}
  nmrRedeemCode: [1, `
local v = redis.call('HMGET', KEYS[1], 'expiresAt', 'usedAt', 'answer')
if not v[1] or tonumber(v[1]) <= tonumber(ARGV[3]) then return {'invalid'} end
if v[2] then
  if v[3] then return {'again', v[3]} end
  return {'spent'}
end
local ts = cjson.decode(ARGV[4])
local dup = check_new(ts); if dup then return dup end
redis.call('HSET', KEYS[1], 'usedAt', ARGV[3], 'answer', ARGV[5])
redis.call('HDEL', KEYS[1], 'wrappedKey')
for _, t in ipairs(ts) do put(t) end
return {'issued'}`],
  // KEYS: old token, its grant's creds. ARGV: P, old hash, now, tokens (JSON), answer or '' → as nmrRedeemCode
  nmrRotate: [2, `
local sub = 'tok:' .. ARGV[2]
local v = redis.call('HMGET', KEYS[1], 'kind', 'grantId', 'expiresAt', 'replacedAt', 'answer')
if v[1] ~= 'refresh' or tonumber(v[3]) <= tonumber(ARGV[3]) then return {'invalid'} end
if v[4] then
  if v[5] then return {'again', v[5]} end
  return {'spent'}
end
if ARGV[5] == '' then return {'invalid'} end
local ts = cjson.decode(ARGV[4])
local dup = check_new(ts); if dup then return dup end
-- One current refresh token and one previous per grant: the older previous one goes now.
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if m ~= sub and string.sub(m, 1, 4) == 'tok:' and redis.call('HGET', P .. m, 'kind') == 'refresh' then drop(m, v[2]) end
end
redis.call('HSET', KEYS[1], 'replacedAt', ARGV[3], 'answer', ARGV[5])
redis.call('HDEL', KEYS[1], 'wrappedKey')
for _, t in ipairs(ts) do put(t) end
return {'issued'}`],
  // KEYS: token, the grant it names. The bearer check of every MCP request: one round trip.
  nmrGetToken: [2, `
local t = redis.call('HGETALL', KEYS[1])
if #t == 0 then return false end
local g = redis.call('HGETALL', KEYS[2])
if #g == 0 then return false end
return {t, g}`],
  // KEYS: token, its grant's creds. ARGV: P, hash, grantId
  nmrDeleteToken: [2, `
local n = drop('tok:' .. ARGV[2], ARGV[3])
if n > 0 then redis.call('PUBLISH', ARGV[4], '1') end
return n`],
  // KEYS: the grant's creds. ARGV: P, now
  nmrCountLive: [1, `
local now = tonumber(ARGV[2])
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local done = 'replacedAt'
  if string.sub(m, 1, 5) == 'code:' then done = 'usedAt' end
  local v = redis.call('HMGET', P .. m, 'expiresAt', done)
  if v[1] and not v[2] and tonumber(v[1]) > now then n = n + 1 end
end
return n`],
  // KEYS: grant, its creds, the bucket's grants. ARGV: P, grantId, revocation channel → as delete_grant
  nmrDeleteGrant: [3, `
local d = delete_grant(ARGV[2])
if d then redis.call('PUBLISH', ARGV[3], '1') end
return d`],
  // KEYS: a hash. ARGV: P, field, value: sets a field of an existing hash only
  nmrSetField: [1, `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1`],
  // KEYS: a grant. ARGV: P, scope, info, revocation channel: a settings change, announced as a revocation is
  nmrSetSettings: [1, `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'scope', ARGV[2], 'info', ARGV[3])
redis.call('PUBLISH', ARGV[4], '1')
return 1`],
  // KEYS: the bucket's exp:flow, exp:tok, exp:code. ARGV: P, now, batch → { removed, more }. At
  // most \`batch\` members in all, so that one call stays short: a script blocks every Redis client
  // while it runs (bench/redis-sweep.ts).
  nmrSweepExpired: [3, `
local left = tonumber(ARGV[3])
local removed = 0
for zi, z in ipairs(KEYS) do
  if left == 0 then break end
  local ms = redis.call('ZRANGEBYSCORE', z, '-inf', ARGV[2], 'LIMIT', 0, left)
  if #ms > 0 then
    local keys = {}
    for i, m in ipairs(ms) do
      if zi > 1 then
        local gid = redis.call('HGET', P .. m, 'grantId')
        if gid then redis.call('SREM', P .. 'creds:' .. gid, m) end
      end
      keys[i] = P .. m
    end
    removed = removed + redis.call('DEL', unpack(keys))
    -- Read from -inf, these are the lowest ranks: one range removal instead of a ZREM each.
    redis.call('ZREMRANGEBYRANK', z, 0, #ms - 1)
    left = left - #ms
  end
end
if left == 0 then return {removed, 1} end
return {removed, 0}`],
  // KEYS: grant, its activity. ARGV: P, entries kept, member... → 1, or 0 when the grant is gone (a
  // log never outlives its grant). Members sort by their entry id (all scores 0: by bytes).
  nmrAppendActivity: [2, `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 3, #ARGV do redis.call('ZADD', KEYS[2], 0, ARGV[i]) end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[2]) - 1)
return 1`],
  // KEYS: the bucket's grants. ARGV: P, activity cutoff ('' for none), grantId... → {the grants (as
  // delete_grant) that had no token or code left and were deleted, activity entries removed}. Each
  // grant is checked and deleted within this one atomic call, so nothing issued meanwhile is lost;
  // the log of each grant kept loses its entries older than the cutoff (an entry id prefix).
  nmrSweepGrants: [1, `
local function sweep_grant(gid)
  if redis.call('EXISTS', P .. 'grant:' .. gid) == 0 then redis.call('SREM', KEYS[1], gid) return nil end
  for _, m in ipairs(redis.call('SMEMBERS', P .. 'creds:' .. gid)) do
    if redis.call('EXISTS', P .. m) == 1 then return nil end
    redis.call('SREM', P .. 'creds:' .. gid, m)
  end
  return delete_grant(gid)
end
local out, pruned = {}, 0
for i = 3, #ARGV do
  local d = sweep_grant(ARGV[i])
  if d then out[#out + 1] = d
  elseif ARGV[2] ~= '' then pruned = pruned + redis.call('ZREMRANGEBYLEX', P .. 'activity:' .. ARGV[i], '-', '(' .. ARGV[2]) end
end
return {out, pruned}`],
  // KEYS: the bucket's clients. ARGV: P, cutoff, clientId... → the ids of these clients that were
  // created before cutoff, had no grant, and were deleted
  nmrSweepClients: [1, `
local function sweep_client(id, cutoff)
  local v = redis.call('GET', P .. 'client:' .. id)
  if not v then redis.call('SREM', KEYS[1], id) return false end
  if tonumber(cjson.decode(v).createdAt) >= cutoff then return false end
  if redis.call('SCARD', P .. 'client-grants:' .. id) > 0 then return false end
  redis.call('SREM', KEYS[1], id)
  return redis.call('DEL', P .. 'client:' .. id) == 1
end
local out = {}
for i = 3, #ARGV do if sweep_client(ARGV[i], tonumber(ARGV[2])) then out[#out + 1] = ARGV[i] end end
return out`],
  // KEYS: the bucket's clients, grants, exp:tok, exp:flow. ARGV: P, now → the four counts of stats()
  nmrBucketStats: [4, `
local live = '(' .. ARGV[2]
return {redis.call('SCARD', KEYS[1]), redis.call('SCARD', KEYS[2]),
  redis.call('ZCOUNT', KEYS[3], live, '+inf'), redis.call('ZCOUNT', KEYS[4], live, '+inf')}`],
  // Schema 1 and 2 to 3, on one Redis (a cluster store never had an older schema). KEYS: pairs of
  // old and new names; ARGV: '', then per pair one action: 'rename' (if the old key exists),
  // 'z:<member>' (move the member's score from the old sorted set to the new one), 's:<member>'
  // (move the member from the old set to the new one), or 'alias:<grant id>' (set the new key to
  // the grant id, expiring with the old key, which is a token or code already renamed: for the
  // credentials that do not name their grant). Idempotent: a second run finds nothing left to move.
  nmrMigrate: [null, `
for i = 2, #ARGV do
  local from, to, a = KEYS[2 * i - 3], KEYS[2 * i - 2], ARGV[i]
  if a == 'rename' then
    if redis.call('EXISTS', from) == 1 then redis.call('RENAME', from, to) end
  elseif string.sub(a, 1, 2) == 'z:' then
    local score = redis.call('ZSCORE', from, string.sub(a, 3))
    if score then
      redis.call('ZADD', to, score, string.sub(a, 3))
      redis.call('ZREM', from, string.sub(a, 3))
    end
  elseif string.sub(a, 1, 2) == 's:' then
    if redis.call('SREM', from, string.sub(a, 3)) == 1 then redis.call('SADD', to, string.sub(a, 3)) end
  else
    local at = redis.call('PEXPIRETIME', from)
    if at > 0 and redis.call('HGET', from, 'kind') ~= 'refresh' then redis.call('SET', to, string.sub(a, 7), 'PXAT', at) end
  end
end
return 1`],
} as const satisfies Record<string, readonly [number | null, string]>;

type ScriptName = keyof typeof SCRIPTS;
type Fields = Record<string, string>;

/** Field/value list of a record; null and undefined fields are left out, objects become JSON. */
function flat(rec: object): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (v === null || v === undefined) continue;
    out.push(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  return out;
}
const num = (v: string | undefined): number | null => (v === undefined ? null : Number(v));

const toGrant = (f: Fields): GrantRecord => ({
  id: f.id!,
  clientId: f.clientId!,
  scope: f.scope!,
  resource: f.resource!,
  notionUserId: f.notionUserId ?? null,
  notionWorkspaceId: f.notionWorkspaceId ?? null,
  info: JSON.parse(f.info ?? '{}') as GrantRecord['info'],
  sealedNotion: f.sealedNotion!,
  createdAt: Number(f.createdAt),
  lastUsedAt: num(f.lastUsedAt),
});
const toToken = (f: Fields): TokenRecord => ({
  hash: f.hash!,
  grantId: f.grantId!,
  kind: f.kind as TokenRecord['kind'],
  scope: f.scope!,
  wrappedKey: f.wrappedKey ?? '',
  expiresAt: Number(f.expiresAt),
  createdAt: Number(f.createdAt),
  replacedAt: num(f.replacedAt),
  answer: f.answer ?? null,
});
const toCode = (f: Fields): CodeRecord => ({
  hash: f.hash!,
  grantId: f.grantId!,
  clientId: f.clientId!,
  redirectUri: f.redirectUri!,
  codeChallenge: f.codeChallenge!,
  resource: f.resource!,
  scope: f.scope!,
  wrappedKey: f.wrappedKey ?? '',
  expiresAt: Number(f.expiresAt),
  usedAt: num(f.usedAt),
  answer: f.answer ?? null,
});
/** A log member `<id> <json>` as an entry. */
const toActivity = (grantId: string, member: string): ActivityEntry => {
  const space = member.indexOf(' ');
  return { ...(JSON.parse(member.slice(space + 1)) as ActivityEntry), id: member.slice(0, space), grantId };
};
/** What every entry id written at or after `at` starts with or sorts after (ids begin with the 13-digit time). */
const activityIdPrefix = (at: number): string => String(at).padStart(13, '0');
const issueResult = (reply: unknown): IssueResult => {
  const [status, answer] = reply as [IssueResult['status'], string?];
  return status === 'again' ? { status, answer: answer! } : ({ status } as IssueResult);
};
const empty = (f: Fields): boolean => Object.keys(f).length === 0;
/** A hash as Lua's HGETALL returns it (name, value, name, value, ...) as an object. */
const fields = (flatList: string[]): Fields => {
  const f: Fields = {};
  for (let i = 0; i < flatList.length; i += 2) f[flatList[i]!] = flatList[i + 1]!;
  return f;
};

export interface RedisStoreOptions {
  /** Prefix of every key; lets several deployments (or tests) share one Redis. */
  prefix?: string;
}

/** What nmrDeleteGrant and nmrSweepGrants tell of a deleted grant: [id, Notion user id, client id]. */
type Deleted = [string, string, string];

export class RedisStore implements Store {
  /** Resolves once connected and the key check passed; rejects with StoreOpenError. */
  readonly ready: Promise<void>;
  private readonly r: Redis | Cluster;
  private readonly p: string;
  private readonly channel: string;
  private lastError = '';
  /**
   * A second connection subscribed to `<prefix>revoked`, on which every instance announces its
   * deletions of tokens and grants (from inside the deleting script). See revocationMark.
   */
  private sub: Redis | null = null;
  private listening = false;
  private closed = false;
  private revocations = 0;

  /** The ioredis client (fail-fast options below): a Redis, or a Cluster with REDIS_URL=redis+cluster://. */
  get connection(): Redis | Cluster {
    return this.r;
  }

  /** The client of a single Redis or Sentinel (benchmarks read its scripts); throws in cluster mode. */
  get client(): Redis {
    if (this.r.isCluster) throw new Error('RedisStore.client: a Redis Cluster has no single client');
    return this.r as Redis;
  }

  private constructor(url: string, keyCheck: string | readonly string[], opts: RedisStoreOptions) {
    this.p = opts.prefix ?? 'nmr:';
    this.channel = `${this.p}revoked`;
    // Fail fast while Redis is down (503s), reconnect forever in the background.
    const { Redis: RedisClient, Cluster: ClusterClient } = loadIoredis();
    const options = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      commandTimeout: 5000,
    };
    const backoff = (times: number) => Math.min(times * 200, 2000);
    // With Sentinel, ioredis asks the sentinels for the master and follows a failover by itself;
    // a Cluster client learns the slots from any node and follows MOVED replies and failovers.
    const sentinel = parseSentinelUrl(url);
    const cluster = parseClusterUrl(url);
    if (cluster) {
      const { nodes, tls, ...auth } = cluster;
      const { lazyConnect, enableOfflineQueue, ...nodeOptions } = options;
      this.r = new ClusterClient(nodes, {
        lazyConnect,
        enableOfflineQueue,
        clusterRetryStrategy: backoff,
        // Managed clusters (ElastiCache, MemoryStore, Azure) announce node addresses the TLS
        // certificate names: connect to them as given, without resolving them first.
        ...(tls ? { dnsLookup: (address: string, done: (err: null, address: string) => void) => done(null, address) } : {}),
        redisOptions: { ...nodeOptions, ...auth, ...(tls ? { tls: {} } : {}) },
      });
    } else {
      this.r = sentinel
        ? new RedisClient({ ...options, ...sentinel, retryStrategy: backoff, sentinelRetryStrategy: backoff })
        : new RedisClient(url, { ...options, retryStrategy: backoff });
    }
    this.r.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    for (const [name, [keys, lua]] of Object.entries(SCRIPTS)) {
      this.r.defineCommand(name, { ...(keys === null ? {} : { numberOfKeys: keys }), lua: LIB + lua });
    }
    this.ready = this.init(url, keyCheck);
    this.ready.catch(() => undefined);
  }

  /** Starts connecting at once; `ready` tells whether the store can be used. */
  static create(url: string, keyCheck: string | readonly string[], opts: RedisStoreOptions = {}): RedisStore {
    return new RedisStore(url, keyCheck, opts);
  }

  static async open(url: string, keyCheck: string | readonly string[], opts: RedisStoreOptions = {}): Promise<RedisStore> {
    const store = new RedisStore(url, keyCheck, opts);
    await store.ready;
    return store;
  }

  /**
   * `keyCheck` may list several values (current secret first, then SESSION_SECRET_PREVIOUS): data
   * written under any of them opens, and the first is then recorded as the key check.
   */
  private async init(url: string, keyCheck: string | readonly string[]): Promise<void> {
    const accepted: readonly string[] = typeof keyCheck === 'string' ? [keyCheck] : keyCheck;
    const current = accepted[0];
    if (current === undefined) throw new StoreOpenError('RedisStore needs at least one key check value');
    const where = describe(url);
    try {
      await this.r.connect();
    } catch (err) {
      this.r.disconnect();
      throw new StoreOpenError(
        `cannot reach Redis at ${where}: ${this.lastError || (err as Error).message}. Check REDIS_URL and that Redis is running`,
      );
    }
    const open = (migrated: boolean) =>
      this.script('nmrOpen', [`${this.p}meta`], '', SCHEMA_VERSION, current, JSON.stringify(accepted), JSON.stringify(MIGRATABLE), migrated ? '1' : '0') as Promise<string>;
    let answer: string;
    try {
      answer = await open(false);
      if (answer === 'migrate') {
        // A cluster store never had an older schema: there was no cluster support before.
        if (this.r.isCluster) throw new Error('the data has an older schema, which only a single Redis can upgrade');
        await this.migrate();
        answer = await open(true);
      }
    } catch (err) {
      this.r.disconnect();
      throw new StoreOpenError(`cannot use Redis at ${where}: ${(err as Error).message}`);
    }
    if (answer !== 'ok') {
      this.r.disconnect();
      throw new StoreOpenError(
        answer === 'key'
          ? `SESSION_SECRET does not match the one the Redis store at ${where} was written with. ` +
              'Restore the previous SESSION_SECRET; the data is never replaced automatically.'
          : `the Redis store at ${where} has schema version ${answer.slice(8)}; this build reads version ${SCHEMA_VERSION}`,
      );
    }
    this.listen(0);
  }

  /**
   * Subscribes to the revocation channel and keeps subscribing after each reconnect. Until the
   * subscription is confirmed (again), revocationMark is null, so no verified token is reused
   * without reading it: a message missed while disconnected cannot leave a revoked token served.
   *
   * A PUBLISH reaches every node of a cluster, so one connection to any node hears every instance.
   * That connection does not retry its node: once it is lost, the next node the cluster client
   * knows is tried, so a failed master is left for a live node.
   */
  private listen(attempt: number): void {
    if (this.closed) return;
    const sub = this.subscriber(attempt);
    if (!sub) {
      setTimeout(() => this.listen(attempt + 1), 200).unref();
      return;
    }
    this.sub = sub;
    sub.on('error', () => undefined); // the main connection reports Redis errors
    sub.on('message', () => this.revocations++);
    sub.on('close', () => {
      this.listening = false;
    });
    sub.on('end', () => {
      if (this.sub === sub) setTimeout(() => this.listen(attempt + 1), 200).unref();
    });
    sub.on('ready', () => {
      sub.subscribe(this.channel).then(
        () => {
          this.revocations++;
          this.listening = true;
        },
        () => undefined,
      );
    });
    sub.connect().catch(() => undefined);
  }

  /** A connection for the subscription (it subscribes itself on 'ready'); null while no cluster node is known. */
  private subscriber(attempt: number): Redis | null {
    const overrides = { lazyConnect: true, autoResubscribe: false };
    if (!this.r.isCluster) return (this.r as Redis).duplicate(overrides);
    const nodes = (this.r as Cluster).nodes();
    const node = nodes[attempt % Math.max(nodes.length, 1)];
    return node ? node.duplicate({ ...overrides, retryStrategy: () => null }) : null;
  }

  revocationMark(): number | null {
    return this.listening ? this.revocations : null;
  }

  /** Runs Redis commands; any failure becomes StoreUnavailableError (503), never a 500. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StoreUnavailableError(`Redis does not answer: ${(err as Error).message}`);
    }
  }

  private script(name: ScriptName, keys: string[], ...args: (string | number)[]): Promise<unknown> {
    const fn = (this.r as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name];
    const counted = SCRIPTS[name][0] === null ? [keys.length] : [];
    return fn!.call(this.r, ...counted, ...keys, ...args);
  }

  /**
   * A script call, then in a cluster with replicas WAIT 1 on the same connection: replication is
   * asynchronous, so without it a failover right after the reply could lose what the reply
   * promised. Best effort: a replica that does not answer in REPLICA_WAIT_MS delays, not fails, it.
   */
  private async durable(name: ScriptName, keys: string[], ...args: (string | number)[]): Promise<unknown> {
    if (!this.r.isCluster || (this.r as Cluster).nodes('slave').length === 0) return this.script(name, keys, ...args);
    const pipe = this.r.pipeline(); // one slot: both go to the node that holds the keys
    (pipe as unknown as Record<string, (...a: (string | number)[]) => unknown>)[name]!(...keys, ...args);
    pipe.wait(1, REPLICA_WAIT_MS);
    const [[err, reply] = [null, null]] = (await pipe.exec()) ?? [];
    if (err) throw err;
    return reply;
  }

  /** The key prefix of the bucket that `id` is filed under: `<prefix>{<n>}:`. */
  private b(id: string): string {
    return this.bucketPrefix(bucketOf(id));
  }

  private bucketPrefix(n: number): string {
    return `${this.p}{${n}}:`;
  }

  private eachBucket<T>(fn: (b: string) => Promise<T>): Promise<T[]> {
    return Promise.all(Array.from({ length: BUCKETS }, (_, n) => fn(this.bucketPrefix(n))));
  }

  /**
   * The grant a code or token is filed under. A credential issued before they named their grant
   * was given an alias when the store was upgraded (a single Redis only; it expires with the
   * credential), which costs one more read.
   */
  private async grantOf(ref: CredentialRef): Promise<string | null> {
    if (ref.grantId !== null) return ref.grantId;
    return this.run(() => this.r.get(`${this.b(ref.hash)}legacy:${ref.hash}`));
  }

  /** A credential (code or token) as the Lua `put` helper takes it. */
  private cred(sub: string, rec: CodeRecord | TokenRecord) {
    return { s: sub, g: rec.grantId, f: flat(rec), e: String(rec.expiresAt), x: String(Math.max(rec.expiresAt, Date.now() + TTL_FLOOR_MS)) };
  }

  async ping(): Promise<void> {
    await this.run(() => this.r.ping());
  }

  async close(): Promise<void> {
    this.closed = true;
    const sub = this.sub;
    this.sub = null;
    sub?.disconnect();
    this.listening = false;
    try {
      await this.r.quit();
    } catch {
      this.r.disconnect();
    }
  }

  /**
   * Stores the client in its bucket, then files it under the never-used clients (one sorted set
   * for the whole store, so MAX_CLIENTS is one exact bound) and evicts the oldest beyond the bound
   * that still have no grant.
   */
  async createClient(client: ClientRecord, maxUnused?: number): Promise<void> {
    const id = client.clientId;
    const b = this.b(id);
    const ok = await this.run(() => this.durable('nmrCreateClient', [`${b}client:${id}`, `${b}clients`], b, id, JSON.stringify(client)));
    if (ok !== 1) throw new Error(`store: client ${id} already exists`);
    const evict = (await this.run(() => this.script('nmrQueueUnused', [`${this.p}unused-clients`], '', id, client.createdAt, maxUnused ?? -1))) as string[];
    await this.run(() =>
      Promise.all(
        evict.map((old) => {
          const ob = this.b(old);
          return this.durable('nmrEvictClient', [`${ob}client:${old}`, `${ob}client-grants:${old}`, `${ob}clients`], ob, old);
        }),
      ),
    );
  }

  async countClients(): Promise<number> {
    const counts = await this.run(() => this.eachBucket((b) => this.r.scard(`${b}clients`)));
    return counts.reduce((a, n) => a + n, 0);
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    const v = await this.run(() => this.r.get(`${this.b(clientId)}client:${clientId}`));
    return v === null ? null : (JSON.parse(v) as ClientRecord);
  }

  async putFlow(id: string, kind: FlowKind, data: unknown, expiresAt: number): Promise<void> {
    const b = this.b(id);
    const sub = `flow:${kind}:${id}`;
    const at = Math.max(expiresAt, Date.now() + TTL_FLOOR_MS);
    await this.run(() =>
      this.r
        .multi()
        .set(b + sub, JSON.stringify({ data, expiresAt }), 'PXAT', at)
        .zadd(`${b}exp:flow`, expiresAt, sub)
        .exec(),
    );
  }

  async takeFlow(id: string, kind: FlowKind, now: number): Promise<unknown | null> {
    const b = this.b(id);
    const sub = `flow:${kind}:${id}`;
    const v = (await this.run(() => this.script('nmrTakeFlow', [b + sub, `${b}exp:flow`], b, sub))) as string | null;
    if (v === null) return null;
    const flow = JSON.parse(v) as { data: unknown; expiresAt: number };
    return flow.expiresAt <= now ? null : flow.data;
  }

  /**
   * The grant's client and Notion user live in other buckets: their index entries are written
   * first, so that a failure in between leaves at most an entry naming no grant (skipped when
   * read), never a grant its user or client cannot find. The client then no longer counts as
   * never used.
   */
  async createGrant(grant: GrantRecord, code: CodeRecord): Promise<void> {
    const b = this.b(grant.id);
    await this.run(() => Promise.all(this.links(grant.notionUserId ?? '', grant.clientId).map((key) => this.durable('nmrIndex', [key], '', 'SADD', grant.id))));
    await this.run(() =>
      Promise.all([
        this.durable('nmrIndex', [`${this.p}unused-clients`], '', 'ZREM', grant.clientId),
        this.durable(
          'nmrCreateGrant',
          [`${b}grant:${grant.id}`, `${b}grants`, `${b}code:${code.hash}`],
          b,
          grant.id,
          JSON.stringify(flat(grant)),
          JSON.stringify(this.cred(`code:${code.hash}`, code)),
        ),
      ]),
    );
  }

  /** The index sets in other buckets that name a grant: its client's and its Notion user's. */
  private links(notionUserId: string, clientId: string): string[] {
    const keys = [`${this.b(clientId)}client-grants:${clientId}`];
    if (notionUserId) keys.push(`${this.b(notionUserId)}user:${notionUserId}`);
    return keys;
  }

  /**
   * Removes deleted grants from their users' and clients' index sets, one SREM per set. Not waited
   * for like the other writes: an entry a failover brings back names no grant, and is skipped.
   */
  private unlink(deleted: Deleted[]): Promise<unknown> {
    const ids = new Map<string, string[]>();
    for (const [grantId, notionUserId, clientId] of deleted) {
      for (const key of this.links(notionUserId, clientId)) ids.set(key, [...(ids.get(key) ?? []), grantId]);
    }
    return Promise.all([...ids].map(([key, members]) => this.r.srem(key, ...members)));
  }

  async getCode(ref: CredentialRef): Promise<CodeRecord | null> {
    const gid = await this.grantOf(ref);
    if (gid === null) return null;
    const f = await this.run(() => this.r.hgetall(`${this.b(gid)}code:${ref.hash}`));
    return empty(f) || f.grantId !== gid ? null : toCode(f);
  }

  private tokensArg(tokens: TokenRecord[]): string {
    // cjson turns an empty array into an object; the scripts iterate with ipairs, which accepts both.
    return JSON.stringify(tokens.map((t) => this.cred(`tok:${t.hash}`, t)));
  }

  /** The tokens go into the code's bucket: they are of its grant (the caller minted them for it). */
  async redeemCode(ref: CredentialRef, now: number, tokens: TokenRecord[], answer: string): Promise<IssueResult> {
    const gid = await this.grantOf(ref);
    if (gid === null) return { status: 'invalid' };
    const b = this.b(gid);
    return issueResult(await this.run(() => this.durable('nmrRedeemCode', [`${b}code:${ref.hash}`], b, ref.hash, now, this.tokensArg(tokens), answer)));
  }

  async getToken(ref: CredentialRef): Promise<{ token: TokenRecord; grant: GrantRecord } | null> {
    const gid = await this.grantOf(ref);
    if (gid === null) return null;
    const b = this.b(gid);
    const found = (await this.run(() => this.script('nmrGetToken', [`${b}tok:${ref.hash}`, `${b}grant:${gid}`]))) as [string[], string[]] | null;
    if (!found) return null;
    const token = toToken(fields(found[0]));
    return token.grantId === gid ? { token, grant: toGrant(fields(found[1])) } : null;
  }

  async rotateRefreshToken(old: CredentialRef, now: number, tokens: TokenRecord[], answer: string | null): Promise<IssueResult> {
    const gid = await this.grantOf(old);
    if (gid === null) return { status: 'invalid' };
    const b = this.b(gid);
    return issueResult(
      await this.run(() => this.durable('nmrRotate', [`${b}tok:${old.hash}`, `${b}creds:${gid}`], b, old.hash, now, this.tokensArg(tokens), answer ?? '')),
    );
  }

  async deleteToken(ref: CredentialRef): Promise<void> {
    const gid = await this.grantOf(ref);
    if (gid === null) return;
    const b = this.b(gid);
    const n = await this.run(() => this.durable('nmrDeleteToken', [`${b}tok:${ref.hash}`, `${b}creds:${gid}`], b, ref.hash, gid, this.channel));
    // This instance sees its own deletion at once, without waiting for its message.
    if (n !== 0) this.revocations++;
  }

  async countLiveCredentials(grantId: string, now: number): Promise<number> {
    const b = this.b(grantId);
    return (await this.run(() => this.script('nmrCountLive', [`${b}creds:${grantId}`], b, now))) as number;
  }

  async getGrant(grantId: string): Promise<GrantRecord | null> {
    const f = await this.run(() => this.r.hgetall(`${this.b(grantId)}grant:${grantId}`));
    return empty(f) ? null : toGrant(f);
  }

  async listGrantsByUser(notionUserId: string): Promise<GrantRecord[]> {
    const key = `${this.b(notionUserId)}user:${notionUserId}`;
    const ids = await this.run(() => this.r.smembers(key));
    const grants = await this.grantsById(ids);
    // An entry left by a grant deleted while Redis failed goes now.
    const gone = ids.filter((id) => !grants.some((g) => g.id === id));
    if (gone.length > 0) await this.run(() => this.r.srem(key, ...gone));
    return grants;
  }

  async listGrants(): Promise<GrantRecord[]> {
    const ids = (await this.eachBucket((b) => this.scanSet(`${b}grants`))).flat();
    return this.grantsById([...new Set(ids)]);
  }

  private async scanSet(key: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.run(() => this.r.sscan(key, cursor, 'COUNT', 500));
      cursor = next;
      ids.push(...batch);
    } while (cursor !== '0');
    return ids;
  }

  /** The grants of these ids that still exist, newest first. */
  private async grantsById(ids: string[]): Promise<GrantRecord[]> {
    const rows = await this.run(() => Promise.all(ids.map((id) => this.r.hgetall(`${this.b(id)}grant:${id}`))));
    return rows
      .filter((f) => !empty(f))
      .map(toGrant)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async deleteGrant(grantId: string): Promise<void> {
    const b = this.b(grantId);
    const deleted = (await this.run(() =>
      this.durable('nmrDeleteGrant', [`${b}grant:${grantId}`, `${b}creds:${grantId}`, `${b}grants`], b, grantId, this.channel),
    )) as Deleted | null;
    if (!deleted) return;
    this.revocations++;
    await this.run(() => this.unlink([deleted]));
  }

  async updateGrantNotion(grantId: string, sealedNotion: string): Promise<void> {
    const b = this.b(grantId);
    await this.run(() => this.durable('nmrSetField', [`${b}grant:${grantId}`], b, 'sealedNotion', sealedNotion));
  }

  async updateGrantSettings(grantId: string, scope: string, info: GrantRecord['info']): Promise<void> {
    const b = this.b(grantId);
    await this.run(() => this.durable('nmrSetSettings', [`${b}grant:${grantId}`], b, scope, JSON.stringify(info), this.channel));
    this.revocations++;
  }

  async touchGrant(grantId: string, now: number): Promise<void> {
    const b = this.b(grantId);
    await this.run(() => this.script('nmrSetField', [`${b}grant:${grantId}`], b, 'lastUsedAt', now));
  }

  /** One script call per grant (its grant and log share a slot); not waited for like the OAuth writes. */
  async appendActivity(entries: ActivityEntry[]): Promise<void> {
    const byGrant = new Map<string, string[]>();
    for (const { id, grantId, ...rest } of entries) {
      const member = `${id} ${JSON.stringify(rest)}`;
      const list = byGrant.get(grantId);
      if (list) list.push(member);
      else byGrant.set(grantId, [member]);
    }
    await this.run(() =>
      Promise.all(
        [...byGrant].map(([grantId, members]) => {
          const b = this.b(grantId);
          return this.script('nmrAppendActivity', [`${b}grant:${grantId}`, `${b}activity:${grantId}`], b, ACTIVITY_MAX_PER_GRANT, ...members);
        }),
      ),
    );
  }

  async listActivity(grantId: string, limit: number, before?: string): Promise<ActivityEntry[]> {
    const key = `${this.b(grantId)}activity:${grantId}`;
    const members = await this.run(() => this.r.zrevrangebylex(key, before ? `(${before}` : '+', '-', 'LIMIT', 0, limit));
    return members.map((m) => toActivity(grantId, m));
  }

  async getActivity(grantId: string, id: string): Promise<ActivityEntry | null> {
    const key = `${this.b(grantId)}activity:${grantId}`;
    // A member is `<id> <json>`: '!' is the byte after the space.
    const [m] = await this.run(() => this.r.zrangebylex(key, `[${id} `, `(${id}!`, 'LIMIT', 0, 1));
    return m === undefined ? null : toActivity(grantId, m);
  }

  /**
   * Removes logically expired flows, tokens and codes in batches, then every grant with no token
   * or code left (each grant checked and deleted atomically); with `clientIdleMs`, also clients
   * created more than that long ago that have no grant. Bucket by bucket; every script call handles
   * a bounded batch (SWEEP_EXPIRED members, SWEEP_IDS ids), and the event loop is free between calls.
   */
  async sweep(now: number, clientIdleMs?: number, activityBefore?: number): Promise<number> {
    const cutoff = activityBefore === undefined ? '' : activityIdPrefix(activityBefore);
    let removed = 0;
    for (let n = 0; n < BUCKETS; n++) {
      const b = this.bucketPrefix(n);
      for (;;) {
        const [k, more] = (await this.run(() => this.script('nmrSweepExpired', [`${b}exp:flow`, `${b}exp:tok`, `${b}exp:code`], b, now, SWEEP_EXPIRED))) as [
          number,
          number,
        ];
        removed += k;
        if (!more) break;
      }
      removed += await this.sweepSet(`${b}grants`, async (ids) => {
        const [deleted, pruned] = (await this.script('nmrSweepGrants', [`${b}grants`], b, cutoff, ...ids)) as [Deleted[], number];
        await this.unlink(deleted);
        return deleted.length + pruned;
      });
    }
    // Once every bucket's grants are swept: a client's grants are in other buckets than the client.
    for (let n = 0; n < BUCKETS && clientIdleMs !== undefined; n++) {
      const b = this.bucketPrefix(n);
      removed += await this.sweepSet(`${b}clients`, async (ids) => {
        const deleted = (await this.script('nmrSweepClients', [`${b}clients`], b, now - clientIdleMs, ...ids)) as string[];
        if (deleted.length > 0) await this.r.zrem(`${this.p}unused-clients`, ...deleted);
        return deleted.length;
      });
    }
    return removed;
  }

  /** SSCANs the set `key` and hands its ids to `sweepIds` in batches of SWEEP_IDS. */
  private async sweepSet(key: string, sweepIds: (ids: string[]) => Promise<number>): Promise<number> {
    let removed = 0;
    let cursor = '0';
    const pending: string[] = [];
    do {
      const [next, ids] = await this.run(() => this.r.sscan(key, cursor, 'COUNT', SWEEP_SCAN));
      cursor = next;
      pending.push(...ids);
      // SSCAN's COUNT is a hint: replies vary in size, so ids wait here for a full batch.
      while (pending.length >= SWEEP_IDS || (cursor === '0' && pending.length > 0)) {
        const batch = pending.splice(0, SWEEP_IDS);
        removed += await this.run(() => sweepIds(batch));
      }
    } while (cursor !== '0');
    return removed;
  }

  async stats(now: number): Promise<StoreStats> {
    const rows = (await this.run(() =>
      this.eachBucket((b) => this.script('nmrBucketStats', [`${b}clients`, `${b}grants`, `${b}exp:tok`, `${b}exp:flow`], b, now)),
    )) as number[][];
    const sum = (i: number) => rows.reduce((a, row) => a + Number(row[i]), 0);
    return { clients: sum(0), grants: sum(1), liveTokens: sum(2), pendingFlows: sum(3) };
  }

  /**
   * Moves a schema 1 or 2 store (one key space: `<prefix>grant:<id>`, `<prefix>tok:<hash>`, ...)
   * into the buckets, in place, on a single Redis: a grant with its tokens and codes (batches of
   * MIGRATE_BATCH, one script call each), the clients, the pending flows. Credentials that do not
   * name their grant get an alias. Every step can run again (a restart midway, or two instances
   * starting at once): what is already moved is skipped. `meta` and the rate-limit counters keep
   * their names, and so does `unused-clients`.
   */
  private async migrate(): Promise<void> {
    const r = this.r as Redis;
    const P = this.p;
    const move = async (pairs: [string, string, string][]) => {
      if (pairs.length > 0) await this.script('nmrMigrate', pairs.flatMap(([from, to]) => [from, to]), '', ...pairs.map(([, , action]) => action));
    };
    // Until the old set is empty: each round moves the ids it took out of it.
    const drain = async (take: () => Promise<string[]>, pairsOf: (ids: string[]) => Promise<[string, string, string][]>) => {
      for (let ids = await take(); ids.length > 0; ids = await take()) await move(await pairsOf(ids));
    };
    await drain(
      () => r.srandmember(`${P}clients`, MIGRATE_BATCH),
      async (ids) =>
        ids.flatMap((id): [string, string, string][] => {
          const b = this.b(id);
          return [
            [`${P}client:${id}`, `${b}client:${id}`, 'rename'],
            [`${P}client-grants:${id}`, `${b}client-grants:${id}`, 'rename'],
            [`${P}clients`, `${b}clients`, `s:${id}`],
          ];
        }),
    );
    await drain(
      () => r.srandmember(`${P}grants`, MIGRATE_BATCH),
      async (ids) => {
        const [creds, users] = await Promise.all([
          Promise.all(ids.map((id) => r.smembers(`${P}creds:${id}`))),
          Promise.all(ids.map((id) => r.hget(`${P}grant:${id}`, 'notionUserId'))),
        ]);
        return ids.flatMap((id, i): [string, string, string][] => {
          const b = this.b(id);
          const uid = users[i];
          return [
            [`${P}grant:${id}`, `${b}grant:${id}`, 'rename'],
            [`${P}creds:${id}`, `${b}creds:${id}`, 'rename'],
            ...creds[i]!.flatMap((m): [string, string, string][] => {
              const z = m.startsWith('tok:') ? 'exp:tok' : 'exp:code';
              const h = m.slice(m.indexOf(':') + 1);
              return [
                [P + m, b + m, 'rename'],
                [P + z, b + z, `z:${m}`],
                [b + m, `${this.b(h)}legacy:${h}`, `alias:${id}`],
              ];
            }),
            ...(uid ? [[`${P}user:${uid}`, `${this.b(uid)}user:${uid}`, `s:${id}`] as [string, string, string]] : []),
            [`${P}grants`, `${b}grants`, `s:${id}`],
          ];
        });
      },
    );
    await drain(
      () => r.zrange(`${P}exp:flow`, '0', String(MIGRATE_BATCH - 1)),
      async (subs) =>
        subs.flatMap((m): [string, string, string][] => {
          const b = this.b(m.split(':').slice(2).join(':')); // flow:<kind>:<id>
          return [
            [P + m, b + m, 'rename'],
            [`${P}exp:flow`, `${b}exp:flow`, `z:${m}`],
          ];
        }),
    );
    // Members left in the old expiry sets named no credential of a grant; their keys expire by TTL.
    await r.del(`${P}exp:tok`, `${P}exp:code`);
  }
}

/** Where REDIS_URL points, for error messages (never its credentials). */
function describe(url: string): string {
  const sentinel = parseSentinelUrl(url);
  if (sentinel) return `master ${sentinel.name} of the sentinels ${sentinel.sentinels.map((x) => `${x.host}:${x.port}`).join(',')} (REDIS_URL)`;
  const cluster = parseClusterUrl(url);
  if (cluster) return `the cluster nodes ${cluster.nodes.map((x) => `${x.host}:${x.port}`).join(',')} (REDIS_URL)`;
  try {
    return `${new URL(url).host} (REDIS_URL)`;
  } catch {
    return 'REDIS_URL'; // the config checked the URL; keep the generic name
  }
}

import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import { StoreOpenError } from './sqlite.js';
import type { ClientRecord, CodeRecord, FlowKind, GrantRecord, IssueResult, Store, StoreStats, TokenRecord } from './types.js';

/** ioredis (CommonJS) is loaded on first use only, so a server without REDIS_URL starts without it (~150 ms). */
const requireCjs = createRequire(import.meta.url);
const loadIoredis = () => requireCjs('ioredis') as typeof import('ioredis');

/**
 * The shared store for several instances: one Redis (a single primary; not Redis Cluster, the
 * scripts build their keys from the prefix). Every change that spans keys runs in one Lua script,
 * so it is atomic. Expiry is decided on the caller's clock (`now`), exactly as in SQLite; each
 * expiring key also carries a Redis TTL (PEXPIREAT) as a backstop, never before its logical
 * expiry. docs/storage.md lists the keys.
 */

const SCHEMA_VERSION = '2';
/** Version 1 data is read as it is: the fields that version 2 adds are optional. */
const UPGRADABLE = '1';
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

/** Shared Lua helpers. ARGV[1] is always the key prefix. */
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
local function delete_grant(gid)
  for _, m in ipairs(redis.call('SMEMBERS', P .. 'creds:' .. gid)) do drop(m, nil) end
  redis.call('DEL', P .. 'creds:' .. gid)
  local uid = redis.call('HGET', P .. 'grant:' .. gid, 'notionUserId')
  if uid then redis.call('SREM', P .. 'user:' .. uid, gid) end
  local cid = redis.call('HGET', P .. 'grant:' .. gid, 'clientId')
  if cid then redis.call('SREM', P .. 'client-grants:' .. cid, gid) end
  redis.call('SREM', P .. 'grants', gid)
  return redis.call('DEL', P .. 'grant:' .. gid)
end
`;

const SCRIPTS = {
  // ARGV: P, version, keyCheck, accepted key checks (JSON array), upgradable version → 'ok' | 'version:<v>' | 'key'
  // Data written under any accepted check value opens; the current one (ARGV[3]) is then recorded.
  nmrOpen: `
local v = redis.call('HMGET', P .. 'meta', 'schema_version', 'key_check')
if v[1] and v[1] ~= ARGV[2] and v[1] ~= ARGV[5] then return 'version:' .. v[1] end
if v[2] and v[2] ~= ARGV[3] then
  local known = false
  for _, k in ipairs(cjson.decode(ARGV[4])) do if k == v[2] then known = true end end
  if not known then return 'key' end
end
redis.call('HSET', P .. 'meta', 'schema_version', ARGV[2], 'key_check', ARGV[3])
return 'ok'`,
  // ARGV: P, clientId, json → 1 | 0 (exists). ioredis re-sends a command whose reply was lost:
  // the second run then finds its own record and answers as the first did (here and below).
  // ARGV[4]: created at; ARGV[5]: most never-used clients kept, or -1. The oldest beyond it go
  // (a few per call), so a registration flood evicts other never-used clients, never a connection.
  nmrCreateClient: `
if not redis.call('SET', P .. 'client:' .. ARGV[2], ARGV[3], 'NX') then
  if redis.call('GET', P .. 'client:' .. ARGV[2]) == ARGV[3] then return 1 end
  return 0
end
redis.call('SADD', P .. 'clients', ARGV[2])
redis.call('ZADD', P .. 'unused-clients', ARGV[4], ARGV[2])
local max = tonumber(ARGV[5])
if max >= 0 then
  local excess = redis.call('ZCARD', P .. 'unused-clients') - max
  if excess > 0 then
    local popped = redis.call('ZPOPMIN', P .. 'unused-clients', math.min(excess, 10))
    for i = 1, #popped, 2 do -- member, score, member, score, ...
      local id = popped[i]
      if redis.call('SCARD', P .. 'client-grants:' .. id) == 0 then
        redis.call('DEL', P .. 'client:' .. id)
        redis.call('SREM', P .. 'clients', id)
      end
    end
  end
end
return 1`,
  // ARGV: P, sub → the flow JSON, deleted, or nil
  nmrTakeFlow: `
local v = redis.call('GET', P .. ARGV[2])
if not v then return false end
redis.call('DEL', P .. ARGV[2])
redis.call('ZREM', P .. 'exp:flow', ARGV[2])
return v`,
  // ARGV: P, grantId, grant fields (JSON array), notionUserId or '', code (JSON), clientId
  nmrCreateGrant: `
local c = cjson.decode(ARGV[5])
if redis.call('EXISTS', P .. 'grant:' .. ARGV[2]) == 1 then
  if redis.call('HGET', P .. c.s, 'grantId') == ARGV[2] then return 1 end
  return redis.error_reply('ERR duplicate grant')
end
local dup = check_new({c}); if dup then return dup end
redis.call('HSET', P .. 'grant:' .. ARGV[2], unpack(cjson.decode(ARGV[3])))
redis.call('SADD', P .. 'grants', ARGV[2])
redis.call('SADD', P .. 'client-grants:' .. ARGV[6], ARGV[2])
redis.call('ZREM', P .. 'unused-clients', ARGV[6])
if ARGV[4] ~= '' then redis.call('SADD', P .. 'user:' .. ARGV[4], ARGV[2]) end
put(c)
return 1`,
  // ARGV: P, code hash, now, tokens (JSON), answer → {'issued'} | {'again', answer} | {'spent'} | {'invalid'}
  nmrRedeemCode: `
local k = P .. 'code:' .. ARGV[2]
local v = redis.call('HMGET', k, 'expiresAt', 'usedAt', 'answer')
if not v[1] or tonumber(v[1]) <= tonumber(ARGV[3]) then return {'invalid'} end
if v[2] then
  if v[3] then return {'again', v[3]} end
  return {'spent'}
end
local ts = cjson.decode(ARGV[4])
local dup = check_new(ts); if dup then return dup end
redis.call('HSET', k, 'usedAt', ARGV[3], 'answer', ARGV[5])
redis.call('HDEL', k, 'wrappedKey')
for _, t in ipairs(ts) do put(t) end
return {'issued'}`,
  // ARGV: P, old hash, now, tokens (JSON), answer or '' → as nmrRedeemCode
  nmrRotate: `
local sub = 'tok:' .. ARGV[2]
local v = redis.call('HMGET', P .. sub, 'kind', 'grantId', 'expiresAt', 'replacedAt', 'answer')
if v[1] ~= 'refresh' or tonumber(v[3]) <= tonumber(ARGV[3]) then return {'invalid'} end
if v[4] then
  if v[5] then return {'again', v[5]} end
  return {'spent'}
end
if ARGV[5] == '' then return {'invalid'} end
local ts = cjson.decode(ARGV[4])
local dup = check_new(ts); if dup then return dup end
-- One current refresh token and one previous per grant: the older previous one goes now.
for _, m in ipairs(redis.call('SMEMBERS', P .. 'creds:' .. v[2])) do
  if m ~= sub and string.sub(m, 1, 4) == 'tok:' and redis.call('HGET', P .. m, 'kind') == 'refresh' then drop(m, v[2]) end
end
redis.call('HSET', P .. sub, 'replacedAt', ARGV[3], 'answer', ARGV[5])
redis.call('HDEL', P .. sub, 'wrappedKey')
for _, t in ipairs(ts) do put(t) end
return {'issued'}`,
  // ARGV: P, hash. The bearer check of every MCP request: token and grant in one round trip.
  nmrGetToken: `
local t = redis.call('HGETALL', P .. 'tok:' .. ARGV[2])
if #t == 0 then return false end
local gid = redis.call('HGET', P .. 'tok:' .. ARGV[2], 'grantId')
local g = redis.call('HGETALL', P .. 'grant:' .. gid)
if #g == 0 then return false end
return {t, g}`,
  // ARGV: P, hash
  nmrDeleteToken: `
local gid = redis.call('HGET', P .. 'tok:' .. ARGV[2], 'grantId')
local n = drop('tok:' .. ARGV[2], gid)
if n > 0 then redis.call('PUBLISH', P .. 'revoked', '1') end
return n`,
  // ARGV: P, grantId, now
  nmrCountLive: `
local now = tonumber(ARGV[3])
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', P .. 'creds:' .. ARGV[2])) do
  local done = 'replacedAt'
  if string.sub(m, 1, 5) == 'code:' then done = 'usedAt' end
  local v = redis.call('HMGET', P .. m, 'expiresAt', done)
  if v[1] and not v[2] and tonumber(v[1]) > now then n = n + 1 end
end
return n`,
  // ARGV: P, grantId
  nmrDeleteGrant: `
local n = delete_grant(ARGV[2])
if n > 0 then redis.call('PUBLISH', P .. 'revoked', '1') end
return n`,
  // ARGV: P, sub, field, value: sets a field of an existing hash only
  nmrSetField: `
if redis.call('EXISTS', P .. ARGV[2]) == 0 then return 0 end
redis.call('HSET', P .. ARGV[2], ARGV[3], ARGV[4])
return 1`,
  // ARGV: P, now, batch → { removed, more }. At most `batch` members in all, so that one call stays
  // short: a script blocks every Redis client while it runs (bench/redis-sweep.ts).
  nmrSweepExpired: `
local left = tonumber(ARGV[3])
local removed = 0
for _, z in ipairs({'exp:flow', 'exp:tok', 'exp:code'}) do
  if left == 0 then break end
  local ms = redis.call('ZRANGEBYSCORE', P .. z, '-inf', ARGV[2], 'LIMIT', 0, left)
  if #ms > 0 then
    local keys = {}
    for i, m in ipairs(ms) do
      if z ~= 'exp:flow' then
        local gid = redis.call('HGET', P .. m, 'grantId')
        if gid then redis.call('SREM', P .. 'creds:' .. gid, m) end
      end
      keys[i] = P .. m
    end
    removed = removed + redis.call('DEL', unpack(keys))
    -- Read from -inf, these are the lowest ranks: one range removal instead of a ZREM each.
    redis.call('ZREMRANGEBYRANK', P .. z, 0, #ms - 1)
    left = left - #ms
  end
end
if left == 0 then return {removed, 1} end
return {removed, 0}`,
  // ARGV: P, grantId... → how many of these grants had no token or code left and were deleted.
  // Each grant is checked and deleted within this one atomic call, so nothing issued meanwhile is lost.
  nmrSweepGrants: `
local function sweep_grant(gid)
  if redis.call('EXISTS', P .. 'grant:' .. gid) == 0 then redis.call('SREM', P .. 'grants', gid) return 0 end
  for _, m in ipairs(redis.call('SMEMBERS', P .. 'creds:' .. gid)) do
    if redis.call('EXISTS', P .. m) == 1 then return 0 end
    redis.call('SREM', P .. 'creds:' .. gid, m)
  end
  return delete_grant(gid)
end
local n = 0
for i = 2, #ARGV do n = n + sweep_grant(ARGV[i]) end
return n`,
  // ARGV: P, cutoff, clientId... → how many of these clients were created before cutoff, had no
  // grant, and were deleted
  nmrSweepClients: `
local function sweep_client(id, cutoff)
  local v = redis.call('GET', P .. 'client:' .. id)
  if not v then redis.call('SREM', P .. 'clients', id) return 0 end
  if tonumber(cjson.decode(v).createdAt) >= cutoff then return 0 end
  if redis.call('SCARD', P .. 'client-grants:' .. id) > 0 then return 0 end
  redis.call('SREM', P .. 'clients', id)
  redis.call('ZREM', P .. 'unused-clients', id)
  return redis.call('DEL', P .. 'client:' .. id)
end
local n = 0
for i = 3, #ARGV do n = n + sweep_client(ARGV[i], tonumber(ARGV[2])) end
return n`,
} as const;

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

/**
 * A Sentinel-managed Redis: `redis+sentinel://[user:password@]host:port[,host:port...]/<master name>`.
 * The credentials are the data nodes' (the sentinels take none here). Null for any other URL.
 */
export function parseSentinelUrl(url: string): { sentinels: { host: string; port: number }[]; name: string; username?: string; password?: string } | null {
  const m = /^redis\+sentinel:\/\/(?:([^:@/]*):([^@/]*)@)?([^/@]+)\/([^/?#]+)$/.exec(url);
  if (!m) return null;
  const sentinels = m[3]!.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    return { host: hp.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(hp.slice(at + 1)) };
  });
  if (sentinels.some((s) => !s.host || !Number.isInteger(s.port) || s.port <= 0 || s.port > 65535)) return null;
  return {
    sentinels,
    name: decodeURIComponent(m[4]!),
    ...(m[1] ? { username: decodeURIComponent(m[1]) } : {}),
    ...(m[2] ? { password: decodeURIComponent(m[2]) } : {}),
  };
}

export interface RedisStoreOptions {
  /** Prefix of every key; lets several deployments (or tests) share one Redis. */
  prefix?: string;
}

export class RedisStore implements Store {
  /** Resolves once connected and the key check passed; rejects with StoreOpenError. */
  readonly ready: Promise<void>;
  private readonly r: Redis;
  private readonly p: string;
  private lastError = '';
  /**
   * A second connection subscribed to `<prefix>revoked`, on which every instance announces its
   * deletions of tokens and grants (from inside the deleting script). See revocationMark.
   */
  private sub: Redis | null = null;
  private listening = false;
  private revocations = 0;

  /** The ioredis client (fail-fast options below), shared with the rate-limit counters. */
  get client(): Redis {
    return this.r;
  }

  private constructor(url: string, keyCheck: string | readonly string[], opts: RedisStoreOptions) {
    this.p = opts.prefix ?? 'nmr:';
    // Fail fast while Redis is down (503s), reconnect forever in the background.
    const { Redis: RedisClient } = loadIoredis();
    const options = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      commandTimeout: 5000,
      retryStrategy: (times: number) => Math.min(times * 200, 2000),
    };
    // With Sentinel, ioredis asks the sentinels for the master and follows a failover by itself.
    const sentinel = parseSentinelUrl(url);
    this.r = sentinel
      ? new RedisClient({ ...options, ...sentinel, sentinelRetryStrategy: (times: number) => Math.min(times * 200, 2000) })
      : new RedisClient(url, options);
    this.r.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    for (const [name, lua] of Object.entries(SCRIPTS)) this.r.defineCommand(name, { numberOfKeys: 0, lua: LIB + lua });
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
    let where = 'REDIS_URL';
    const sentinel = parseSentinelUrl(url);
    try {
      where = sentinel
        ? `master ${sentinel.name} of the sentinels ${sentinel.sentinels.map((x) => `${x.host}:${x.port}`).join(',')} (REDIS_URL)`
        : `${new URL(url).host} (REDIS_URL)`;
    } catch {
      // The config checked the URL; keep the generic name.
    }
    try {
      await this.r.connect();
    } catch (err) {
      this.r.disconnect();
      throw new StoreOpenError(
        `cannot reach Redis at ${where}: ${this.lastError || (err as Error).message}. Check REDIS_URL and that Redis is running`,
      );
    }
    let answer: string;
    try {
      answer = (await this.script('nmrOpen', SCHEMA_VERSION, current, JSON.stringify(accepted), UPGRADABLE)) as string;
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
    this.listen();
  }

  /**
   * Subscribes to the revocation channel and keeps subscribing after each reconnect. Until the
   * subscription is confirmed (again), revocationMark is null, so no verified token is reused
   * without reading it: a message missed while disconnected cannot leave a revoked token served.
   */
  private listen(): void {
    const sub = this.r.duplicate({ lazyConnect: true, autoResubscribe: false }); // subscribes itself on 'ready'
    this.sub = sub;
    const channel = `${this.p}revoked`;
    sub.on('error', () => undefined); // the main connection reports Redis errors
    sub.on('message', () => this.revocations++);
    sub.on('close', () => {
      this.listening = false;
    });
    sub.on('ready', () => {
      sub.subscribe(channel).then(
        () => {
          this.revocations++;
          this.listening = true;
        },
        () => undefined,
      );
    });
    sub.connect().catch(() => undefined);
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

  private script(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    const fn = (this.r as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name];
    return fn!.call(this.r, this.p, ...args);
  }

  /** A credential (code or token) as the Lua `put` helper takes it. */
  private cred(sub: string, rec: CodeRecord | TokenRecord) {
    return { s: sub, g: rec.grantId, f: flat(rec), e: String(rec.expiresAt), x: String(Math.max(rec.expiresAt, Date.now() + TTL_FLOOR_MS)) };
  }

  async ping(): Promise<void> {
    await this.run(() => this.r.ping());
  }

  async close(): Promise<void> {
    this.sub?.disconnect();
    this.listening = false;
    try {
      await this.r.quit();
    } catch {
      this.r.disconnect();
    }
  }

  async createClient(client: ClientRecord, maxUnused?: number): Promise<void> {
    const ok = await this.run(() => this.script('nmrCreateClient', client.clientId, JSON.stringify(client), client.createdAt, maxUnused ?? -1));
    if (ok !== 1) throw new Error(`store: client ${client.clientId} already exists`);
  }

  async countClients(): Promise<number> {
    return this.run(() => this.r.scard(`${this.p}clients`));
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    const v = await this.run(() => this.r.get(`${this.p}client:${clientId}`));
    return v === null ? null : (JSON.parse(v) as ClientRecord);
  }

  async putFlow(id: string, kind: FlowKind, data: unknown, expiresAt: number): Promise<void> {
    const sub = `flow:${kind}:${id}`;
    const at = Math.max(expiresAt, Date.now() + TTL_FLOOR_MS);
    await this.run(() =>
      this.r
        .multi()
        .set(this.p + sub, JSON.stringify({ data, expiresAt }), 'PXAT', at)
        .zadd(`${this.p}exp:flow`, expiresAt, sub)
        .exec(),
    );
  }

  async takeFlow(id: string, kind: FlowKind, now: number): Promise<unknown | null> {
    const v = (await this.run(() => this.script('nmrTakeFlow', `flow:${kind}:${id}`))) as string | null;
    if (v === null) return null;
    const flow = JSON.parse(v) as { data: unknown; expiresAt: number };
    return flow.expiresAt <= now ? null : flow.data;
  }

  async createGrant(grant: GrantRecord, code: CodeRecord): Promise<void> {
    await this.run(() =>
      this.script(
        'nmrCreateGrant',
        grant.id,
        JSON.stringify(flat(grant)),
        grant.notionUserId ?? '',
        JSON.stringify(this.cred(`code:${code.hash}`, code)),
        grant.clientId,
      ),
    );
  }

  async getCode(hash: string): Promise<CodeRecord | null> {
    const f = await this.run(() => this.r.hgetall(`${this.p}code:${hash}`));
    return empty(f) ? null : toCode(f);
  }

  private tokensArg(tokens: TokenRecord[]): string {
    // cjson turns an empty array into an object; the scripts iterate with ipairs, which accepts both.
    return JSON.stringify(tokens.map((t) => this.cred(`tok:${t.hash}`, t)));
  }

  async redeemCode(hash: string, now: number, tokens: TokenRecord[], answer: string): Promise<IssueResult> {
    return issueResult(await this.run(() => this.script('nmrRedeemCode', hash, now, this.tokensArg(tokens), answer)));
  }

  async getToken(hash: string): Promise<{ token: TokenRecord; grant: GrantRecord } | null> {
    const found = (await this.run(() => this.script('nmrGetToken', hash))) as [string[], string[]] | null;
    return found ? { token: toToken(fields(found[0])), grant: toGrant(fields(found[1])) } : null;
  }

  async rotateRefreshToken(oldHash: string, now: number, tokens: TokenRecord[], answer: string | null): Promise<IssueResult> {
    return issueResult(await this.run(() => this.script('nmrRotate', oldHash, now, this.tokensArg(tokens), answer ?? '')));
  }

  async deleteToken(hash: string): Promise<void> {
    // This instance sees its own deletion at once, without waiting for its message.
    if ((await this.run(() => this.script('nmrDeleteToken', hash))) !== 0) this.revocations++;
  }

  async countLiveCredentials(grantId: string, now: number): Promise<number> {
    return (await this.run(() => this.script('nmrCountLive', grantId, now))) as number;
  }

  async getGrant(grantId: string): Promise<GrantRecord | null> {
    const f = await this.run(() => this.r.hgetall(`${this.p}grant:${grantId}`));
    return empty(f) ? null : toGrant(f);
  }

  async listGrantsByUser(notionUserId: string): Promise<GrantRecord[]> {
    const ids = await this.run(() => this.r.smembers(`${this.p}user:${notionUserId}`));
    return this.grantsById(ids);
  }

  async listGrants(): Promise<GrantRecord[]> {
    const ids: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.run(() => this.r.sscan(`${this.p}grants`, cursor, 'COUNT', 500));
      cursor = next;
      ids.push(...batch);
    } while (cursor !== '0');
    return this.grantsById([...new Set(ids)]);
  }

  /** The grants of these ids that still exist, newest first. */
  private async grantsById(ids: string[]): Promise<GrantRecord[]> {
    if (ids.length === 0) return [];
    const pipe = this.r.pipeline();
    for (const id of ids) pipe.hgetall(`${this.p}grant:${id}`);
    const rows = (await this.run(() => pipe.exec())) ?? [];
    return rows
      .map(([err, f]) => {
        if (err) throw new StoreUnavailableError(`Redis does not answer: ${err.message}`);
        return f as Fields;
      })
      .filter((f) => !empty(f))
      .map(toGrant)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async deleteGrant(grantId: string): Promise<void> {
    if ((await this.run(() => this.script('nmrDeleteGrant', grantId))) !== 0) this.revocations++;
  }

  async updateGrantNotion(grantId: string, sealedNotion: string): Promise<void> {
    await this.run(() => this.script('nmrSetField', `grant:${grantId}`, 'sealedNotion', sealedNotion));
  }

  async touchGrant(grantId: string, now: number): Promise<void> {
    await this.run(() => this.script('nmrSetField', `grant:${grantId}`, 'lastUsedAt', now));
  }

  /**
   * Removes logically expired flows, tokens and codes in batches, then every grant with no token
   * or code left (each grant checked and deleted atomically); with `clientIdleMs`, also clients
   * created more than that long ago that have no grant. Every script call handles a bounded batch
   * (SWEEP_EXPIRED members, SWEEP_IDS ids), and the event loop is free between calls.
   */
  async sweep(now: number, clientIdleMs?: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const [n, more] = (await this.run(() => this.script('nmrSweepExpired', now, SWEEP_EXPIRED))) as [number, number];
      removed += n;
      if (!more) break;
    }
    removed += await this.sweepSet('grants', (ids) => this.script('nmrSweepGrants', ...ids));
    if (clientIdleMs !== undefined) {
      removed += await this.sweepSet('clients', (ids) => this.script('nmrSweepClients', now - clientIdleMs, ...ids));
    }
    return removed;
  }

  /** SSCANs the set `<prefix><name>` and hands its ids to `sweepIds` in batches of SWEEP_IDS. */
  private async sweepSet(name: string, sweepIds: (ids: string[]) => Promise<unknown>): Promise<number> {
    let removed = 0;
    let cursor = '0';
    const pending: string[] = [];
    do {
      const [next, ids] = await this.run(() => this.r.sscan(this.p + name, cursor, 'COUNT', SWEEP_SCAN));
      cursor = next;
      pending.push(...ids);
      // SSCAN's COUNT is a hint: replies vary in size, so ids wait here for a full batch.
      while (pending.length >= SWEEP_IDS || (cursor === '0' && pending.length > 0)) {
        const batch = pending.splice(0, SWEEP_IDS);
        removed += (await this.run(() => sweepIds(batch))) as number;
      }
    } while (cursor !== '0');
    return removed;
  }

  async stats(now: number): Promise<StoreStats> {
    const rows = await this.run(() =>
      this.r
        .pipeline()
        .scard(`${this.p}clients`)
        .scard(`${this.p}grants`)
        .zcount(`${this.p}exp:tok`, `(${now}`, '+inf')
        .zcount(`${this.p}exp:flow`, `(${now}`, '+inf')
        .exec(),
    );
    const n = (rows ?? []).map(([err, v]) => {
      if (err) throw new StoreUnavailableError(`Redis does not answer: ${err.message}`);
      return Number(v);
    });
    return { clients: n[0] ?? 0, grants: n[1] ?? 0, liveTokens: n[2] ?? 0, pendingFlows: n[3] ?? 0 };
  }
}

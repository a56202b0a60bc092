/**
 * Sizing and scale-out: `npm run bench:scale` (builds first; then `tsx bench/scale.ts [flags]`).
 *
 * 1. Storage per 1,000 connections, SQLite and Redis, through the product's code path
 *    (bench/lib/grants.ts): that many client registrations, connections (grant, redeemed code,
 *    access and refresh token), one refresh and one "last used" update of each, then the sweep
 *    once the codes have expired, with the time each took. SQLite: the WAL and -shm files as the
 *    step left them, then the database file after a checkpoint. Redis: used_memory, DBSIZE and the append-only files (fresh redis-server,
 *    appendonly yes, automatic rewrite off while measuring; the size after a BGREWRITEAOF last).
 * 2. AOF bytes per operation through the built server on Redis: a new connection (the whole OAuth
 *    flow), a refresh, a tool call, a request counter expiring; the entries each appended are
 *    counted by command name from the file.
 *    From these, the AOF growth per day of a stated traffic mix, and when Redis rewrites the file.
 * 3. Load: 1 instance on SQLite, then N built instances (--instances, default 1,2,4) on one
 *    redis-server behind a loopback round-robin TCP balancer (bench/lib/balancer.ts, own process),
 *    the fake Notion in this process. For each mix (tool calls; refresh-heavy: every 4th request a
 *    refresh) it runs --duration seconds and reports throughput, p50/p99, the CPU of every process
 *    (instances, redis-server, balancer, this process: load and fake Notion) and of the whole
 *    machine, the share of wall time Redis's main thread was busy, Redis commands per request,
 *    and each instance's RSS idle and under load.
 *
 * Reads only INFO, DBSIZE and the AOF's command names of Redis, never key names, so it runs the
 * same whatever the key layout.
 *
 * Flags: --quick (--connections 200 --duration 4 --instances 1,2)  --connections 1000
 *        --instances 1,2,4  --duration 8  --concurrency 32  --mixes tools,refresh
 *        --listpack-value <bytes> (hash-max-listpack-value for the sizing)  --out scale.json
 *        --max-minutes 30 (then it stops with an error)
 * Stops by itself; every process and temporary directory it made is removed, also on failure,
 * SIGINT (Ctrl-C), SIGTERM or the time limit.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import Database from 'better-sqlite3';
import { parseRegistration } from '../src/oauth/register.js';
import { SQLITE_FILE } from '../src/store/sqlite.js';
import type { Store } from '../src/store/types.js';
import { fakeWorkspace, type FakeNotion, startFakeNotion } from '../test/helpers/fake-notion.js';
import { type RedisServer, startRedis } from '../test/helpers/redis.js';
import { freePort, TEST_SECRET } from '../test/helpers/stack.js';
import { type Connector, connectOne, inParallel, openConnector, openSqliteConnector, refreshOne } from './lib/grants.js';
import { type LoadResult, post, runLoad, untilListening } from './lib/load.js';
import { type Connection, connectAll } from './lib/oauth.js';
import { cpuMs, rssMiB, serverArgs, serverEnv, spawnChild, stopChild } from './lib/proc.js';
import { aofBytes, aofCommands, aofMark, redisSnapshot, rewriteAof, settle, usedMemory } from './lib/redis-info.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const arg = (name: string, normal: string, quick = normal): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : QUICK ? quick : normal;
};
const CONNECTIONS = Number(arg('connections', '1000', '200'));
const INSTANCES = arg('instances', '1,2,4', '1,2').split(',').map(Number);
const DURATION_S = Number(arg('duration', '8', '4'));
const CONCURRENCY = Number(arg('concurrency', '32'));
const MIXES = arg('mixes', 'tools,refresh').split(',') as Mix[];
const LISTPACK_VALUE = arg('listpack-value', '');
const OUT = arg('out', 'scale.json');
/** The whole run is stopped (and cleaned up) after this long, should anything hang. */
const MAX_MINUTES = Number(arg('max-minutes', '30'));
/** Connections and tool calls for the AOF per operation (through the server, so a few suffice). */
const AOF_CONNECTIONS = QUICK ? 30 : 100;
const AOF_CALLS = QUICK ? 600 : 3000;
const REFRESH_EVERY = 4;
const PAGE_ID = '59833787-2cf9-4fdf-8782-e53db20768a5';
const baseHeaders = { accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`${s}\n`);
type Mix = 'tools' | 'refresh';

/** The traffic mix the daily AOF figure is computed for, per connection (printed with it). */
const DAY_MIX = {
  toolCallsPerHour: 20,
  /** Calls come in bursts (one answer of the model), within a minute, minutes apart. */
  callsPerBurst: 5,
  activeHoursPerDay: 8,
  /** One access-token refresh per ACCESS_TOKEN_TTL_SECONDS (30 days by default). */
  accessTokenTtlDays: 30,
  /** New connections per day, as a share of the existing ones. */
  newConnectionsShare: 0.01,
};

// ---------------------------------------------------------------------------------------------
// Temporary processes and directories: all removed at the end, whatever happens.
// ---------------------------------------------------------------------------------------------

const cleanups: (() => Promise<void> | void)[] = [];
const tempDir = (tag: string) => {
  const dir = mkdtempSync(join(tmpdir(), `nmr-scale-${tag}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
async function redisServer(): Promise<{ server: RedisServer; admin: Redis }> {
  const server = await startRedis();
  const admin = new Redis(server.url);
  cleanups.push(async () => {
    admin.disconnect();
    await server.dispose();
  });
  return { server, admin };
}
/** Runs, newest first, the clean-ups added since `mark` (a former `cleanups.length`; all by default). */
async function cleanUp(mark = 0): Promise<void> {
  for (const c of cleanups.splice(mark).reverse()) await c();
}

// ---------------------------------------------------------------------------------------------
// 1. Storage per 1,000 connections, through the product's code path
// ---------------------------------------------------------------------------------------------

interface Sizes {
  /** The database file; in a step's row, its growth. */
  sqliteDb: number;
  /** The WAL and its shared-memory index, as they are after the step (they do not grow with the data). */
  sqliteWal: number;
  redisMemory: number;
  redisKeys: number;
  aof: number;
}
interface SizingRow extends Sizes {
  step: string;
  /** Wall time of the step per operation, in ms, 200 at a time (SQLite runs them one by one). */
  msPerOp: { sqlite: number; redis: number };
}

/**
 * Bytes of the SQLite files in `dir`: the -wal and -shm files as the step left them, then the
 * database once a checkpoint moved the WAL into it (else a step's rows could sit in the WAL and
 * be counted in the next step's database growth).
 */
function sqliteBytes(dir: string): { db: number; wal: number } {
  const bytes = (pick: (f: string) => boolean) => readdirSync(dir).filter(pick).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const isWal = (f: string) => /-(wal|shm)$/.test(f);
  const wal = bytes(isWal);
  const db = new Database(join(dir, SQLITE_FILE));
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return { db: bytes((f) => !isWal(f)), wal };
}

/** The same steps on both stores, in lock step; sizes are measured after each. */
async function sizeStores(n: number): Promise<{ rows: SizingRow[]; total: Sizes; aofRewritten: number }> {
  const { server, admin } = await redisServer();
  await admin.config('SET', 'auto-aof-rewrite-percentage', '0'); // no rewrite in the middle of a measurement
  if (LISTPACK_VALUE) await admin.config('SET', 'hash-max-listpack-value', LISTPACK_VALUE);
  const dataDir = tempDir('sqlite');
  const redisConnector = await openConnector(server.url);
  const sqliteConnector = openSqliteConnector(dataDir);
  const stores: Connector[] = [redisConnector, sqliteConnector];
  try {
    const sizes = async (): Promise<Sizes> => {
      await settle(admin);
      const { db, wal } = sqliteBytes(dataDir);
      return { sqliteDb: db, sqliteWal: wal, redisMemory: await usedMemory(admin), redisKeys: await admin.dbsize(), aof: aofBytes(server.dir) };
    };
    const empty = await sizes();
    let last = empty;
    const rows: SizingRow[] = [];
    const step = async (what: string, fn: (c: Connector) => Promise<unknown>) => {
      const timed = async (c: Connector) => {
        const t0 = performance.now();
        await fn(c);
        return (performance.now() - t0) / n;
      };
      const msPerOp = { redis: await timed(redisConnector), sqlite: await timed(sqliteConnector) };
      const now = await sizes();
      rows.push({
        step: what,
        msPerOp,
        sqliteDb: now.sqliteDb - last.sqliteDb,
        sqliteWal: now.sqliteWal,
        redisMemory: now.redisMemory - last.redisMemory,
        redisKeys: now.redisKeys - last.redisKeys,
        aof: now.aof - last.aof,
      });
      last = now;
    };
    const clientIds = Array.from({ length: n }, () => randomUUID());
    const registration = parseRegistration({
      client_name: 'Claude',
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    await step('client registrations (Claude: one per connection)', (c) =>
      inParallel(n, 200, (i) => c.store.createClient({ ...registration, clientId: clientIds[i]!, createdAt: Date.now() })),
    );
    const refreshTokens = new Map<Store, string[]>();
    await step('connections (grant, redeemed code, access and refresh token)', async (c) => {
      refreshTokens.set(c.store, await inParallel(n, 200, (i) => connectOne(c, clientIds[i]!)));
    });
    await step('one refresh of each (new pair; the old access token stays)', async (c) => {
      const tokens = refreshTokens.get(c.store)!;
      await inParallel(n, 200, (i) => refreshOne(c, tokens[i]!));
    });
    await step('one "last used" update of each', async (c) => {
      const grants = await c.store.listGrants();
      await inParallel(grants.length, 200, (i) => c.store.touchGrant(grants[i]!.id, Date.now()));
    });
    // The redeemed codes expire after AUTH_CODE_TTL_SECONDS (10 min); the sweep then removes them.
    await step('sweep 11 minutes later (redeemed codes gone)', (c) => c.store.sweep(Date.now() + 11 * 60_000));
    const total = { sqliteDb: last.sqliteDb - empty.sqliteDb, sqliteWal: last.sqliteWal, redisMemory: last.redisMemory - empty.redisMemory, redisKeys: last.redisKeys - empty.redisKeys, aof: last.aof };
    await rewriteAof(admin);
    return { rows, total, aofRewritten: aofBytes(server.dir) };
  } finally {
    for (const c of stores) await c.store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Instances of the built server, and the requests the load sends
// ---------------------------------------------------------------------------------------------

interface Instance {
  port: number;
  child: ChildProcess;
}

/**
 * `count` built servers on `redisUrl` (or each on its own SQLite DATA_DIR), all with BASE_URL
 * `publicUrl` (the balancer's), or each its own origin without it.
 */
async function startInstances(fake: FakeNotion, count: number, publicUrl: string | null, redisUrl: string | null): Promise<Instance[]> {
  const out: Instance[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const dataDir = tempDir('data');
    const env = { ...serverEnv(fake, port, dataDir, TEST_SECRET), ...(publicUrl ? { BASE_URL: publicUrl } : {}), ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
    // cwd is a temporary directory, so a developer's .env is not loaded.
    const child = spawnChild(process.execPath, serverArgs(ROOT), env, dataDir);
    cleanups.push(() => stopChild(child));
    out.push({ port, child });
  }
  for (const inst of out) await untilReady(inst);
  return out;
}

async function untilReady(inst: Instance): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (inst.child.exitCode !== null) throw new Error(`the server on port ${inst.port} exited with ${inst.child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${inst.port}/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server on port ${inst.port} did not become ready`);
    await sleep(50);
  }
}

/** The balancer in a process of its own (its CPU is then its own), on `port`, in front of `targets`. */
async function startBalancerProcess(port: number, targets: number[]): Promise<ChildProcess> {
  const child = spawnChild(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/lib/balancer.ts'), '--port', String(port), ...targets.map(String)], {}, ROOT);
  cleanups.push(() => stopChild(child));
  await untilListening(new URL(`http://127.0.0.1:${port}/mcp`), baseHeaders, 'the balancer', { pollMs: 20 });
  return child;
}

/** The first failed request's answer, for the error message (a run stops on any failure). */
let firstFailure = '';
function noteFailure(what: string, status: number, text: string): false {
  firstFailure ||= `${what}: ${status} ${text.slice(0, 300)}`;
  return false;
}

/** One tool call of `conn` (search or get_page by `i`); true when answered with a result. */
async function toolCall(agent: Agent, url: URL, conn: Connection, i: number): Promise<boolean> {
  const params = i % 2 ? { name: 'get_page', arguments: { page_id: PAGE_ID } } : { name: 'search', arguments: { query: 'Page', page_size: 10 } };
  const r = await post(agent, url, { ...baseHeaders, authorization: `Bearer ${conn.access_token}` }, JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params }));
  const ok = r.status === 200 && r.text.includes('"result"') && !r.text.includes('"isError":true');
  return ok || noteFailure(params.name, r.status, r.text);
}

/** One refresh of `conn` at /token; its tokens are replaced by the new pair. */
async function refresh(agent: Agent, base: string, conn: Connection): Promise<boolean> {
  const { client_id, client_secret } = conn.client;
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: conn.refresh_token, client_id, ...(client_secret ? { client_secret } : {}) }).toString();
  const r = await post(agent, new URL(`${base}/token`), { 'content-type': 'application/x-www-form-urlencoded' }, body);
  if (r.status !== 200) return noteFailure('refresh', r.status, r.text);
  const pair = JSON.parse(r.text) as { access_token: string; refresh_token: string };
  conn.access_token = pair.access_token;
  conn.refresh_token = pair.refresh_token;
  return true;
}

// ---------------------------------------------------------------------------------------------
// 2. AOF bytes per operation, through the server
// ---------------------------------------------------------------------------------------------

interface AofOp {
  op: string;
  count: number;
  bytesPerOp: number;
  /** The entries appended, by command name: how many per operation, and the bytes of each. */
  commands: Record<string, { perOp: number; bytesEach: number }>;
}

async function aofPerOperation(fake: FakeNotion): Promise<AofOp[]> {
  const mark = cleanups.length;
  const { server, admin } = await redisServer();
  await admin.config('SET', 'auto-aof-rewrite-percentage', '0');
  const [inst] = await startInstances(fake, 1, null, server.url);
  const base = `http://127.0.0.1:${inst!.port}`;
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const ops: AofOp[] = [];
  /** `count` null: as many operations as the DEL entries appended (keys expiring). */
  const measure = async (op: string, count: number | null, fn: () => Promise<unknown>) => {
    await settle(admin);
    const bytes0 = aofBytes(server.dir);
    const mark = aofMark(server.dir);
    await fn();
    await settle(admin);
    const entries = [...aofCommands(server.dir, mark)].sort((a, b) => b[1].count - a[1].count);
    const n = count ?? entries.find(([k]) => k === 'DEL')?.[1].count ?? 1;
    const commands = Object.fromEntries(entries.map(([k, v]) => [k, { perOp: v.count / n, bytesEach: v.bytes / v.count }]));
    ops.push({ op, count: n, bytesPerOp: (aofBytes(server.dir) - bytes0) / n, commands });
  };
  try {
    let conns: Connection[] = [];
    const workspaces = Array.from({ length: AOF_CONNECTIONS }, (_, i) => fakeWorkspace(`aof-${i}`));
    await measure('new connection (register, authorize, consent, callback, code exchange)', AOF_CONNECTIONS, async () => {
      conns = await connectAll(base, fake, workspaces, 8);
    });
    await measure('refresh at /token', AOF_CONNECTIONS, async () => {
      const bad = (await inParallel(conns.length, 8, (i) => refresh(agent, base, conns[i]!))).filter((ok) => !ok).length;
      if (bad) throw new Error(`${bad} refreshes failed; first: ${firstFailure}`);
    });
    // Within a minute of the refresh, which recorded "last used": no call may record it again.
    const url = new URL(`${base}/mcp`);
    await measure('tool call (search / get_page)', AOF_CALLS, async () => {
      const r = await runLoad(AOF_CALLS, 16, (w, i) => toolCall(agent, url, conns[(w + i) % conns.length]!, i));
      if (r.errors) throw new Error(`${r.errors} tool calls failed; first: ${firstFailure}`);
    });
    // The per-grant request counters (and the per-address ones of /authorize and /token) live for
    // their 60 s window; Redis appends a DEL for each key that expires.
    await measure('a rate-limit counter expiring, 60 s after its first request', null, () => sleep(62_000));
  } finally {
    agent.destroy();
    await cleanUp(mark);
  }
  return ops;
}

// ---------------------------------------------------------------------------------------------
// 3. Load: N instances behind the balancer
// ---------------------------------------------------------------------------------------------

/** Busy and total jiffies of the whole machine (every process of everyone), from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total }; // less idle and iowait
}

interface LoadRow {
  store: 'sqlite' | 'redis';
  instances: number;
  mix: Mix;
  result: Omit<LoadResult, 'latencies'>;
  /** CPU cores used on average over the run (CPU seconds / wall seconds). */
  cores: { instances: number; redis: number; balancer: number; bench: number; machine: number; machineTotal: number };
  /** Requests per CPU second of the instances: what one core of them serves. */
  perAppCore: number;
  /** Share of wall time Redis's main thread was busy (0 to 1). */
  redisBusy: number;
  /** Main-thread CPU of Redis per request, µs: one Redis serves about 1e6 / this requests a second. */
  redisUsPerRequest: number;
  redisCommandsPerRequest: number;
  rssIdleMiB: number[];
  rssLoadMiB: number[];
}

async function loadPoint(fake: FakeNotion, store: 'sqlite' | 'redis', n: number): Promise<LoadRow[]> {
  const mark = cleanups.length;
  const redis = store === 'redis' ? await redisServer() : null;
  const lbPort = await freePort();
  const base = `http://127.0.0.1:${lbPort}`;
  const instances = await startInstances(fake, n, base, redis?.server.url ?? null);
  const balancer = await startBalancerProcess(lbPort, instances.map((i) => i.port));
  await sleep(500);
  const rssIdleMiB = instances.map((i) => rssMiB(i.child.pid!));
  const conns = await connectAll(base, fake, Array.from({ length: CONCURRENCY }, (_, i) => fakeWorkspace(`load-${i}`)), 8);
  const url = new URL(`${base}/mcp`);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const rows: LoadRow[] = [];
  try {
    for (const mix of MIXES) {
      const perWorker = conns.map(() => 0);
      const send = (w: number, i: number) => {
        const k = ++perWorker[w]!;
        return mix === 'refresh' && k % REFRESH_EVERY === 0 ? refresh(agent, base, conns[w]!) : toolCall(agent, url, conns[w]!, i);
      };
      const warm = await runLoad(Infinity, CONCURRENCY, send, Date.now() + 1500);
      if (warm.errors) throw new Error(`${store} x${n} ${mix}: ${warm.errors} failed warm-up requests; first: ${firstFailure}`);
      fake.requests.length = 0;
      const cpu0 = { inst: instances.map((i) => cpuMs(i.child.pid!)), lb: cpuMs(balancer.pid!), bench: process.cpuUsage() };
      const redis0 = redis ? await redisSnapshot(redis.admin) : null;
      const m0 = machineJiffies();
      const rssLoadMiB = instances.map(() => 0);
      const sampler = setInterval(() => instances.forEach((inst, k) => (rssLoadMiB[k] = Math.max(rssLoadMiB[k]!, rssMiB(inst.child.pid!)))), 200);
      const { latencies: _, ...result } = await runLoad(Infinity, CONCURRENCY, send, Date.now() + DURATION_S * 1000);
      clearInterval(sampler);
      const m1 = machineJiffies();
      const wall = result.seconds;
      const instS = instances.reduce((t, inst, k) => t + (cpuMs(inst.child.pid!) - cpu0.inst[k]!) / 1000, 0);
      const benchUse = process.cpuUsage(cpu0.bench);
      let redisRow = { mainCpuS: 0, cpuS: 0, commands: 0 };
      if (redis && redis0) {
        const r1 = await redisSnapshot(redis.admin);
        // Less one: the first snapshot's own INFO, counted once it had answered.
        redisRow = { mainCpuS: r1.mainCpuS - redis0.mainCpuS, cpuS: r1.cpuS - redis0.cpuS, commands: r1.commands - redis0.commands - 1 };
      }
      const machineCores = cpus().length;
      const row: LoadRow = {
        store,
        instances: n,
        mix,
        result,
        cores: {
          instances: instS / wall,
          redis: redisRow.cpuS / wall,
          balancer: (cpuMs(balancer.pid!) - cpu0.lb) / 1000 / wall,
          bench: (benchUse.user + benchUse.system) / 1e6 / wall,
          machine: ((m1.busy - m0.busy) / (m1.total - m0.total)) * machineCores,
          machineTotal: machineCores,
        },
        perAppCore: result.calls / instS,
        redisBusy: redisRow.mainCpuS / wall,
        redisUsPerRequest: (redisRow.mainCpuS * 1e6) / result.calls,
        redisCommandsPerRequest: redisRow.commands / result.calls,
        rssIdleMiB,
        rssLoadMiB,
      };
      rows.push(row);
      log(
        `  ${store} x${n} ${mix}: ${result.throughput.toFixed(0)}/s p50 ${result.p50.toFixed(1)} ms p99 ${result.p99.toFixed(1)} ms errors ${result.errors}; ` +
          `cores: app ${row.cores.instances.toFixed(2)}, redis ${row.cores.redis.toFixed(2)} (main thread ${(row.redisBusy * 100).toFixed(0)} %), balancer ${row.cores.balancer.toFixed(2)}, bench ${row.cores.bench.toFixed(2)}, machine ${row.cores.machine.toFixed(2)}/${machineCores}`,
      );
      if (result.errors) throw new Error(`${store} x${n} ${mix}: ${result.errors} failed requests; first: ${firstFailure}`);
      fake.requests.length = 0;
    }
  } finally {
    agent.destroy();
    await cleanUp(mark);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const KiB = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
const MiB = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
const per1000 = (x: number, n: number) => (x / n) * 1000;

function dailyAof(ops: AofOp[], sizing: { rows: SizingRow[] }, n: number) {
  const op = (prefix: string) => ops.find((o) => o.op.startsWith(prefix))!;
  const entry = (o: AofOp, name: string) => o.commands[name]?.bytesEach ?? 0;
  const storeStep = (prefix: string) => sizing.rows.find((r) => r.step.startsWith(prefix))!.aof / n;
  const call = op('tool call');
  // A burst's first call creates its grant's counter (SET with an expiry), the others INCR it,
  // and the key's expiry 60 s later appends a DEL. Averaged if the counter ever writes otherwise.
  const first = entry(call, 'SET') || call.bytesPerOp;
  const next = entry(call, 'INCR') || call.bytesPerOp;
  const bursts = (DAY_MIX.toolCallsPerHour / DAY_MIX.callsPerBurst) * DAY_MIX.activeHoursPerDay;
  const parts = {
    'tool calls (rate-limit counter)': bursts * (first + (DAY_MIX.callsPerBurst - 1) * next + entry(op('a rate-limit counter'), 'DEL')),
    // A burst minutes after the last one verifies its token again and records "last used" (at most once a minute).
    '"last used" updates': bursts * storeStep('one "last used"'),
    refreshes: op('refresh').bytesPerOp / DAY_MIX.accessTokenTtlDays,
    'new connections and their sweep': DAY_MIX.newConnectionsShare * (op('new connection').bytesPerOp + storeStep('sweep')),
  };
  return { bursts, parts, perConnection: Object.values(parts).reduce((a, b) => a + b, 0) };
}

async function main(): Promise<void> {
  const started = new Date();
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  log(`storage: ${CONNECTIONS} connections on each store`);
  const sizing = await sizeStores(CONNECTIONS);
  await cleanUp();
  const fake = await startFakeNotion();
  cleanups.push(() => fake.close());
  log('AOF per operation, through the server');
  const ops = await aofPerOperation(fake);
  const load: LoadRow[] = [];
  for (const [store, n] of [['sqlite', 1] as const, ...INSTANCES.map((k) => ['redis', k] as const)]) {
    log(`load: ${store}, ${n} instance(s), ${CONCURRENCY} connections, ${DURATION_S} s per mix`);
    load.push(...(await loadPoint(fake, store, n)));
  }
  await cleanUp();

  const n = CONNECTIONS;
  out(`${started.toISOString()}, node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average at start ${loadavg()[0]!.toFixed(2)}`);
  out();
  out(`Storage per 1,000 connections (${n} on each store; Redis: used_memory, DBSIZE, AOF growth)`);
  out('| step, per 1,000 | SQLite database | SQLite WAL and shm after it (not per 1,000) | Redis memory | Redis keys | Redis AOF | ms per operation, SQLite / Redis |');
  out('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of sizing.rows) {
    const ms = `${r.msPerOp.sqlite.toFixed(2)} / ${r.msPerOp.redis.toFixed(2)}`;
    out(`| ${r.step} | ${KiB(per1000(r.sqliteDb, n))} | ${KiB(r.sqliteWal)} | ${KiB(per1000(r.redisMemory, n))} | ${per1000(r.redisKeys, n).toFixed(0)} | ${KiB(per1000(r.aof, n))} | ${ms} |`);
  }
  const t = sizing.total;
  out(
    `| total after all steps | ${KiB(per1000(t.sqliteDb, n))} | ${KiB(t.sqliteWal)} | ${KiB(per1000(t.redisMemory, n))} | ${per1000(t.redisKeys, n).toFixed(0)} | ${KiB(per1000(t.aof, n))}, ${KiB(per1000(sizing.aofRewritten, n))} after BGREWRITEAOF | |`,
  );
  out();
  out('AOF per operation through the server (Redis, appendonly yes)');
  out('| operation | count | AOF bytes per operation | entries appended per operation (bytes each) |');
  out('|---|---:|---:|---|');
  for (const o of ops) {
    const cmds = Object.entries(o.commands).map(([k, v]) => `${k} ${v.perOp.toFixed(2)} (${v.bytesEach.toFixed(0)} B)`);
    out(`| ${o.op} | ${o.count} | ${o.bytesPerOp.toFixed(0)} | ${cmds.join(', ') || 'none'} |`);
  }
  const day = dailyAof(ops, sizing, n);
  out();
  out(
    `AOF growth per day, per 1,000 connections, each making ${DAY_MIX.toolCallsPerHour} tool calls an hour for ${DAY_MIX.activeHoursPerDay} hours in bursts of ${DAY_MIX.callsPerBurst} ` +
      `(${day.bursts} bursts a day), one refresh per ${DAY_MIX.accessTokenTtlDays} days (ACCESS_TOKEN_TTL_SECONDS), ${DAY_MIX.newConnectionsShare * 100} % new connections a day`,
  );
  out('| part | per day |');
  out('|---|---:|');
  for (const [k, v] of Object.entries(day.parts)) out(`| ${k} | ${MiB(v * 1000)} |`);
  out(`| total | ${MiB(day.perConnection * 1000)} |`);
  // auto-aof-rewrite-percentage 100, auto-aof-rewrite-min-size 64 MB (Redis defaults): a rewrite once
  // the file is twice its size after the last rewrite, and at least 64 MB.
  const rewrittenPerConn = sizing.aofRewritten / n;
  out();
  out('| connections | AOF after a rewrite | grows per day | Redis rewrites it at | that is after |');
  out('|---:|---:|---:|---:|---:|');
  for (const k of [1_000, 10_000, 100_000]) {
    const b = rewrittenPerConn * k;
    const daily = day.perConnection * k;
    const at = Math.max(64 * 1024 * 1024, 2 * b);
    const days = (at - b) / daily;
    out(`| ${k.toLocaleString('en-US')} | ${MiB(b)} | ${MiB(daily)} | ${MiB(at)} | ${days >= 1 ? `${days.toFixed(1)} days` : `${(days * 24).toFixed(1)} hours`} |`);
  }
  out();
  out(`Load: ${CONCURRENCY} connections, one request at a time each, ${DURATION_S} s per row after 1.5 s of warm-up; mix "refresh": every ${REFRESH_EVERY}th request is a refresh`);
  out('| store | instances | mix | requests/s | p50 ms | p99 ms | app cores | requests/s per app core | Redis main thread busy | Redis cmds/request | Redis µs/request | balancer cores | bench cores | machine busy | RSS idle MiB | RSS under load MiB |');
  out('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
  for (const r of load) {
    const c = r.cores;
    const isRedis = r.store === 'redis';
    out(
      `| ${r.store} | ${r.instances} | ${r.mix} | ${r.result.throughput.toFixed(0)} | ${r.result.p50.toFixed(1)} | ${r.result.p99.toFixed(1)} | ${c.instances.toFixed(2)} | ${r.perAppCore.toFixed(0)} | ` +
        `${isRedis ? `${(r.redisBusy * 100).toFixed(0)} %` : '-'} | ${isRedis ? r.redisCommandsPerRequest.toFixed(2) : '-'} | ${isRedis ? r.redisUsPerRequest.toFixed(0) : '-'} | ${c.balancer.toFixed(2)} | ${c.bench.toFixed(2)} | ` +
        `${c.machine.toFixed(2)} of ${c.machineTotal} | ${r.rssIdleMiB.map((x) => x.toFixed(0)).join(', ')} | ${r.rssLoadMiB.map((x) => x.toFixed(0)).join(', ')} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench/results', OUT),
    `${JSON.stringify({ date: started.toISOString(), node: process.version, cores: cpus().length, connections: n, concurrency: CONCURRENCY, durationS: DURATION_S, dayMix: DAY_MIX, sizing, aofPerOperation: ops, daily: day, load }, null, 2)}\n`,
  );
}

/** Stops once: a signal's clean-up makes the run in flight fail too, which must not exit before it is done. */
let stopping: Promise<void> | undefined;
const fail = (why: string) =>
  (stopping ??= (async () => {
    process.stderr.write(`bench failed: ${why}\n`);
    await cleanUp();
    process.exit(1);
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void fail(`stopped by ${signal}`));
setTimeout(() => void fail(`still running after ${MAX_MINUTES} minutes (--max-minutes)`), MAX_MINUTES * 60_000).unref();
main().then(
  () => process.exit(0),
  (err: unknown) => fail((err as Error).stack ?? String(err)),
);

/**
 * The Redis sweep: `npx tsx bench/redis-sweep.ts [grants]` (default 100,000).
 * Starts its own redis-server (appendonly yes, as deployed), connects that many users through the
 * product's code path (bench/lib/grants.ts) with a clock set 100 days back, so every code,
 * access and refresh token has expired, adds as many expired flows and one idle client per ten
 * grants, then runs one sweep (with the idle-client sweep) while a 1 ms timer watches the event
 * loop. Prints the sweep's wall time, the longest event-loop gap (and, as a control, the longest gap
 * in 2 s of doing nothing just before), the commands it sent, and the longest and mean duration
 * of each kind of Redis command (SLOWLOG of every command of SLOWLOG_US, default 100 µs, or more).
 */
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis.js';
import { connectOne, inParallel, openConnector } from './lib/grants.js';
import { redisCpuS } from './lib/redis-info.js';

const N = Number(process.argv[2] ?? 100_000);
const CLIENTS = Math.max(1, Math.floor(N / 10));
const DAY_MS = 86_400_000;
/** SLOWLOG threshold: SLOWLOG_US=0 logs every command (and slows the scripts' inner calls). */
const SLOWLOG_US = Number(process.env.SLOWLOG_US ?? 100);

/** The store's Lua scripts by name, as ioredis keeps them (their SHA1 names them in SLOWLOG). */
const scriptsOf = (r: Redis) => (r as unknown as { scriptsSet: Record<string, { sha: string }> }).scriptsSet;

type SlowEntry = [id: number, at: number, us: number, args: string[], addr: string, name: string];

const redis = await startRedis();
try {
  const c = await openConnector(redis.url);
  const admin = new Redis(redis.url);
  const now = Date.now();
  c.clock.now = now - 100 * DAY_MS; // past every lifetime: access 30 d, refresh 90 d, code 10 min
  const clientIds = Array.from({ length: CLIENTS }, (_, i) => `client-${i}`);
  await inParallel(CLIENTS, 100, (i) =>
    c.store.createClient({
      clientId: clientIds[i]!,
      redirectUris: ['https://claude.ai/api/mcp/auth_callback'],
      grantTypes: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'none',
      metadata: { client_name: 'Claude' },
      createdAt: c.clock.now,
    }),
  );
  const filled = performance.now();
  await inParallel(N, 200, (i) => connectOne(c, clientIds[i % CLIENTS]!));
  await inParallel(N, 200, (i) => c.store.putFlow(`flow-${i}`, 'consent', { clientId: clientIds[i % CLIENTS], state: 'x'.repeat(40) }, c.clock.now));
  console.log(`filled ${N} grants, ${N} flows, ${CLIENTS} clients in ${((performance.now() - filled) / 1000).toFixed(1)} s`);

  // SLOWLOG gets every top-level command of at least SLOWLOG_US (the calls made inside a script are
  // logged too, from client '?:0', and skipped below); a lower threshold slows every call it logs.
  await admin.config('SET', 'slowlog-log-slower-than', String(SLOWLOG_US));
  await admin.config('SET', 'slowlog-max-len', String(4 * N + 100_000));
  await admin.slowlog('RESET');
  const shaName = new Map(Object.entries(scriptsOf(c.store.client)).map(([name, s]) => [s.sha, name]));
  const sent = new Map<string, number>();
  const client = c.store.client as unknown as { sendCommand: (cmd: { name: string; args: unknown[] }, ...rest: unknown[]) => unknown };
  const send = client.sendCommand.bind(client);
  client.sendCommand = (cmd, ...rest) => {
    const name = cmd.name === 'evalsha' ? (shaName.get(String(cmd.args[0])) ?? 'evalsha') : cmd.name;
    sent.set(name, (sent.get(name) ?? 0) + 1);
    return send(cmd, ...rest);
  };

  const cpuBefore = await redisCpuS(admin);
  const watch = () => {
    let last = performance.now();
    let max = 0;
    const timer = setInterval(() => {
      const t = performance.now();
      max = Math.max(max, t - last);
      last = t;
    }, 1);
    return () => {
      clearInterval(timer);
      return Math.max(max, performance.now() - last);
    };
  };
  // Control: the same timer with nothing to do, so a gap the machine causes (another process, GC) shows.
  const idle = watch();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idleGap = idle();
  const stop = watch();
  const start = performance.now();
  const removed = await c.store.sweep(now, c.config.clientIdleMs);
  const wall = performance.now() - start;
  const maxGap = stop();
  client.sendCommand = send;
  const cpu = (await redisCpuS(admin)) - cpuBefore;

  await admin.config('SET', 'slowlog-log-slower-than', '10000');
  const slow = (await admin.call('SLOWLOG', 'GET', '-1')) as SlowEntry[];
  const left = await admin.dbsize();
  const longest = new Map<string, { max: number; over2ms: number; logged: number; totalUs: number }>();
  for (const [, , us, args, addr] of slow) {
    if (String(addr).startsWith('?')) continue;
    const cmd = String(args[0]).toLowerCase();
    if (['config', 'slowlog'].includes(cmd)) continue;
    // A script's first call on a connection is an EVAL of its text (args truncated in SLOWLOG).
    const name = cmd === 'evalsha' ? (shaName.get(String(args[1])) ?? 'evalsha') : cmd === 'eval' ? 'eval (first call)' : cmd;
    const l = longest.get(name) ?? { max: 0, over2ms: 0, logged: 0, totalUs: 0 };
    l.max = Math.max(l.max, us);
    l.over2ms += us > 2000 ? 1 : 0;
    l.logged++;
    l.totalUs += us;
    longest.set(name, l);
  }
  const total = [...sent.values()].reduce((a, b) => a + b, 0);
  console.log(`grants ${N}: removed ${removed} records in ${(wall / 1000).toFixed(2)} s; longest event-loop gap ${maxGap.toFixed(1)} ms (idle for 2 s before: ${idleGap.toFixed(1)} ms)`);
  console.log(`${total} commands sent (${[...sent].map(([n, k]) => `${n} ${k}`).join(', ')}); keys left: ${left}`);
  const scriptS = [...longest].filter(([n]) => n !== 'sscan').reduce((t, [, l]) => t + l.totalUs, 0) / 1e6;
  console.log(`redis-server CPU during the sweep ${cpu.toFixed(2)} s; scripts logged below ran ${scriptS.toFixed(2)} s`);
  const rows = [...longest].sort((a, b) => b[1].max - a[1].max);
  console.log(`Redis commands of ${SLOWLOG_US} µs or more:${rows.length ? '' : ' none'}`);
  for (const [n, l] of rows) {
    console.log(`  ${n.padEnd(18)} longest ${(l.max / 1000).toFixed(2)} ms, mean ${(l.totalUs / l.logged / 1000).toFixed(2)} ms of ${l.logged} logged, ${l.over2ms} over 2 ms`);
  }
  admin.disconnect();
  await c.store.close();
} finally {
  await redis.dispose();
}

/**
 * Redis sizing: `npx tsx bench/redis-sizing.ts [grants...]` (default 10000 100000).
 * For each count, on a fresh redis-server of its own (appendonly yes, as deployed), measures
 * used_memory (INFO memory, minus the empty store) and the growth of the append-only files
 * (appendonlydir) for: that many registered clients (Claude registers one per connection), that
 * many connections (grant with its code redeemed, an access and a refresh token, written through
 * the product's code path, bench/lib/redis-grants.ts), one refresh of each, one "last used"
 * update of each, and the sweep once the codes have expired. Automatic AOF rewrites are off while measuring; the size after a BGREWRITEAOF
 * is printed at the end. `--listpack-value <bytes>` sets hash-max-listpack-value first.
 */
import { readdirSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parseRegistration } from '../src/oauth/register.js';
import { startRedis } from '../test/helpers/redis.js';
import { connectOne, inParallel, openConnector, refreshOne } from './lib/redis-grants.js';

/** `--listpack-value <bytes>`: sets hash-max-listpack-value (Redis default 64), to size that tuning. */
const lpAt = process.argv.indexOf('--listpack-value');
const LISTPACK_VALUE = lpAt > 0 ? process.argv[lpAt + 1]! : null;
const COUNTS = process.argv.slice(2).filter((a, i, all) => a !== '--listpack-value' && all[i - 1] !== '--listpack-value').map(Number);
if (COUNTS.length === 0) COUNTS.push(10_000, 100_000);
const PARALLEL = 200;

/** Total size of the append-only files (Redis 7: base, increments and manifest in appendonlydir). */
function aofBytes(dir: string): number {
  const aof = join(dir, 'appendonlydir');
  return readdirSync(aof).reduce((n, f) => n + statSync(join(aof, f)).size, 0);
}

async function usedMemory(r: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await r.info('memory'))?.[1]);
}

/** Waits until Redis has written everything it answered (it writes the AOF before its next loop turn). */
async function settle(r: Redis): Promise<void> {
  await r.ping();
  await new Promise((resolve) => setTimeout(resolve, 1200)); // past one appendfsync everysec
}

const kib = (bytes: number, per: number) => `${((bytes / per) * 1000 / 1024).toFixed(0)} KiB`;

for (const n of COUNTS) {
  const redis = await startRedis();
  try {
    const admin = new Redis(redis.url);
    await admin.config('SET', 'auto-aof-rewrite-percentage', '0'); // no rewrite in the middle of a measurement
    if (LISTPACK_VALUE !== null) await admin.config('SET', 'hash-max-listpack-value', LISTPACK_VALUE);
    const c = await openConnector(redis.url);
    await settle(admin);
    const rows: string[] = [];
    let mem = await usedMemory(admin);
    let aof = aofBytes(redis.dir);
    const baseMem = mem;
    const step = async (what: string, fn: () => Promise<unknown>) => {
      await fn();
      await settle(admin);
      const m = await usedMemory(admin);
      const a = aofBytes(redis.dir);
      rows.push(`  ${what.padEnd(34)} memory ${kib(m - mem, n).padStart(9)} per 1,000, AOF +${kib(a - aof, n).padStart(9)} per 1,000`);
      mem = m;
      aof = a;
    };

    const clientIds: string[] = [];
    await step('register a client (Claude)', () =>
      inParallel(n, PARALLEL, async () => {
        const record = {
          ...parseRegistration({
            client_name: 'Claude',
            redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
          }),
          clientId: randomUUID(),
          createdAt: Date.now(),
        };
        await c.store.createClient(record);
        clientIds.push(record.clientId);
      }),
    );
    const afterClients = mem;
    let refreshTokens: string[] = [];
    await step('connect (grant, code redeemed, 2 tokens)', async () => {
      refreshTokens = await inParallel(n, PARALLEL, (i) => connectOne(c, clientIds[i]!));
    });
    const perGrant = mem - afterClients;
    await step('refresh once', async () => {
      refreshTokens = await inParallel(n, PARALLEL, (i) => refreshOne(c, refreshTokens[i]!));
    });
    const grantIds = await c.store.listGrants();
    await step('"last used" update (touchGrant)', () => inParallel(n, PARALLEL, (i) => c.store.touchGrant(grantIds[i]!.id, Date.now())));
    // The redeemed codes expire after AUTH_CODE_TTL_SECONDS; the sweep then removes them.
    await step('sweep 11 min later (codes gone)', () => c.store.sweep(Date.now() + 11 * 60_000));

    const before = aofBytes(redis.dir);
    await admin.bgrewriteaof();
    for (let i = 0; i < 600 && /aof_rewrite_in_progress:1|aof_rewrite_scheduled:1/.test(await admin.info('persistence')); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await settle(admin);
    console.log(`${n} grants (and as many clients)${LISTPACK_VALUE === null ? '' : `, hash-max-listpack-value ${LISTPACK_VALUE}`}:`);
    for (const r of rows) console.log(r);
    console.log(
      `  total: memory ${((mem - baseMem) / 1048576).toFixed(1)} MiB (grants alone ${(perGrant / 1048576).toFixed(1)} MiB before any refresh), ` +
        `AOF ${(before / 1048576).toFixed(1)} MiB, ${(aofBytes(redis.dir) / 1048576).toFixed(1)} MiB after BGREWRITEAOF`,
    );
    admin.disconnect();
    await c.store.close();
  } finally {
    await redis.dispose();
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { callTool, connect, tokenRequest } from '../helpers/oauth-client.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { freePort, type Stack, startStack } from '../helpers/stack.js';

/**
 * Redis behind Sentinel (Debian's redis-sentinel): a master, a replica and one sentinel, started
 * here. The app points REDIS_URL at the sentinel. The master is SIGKILLed, the sentinel promotes
 * the replica, and the app follows by itself: no connection is lost.
 */
const MASTER = 'nmr-master';
let master: RedisServer;
let replica: RedisServer;
let sentinel: ChildProcess;
let sentinelPort: number;
let dir: string;
let stack: Stack;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  master = await startRedis();
  replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  dir = mkdtempSync(join(tmpdir(), 'nmr-sentinel-'));
  sentinelPort = await freePort();
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${MASTER} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${MASTER} 1000`,
      `sentinel failover-timeout ${MASTER} 5000`,
      '',
    ].join('\n'),
  );
  sentinel = spawn('redis-sentinel', [conf], { stdio: 'ignore' });
  const probe = new Redis({ port: sentinelPort, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null }).on('error', () => undefined);
  await until('the sentinel to see the replica', async () => {
    if (probe.status !== 'ready') await probe.connect();
    const replicas = (await probe.call('SENTINEL', 'REPLICAS', MASTER)) as unknown[];
    return replicas.length > 0 ? true : undefined;
  });
  probe.disconnect();
  stack = await startStack({ env: { REDIS_URL: `redis+sentinel://127.0.0.1:${sentinelPort}/${MASTER}` } });
}, 60_000);

afterAll(async () => {
  await stack?.close();
  sentinel?.kill('SIGKILL');
  await replica?.dispose();
  await master?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('follows a failover by itself: the master is killed, the replica promoted, and every connection keeps working', async () => {
  const users = await Promise.all([1, 2, 3].map((i) => connect(stack, fakeWorkspace(`sentinel-${i}`))));
  for (const u of users) expect((await callTool(stack.baseUrl, u.tokens.access_token, 'get_self')).isError).toBe(false);
  // Replication is asynchronous: wait until the replica has every write, as a careful operator's
  // failover does (Sentinel promotes the most up-to-date replica).
  const onMaster = new Redis(master.url).on('error', () => undefined);
  await until('the replica to have every write', async () => (Number(await onMaster.call('WAIT', '1', '1000')) === 1 ? true : undefined));
  onMaster.disconnect();

  await master.stop('SIGKILL');
  const sentinelClient = new Redis({ port: sentinelPort, host: '127.0.0.1' }).on('error', () => undefined);
  await until('the sentinel to promote the replica', async () => {
    const [, port] = (await sentinelClient.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER)) as [string, string];
    return Number(port) === replica.port ? true : undefined;
  });
  sentinelClient.disconnect();

  // A careful client retries a 503; then every connection works on the new master.
  for (const u of users) {
    const refreshed = await until('a refresh on the new master', async () => {
      const res = await tokenRequest(stack.baseUrl, u.client, { grant_type: 'refresh_token', refresh_token: u.tokens.refresh_token });
      if (res.status === 503) return undefined;
      return res;
    });
    expect(refreshed.status, await refreshed.clone().text()).toBe(200);
    const next = (await refreshed.json()) as { access_token: string };
    expect((await callTool(stack.baseUrl, next.access_token, 'get_self')).isError).toBe(false);
  }
  // And a new user connects.
  const late = await connect(stack, fakeWorkspace('sentinel-late'));
  expect((await callTool(stack.baseUrl, late.tokens.access_token, 'get_self')).isError).toBe(false);
}, 60_000);

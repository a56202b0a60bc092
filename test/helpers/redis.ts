import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './stack.js';

/**
 * A real redis-server for tests: loopback only, a free port, its own temporary directory, and
 * the append-only file on, so a stop and start on the same port and directory loses nothing.
 */
export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** Stops the server: SIGTERM (Redis flushes the append-only file first) or SIGKILL (a crash). */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    s.setTimeout(500, () => s.destroy());
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

/** `extraArgs` go on the redis-server command line, e.g. `['--replicaof', '127.0.0.1', '6379']`. */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nmr-redis-'));
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    const c = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no', '--protected-mode', 'yes', ...extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = c;
    c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (c.exitCode !== null) break;
      if (await answersPing(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not start on port ${port}:\n${output}`);
  };

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A real Redis Cluster for tests: `masters` masters and one replica each, every node a
 * startRedis server (loopback, own directory, append-only file) with cluster mode on and a short
 * node timeout, so that a failover takes about two seconds. Started only once every node reports
 * `cluster_state:ok` with every slot served.
 */
export interface RedisCluster {
  nodes: RedisServer[];
  /** REDIS_URL for the app: every node. */
  url: string;
  /** The ports of the nodes that a live node sees as masters (not failed), and their replicas. */
  topology(): Promise<{ masters: number[]; replicas: number[] }>;
  /** Waits until every live node reports the cluster ok and `port` serves as a master. */
  waitUntilMaster(port: number, ms?: number): Promise<void>;
  dispose(): Promise<void>;
}

/** One command on a short-lived connection to a node (ioredis, no retries). */
async function nodeCommand(port: number, ...args: string[]): Promise<string> {
  const { Redis } = await import('ioredis');
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null }).on('error', () => undefined);
  try {
    await r.connect();
    return String(await r.call(args[0]!, ...args.slice(1)));
  } finally {
    r.disconnect();
  }
}

export async function startCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const dispose = async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
  };
  try {
    for (let i = 0; i < masters * 2; i++) {
      // The cluster bus gets its own free port (by default it is the port + 10000, maybe taken).
      const busPort = await freePort();
      nodes.push(
        await startRedis([
          ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000', '--cluster-port', String(busPort)],
          // A replica syncs at once (by default a master waits 5 s for more replicas to sync with).
          ...['--repl-diskless-sync-delay', '0'],
        ]),
      );
    }
    const create = spawn('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    create.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    create.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => create.once('exit', resolve));
    if (code !== 0) throw new Error(`redis-cli --cluster create failed:\n${output}`);
  } catch (err) {
    await dispose();
    throw err;
  }

  const topology = async () => {
    for (const n of nodes) {
      const lines = await nodeCommand(n.port, 'CLUSTER', 'NODES').catch(() => '');
      if (!lines) continue;
      const seen = { masters: [] as number[], replicas: [] as number[] };
      for (const line of lines.trim().split('\n')) {
        const [, addr, flags] = line.split(' ');
        const port = Number(addr!.split('@')[0]!.split(':').pop());
        if (/fail/.test(flags!)) continue;
        (flags!.includes('master') ? seen.masters : seen.replicas).push(port);
      }
      return seen;
    }
    throw new Error('no cluster node answers');
  };
  const waitUntilOk = async (ready: () => Promise<boolean>, what: string, ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const infos = await Promise.all(nodes.map((n) => nodeCommand(n.port, 'CLUSTER', 'INFO').catch(() => null)));
      const live = infos.filter((i): i is string => i !== null);
      if (live.length > 0 && live.every((i) => i.includes('cluster_state:ok') && i.includes('cluster_slots_ok:16384')) && (await ready())) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${live.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const cluster: RedisCluster = {
    nodes,
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    topology,
    waitUntilMaster: (port, ms = 20_000) => waitUntilOk(async () => (await topology()).masters.includes(port), `node ${port} to serve as a master`, ms),
    dispose,
  };
  try {
    await waitUntilOk(async () => {
      const t = await topology();
      if (t.masters.length !== masters || t.replicas.length !== masters) return false;
      // A replica that has not finished its first sync cannot take over.
      const links = await Promise.all(t.replicas.map((port) => nodeCommand(port, 'INFO', 'replication')));
      return links.every((info) => info.includes('master_link_status:up'));
    }, 'the cluster to form', 30_000);
  } catch (err) {
    await dispose();
    throw err;
  }
  return cluster;
}

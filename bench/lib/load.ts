import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from './proc.js';

/** One HTTP exchange over a keep-alive agent; resolves with status, headers and body text. */
export function post(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Pulls the JSON-RPC message out of a JSON or SSE (`data: ...`) answer. */
export function rpcBody(text: string): { result?: any; error?: { message: string } } {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return JSON.parse(trimmed) as { result?: unknown };
  const data = text
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trim())
    .join('');
  return JSON.parse(data) as { result?: unknown };
}

export interface LoadResult {
  calls: number;
  errors: number;
  seconds: number;
  throughput: number;
  p50: number;
  p99: number;
  /** Every call's latency in ms, for `combineLoads`. */
  latencies: number[];
}

/** Several runs of the same load as one: throughput over their summed time, percentiles over all calls. */
export function combineLoads(parts: LoadResult[]): LoadResult {
  const latencies = parts.flatMap((p) => p.latencies);
  const calls = parts.reduce((n, p) => n + p.calls, 0);
  const seconds = parts.reduce((n, p) => n + p.seconds, 0);
  return {
    calls,
    errors: parts.reduce((n, p) => n + p.errors, 0),
    seconds,
    throughput: calls / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    latencies,
  };
}

/**
 * Runs `total` calls with `concurrency` workers; worker w sends call i through `send(w, i)`, which
 * must reject (or return false) on a failed call. Latencies are per call, in ms. With `untilMs`
 * (a Date.now() deadline) no call starts after it, so `total` may be Infinity.
 */
export async function runLoad(
  total: number,
  concurrency: number,
  send: (worker: number, i: number) => Promise<boolean>,
  untilMs = Infinity,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (;;) {
        const i = next++;
        if (i >= total || Date.now() >= untilMs) return;
        const t0 = process.hrtime.bigint();
        let ok = false;
        try {
          ok = await send(w, i);
        } catch {
          ok = false;
        }
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (!ok) errors++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const calls = latencies.length;
  return { calls, errors, seconds, throughput: calls / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), latencies };
}

/** Resolves once a POST of `body` to `url` gets any answer (the server is listening); throws after `timeoutMs`. */
export async function untilListening(url: URL, headers: Record<string, string>, what: string, opts: { body?: string; pollMs?: number; timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    const probe = new Agent({ keepAlive: false });
    try {
      await post(probe, url, headers, opts.body ?? '{}');
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not start`);
      await sleep(opts.pollMs ?? 10);
    } finally {
      probe.destroy();
    }
  }
}

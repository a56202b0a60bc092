/**
 * `npm run bench:ab -- <old checkout> <new checkout>`: server CPU per tool call of two built
 * checkouts (each started as its `npm start` starts it), side by side under the same load at the
 * same time, so a change in the machine's speed hits both alike. CPU time moves by about ±10%
 * from run to run here; side by side, the ratio of the two repeats to within about 3%.
 *
 * Each round sends `--calls` calls to both servers at once (`--concurrency` each) and reads their
 * CPU time from /proc. The start order alone moved the ratio by up to 4% either way (0.96 to 1.01
 * over the runs of 2026-11-28), so the whole measurement runs twice with the roles swapped and the
 * geometric mean of the two median ratios is the result.
 *
 * `--trace new` (or `old`) starts that side with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT, every
 * request sampled, or as OTEL_TRACES_SAMPLER(_ARG) of this process say), exporting to a sink in
 * this process that reads and drops what it gets: the cost of tracing on is then
 * `npm run bench:ab -- . . --trace new`.
 *
 * Flags: --tool get_page|search  --rounds 6  --calls 6000  --concurrency 16  --trace old|new
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fakeWorkspace, startFakeNotion, type FakeNotion } from '../test/helpers/fake-notion.js';
import { freePort, TEST_SECRET } from '../test/helpers/stack.js';
import { post, runLoad, untilListening } from './lib/load.js';
import { connectMany } from './lib/oauth.js';
import { cpuMs, median, serverArgs, serverEnv } from './lib/proc.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const [OLD, NEW] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
const TOOL = arg('tool', 'get_page');
const ROUNDS = Number(arg('rounds', '6'));
const CALLS = Number(arg('calls', '6000'));
const CONCURRENCY = Number(arg('concurrency', '16'));
const TRACE = arg('trace', '');
const PAGE_ID = '59833787-2cf9-4fdf-8782-e53db20768a5';
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

interface Server {
  child: ChildProcess;
  send: (worker: number, i: number) => Promise<boolean>;
  stop: () => Promise<void>;
}

/** One side of the comparison: a built checkout, and whether it runs with tracing on. */
interface Side {
  root: string;
  traced: boolean;
}

/** The sampler of traced sides, from this process's OTEL_TRACES_SAMPLER(_ARG) when set (default: every request). */
const sampling = Object.fromEntries(['OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));

/** The OTLP endpoint of traced sides: reads each export and drops it. */
let sink = { url: '', exports: 0, bytes: 0 };
async function startSink(): Promise<() => Promise<void>> {
  const server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (sink.bytes += c.length));
    req.on('end', () => {
      sink.exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  sink = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports: 0, bytes: 0 };
  return () => new Promise((r) => server.close(() => r()));
}

async function start({ root, traced }: Side, fake: FakeNotion, tag: string): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nmr-ab-'));
  const port = await freePort();
  const env = { ...serverEnv(fake, port, dataDir, TEST_SECRET), ...(traced ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, ...sampling } : {}) };
  const child = spawn(process.execPath, serverArgs(root), { cwd: dataDir, stdio: 'ignore', env });
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  await untilListening(url, headers, root);
  const tokens = await connectMany(`http://127.0.0.1:${port}`, fake, Array.from({ length: 32 }, (_, i) => fakeWorkspace(`${tag}-${i}`)), 8);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const args = TOOL === 'search' ? { query: 'Page', page_size: 10 } : { page_id: PAGE_ID };
  return {
    child,
    send: async (w, i) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: TOOL, arguments: args } });
      const r = await post(agent, url, { ...headers, authorization: `Bearer ${tokens[w % tokens.length]}` }, body);
      return r.status === 200 && !r.text.includes('"isError":true');
    },
    stop: async () => {
      agent.destroy();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Median over the rounds of (CPU per call of `second`) / (CPU per call of `first`), both running at once. */
async function pairRatio(first: Side, second: Side, fake: FakeNotion): Promise<number> {
  const a = await start(first, fake, 'a');
  const b = await start(second, fake, 'b');
  try {
    await Promise.all([runLoad(CALLS, CONCURRENCY, a.send), runLoad(CALLS, CONCURRENCY, b.send)]); // warm-up
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const [a0, b0] = [cpuMs(a.child.pid!), cpuMs(b.child.pid!)];
      const [ra, rb] = await Promise.all([runLoad(CALLS, CONCURRENCY, a.send), runLoad(CALLS, CONCURRENCY, b.send)]);
      if (ra.errors || rb.errors) throw new Error(`${ra.errors + rb.errors} failed calls`);
      const [ca, cb] = [(cpuMs(a.child.pid!) - a0) / CALLS, (cpuMs(b.child.pid!) - b0) / CALLS];
      ratios.push(cb / ca);
      process.stderr.write(`  round ${r + 1}: ${ca.toFixed(3)} / ${cb.toFixed(3)} ms per call, ratio ${(cb / ca).toFixed(3)}\n`);
    }
    return median(ratios);
  } finally {
    await a.stop();
    await b.stop();
  }
}

if (!OLD || !NEW) {
  process.stderr.write('usage: npm run bench:ab -- <old checkout> <new checkout> [--tool get_page|search] [--rounds 6] [--calls 6000] [--concurrency 16] [--trace old|new]\n');
  process.exit(2);
}
const fake = await startFakeNotion();
const stopSink = await startSink();
const oldSide: Side = { root: resolve(OLD), traced: TRACE === 'old' };
const newSide: Side = { root: resolve(NEW), traced: TRACE === 'new' };
try {
  process.stderr.write(`${TOOL}: old started first\n`);
  const newOverOld = await pairRatio(oldSide, newSide, fake);
  process.stderr.write(`${TOOL}: new started first\n`);
  const oldOverNew = await pairRatio(newSide, oldSide, fake);
  const ratio = Math.sqrt(newOverOld / oldOverNew);
  process.stdout.write(
    `${TOOL}: new/old server CPU per call ${ratio.toFixed(3)} (${((ratio - 1) * 100).toFixed(1)}%); medians ${newOverOld.toFixed(3)} and ${(1 / oldOverNew).toFixed(3)}, start-order bias ${Math.sqrt(newOverOld * oldOverNew).toFixed(3)}\n`,
  );
  if (TRACE) process.stdout.write(`traced side: ${sink.exports} OTLP exports, ${(sink.bytes / 1e6).toFixed(1)} MB\n`);
} finally {
  await fake.close();
  await stopSink();
}
process.exit(0);

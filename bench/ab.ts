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
 * Flags: --tool get_page|search  --rounds 6  --calls 6000  --concurrency 16
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
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
const PAGE_ID = '59833787-2cf9-4fdf-8782-e53db20768a5';
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

interface Server {
  child: ChildProcess;
  send: (worker: number, i: number) => Promise<boolean>;
  stop: () => Promise<void>;
}

async function start(root: string, fake: FakeNotion, tag: string): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nmr-ab-'));
  const port = await freePort();
  const child = spawn(process.execPath, serverArgs(root), { cwd: dataDir, stdio: 'ignore', env: serverEnv(fake, port, dataDir, TEST_SECRET) });
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
async function pairRatio(first: string, second: string, fake: FakeNotion): Promise<number> {
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
  process.stderr.write('usage: npm run bench:ab -- <old checkout> <new checkout> [--tool get_page|search] [--rounds 6] [--calls 6000] [--concurrency 16]\n');
  process.exit(2);
}
const fake = await startFakeNotion();
try {
  process.stderr.write(`${TOOL}: old started first\n`);
  const newOverOld = await pairRatio(resolve(OLD), resolve(NEW), fake);
  process.stderr.write(`${TOOL}: new started first\n`);
  const oldOverNew = await pairRatio(resolve(NEW), resolve(OLD), fake);
  const ratio = Math.sqrt(newOverOld / oldOverNew);
  process.stdout.write(
    `${TOOL}: new/old server CPU per call ${ratio.toFixed(3)} (${((ratio - 1) * 100).toFixed(1)}%); medians ${newOverOld.toFixed(3)} and ${(1 / oldOverNew).toFixed(3)}, start-order bias ${Math.sqrt(newOverOld * oldOverNew).toFixed(3)}\n`,
  );
} finally {
  await fake.close();
}
process.exit(0);

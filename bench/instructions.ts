/**
 * `npm run bench:instructions`: user-space instructions per tool call, of this server and of the
 * floor (bench/floor.ts), counted by valgrind's callgrind. Unlike CPU time these counts repeat to
 * within about 1% on a busy or noisy machine, so they show what a change to the hot path did.
 * Needs valgrind (`apt-get install valgrind`).
 *
 * Each target runs under callgrind with instrumentation off while it starts, is connected (ours:
 * 8 users through the real OAuth flow) and warmed up (`--warmup` calls, so the JIT has settled);
 * then `--calls` calls at concurrency 8 are counted. "main" is the JavaScript thread; "all" adds
 * the GC and compiler helper threads.
 *
 * Flags: --calls 1000  --warmup 5000  --tools get_page,search  --targets ours,floor  --out instructions.json
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fakeWorkspace, startFakeNotion, type FakeNotion } from '../test/helpers/fake-notion.js';
import { freePort, TEST_SECRET } from '../test/helpers/stack.js';
import { post, runLoad, untilListening } from './lib/load.js';
import { connectMany } from './lib/oauth.js';
import { floorScript, serverArgs, serverEnv } from './lib/proc.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const CALLS = Number(arg('calls', '1000'));
const WARMUP = Number(arg('warmup', '5000'));
const TOOLS = arg('tools', 'get_page,search').split(',');
const TARGETS = arg('targets', 'ours,floor').split(',') as ('ours' | 'floor')[];
const OUT = arg('out', 'instructions.json');
/** BENCH_ROOT: another built checkout, e.g. the previous commit for a before/after. */
const ROOT = process.env.BENCH_ROOT ?? join(import.meta.dirname, '..');
const PAGE_ID = '59833787-2cf9-4fdf-8782-e53db20768a5';
const USERS = 8;
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function count(target: 'ours' | 'floor', tool: string, fake: FakeNotion, floor: string): Promise<{ main: number; all: number }> {
  const work = mkdtempSync(join(tmpdir(), 'nmr-instr-'));
  const port = await freePort();
  const out = join(work, 'callgrind.out');
  const valgrind = ['--tool=callgrind', '--smc-check=all-non-file', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${out}`];
  const child =
    target === 'ours'
      ? spawn('valgrind', [...valgrind, process.execPath, ...serverArgs(ROOT)], { cwd: work, stdio: 'ignore', env: serverEnv(fake, port, work, TEST_SECRET) })
      : spawn('valgrind', [...valgrind, process.execPath, floor], { cwd: work, stdio: 'ignore', env: { PATH: process.env.PATH ?? '', PORT: String(port), NOTION_URL: fake.url } });
  try {
    const url = new URL(`http://127.0.0.1:${port}/mcp`);
    await untilListening(url, headers, `${target} under valgrind`, { pollMs: 200, timeoutMs: 120_000 });
    const tokens =
      target === 'ours'
        ? await connectMany(`http://127.0.0.1:${port}`, fake, Array.from({ length: USERS }, (_, i) => fakeWorkspace(`instr-${i}`)), 4)
        : Array.from({ length: USERS }, (_, i) => {
            fake.tokens.set(`ntn_instr_floor_${i}`, fakeWorkspace('instr-floor'));
            return `ntn_instr_floor_${i}`;
          });
    const agent = new Agent({ keepAlive: true, maxSockets: USERS });
    const args = tool === 'search' ? { query: 'Page', page_size: 10 } : { page_id: PAGE_ID };
    const send = async (w: number, i: number) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: tool, arguments: args } });
      const r = await post(agent, url, { ...headers, authorization: `Bearer ${tokens[w % USERS]}` }, body);
      return r.status === 200 && r.text.includes('"result"') && !r.text.includes('"isError":true');
    };
    const warm = await runLoad(WARMUP, USERS, send);
    execFileSync('callgrind_control', ['--instr=on', String(child.pid)], { stdio: 'ignore' });
    const r = await runLoad(CALLS, USERS, send);
    execFileSync('callgrind_control', ['--instr=off', String(child.pid)], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['--dump', String(child.pid)], { stdio: 'ignore' });
    agent.destroy();
    if (warm.errors || r.errors) throw new Error(`${target} ${tool}: ${warm.errors + r.errors} failed calls`);
    // One file per thread and dump; thread 1 is the JavaScript thread.
    let main = 0;
    let all = 0;
    for (const f of readdirSync(work).filter((n) => n.startsWith('callgrind.out'))) {
      const text = readFileSync(join(work, f), 'utf8');
      if (!/^part: [1-9]/m.test(text)) continue; // the dump, not the exit summary
      const total = Number(/^totals: (\d+)/m.exec(text)?.[1] ?? 0);
      all += total;
      if (/-01$/.test(f)) main += total;
    }
    if (main === 0) throw new Error(`no callgrind dump found in ${work}`);
    return { main: main / CALLS, all: all / CALLS };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  execFileSync('callgrind_control', ['--version'], { stdio: 'ignore' });
} catch {
  process.stderr.write('bench:instructions needs valgrind: apt-get install valgrind\n');
  process.exit(2);
}
const fake = await startFakeNotion();
const floor = floorScript(ROOT);
const results: Record<string, { main: number; all: number }> = {};
try {
  for (const tool of TOOLS) {
    for (const target of TARGETS) {
      results[`${target} ${tool}`] = await count(target, tool, fake, floor);
      const r = results[`${target} ${tool}`]!;
      process.stderr.write(`${target} ${tool}: ${(r.main / 1000).toFixed(1)}k main thread, ${(r.all / 1000).toFixed(1)}k all threads\n`);
    }
  }
} finally {
  await fake.close();
  rmSync(dirname(floor), { recursive: true, force: true });
}
const k = (n: number | undefined) => (n === undefined ? '-' : (n / 1000).toFixed(1));
const lines = [
  `instructions per call (thousands), ${CALLS} calls at concurrency ${USERS} after ${WARMUP} warm-up`,
  '| tool | ours main | ours all | floor main | floor all | ours/floor (main) |',
  '|---|---:|---:|---:|---:|---:|',
  ...TOOLS.map((t) => {
    const o = results[`ours ${t}`];
    const f = results[`floor ${t}`];
    return `| ${t} | ${k(o?.main)} | ${k(o?.all)} | ${k(f?.main)} | ${k(f?.all)} | ${o && f ? (o.main / f.main).toFixed(2) : '-'} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results', OUT), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, calls: CALLS, warmup: WARMUP, results }, null, 2)}\n`);
process.exit(0);

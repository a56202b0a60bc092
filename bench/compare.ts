/**
 * `npm run bench`: this server vs the official @notionhq/notion-mcp-server 2.5.2 vs a bare
 * node:http forwarder (bench/floor.ts), all against the same loopback fake Notion, in one run.
 * Each target is a child process, so its CPU time and RSS come from /proc/<pid>. The three run
 * side by side and take turns in slices of each phase (see measurePhases).
 *
 * Flags: --runs 3  --calls 6000  --slices 6  --warmup 1000  --users 1000  --latency-ms 0  --out compare.json
 *        --era 2025 (our tool calls as a 2025-06-18 client, the default) or 2026 (as a 2026-07-28 client:
 *        per-request `_meta` envelope and Mcp-Method / Mcp-Name headers, served by the SDK's handler)
 * Prints one table of medians over the runs and writes bench/results/<out>.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { dirname, join } from 'node:path';
import { fakeWorkspace, startFakeNotion, type FakeNotion } from '../test/helpers/fake-notion.js';
import { freePort } from '../test/helpers/stack.js';
import { combineLoads, type LoadResult, post, rpcBody, runLoad } from './lib/load.js';
import { cpuMs, floorScript, median, rssMiB, spawnChild, stopChild } from './lib/proc.js';
import { baseHeaders, type Client, firstAnswer, ROOT, startOfficial, startOurs, type Target as BaseTarget } from './lib/targets.js';

const arg = (name: string, fallback: number | string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : String(fallback);
};
const RUNS = Number(arg('runs', 3));
const CALLS = Number(arg('calls', 6000));
const SLICES = Number(arg('slices', 6));
const WARMUP = Number(arg('warmup', 1000));
const USERS = Number(arg('users', 1000));
const LATENCY = Number(arg('latency-ms', 0));
const OUT = arg('out', 'compare.json');
const MODERN = arg('era', '2025') === '2026';
const MODERN_META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const CONCURRENCY = [1, 32] as const;
const TOOLS = ['search', 'get_page'] as const;
type Tool = (typeof TOOLS)[number];
const PAGE_ID = '59833787-2cf9-4fdf-8782-e53db20768a5';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target extends BaseTarget {
  tool(t: Tool): string;
  /** Calls as a 2026-07-28 client (ours with --era 2026). */
  modern?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

async function startFloor(fake: FakeNotion, script: string): Promise<Target> {
  const port = await freePort();
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  const t0 = process.hrtime.bigint();
  const child = spawnChild(process.execPath, [script], { PORT: String(port), NOTION_URL: fake.url }, ROOT);
  const ws = fakeWorkspace('floor');
  const token = (i: number) => `ntn_bench_floor_${i}`;
  fake.tokens.set(token(0), ws);
  const started = await firstAnswer(url, { authorization: `Bearer ${token(0)}` }, t0);
  return {
    name: 'floor',
    url,
    child,
    tool: (t) => t,
    async clients(n) {
      return Array.from({ length: n }, (_, i) => {
        fake.tokens.set(token(i), ws);
        return { headers: { authorization: `Bearer ${token(i)}` } };
      });
    },
    startMs: async () => started,
    stop: () => stopChild(child),
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------

function callBody(target: Target, tool: Tool, id: number): string {
  const args = tool === 'search' ? { query: 'Page', page_size: 10 } : { page_id: PAGE_ID };
  const params = { name: target.tool(tool), arguments: args, ...(target.modern ? { _meta: MODERN_META } : {}) };
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params });
}

/** The headers of one tool call: a 2026-07-28 client names the revision, method and tool. */
function callHeaders(target: Target, tool: Tool): Record<string, string> {
  return target.modern ? { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': target.tool(tool) } : {};
}

const failed = (status: number, text: string) =>
  status !== 200 || !text.includes('"result"') || text.includes('"isError":true') || text.includes('\\"object\\":\\"error\\"');

interface Phase extends Omit<LoadResult, 'latencies'> {
  cpuMsPerCall: number;
  upstreamPerCall: number;
}

interface RunResult {
  startMs: number;
  rssIdleMiB: number;
  rssUsersMiB: number;
  usersSetupS: number;
  toolsListBytes: number;
  toolCount: number;
  phases: Record<string, Phase>;
}

/** A started target with its 32 load clients, idle RSS and tools/list size. */
interface Ready {
  target: Target;
  agent: Agent;
  clients: Client[];
  rssIdleMiB: number;
  toolsListBytes: number;
  toolCount: number;
}

async function prepare(target: Target): Promise<Ready> {
  await sleep(300);
  const rssIdleMiB = rssMiB(target.child.pid!);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const clients = await target.clients(32);
  const list = await post(agent, target.url, { ...baseHeaders, ...clients[0]!.headers }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
  const listed = rpcBody(list.text).result as { tools: unknown[] };
  return { target, agent, clients, rssIdleMiB, toolsListBytes: Buffer.byteLength(JSON.stringify(listed)), toolCount: listed.tools.length };
}

/**
 * Every tool and concurrency phase, with the targets taking turns: each phase is cut into
 * `SLICES` slices and every target runs one slice in turn (the order rotating), so a change in
 * the machine's speed during the run hits all targets alike and the ratios keep their meaning.
 */
async function measurePhases(ready: Ready[], fake: FakeNotion, log: (s: string) => void): Promise<Record<string, Record<string, Phase>>> {
  const out: Record<string, Record<string, Phase>> = Object.fromEntries(ready.map((r) => [r.target.name, {}]));
  const perSlice = Math.ceil(CALLS / SLICES);
  for (const tool of TOOLS) {
    for (const c of CONCURRENCY) {
      let firstFailure = '';
      const sender = ({ target, agent, clients }: Ready) => async (w: number, i: number) => {
        const r = await post(agent, target.url, { ...baseHeaders, ...clients[w % clients.length]!.headers, ...callHeaders(target, tool) }, callBody(target, tool, i));
        const bad = failed(r.status, r.text);
        if (bad && !firstFailure) firstFailure = `${target.name}: ${r.status} ${r.text.slice(0, 300)}`;
        return !bad;
      };
      const acc = ready.map((r) => ({ r, send: sender(r), parts: [] as LoadResult[], cpuMs: 0, upstream: 0 }));
      for (const a of acc) {
        const warm = await runLoad(WARMUP, c, a.send);
        if (warm.errors) throw new Error(`${tool}: ${warm.errors} failed warm-up calls; first: ${firstFailure}`);
      }
      for (let slice = 0; slice < SLICES; slice++) {
        for (let k = 0; k < acc.length; k++) {
          const a = acc[(slice + k) % acc.length]!;
          fake.requests.length = 0;
          const cpu0 = cpuMs(a.r.target.child.pid!);
          a.parts.push(await runLoad(perSlice, c, a.send));
          a.cpuMs += cpuMs(a.r.target.child.pid!) - cpu0;
          a.upstream += fake.requests.length;
        }
      }
      fake.requests.length = 0;
      for (const a of acc) {
        const { latencies: _, ...r } = combineLoads(a.parts);
        out[a.r.target.name]![`${tool}@${c}`] = { ...r, cpuMsPerCall: a.cpuMs / r.calls, upstreamPerCall: a.upstream / r.calls };
        log(`  ${a.r.target.name} ${tool} c=${c}: ${r.throughput.toFixed(0)}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms errors ${r.errors}`);
        if (r.errors) throw new Error(`${a.r.target.name} ${tool} c=${c}: ${r.errors} failed calls; first: ${firstFailure}`);
      }
    }
  }
  return out;
}

/** RSS after USERS distinct users each made a call, then the time to a first answer. */
async function finish(ready: Ready, phases: Record<string, Phase>, fake: FakeNotion, log: (s: string) => void): Promise<RunResult> {
  const { target, agent } = ready;
  const t0 = Date.now();
  const users = await target.clients(USERS);
  const usersSetupS = (Date.now() - t0) / 1000;
  const byUser = await runLoad(USERS, 32, async (_w, i) => {
    const r = await post(agent, target.url, { ...baseHeaders, ...users[i]!.headers, ...callHeaders(target, 'search') }, callBody(target, 'search', i));
    return !failed(r.status, r.text);
  });
  if (byUser.errors) throw new Error(`${target.name}: ${byUser.errors} failed calls by distinct users`);
  fake.requests.length = 0;
  await sleep(300);
  const rssUsersMiB = rssMiB(target.child.pid!);
  agent.destroy();
  const startMs = await target.startMs();
  log(`  ${target.name}: start ${startMs.toFixed(0)} ms, RSS idle ${ready.rssIdleMiB.toFixed(1)} MiB, after ${USERS} users ${rssUsersMiB.toFixed(1)} MiB (set-up ${usersSetupS.toFixed(1)} s)`);
  const { rssIdleMiB, toolsListBytes, toolCount } = ready;
  return { startMs, rssIdleMiB, rssUsersMiB, usersSetupS, toolsListBytes, toolCount, phases };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const fake = await startFakeNotion();
  fake.latencyMs = LATENCY;
  const floor = floorScript(ROOT);
  const runs: Record<string, RunResult[]> = { ours: [], official: [], floor: [] };
  try {
    for (let run = 1; run <= RUNS; run++) {
      log(`run ${run}/${RUNS}`);
      // Started one after the other (each start time is its own), then measured side by side.
      const started: Target[] = [];
      try {
        const starts = [
          async () => Object.assign(await startOurs(fake), { tool: (t: Tool) => t, modern: MODERN }),
          async () => Object.assign(await startOfficial(fake), { tool: (t: Tool) => (t === 'search' ? 'API-post-search' : 'API-retrieve-a-page') }),
          () => startFloor(fake, floor),
        ];
        for (const start of starts) started.push(await start());
        const ready: Ready[] = [];
        for (const t of started) ready.push(await prepare(t));
        const phases = await measurePhases(ready, fake, log);
        for (const r of ready) runs[r.target.name]!.push(await finish(r, phases[r.target.name]!, fake, log));
      } finally {
        for (const t of started) await t.stop();
      }
    }
  } finally {
    await fake.close();
    rmSync(dirname(floor), { recursive: true, force: true });
  }

  const med = (name: string, pick: (r: RunResult) => number) => median(runs[name]!.map(pick));
  const summary: Record<string, Record<string, number>> = {};
  for (const name of Object.keys(runs)) {
    const s: Record<string, number> = {
      start_ms: med(name, (r) => r.startMs),
      rss_idle_mib: med(name, (r) => r.rssIdleMiB),
      rss_users_mib: med(name, (r) => r.rssUsersMiB),
      users_setup_s: med(name, (r) => r.usersSetupS),
      tools_list_bytes: med(name, (r) => r.toolsListBytes),
      tool_count: med(name, (r) => r.toolCount),
    };
    for (const key of Object.keys(runs[name]![0]!.phases)) {
      s[`${key} calls/s`] = med(name, (r) => r.phases[key]!.throughput);
      s[`${key} p50 ms`] = med(name, (r) => r.phases[key]!.p50);
      s[`${key} p99 ms`] = med(name, (r) => r.phases[key]!.p99);
      s[`${key} cpu ms/call`] = med(name, (r) => r.phases[key]!.cpuMsPerCall);
      s[`${key} upstream/call`] = med(name, (r) => r.phases[key]!.upstreamPerCall);
    }
    summary[name] = s;
  }
  const ours = summary.ours!;
  const official = summary.official!;
  const flo = summary.floor!;
  // Each ratio is taken within one run (its three targets ran back to back), then the median over
  // runs is reported with every run's value: the machine's speed drifts between runs.
  type Run = Record<'ours' | 'official' | 'floor', RunResult>;
  const rate = (r: Run, who: keyof Run, phase: string) => r[who].phases[phase]!.throughput;
  const p50 = (r: Run, who: keyof Run, phase: string) => r[who].phases[phase]!.p50;
  const bytesPerTool = (r: Run, who: keyof Run) => r[who].toolsListBytes / r[who].toolCount;
  const perRun: Record<string, (r: Run) => number> = {
    'search@32 ours/official': (r) => rate(r, 'ours', 'search@32') / rate(r, 'official', 'search@32'),
    'search@32 ours/floor': (r) => rate(r, 'ours', 'search@32') / rate(r, 'floor', 'search@32'),
    'get_page@32 ours/official': (r) => rate(r, 'ours', 'get_page@32') / rate(r, 'official', 'get_page@32'),
    'get_page@32 ours/floor': (r) => rate(r, 'ours', 'get_page@32') / rate(r, 'floor', 'get_page@32'),
    'search@1 p50 added over floor ms': (r) => p50(r, 'ours', 'search@1') - p50(r, 'floor', 'search@1'),
    'get_page@1 p50 added over floor ms': (r) => p50(r, 'ours', 'get_page@1') - p50(r, 'floor', 'get_page@1'),
    'tools/list bytes per tool ours/official': (r) => bytesPerTool(r, 'ours') / bytesPerTool(r, 'official'),
  };
  const byRun: Run[] = runs.ours!.map((ours, i) => ({ ours, official: runs.official![i]!, floor: runs.floor![i]! }));
  const ratioRuns = Object.fromEntries(Object.entries(perRun).map(([k, f]) => [k, byRun.map(f)]));
  const ratios = Object.fromEntries(Object.entries(ratioRuns).map(([k, xs]) => [k, median(xs)]));

  const fmt = (v: number | undefined) =>
    v === undefined ? '-' : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2);
  const rows = Object.keys(ours);
  const lines = [
    `medians of ${RUNS} runs; ${CALLS} calls after ${WARMUP} warm-up; fake Notion latency ${LATENCY} ms; ${USERS} users`,
    `| figure | ours | official 2.5.2 | floor |`,
    `|---|---:|---:|---:|`,
    ...rows.map((k) => `| ${k} | ${fmt(ours[k])} | ${fmt(official[k])} | ${fmt(flo[k])} |`),
    '',
    '| ratio (median of the runs) | value | each run |',
    '|---|---:|---|',
    ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${v.toFixed(2)} | ${ratioRuns[k]!.map((x) => x.toFixed(2)).join(', ')} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench/results', OUT),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: RUNS, calls: CALLS, warmup: WARMUP, users: USERS, latencyMs: LATENCY, summary, ratios, ratioRuns, raw: runs }, null, 2)}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

/**
 * Per-call CPU of this server: `tsx bench/profile.ts [calls] [--concurrency N] [--tool search|get_page] [--redis] [--cpu-prof]`.
 * With --redis the server uses a redis-server of its own (REDIS_URL) instead of SQLite.
 * Spawns the server as `npm start` does (optionally with --cpu-prof, profile written to bench/results/prof/),
 * connects 32 users through the real OAuth flow, then runs `calls` search and `calls` get_page
 * calls at concurrency N (default 32) and prints calls/s, p50 and server CPU ms per call
 * (/proc utime+stime) for each.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeWorkspace, startFakeNotion } from '../test/helpers/fake-notion.js';
import { startRedis } from '../test/helpers/redis.js';
import { freePort, TEST_SECRET } from '../test/helpers/stack.js';
import { post, runLoad, untilListening } from './lib/load.js';
import { connectMany } from './lib/oauth.js';
import { cpuMs, serverArgs, serverEnv } from './lib/proc.js';

const CALLS = Number(process.argv[2] ?? 3000);
const PROF = process.argv.includes('--cpu-prof');
const flagAt = process.argv.indexOf('--concurrency');
const CONCURRENCY = flagAt > 0 ? Number(process.argv[flagAt + 1]) : 32;
const REDIS = process.argv.includes('--redis');
const toolAt = process.argv.indexOf('--tool');
const TOOLS = toolAt > 0 ? [process.argv[toolAt + 1] as 'search' | 'get_page'] : (['search', 'get_page'] as const);
/** BENCH_ROOT: another built checkout (its dist/main.js), e.g. the previous commit for a before/after. */
const ROOT = process.env.BENCH_ROOT ?? join(import.meta.dirname, '..');
const PAGE_ID = '59833787-2cf9-4fdf-8782-e53db20768a5';
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

const fake = await startFakeNotion();
const redis = REDIS ? await startRedis() : null;
const dataDir = mkdtempSync(join(tmpdir(), 'nmr-prof-'));
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
const profDir = join(ROOT, 'bench/results/prof');
mkdirSync(profDir, { recursive: true });
const child = spawn(process.execPath, serverArgs(ROOT, PROF ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), {
  cwd: dataDir,
  stdio: 'ignore',
  env: { ...serverEnv(fake, port, dataDir, TEST_SECRET), ...(redis ? { REDIS_URL: redis.url } : {}) },
});
try {
  const url = new URL(`${baseUrl}/mcp`);
  await untilListening(url, headers, 'the server');
  const tokens = await connectMany(baseUrl, fake, Array.from({ length: 32 }, (_, i) => fakeWorkspace(`p-${i}`)), 8);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  for (const tool of TOOLS) {
    const args = tool === 'search' ? { query: 'Page', page_size: 10 } : { page_id: PAGE_ID };
    const send = async (w: number, i: number) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: tool, arguments: args } });
      const r = await post(agent, url, { ...headers, authorization: `Bearer ${tokens[w % tokens.length]}` }, body);
      return r.status === 200 && !r.text.includes('"isError":true');
    };
    await runLoad(200, CONCURRENCY, send);
    const c0 = cpuMs(child.pid!);
    const r = await runLoad(CALLS, CONCURRENCY, send);
    const c1 = cpuMs(child.pid!);
    process.stdout.write(`${tool} c=${CONCURRENCY}: ${r.throughput.toFixed(0)}/s p50 ${r.p50.toFixed(2)} ms, server CPU ${((c1 - c0) / CALLS).toFixed(3)} ms/call, errors ${r.errors}\n`);
  }
  agent.destroy();
} finally {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  await fake.close();
  await redis?.dispose();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);

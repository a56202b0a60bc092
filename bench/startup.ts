/**
 * Start-up time of this server: `tsx bench/startup.ts [grants]` (default 1000). Spawns dist/main.js
 * on a temporary DATA_DIR, creates the grants through the real OAuth flow, then restarts it three
 * times and prints the median time from spawn to the first answered authenticated `initialize`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fakeWorkspace, startFakeNotion } from '../test/helpers/fake-notion.js';
import { freePort, TEST_SECRET } from '../test/helpers/stack.js';
import { post } from './lib/load.js';
import { connectMany } from './lib/oauth.js';
import { median, serverArgs, serverEnv } from './lib/proc.js';

const N = Number(process.argv[2] ?? 1000);
/** BENCH_ROOT: another built checkout (its dist/main.js), e.g. the previous commit for a before/after. */
const ROOT = process.env.BENCH_ROOT ?? join(import.meta.dirname, '..');
const initBody = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '0' } } });
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function firstAnswer(url: URL, h: Record<string, string>, t0: bigint, want?: number): Promise<number> {
  for (;;) {
    const agent = new Agent({ keepAlive: false });
    try {
      const r = await post(agent, url, { ...headers, ...h }, initBody);
      if (want === undefined || r.status === want) return Number(process.hrtime.bigint() - t0) / 1e6;
    } catch {
      // not listening yet
    } finally {
      agent.destroy();
    }
    await sleep(2);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const fake = await startFakeNotion();
const dataDir = mkdtempSync(join(tmpdir(), 'nmr-start-'));
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
const env = serverEnv(fake, port, dataDir, TEST_SECRET);
const launch = () => spawn(process.execPath, serverArgs(ROOT), { cwd: dataDir, env, stdio: 'ignore' });
const url = new URL(`${baseUrl}/mcp`);
try {
  const empty: number[] = [];
  let child = launch();
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    if (i > 0) child = launch();
    empty.push(await firstAnswer(url, {}, t0));
    if (i < 2) await stop(child);
  }
  const tokens = await connectMany(baseUrl, fake, Array.from({ length: N }, (_, i) => fakeWorkspace(`s-${i}`)), 8);
  const full: number[] = [];
  for (let i = 0; i < 3; i++) {
    await stop(child);
    const t0 = process.hrtime.bigint();
    child = launch();
    full.push(await firstAnswer(url, { authorization: `Bearer ${tokens[0]}` }, t0, 200));
  }
  await stop(child);
  const f = (xs: number[]) => `${median(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(', ')})`;
  process.stdout.write(`empty store, first answer (401): ${f(empty)}\n${N} grants, first authenticated initialize: ${f(full)}\n`);
} finally {
  await fake.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);

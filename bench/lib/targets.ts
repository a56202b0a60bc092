import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakeWorkspace, type FakeNotion } from '../../test/helpers/fake-notion.js';
import { freePort, TEST_SECRET } from '../../test/helpers/stack.js';
import { post, untilListening } from './load.js';
import { connectMany } from './oauth.js';
import { serverArgs, serverEnv, spawnChild, stopChild } from './proc.js';


/**
 * This server and the official @notionhq/notion-mcp-server 2.5.2 as child processes against a
 * fake Notion, for the benches that run them side by side (compare.ts, tasks.ts).
 */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const PROTOCOL = '2025-06-18';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Client {
  headers: Record<string, string>;
}

export interface Target {
  name: string;
  url: URL;
  child: ChildProcess;
  /** `n` ready clients: ours, one OAuth grant each; official, one MCP session each; floor, one Notion token each. */
  clients(n: number): Promise<Client[]>;
  /** Time from spawn to the first answered authenticated initialize, in ms. */
  startMs(): Promise<number>;
  stop(): Promise<void>;
}

export const initBody = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'bench', version: '0' } },
});
export const baseHeaders = { accept: 'application/json, text/event-stream', 'mcp-protocol-version': PROTOCOL };

/** Polls with an authenticated initialize until one is answered 200; returns ms since `t0`. */
export async function firstAnswer(url: URL, headers: Record<string, string>, t0: bigint): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const agent = new Agent({ keepAlive: false });
    try {
      const r = await post(agent, url, { ...baseHeaders, ...headers }, initBody);
      if (r.status === 200) return Number(process.hrtime.bigint() - t0) / 1e6;
    } catch {
      // not listening yet
    } finally {
      agent.destroy();
    }
    if (Date.now() > deadline) throw new Error(`${url.href} did not answer within 20 s`);
    await sleep(2);
  }
}

export async function startOurs(fake: FakeNotion): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nmr-bench-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = serverEnv(fake, port, dataDir, TEST_SECRET);
  // cwd is the data dir, so a developer's .env is not loaded.
  const launch = () => spawnChild(process.execPath, serverArgs(ROOT), env, dataDir);
  let child = launch();
  const url = new URL(`${baseUrl}/mcp`);
  // Fresh store: wait for any answer (401) before creating grants.
  await untilListening(url, baseHeaders, 'our server', { body: initBody, pollMs: 5 });
  const tokens: string[] = [];
  const target: Target = {
    name: 'ours',
    url,
    get child() {
      return child;
    },
    async clients(n) {
      if (tokens.length < n) {
        const workspaces = Array.from({ length: n - tokens.length }, (_, i) => fakeWorkspace(`bench-${tokens.length + i}`));
        tokens.push(...(await connectMany(baseUrl, fake, workspaces, 8)));
      }
      return tokens.slice(0, n).map((t) => ({ headers: { authorization: `Bearer ${t}` } }));
    },
    async startMs() {
      // A cold start on the existing store: stop, start again, first answered initialize with a live token.
      await stopChild(child);
      const t0 = process.hrtime.bigint();
      child = launch();
      return firstAnswer(url, { authorization: `Bearer ${tokens[0]}` }, t0);
    },
    async stop() {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return target;
}

export const OFFICIAL_BEARER = 'bench-gateway-bearer-0123456789';
export const OFFICIAL_NOTION_TOKEN = 'ntn_bench_official_static_token';

export async function startOfficial(fake: FakeNotion): Promise<Target & { t0: bigint }> {
  fake.tokens.set(OFFICIAL_NOTION_TOKEN, fakeWorkspace('official'));
  const port = await freePort();
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  const t0 = process.hrtime.bigint();
  const child = spawnChild(
    process.execPath,
    [join(ROOT, 'node_modules/@notionhq/notion-mcp-server/bin/cli.mjs'), '--transport', 'http', '--host', '127.0.0.1', '--port', String(port)],
    { AUTH_TOKEN: OFFICIAL_BEARER, BASE_URL: fake.url, OPENAPI_MCP_HEADERS: JSON.stringify({ Authorization: `Bearer ${OFFICIAL_NOTION_TOKEN}` }) },
    ROOT,
  );
  const auth = { authorization: `Bearer ${OFFICIAL_BEARER}` };
  const started = await firstAnswer(url, auth, t0);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  return {
    name: 'official',
    url,
    child,
    t0,
    // Stateful: every client is its own session (initialize, then notifications/initialized).
    async clients(n) {
      const out: Client[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (;;) {
            const i = next++;
            if (i >= n) return;
            const r = await post(agent, url, { ...baseHeaders, ...auth }, initBody);
            const sid = r.headers['mcp-session-id'];
            if (r.status !== 200 || typeof sid !== 'string') throw new Error(`official initialize: ${r.status} ${r.text.slice(0, 200)}`);
            const headers = { ...auth, 'mcp-session-id': sid };
            await post(agent, url, { ...baseHeaders, ...headers }, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
            out[i] = { headers };
          }
        }),
      );
      return out;
    },
    startMs: async () => started,
    stop: () => stopChild(child),
  };
}

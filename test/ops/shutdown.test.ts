import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeNotion, fakeWorkspace, startFakeNotion } from '../helpers/fake-notion.js';
import { connect, mcpPost } from '../helpers/oauth-client.js';
import { childEnv, freePort, type Stack } from '../helpers/stack.js';

/** Graceful shutdown of the BUILT server (dist/main.js, from `npm run build`) in a child process. */
const MAIN = resolve(import.meta.dirname, '../../dist/main.js');

describe('SIGTERM', () => {
  let fake: FakeNotion;
  let cwd: string;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before these tests`);
    fake = await startFakeNotion();
    cwd = mkdtempSync(join(tmpdir(), 'nmr-shutdown-'));
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await fake.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  /** Starts the built server on a free port against the fake Notion, and waits until it listens. */
  async function start() {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const proc = spawn(process.execPath, [MAIN], {
      cwd,
      env: childEnv(fake, port, join(cwd, 'data')),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const out = { stdout: '' };
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
    const exited = new Promise<number | string>((res) => proc.once('close', (code, signal) => res(code ?? signal ?? 'unknown')));
    for (let i = 0; ; i++) {
      if (out.stdout.includes('listening')) break;
      if (i > 100) throw new Error(`server did not start: ${out.stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    return { proc, baseUrl, exited, out };
  }

  it('lets a tool call in flight finish with 200, then exits 0 and stops listening', async () => {
    const { proc, baseUrl, exited, out } = await start();
    // The helpers only need the base URL and the fake.
    const { tokens } = await connect({ baseUrl, fake } as Stack, fakeWorkspace(1));
    fake.latencyMs = 500;
    const started = Date.now();
    const inFlight = mcpPost(baseUrl, tokens.access_token, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'get_self', arguments: {} } });
    // Signal once the call has reached Notion, i.e. the request is in the middle of its handler.
    while (!fake.requests.some((r) => r.path === '/v1/users/me')) await new Promise((r) => setTimeout(r, 10));
    proc.kill('SIGTERM');

    const res = await inFlight;
    expect(res.status).toBe(200);
    const reply = (await res.json()) as { id: number; result: { isError?: boolean; content: { text: string }[] } };
    expect(reply.id).toBe(7);
    expect(reply.result.isError).toBeFalsy();
    expect(JSON.parse(reply.result.content[0]!.text)).toBeTruthy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);

    expect(await exited).toBe(0);
    expect(out.stdout).toContain('shutting down');
    await expect(fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });

  it('answers a tool call stuck on a hung Notion with a tool error, not a reset, and exits 0', async () => {
    const { proc, baseUrl, exited, out } = await start();
    const ws = fakeWorkspace('Hung at shutdown');
    const { tokens } = await connect({ baseUrl, fake } as Stack, ws);
    fake.reset();
    // Notion accepts this user's calls and never answers: one read would take 2 x 30 s.
    fake.hangTokens.add([...fake.tokens].find(([, w]) => w.name === ws.name)![0]);
    const inFlight = mcpPost(baseUrl, tokens.access_token, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'get_self', arguments: {} } });
    await expect.poll(() => fake.hanging.size, { timeout: 5000 }).toBe(1);
    proc.kill('SIGTERM');

    const res = await inFlight;
    expect(res.status).toBe(200);
    const reply = (await res.json()) as { id: number; result: { isError?: boolean; structuredContent: { error: { code: string } } } };
    expect(reply.id).toBe(8);
    expect(reply.result.isError).toBe(true);
    expect(reply.result.structuredContent.error.code).toBe('shutting_down');
    expect(await exited).toBe(0);
    expect(out.stdout).toContain('shutting down');
    expect(out.stdout).not.toContain('in-flight requests did not finish');
    // The server closed its socket to Notion; it was not left to the Notion timeout.
    await expect.poll(() => fake.hanging.size, { timeout: 2000 }).toBe(0);
  }, 45_000);
});

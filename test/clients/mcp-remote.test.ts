/**
 * `mcp-remote` from npm (the stdio bridge Claude Desktop and Cursor use for remote servers), run
 * as a child process exactly as those apps run it: `mcp-remote <url> <callback port>`. It finds
 * our OAuth server from the 401, registers, prints its authorization URL and listens on its
 * loopback callback; the person approves in headless Chromium; then the test talks MCP to it over
 * its stdio (newline-delimited JSON-RPC) and it forwards to /mcp with its bearer token.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeWorkspace, fakeWorkspace } from '../helpers/fake-notion.js';
import { freePort } from '../helpers/stack.js';
import {
  type Child,
  NO_BROWSER_OPENER,
  consentInBrowser,
  expectFullFlow,
  expectOurTools,
  expectSearchAs,
  requestLog,
  stackAndBrowser,
  startChild,
  tail,
  within,
} from './support.js';

const BIN = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'mcp-remote');

interface RpcReply {
  id?: number;
  result?: any;
  error?: { code: number; message: string };
}

/** JSON-RPC over the child's stdin/stdout, one message per line. */
function stdioRpc(child: Child) {
  const waiting = new Map<number, (r: RpcReply) => void>();
  const lines = createInterface({ input: child.proc.stdout! });
  lines.on('line', (line) => {
    let msg: RpcReply;
    try {
      msg = JSON.parse(line) as RpcReply;
    } catch {
      return; // not protocol output
    }
    if (typeof msg.id === 'number') waiting.get(msg.id)?.(msg);
  });
  let next = 1;
  return {
    request(method: string, params: unknown, ms = 15_000): Promise<RpcReply> {
      const id = next++;
      const reply = new Promise<RpcReply>((resolve) => waiting.set(id, resolve));
      child.proc.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
      return within(reply, ms, () => `the answer to ${method}; mcp-remote output:\n${tail(child.output())}`);
    },
    notify(method: string, params: unknown = {}): void {
      child.proc.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`);
    },
    close: () => lines.close(),
  };
}

describe('mcp-remote 0.15 (stdio bridge of Claude Desktop and Cursor)', () => {
  const env = stackAndBrowser();
  let configDir: string;

  beforeAll(() => {
    configDir = mkdtempSync(join(tmpdir(), 'nmr-mcp-remote-'));
  });
  afterAll(() => {
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  /** mcp-remote as Claude Desktop starts it, on a fixed callback port and this test's config dir. */
  function startMcpRemote(port: number): Child {
    return startChild(BIN, [`${env.stack.baseUrl}/mcp`, String(port), '--transport', 'http-only'], {
      stdoutIsProtocol: true,
      env: {
        MCP_REMOTE_CONFIG_DIR: configDir,
        // mcp-remote also tries to open a browser itself; xdg-open then runs $BROWSER, a no-op,
        // so only our headless Chromium follows the URL.
        ...NO_BROWSER_OPENER,
      },
    });
  }

  /** What a host does over stdio: initialize, tools/list, tools/call search; checks each answer. */
  async function initializeListAndSearch(rpc: ReturnType<typeof stdioRpc>, ws: FakeWorkspace): Promise<void> {
    const { stack } = env;
    const init = await rpc.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'stdio-test-host', version: '1.0.0' },
    });
    expect(init.error).toBeUndefined();
    expect(init.result.serverInfo.name).toBeTruthy();
    rpc.notify('notifications/initialized');

    const list = await rpc.request('tools/list', {});
    expect(list.error).toBeUndefined();
    expectOurTools((list.result.tools as { name: string }[]).map((t) => t.name));

    stack.fake.requests.length = 0;
    const call = await rpc.request('tools/call', { name: 'search', arguments: {} });
    expect(call.error).toBeUndefined();
    expectSearchAs(stack, ws, call.result);
  }

  it('signs in through its printed URL and loopback callback, serves tools over stdio, and reuses its tokens after a restart', async () => {
    const { stack, browser } = env;
    const ws = fakeWorkspace('mcp-remote');
    const port = await freePort();
    const connected = /Connected to remote server|Proxy established/;

    const child = startMcpRemote(port);
    const rpc = stdioRpc(child);
    try {
      const [, printed] = await child.waitFor(/Please authorize this client by visiting:\s*\n(\S+)/, 20_000, 'the authorization URL');
      const callbackPrefix = `http://localhost:${port}/oauth/callback`;
      expect(new URL(printed!).searchParams.get('redirect_uri')).toBe(callbackPrefix);
      await consentInBrowser(browser, stack, printed!, ws, callbackPrefix);
      // mcp-remote redeems the code and connects to /mcp; then it serves stdio.
      await child.waitFor(connected, 15_000, 'mcp-remote connecting with its token');
      await initializeListAndSearch(rpc, ws);
      expectFullFlow(stack, 'dcr');
      // It kept its tokens where it was told to.
      expect(readdirSync(configDir, { recursive: true }).some((f) => String(f).endsWith('_tokens.json'))).toBe(true);
    } finally {
      rpc.close();
      await child.kill();
    }

    // The app restarts mcp-remote (Claude Desktop does at every launch): no new sign-in.
    stack.logs.length = 0;
    const again = startMcpRemote(port);
    const rpc2 = stdioRpc(again);
    try {
      await again.waitFor(connected, 15_000, 'mcp-remote reconnecting with its stored token');
      await initializeListAndSearch(rpc2, ws);
      expect(again.output()).not.toContain('Please authorize this client');
      const log = requestLog(stack);
      expect(log.filter((l) => /^(POST \/register|GET \/authorize|POST \/token) /.test(l))).toEqual([]);
    } finally {
      rpc2.close();
      await again.kill();
    }
  });
});

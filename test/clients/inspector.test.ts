/**
 * The MCP Inspector's CLI (`@modelcontextprotocol/inspector` 2.12.0) as a real client. It needs
 * Node >= 22.19, so it is borrowed through `npx -p node@22` (as the conformance test does) while
 * the server runs on this process's Node.
 *
 * The CLI does OAuth itself: on our 401 it discovers the authorization server (RFC 9728 → RFC
 * 8414), registers (DCR), prints "Please navigate to: <url>", listens on its --callback-url
 * (loopback), redeems the code and retries the method. It keeps the tokens in its store under
 * $HOME/.mcp-inspector, so a second run (tools/call) reuses them with --stored-auth-only. No
 * bearer header is passed by hand.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { freePort } from '../helpers/stack.js';
import {
  type Child,
  NO_BROWSER_OPENER,
  consentInBrowser,
  expectFullFlow,
  expectNotionCallAs,
  expectOurTools,
  searchResultMarker,
  stackAndBrowser,
  startChild,
  tail,
} from './support.js';

export const INSPECTOR = '@modelcontextprotocol/inspector@2.12.0';

type Era = 'auto' | 'modern';

const NPM_CACHE = process.env.npm_config_cache || join(homedir(), '.npm');

describe(`MCP Inspector CLI (${INSPECTOR})`, () => {
  const homes: string[] = [];

  beforeAll(async () => {
    // On a cold npm cache npx first downloads node@22 and the inspector (about 30 s here); do it
    // once up front so the tests' own timeouts measure only the client.
    const warm = startChild('npx', ['-y', '-p', 'node@22', '-p', INSPECTOR, '--', 'mcp-inspector', '--version'], { env: { npm_config_cache: NPM_CACHE } });
    try {
      expect(await warm.exited(150_000), tail(warm.output())).toBe(0);
      expect(warm.stdout().trim()).toBe(INSPECTOR.split('@').at(-1));
    } finally {
      await warm.kill();
    }
  }, 180_000);
  afterAll(() => {
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });
  const env = stackAndBrowser({ resetEach: true });

  /** One CLI run; `home` isolates its catalog, client config and OAuth store. */
  function inspector(home: string, callbackUrl: string, era: Era, args: string[]) {
    return startChild(
      'npx',
      ['-y', '-p', 'node@22', '-p', INSPECTOR, '--', 'mcp-inspector', '--cli', `${env.stack.baseUrl}/mcp`, '--transport', 'http', '--protocol-era', era, '--callback-url', callbackUrl, '--format', 'json', ...args],
      {
        env: {
          HOME: home,
          // HOME moves npm's default cache too; keep npx on the one already holding the inspector.
          npm_config_cache: NPM_CACHE,
          MCP_INSPECTOR_SECRET_STORE: 'file', // no desktop keyring on a CI machine
          // Without a TTY the CLI refuses interactive OAuth unless auto-open is forced; it then
          // prints the URL and runs xdg-open, which runs $BROWSER: a no-op, so only the test's
          // headless Chromium follows the URL.
          MCP_AUTO_OPEN_ENABLED: 'true',
          ...NO_BROWSER_OPENER,
          npm_config_yes: 'true',
        },
      },
    );
  }

  /** With --format json the CLI prints one `{"result": ...}` object on stdout (status lines go to stderr). */
  function jsonResult(child: Child): any {
    let printed: { result?: unknown };
    try {
      printed = JSON.parse(child.stdout()) as { result?: unknown };
    } catch {
      throw new Error(`no JSON result on the CLI's stdout:\n${tail(child.output())}`);
    }
    expect(printed.result, tail(child.output())).toBeDefined();
    return printed.result;
  }

  async function listThenCall(era: Era): Promise<void> {
    const { stack, browser } = env;
    const ws = fakeWorkspace(`Inspector ${era}`);
    const home = mkdtempSync(join(tmpdir(), 'nmr-inspector-'));
    homes.push(home);
    const callbackUrl = `http://127.0.0.1:${await freePort()}/oauth/callback`;

    // 1. tools/list: the 401 starts the CLI's interactive OAuth.
    const list = inspector(home, callbackUrl, era, ['--method', 'tools/list']);
    try {
      const [, url] = await list.waitFor(/Please navigate to:\s*(\S+)/, 20_000, 'the authorization URL from the inspector');
      expect(new URL(url!).searchParams.get('redirect_uri')).toBe(callbackUrl);
      await consentInBrowser(browser, stack, url!, ws, callbackUrl);
      const code = await list.exited(15_000);
      expect(code, tail(list.output())).toBe(0);
    } finally {
      await list.kill();
    }
    const tools = jsonResult(list).tools as { name: string }[];
    expectOurTools(tools.map((t) => t.name));
    expectFullFlow(stack, 'dcr');

    // 2. tools/call in a new process, with the tokens the first run stored (no new sign-in).
    stack.fake.requests.length = 0;
    const call = inspector(home, callbackUrl, era, ['--stored-auth-only', '--method', 'tools/call', '--tool-name', 'search', '--tool-args-json', '{}']);
    try {
      const code = await call.exited(15_000);
      expect(code, tail(call.output())).toBe(0);
    } finally {
      await call.kill();
    }
    const result = jsonResult(call);
    expect(result.isError).not.toBe(true);
    expect(JSON.stringify(result.content)).toContain(searchResultMarker(ws));
    expectNotionCallAs(stack, ws);
  }

  it('--protocol-era auto: signs in through its own OAuth, lists tools, then calls search with the stored token', async () => {
    await listThenCall('auto');
  }, 50_000);

  it('--protocol-era modern: signs in, lists tools and calls search without initialize', async () => {
    await listThenCall('modern');
  }, 50_000);
});

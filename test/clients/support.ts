/**
 * Shared bits of the real-client tests (test/clients/*.test.ts): a loopback callback a client
 * listens on, the person's part of the flow in headless Chromium (our consent page, then the fake
 * Notion screen), a plain in-memory OAuth provider for the SDK clients, child processes that are
 * always killed, and the checks every client test makes on the server log and on the fake Notion.
 *
 * Nothing here stands in for a client: the clients under test do discovery, registration, PKCE,
 * the token exchange and MCP themselves. The test only plays the person at the browser.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { launchChromium } from '../e2e/support.js';
import { type FakeWorkspace, fakeDatabase } from '../helpers/fake-notion.js';
import { type Stack, type StackOptions, startStack } from '../helpers/stack.js';
import { freePort } from '../helpers/stack.js';

export { launchChromium };

/**
 * The server stack and a headless Chromium for the enclosing describe block: both started before
 * its tests and closed after them; with `resetEach`, the server log and the fake Notion are
 * cleared before each test. Read `stack` and `browser` from inside tests and hooks.
 */
export function stackAndBrowser(opts: { stack?: StackOptions; resetEach?: boolean } = {}): { readonly stack: Stack; readonly browser: Browser } {
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(opts.stack), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  if (opts.resetEach) {
    beforeEach(() => {
      stack!.logs.length = 0;
      stack!.fake.reset();
    });
  }
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started (read it inside a test or hook)`);
    return value;
  };
  return {
    get stack() {
      return started(stack, 'the stack');
    },
    get browser() {
      return started(browser, 'Chromium');
    },
  };
}

/**
 * The environment for a child client that tries to open a browser itself: xdg-open then runs
 * $BROWSER, a no-op, and there is no display, so only the test's headless Chromium follows the URL.
 */
export const NO_BROWSER_OPENER = { BROWSER: 'true', DISPLAY: '', WAYLAND_DISPLAY: '' } as const;

/** Rejects instead of hanging when `p` does not settle in time. */
export function within<T>(p: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`)), ms);
    }),
  ]);
}

// ---------------------------------------------------------------------------------------------
// The client's loopback redirect URI (for the in-process SDK clients, which own no listener)
// ---------------------------------------------------------------------------------------------

export interface LoopbackCallback {
  /** e.g. http://127.0.0.1:PORT/callback */
  url: string;
  /** Resolves with the query of the first request to the callback path. */
  received: Promise<URLSearchParams>;
  close(): Promise<void>;
}

/** What a desktop app does (RFC 8252 §7.3): listen on 127.0.0.1 and take the code from the redirect. */
export async function startLoopbackCallback(path = '/callback'): Promise<LoopbackCallback> {
  const port = await freePort();
  let resolve!: (q: URLSearchParams) => void;
  const received = new Promise<URLSearchParams>((r) => (resolve = r));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (url.pathname !== path) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.');
    resolve(url.searchParams);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The person at the browser
// ---------------------------------------------------------------------------------------------

/**
 * Opens the client's authorization URL in a fresh Chromium context, approves on our consent page
 * (read and write), allows access on the fake Notion screen as `workspace`'s user, and waits until
 * the browser reaches the client's callback (`callbackPrefix`). The client's own callback server
 * answers that request; what the client does with the code is up to it.
 */
export async function consentInBrowser(
  browser: Browser,
  stack: Stack,
  authorizationUrl: string,
  workspace: FakeWorkspace,
  callbackPrefix: string,
): Promise<void> {
  const url = new URL(authorizationUrl);
  // The client must send the person to our /authorize, not anywhere else.
  expect(`${url.origin}${url.pathname}`).toBe(`${stack.baseUrl}/authorize`);
  expect(url.searchParams.get('code_challenge_method')).toBe('S256');
  const context = await browser.newContext();
  context.setDefaultTimeout(10_000);
  try {
    const page = await context.newPage();
    const consent = await page.goto(authorizationUrl);
    expect(consent?.status()).toBe(200);
    await page.getByRole('radio', { name: /read and write/i }).check();
    await page.getByRole('button', { name: /^approve/i }).click();
    await page.waitForURL((u) => u.href.startsWith(`${stack.fake.url}/v1/oauth/authorize?`));
    stack.fake.authorizeAs = workspace;
    const back = page.waitForRequest((r) => r.url().startsWith(callbackPrefix));
    await page.getByRole('link', { name: 'Allow access' }).click();
    const request = await back;
    const params = new URL(request.url()).searchParams;
    expect(params.get('error')).toBeNull();
    expect(params.get('code')).toBeTruthy();
    expect(params.get('iss')).toBe(stack.baseUrl); // RFC 9207
    // Let the client's callback page finish loading before the context goes.
    await page.waitForLoadState('load').catch(() => undefined);
  } finally {
    await context.close();
  }
}

/**
 * The person's part of an SDK client's first connect: waits for the authorization URL the provider
 * was handed, checks that it names `serverUrl` as the resource (RFC 8707), approves in Chromium as
 * `workspace`'s user, and returns the query the loopback callback received, its state checked.
 */
export async function approveAuthorization(
  browser: Browser,
  stack: Stack,
  provider: MemoryOAuthProvider,
  callback: LoopbackCallback,
  serverUrl: URL,
  workspace: FakeWorkspace,
): Promise<URLSearchParams> {
  const authUrl = await within(provider.nextAuthorizationUrl(), 5_000, 'the authorization URL');
  expect(authUrl.searchParams.get('resource')).toBe(serverUrl.href);
  await consentInBrowser(browser, stack, authUrl.href, workspace, callback.url);
  const query = await within(callback.received, 5_000, 'the redirect to the loopback callback');
  expect(query.get('state')).toBe('client-state');
  return query;
}

// ---------------------------------------------------------------------------------------------
// An in-memory OAuth client provider (the shape both SDK generations call)
// ---------------------------------------------------------------------------------------------

/**
 * The storage half of an OAuthClientProvider, in memory, structurally valid for
 * `@modelcontextprotocol/sdk` 1.x and `@modelcontextprotocol/client` 2.x. The SDK under test does
 * every protocol step; this only keeps what it asks to keep and hands over the authorization URL.
 */
export class MemoryOAuthProvider {
  clientInfo: Record<string, unknown> | undefined;
  saved: Record<string, unknown> | undefined;
  verifier: string | undefined;
  authorizationUrl: URL | undefined;
  discovery: unknown;
  private readonly urls: ((u: URL) => void)[] = [];

  constructor(
    readonly redirectUri: string,
    readonly clientName: string,
    readonly clientMetadataUrl?: string,
  ) {}

  get redirectUrl(): string {
    return this.redirectUri;
  }

  get clientMetadata() {
    return {
      client_name: this.clientName,
      redirect_uris: [this.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state(): string {
    return 'client-state';
  }

  clientInformation(): any {
    return this.clientInfo;
  }

  saveClientInformation(info: any): void {
    this.clientInfo = info;
  }

  tokens(): any {
    return this.saved;
  }

  saveTokens(tokens: any): void {
    this.saved = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
    for (const f of this.urls.splice(0)) f(url);
  }

  saveCodeVerifier(v: string): void {
    this.verifier = v;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }

  /** v2 keeps the discovered authorization server across the redirect (SEP-2352 binding check). */
  saveDiscoveryState(state: unknown): void {
    this.discovery = state;
  }

  discoveryState(): any {
    return this.discovery;
  }

  /** The next (or already given) authorization URL. */
  nextAuthorizationUrl(): Promise<URL> {
    if (this.authorizationUrl) return Promise.resolve(this.authorizationUrl);
    return new Promise((r) => this.urls.push(r));
  }
}

/**
 * A fetch that passes everything to the real fetch and notes the JSON-RPC methods the client
 * POSTs to /mcp (and whether each carried a bearer token), to check what era the client spoke.
 * It observes only; nothing is changed.
 */
export function observingFetch(mcpUrl: string): { fetch: typeof fetch; sent: { method: string; bearer: boolean }[] } {
  const sent: { method: string; bearer: boolean }[] = [];
  const observed = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url === mcpUrl && init?.method === 'POST' && typeof init.body === 'string') {
      const bearer = /^Bearer /.test(new Headers(init.headers).get('authorization') ?? '');
      const body = JSON.parse(init.body) as { method?: string } | { method?: string }[];
      for (const m of Array.isArray(body) ? body : [body]) if (m.method) sent.push({ method: m.method, bearer });
    }
    return fetch(input, init);
  }) as typeof fetch;
  return { fetch: observed, sent };
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

export interface Child {
  proc: ChildProcess;
  /** Everything the child wrote to stderr (and stdout, when not piped for protocol use). */
  output(): string;
  /** What the child wrote to stdout (empty when stdout is used for protocol messages). */
  stdout(): string;
  /** Resolves with the first match of `re` in the output. */
  waitFor(re: RegExp, ms: number, what: string): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (killing the process group after `ms`). */
  exited(ms: number): Promise<number | null>;
  /** SIGTERM to the whole process group, SIGKILL after 3 s; resolves when it is gone. */
  kill(): Promise<void>;
}

/** Spawns in its own process group so that kill() reaches npx's children too. */
export function startChild(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stdoutIsProtocol?: boolean }): Child {
  const proc = spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', npm_config_update_notifier: 'false', ...opts.env },
  });
  let out = '';
  let stdout = '';
  const watchers: (() => void)[] = [];
  const onData = (d: Buffer) => {
    out += String(d);
    for (const w of [...watchers]) w();
  };
  proc.stderr!.on('data', onData);
  if (!opts.stdoutIsProtocol) {
    proc.stdout!.on('data', (d: Buffer) => {
      stdout += String(d);
      onData(d);
    });
  }
  const gone = new Promise<number | null>((r) => proc.once('close', (code) => r(code)));
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (proc.pid) process.kill(-proc.pid, sig);
    } catch {
      /* already gone */
    }
  };
  const child: Child = {
    proc,
    output: () => out,
    stdout: () => stdout,
    waitFor(re, ms, what) {
      return within(
        new Promise<RegExpMatchArray>((resolve, reject) => {
          const check = () => {
            const m = re.exec(out);
            if (m) {
              watchers.splice(watchers.indexOf(check), 1);
              resolve(m);
            }
          };
          watchers.push(check);
          check();
          void gone.then((code) => {
            if (!re.exec(out)) reject(new Error(`${what}: process exited (${code}) first; output:\n${tail(out)}`));
          });
        }),
        ms,
        () => `${what}; output so far:\n${tail(out)}`,
      );
    },
    async exited(ms) {
      const timer = setTimeout(() => signal('SIGKILL'), ms);
      try {
        return await gone;
      } finally {
        clearTimeout(timer);
      }
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 3_000);
      await gone;
      clearTimeout(timer);
    },
  };
  return child;
}

/** The last lines of a child's output, for failure messages. */
export function tail(text: string, lines = 40): string {
  return text.split('\n').filter((l) => !l.startsWith('npm warn')).slice(-lines).join('\n');
}

// ---------------------------------------------------------------------------------------------
// What every client test checks
// ---------------------------------------------------------------------------------------------

/** "METHOD /path STATUS" for every request the server logged, in order. */
export function requestLog(stack: Stack): string[] {
  const lines: string[] = [];
  for (const chunk of stack.logs) {
    for (const line of chunk.split('\n')) {
      if (!line.includes('"msg":"request"')) continue;
      const o = JSON.parse(line) as { method: string; path: string; status: number };
      lines.push(`${o.method} ${o.path} ${o.status}`);
    }
  }
  return lines;
}

/**
 * The server saw the whole flow in order: an unauthenticated /mcp call answered 401, the
 * protected-resource metadata (RFC 9728), the authorization-server metadata (RFC 8414), a
 * registration (DCR) when `registration` is 'dcr', the consent and Notion callback, the token
 * exchange, and then authorized /mcp calls.
 */
export function expectFullFlow(stack: Stack, registration: 'dcr' | 'cimd'): void {
  const log = requestLog(stack);
  const at = (re: RegExp, from = 0) => {
    const i = log.findIndex((l, n) => n >= from && re.test(l));
    expect(i, `no ${re} after #${from} in\n${log.join('\n')}`).toBeGreaterThanOrEqual(0);
    return i;
  };
  const unauthorized = at(/^POST \/mcp 401$/);
  const prm = at(/^GET \/\.well-known\/oauth-protected-resource(\/mcp)? 200$/, unauthorized);
  const asm = at(/^GET \/\.well-known\/(oauth-authorization-server|openid-configuration) 200$/, prm);
  const reg = registration === 'dcr' ? at(/^POST \/register 201$/, asm) : asm;
  const consent = at(/^GET \/authorize 200$/, reg);
  const callback = at(/^GET \/oauth\/callback 302$/, consent);
  const token = at(/^POST \/token 200$/, callback);
  at(/^POST \/mcp 200$/, token);
  if (registration === 'cimd') expect(log.some((l) => l.startsWith('POST /register'))).toBe(false);
}

/**
 * The tools/call reached the fake Notion as `workspace`'s user: the last request to `path` carried
 * that user's Notion token (never our MCP token). Compares without printing any token.
 */
export function expectNotionCallAs(stack: Stack, workspace: FakeWorkspace, path = '/v1/search'): void {
  const calls = stack.fake.requests.filter((r) => r.path === path);
  expect(calls.length).toBeGreaterThan(0);
  const auth = calls.at(-1)!.headers.authorization ?? '';
  expect(auth.startsWith('Bearer ')).toBe(true);
  const owner = stack.fake.tokens.get(auth.slice('Bearer '.length));
  expect(owner?.id, 'the Notion call carried a token the fake Notion issued for this user').toBe(workspace.id);
  expect(stack.fake.revoked.has(auth.slice('Bearer '.length))).toBe(false);
}

/** The text a `search` tool result must carry for `workspace` (its data source's title). */
export function searchResultMarker(workspace: FakeWorkspace): string {
  return fakeDatabase(workspace).title;
}

/**
 * A tools/call `search` result as the user: not an error, its text content carries the workspace's
 * data source, and the call reached the fake Notion with that user's Notion token.
 */
export function expectSearchAs(stack: Stack, workspace: FakeWorkspace, result: object): void {
  const { isError, content } = result as { isError?: unknown; content?: unknown };
  expect(isError).not.toBe(true);
  const text = (content as { type?: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
  expect(text).toContain(searchResultMarker(workspace));
  expectNotionCallAs(stack, workspace);
}

/** Whether a tools/list result has our tools (names only), for every client. */
export function expectOurTools(names: string[]): void {
  expect(names).toContain('search');
  expect(names).toContain('fetch');
  expect(names).toContain('database_admin');
  expect(names.length).toBeGreaterThanOrEqual(15);
}

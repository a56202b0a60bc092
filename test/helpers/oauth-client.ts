import { createHash, randomBytes } from 'node:crypto';
import type { FakeWorkspace } from './fake-notion.js';
import type { Stack } from './stack.js';

/** A headless MCP client: what Claude does over HTTP, with a cookie-keeping "browser". */

export const CLAUDE_CALLBACK = 'https://claude.ai/api/mcp/auth_callback';

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: string;
}

export interface TokenSet {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  scope: string;
  token_type: string;
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Claude's real DCR request body. */
export function claudeRegistration(): Record<string, unknown> {
  return {
    client_name: 'Claude',
    redirect_uris: [CLAUDE_CALLBACK],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  };
}

export async function register(baseUrl: string, body: Record<string, unknown> = claudeRegistration()): Promise<RegisteredClient> {
  const res = await fetch(`${baseUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as RegisteredClient;
}

/** Keeps cookies per host and never follows redirects, so each hop can be inspected. */
export class CookieBrowser {
  private readonly jar = new Map<string, Map<string, string>>();

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const host = new URL(url).host;
    const cookies = this.jar.get(host);
    const headers = new Headers(init.headers);
    if (cookies?.size) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      if (!this.jar.has(host)) this.jar.set(host, new Map());
      this.jar.get(host)!.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    return res;
  }

  get(url: string): Promise<Response> {
    return this.request(url);
  }

  postForm(url: string, form: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }
}

export function authorizeUrl(baseUrl: string, client: RegisteredClient, extra: Record<string, string | undefined> & { challenge: string }): string {
  const url = new URL(`${baseUrl}/authorize`);
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0],
    code_challenge: extra.challenge,
    code_challenge_method: 'S256',
    state: 'client-state-123',
    resource: `${baseUrl}/mcp`,
    ...extra,
  };
  delete params.challenge;
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

/** Pulls the hidden consent fields out of our consent page. */
export function consentFields(html: string): { consent: string; csrf: string } {
  const consent = /name="consent" value="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!consent || !csrf) throw new Error(`no consent form in page: ${html.slice(0, 300)}`);
  const unescape = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
  return { consent: unescape(consent), csrf: unescape(csrf) };
}

export interface AuthorizeResult {
  /** The final redirect to the client, parsed. */
  redirect: URL;
  verifier: string;
}

/**
 * Runs /authorize → consent (approve) → fake Notion screen (allow) → /oauth/callback, and
 * returns the redirect that lands at the client with our code.
 */
export async function authorizeHeadless(
  stack: Stack,
  client: RegisteredClient,
  opts: { workspace: FakeWorkspace; access?: 'read' | 'write'; params?: Record<string, string | undefined>; browser?: CookieBrowser },
): Promise<AuthorizeResult> {
  const browser = opts.browser ?? new CookieBrowser();
  const { verifier, challenge } = pkce();
  const page = await browser.get(authorizeUrl(stack.baseUrl, client, { challenge, ...opts.params }));
  if (page.status !== 200) throw new Error(`authorize: ${page.status} ${page.headers.get('location') ?? (await page.text()).slice(0, 300)}`);
  const fields = consentFields(await page.text());
  const approved = await browser.postForm(`${stack.baseUrl}/authorize`, { ...fields, decision: 'approve', access: opts.access ?? 'write' });
  const toNotion = approved.headers.get('location');
  if (approved.status !== 303 || !toNotion) throw new Error(`consent: ${approved.status}`);
  stack.fake.authorizeAs = opts.workspace;
  const allowUrl = toNotion.replace('/v1/oauth/authorize?', '/v1/oauth/authorize/allow?');
  const fromNotion = await browser.get(allowUrl);
  const callback = fromNotion.headers.get('location');
  if (!callback) throw new Error(`fake notion did not redirect: ${fromNotion.status}`);
  const final = await browser.get(callback);
  const location = final.headers.get('location');
  if (final.status !== 302 || !location) throw new Error(`callback: ${final.status} ${(await final.text()).slice(0, 300)}`);
  return { redirect: new URL(location), verifier };
}

export async function tokenRequest(baseUrl: string, client: RegisteredClient, params: Record<string, string>): Promise<Response> {
  const body: Record<string, string> = { client_id: client.client_id, ...params };
  if (client.client_secret) body.client_secret = client.client_secret;
  return fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  });
}

export async function exchangeCode(stack: Stack, client: RegisteredClient, auth: AuthorizeResult): Promise<TokenSet> {
  const res = await tokenRequest(stack.baseUrl, client, {
    grant_type: 'authorization_code',
    code: auth.redirect.searchParams.get('code') ?? '',
    redirect_uri: client.redirect_uris[0]!,
    code_verifier: auth.verifier,
    resource: `${stack.baseUrl}/mcp`,
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  return (await res.json()) as TokenSet;
}

/** Register as Claude, authorize as `workspace`'s user, and get tokens. */
export async function connect(
  stack: Stack,
  workspace: FakeWorkspace,
  access: 'read' | 'write' = 'write',
): Promise<{ client: RegisteredClient; tokens: TokenSet }> {
  const client = await register(stack.baseUrl);
  const auth = await authorizeHeadless(stack, client, { workspace, access });
  return { client, tokens: await exchangeCode(stack, client, auth) };
}

export async function mcpPost(baseUrl: string, accessToken: string | null, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseUrl}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Calls a tool and returns its parsed JSON text plus the isError flag. */
export async function callTool(baseUrl: string, accessToken: string, name: string, args: Record<string, unknown> = {}): Promise<{ isError: boolean; data: any }> {
  const res = await mcpPost(baseUrl, accessToken, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });
  if (res.status !== 200) throw new Error(`tools/call: ${res.status} ${await res.text()}`);
  const reply = (await res.json()) as { result: { isError?: boolean; content: { text: string }[] } };
  return { isError: reply.result.isError === true, data: JSON.parse(reply.result.content[0]!.text) };
}

/**
 * Black-box security cases for our OAuth 2.1 authorization server, ported from
 * cloudflare/workers-oauth-provider's conformance list (docs/auth-and-claude.md §7 items 1, 3, 4, 5, 6).
 * Everything goes over HTTP to the real app (real SQLite, fake Notion); nothing is mocked inside.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CimdFetcher } from '../../src/oauth/cimd.js';
import { CLAUDE_CIMD_ID, CLAUDE_COM_CALLBACK, claudeDoc } from '../fixtures/apps.js';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import {
  CLAUDE_CALLBACK,
  CookieBrowser,
  type RegisteredClient,
  type TokenSet,
  authorizeHeadless,
  authorizeUrl,
  claudeRegistration,
  connect,
  consentFields,
  exchangeCode,
  mcpPost,
  pkce,
  register,
  tokenRequest,
} from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';

// ---------------------------------------------------------------------------------------------
// Local helpers (kept here rather than in the shared helpers)
// ---------------------------------------------------------------------------------------------

type Json = Record<string, any>;

/**
 * Claude's published document (test/fixtures/apps.ts; keycloak/keycloak#50362 quotes it), which lists
 * the jwt-bearer grant we do not offer, plus the claude.com callback Anthropic announces for later.
 */
const CLAUDE_CIMD_DOC = claudeDoc(CLAUDE_CIMD_ID, [CLAUDE_CALLBACK, CLAUDE_COM_CALLBACK]);
const STATE = 'client-state-123'; // what authorizeUrl() sends by default

const ws = fakeWorkspace('A');

async function body(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

/** Status of an authenticated MCP ping: 200 for a live token, 401 otherwise. */
async function mcpStatus(stack: Stack, accessToken: string): Promise<number> {
  const res = await mcpPost(stack.baseUrl, accessToken, { jsonrpc: '2.0', id: 1, method: 'ping' });
  await res.arrayBuffer();
  return res.status;
}

async function refresh(stack: Stack, client: RegisteredClient, refreshToken: string, extra: Record<string, string> = {}): Promise<Response> {
  return tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
}

async function refreshOk(stack: Stack, client: RegisteredClient, refreshToken: string, extra: Record<string, string> = {}): Promise<TokenSet> {
  const res = await refresh(stack, client, refreshToken, extra);
  expect(res.status, 'refresh should succeed').toBe(200);
  return (await res.json()) as TokenSet;
}

async function expectOAuthError(res: Response, status: number, error: string): Promise<Json> {
  const b = await body(res);
  expect({ status: res.status, error: b.error }).toEqual({ status, error });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return b;
}

/** An error shown to the person: an HTML page with a 4xx status, and never a redirect anywhere. */
async function expectErrorPage(res: Response, status?: number): Promise<string> {
  expect(res.headers.get('location')).toBeNull();
  if (status !== undefined) expect(res.status).toBe(status);
  else {
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  }
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  return res.text();
}

/** A redirect back to the client's registered callback with an OAuth error, the state and iss. */
function expectClientError(stack: Stack, res: Response, error: string, callback = CLAUDE_CALLBACK): URL {
  expect([302, 303]).toContain(res.status);
  const location = res.headers.get('location');
  expect(location).toBeTruthy();
  const url = new URL(location!);
  expect(url.origin + url.pathname).toBe(callback);
  expect(url.searchParams.get('error')).toBe(error);
  expect(url.searchParams.get('state')).toBe(STATE);
  expect(url.searchParams.get('iss')).toBe(stack.baseUrl);
  expect(url.searchParams.get('code')).toBeNull();
  return url;
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

async function rawRegister(stack: Stack, payload: unknown): Promise<Response> {
  return fetch(`${stack.baseUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
}

async function revoke(stack: Stack, client: RegisteredClient | null, form: Record<string, string>): Promise<Response> {
  const creds: Record<string, string> = client ? { client_id: client.client_id, ...(client.client_secret ? { client_secret: client.client_secret } : {}) } : {};
  return postForm(`${stack.baseUrl}/revoke`, { ...creds, ...form });
}

/** GET /authorize in a browser; returns the consent page's form fields. */
async function openConsent(stack: Stack, client: RegisteredClient, params: Record<string, string | undefined> = {}, browser = new CookieBrowser()) {
  const { verifier, challenge } = pkce();
  const page = await browser.get(authorizeUrl(stack.baseUrl, client, { challenge, ...params }));
  const html = await page.text();
  expect(page.status, html.slice(0, 300)).toBe(200);
  return { browser, page, html, fields: consentFields(html), verifier };
}

/** Consent approved: the browser is sent to Notion. Returns the URL of Notion's screen. */
async function approve(stack: Stack, browser: CookieBrowser, fields: { consent: string; csrf: string }, access: 'read' | 'write' = 'write'): Promise<URL> {
  const res = await browser.postForm(`${stack.baseUrl}/authorize`, { ...fields, decision: 'approve', access });
  expect(res.status).toBe(303);
  const to = new URL(res.headers.get('location')!);
  expect(to.origin + to.pathname).toBe(`${stack.fake.url}/v1/oauth/authorize`);
  return to;
}

/** The user clicks "Allow" (or "Cancel") on the fake Notion screen; returns our callback URL. */
async function notionAnswers(stack: Stack, browser: CookieBrowser, notionUrl: URL, choice: 'allow' | 'cancel' = 'allow'): Promise<string> {
  stack.fake.authorizeAs = ws;
  const res = await browser.get(notionUrl.toString().replace('/v1/oauth/authorize?', `/v1/oauth/authorize/${choice}?`));
  const callback = res.headers.get('location');
  expect(callback).toBeTruthy();
  expect(callback!.startsWith(`${stack.baseUrl}/oauth/callback?`)).toBe(true);
  return callback!;
}

/** Exchanges the code in an authorize result, with the given redirect URI. */
async function exchangeWith(stack: Stack, client: RegisteredClient, code: string, verifier: string, redirectUri = client.redirect_uris[0]!, extra: Record<string, string> = {}): Promise<Response> {
  return tokenRequest(stack.baseUrl, client, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    resource: `${stack.baseUrl}/mcp`,
    ...extra,
  });
}

/** A code fresh from a full authorize round trip. */
async function freshCode(stack: Stack, client: RegisteredClient, opts: { access?: 'read' | 'write'; params?: Record<string, string | undefined> } = {}) {
  const auth = await authorizeHeadless(stack, client, { workspace: ws, ...opts });
  return { code: auth.redirect.searchParams.get('code')!, verifier: auth.verifier, auth };
}

// ---------------------------------------------------------------------------------------------
// The shared stack: its clock is real time plus a skew that tests may only move forward.
// ---------------------------------------------------------------------------------------------

let stack: Stack;
let skew = 0;
const advance = (ms: number) => {
  skew += ms;
};

beforeAll(async () => {
  stack = await startStack({ now: () => Date.now() + skew });
});
afterAll(async () => stack?.close());

describe('RFC 8414 / RFC 9728: discovery metadata', () => {
  it('AS metadata: issuer byte-equal to BASE_URL, S256 only, endpoints, grants, auth methods, CIMD and iss flags', async () => {
    const res = await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    const m = await body(res);
    expect(m.issuer).toBe(stack.baseUrl);
    expect(m.issuer.endsWith('/')).toBe(false);
    expect(m.authorization_endpoint).toBe(`${stack.baseUrl}/authorize`);
    expect(m.token_endpoint).toBe(`${stack.baseUrl}/token`);
    expect(m.registration_endpoint).toBe(`${stack.baseUrl}/register`);
    expect(m.revocation_endpoint).toBe(`${stack.baseUrl}/revoke`);
    expect(m.code_challenge_methods_supported).toEqual(['S256']);
    expect(m.response_types_supported).toEqual(['code']);
    expect([...m.grant_types_supported].sort()).toEqual(['authorization_code', 'refresh_token']);
    expect([...m.token_endpoint_auth_methods_supported].sort()).toEqual(['client_secret_basic', 'client_secret_post', 'none']);
    expect(m.client_id_metadata_document_supported).toBe(true);
    expect(m.authorization_response_iss_parameter_supported).toBe(true);
  });

  it('PRM at the root and at the /mcp path: resource is exactly ${baseUrl}/mcp, authorization_servers is [issuer], no offline_access', async () => {
    const issuer = (await body(await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`))).issuer;
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const res = await fetch(`${stack.baseUrl}${path}`);
      expect(res.status, path).toBe(200);
      const prm = await body(res);
      expect(prm.resource).toBe(`${stack.baseUrl}/mcp`);
      expect(prm.authorization_servers).toEqual([issuer]);
      expect(Array.isArray(prm.scopes_supported)).toBe(true);
      expect(prm.scopes_supported).not.toContain('offline_access');
    }
  });

  it('the 401 challenge on /mcp points at the PRM and never asks for offline_access', async () => {
    const res = await mcpPost(stack.baseUrl, null, { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain(`resource_metadata="${stack.baseUrl}/.well-known/oauth-protected-resource/mcp"`);
    expect(challenge).not.toContain('offline_access');
  });
});

describe('RFC 7591: dynamic client registration', () => {
  it("Claude's body (client_secret_post) → 201 with a secret that never expires", async () => {
    const res = await rawRegister(stack, claudeRegistration());
    expect(res.status).toBe(201);
    const c = await body(res);
    expect(typeof c.client_id).toBe('string');
    expect(c.client_secret).toEqual(expect.any(String));
    expect(c.client_secret.length).toBeGreaterThanOrEqual(32);
    expect(c.client_secret_expires_at).toBe(0);
    expect(c.redirect_uris).toEqual([CLAUDE_CALLBACK]);
    expect(c.token_endpoint_auth_method).toBe('client_secret_post');
  });

  it('a public client (none) gets no secret, and exchanges its code without one', async () => {
    const res = await rawRegister(stack, { ...claudeRegistration(), token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(201);
    const c = (await res.json()) as RegisteredClient & Json;
    expect(c.client_secret).toBeUndefined();
    expect(c.client_secret_expires_at).toBeUndefined();
    expect(c.token_endpoint_auth_method).toBe('none');
    const auth = await authorizeHeadless(stack, c, { workspace: ws });
    const tokens = await exchangeCode(stack, c, auth);
    expect(await mcpStatus(stack, tokens.access_token)).toBe(200);
  });

  it('duplicate registration (Claude registers twice) gives two distinct clients that both work', async () => {
    const a = await register(stack.baseUrl);
    const b = await register(stack.baseUrl);
    expect(a.client_id).not.toBe(b.client_id);
    expect(a.client_secret).not.toBe(b.client_secret);
    for (const client of [b, a]) {
      const tokens = await exchangeCode(stack, client, await authorizeHeadless(stack, client, { workspace: ws }));
      expect(await mcpStatus(stack, tokens.access_token)).toBe(200);
    }
  });

  const refused: [string, Json][] = [
    ['an http redirect to a non-loopback host', { redirect_uris: ['http://app.example.com/cb'] }],
    // Private-use schemes are allowed (RFC 8252 §7.1, see below), but never one a browser runs, a
    // web page can claim, or that dodges the loopback rule for http.
    ['a javascript: redirect', { redirect_uris: ['javascript:alert(document.domain)//'] }],
    ['a javascript: redirect split by a tab', { redirect_uris: ['java\tscript:alert(1)'] }],
    ['a data: redirect', { redirect_uris: ['data:text/html,<script>alert(1)</script>'] }],
    ['a vbscript: redirect', { redirect_uris: ['vbscript:msgbox(1)'] }],
    ['a file: redirect', { redirect_uris: ['file:///etc/passwd'] }],
    ['a web+ scheme a web page can register', { redirect_uris: ['web+notion://cb'] }],
    ['a scheme from the registerProtocolHandler safelist', { redirect_uris: ['mailto:someone@example.com'] }],
    ['an http-like scheme', { redirect_uris: ['https+evil://evil.example/cb'] }],
    ['an intent: redirect', { redirect_uris: ['intent://cb#Intent;scheme=evil;end'] }],
    ['a drive-letter-like scheme', { redirect_uris: ['c:/cb'] }],
    ['a private-use redirect with credentials', { redirect_uris: ['cursor://user:pw@anysphere.cursor-mcp/oauth/callback'] }],
    ['a redirect with whitespace', { redirect_uris: ['https://app.example.com/c b'] }],
    ['a redirect with a fragment', { redirect_uris: ['https://app.example.com/cb#frag'] }],
    ['missing redirect_uris', { redirect_uris: undefined }],
    ['empty redirect_uris', { redirect_uris: [] }],
    ['token_endpoint_auth_method private_key_jwt', { token_endpoint_auth_method: 'private_key_jwt' }],
    ['grant type implicit', { grant_types: ['implicit'] }],
    ['grant types without authorization_code', { grant_types: ['client_credentials', 'refresh_token'] }],
    ['empty grant_types', { grant_types: [] }],
    ['response types without code', { response_types: ['token'] }],
  ];
  for (const [what, patch] of refused) {
    it(`refuses ${what} with 400 invalid_client_metadata`, async () => {
      const res = await rawRegister(stack, { ...claudeRegistration(), ...patch });
      const b = await expectOAuthError(res, 400, 'invalid_client_metadata');
      expect(b.client_id).toBeUndefined();
    });
  }

  it('narrows grant and response types to the supported ones instead of refusing (RFC 7591 §3.2.1), as for CIMD', async () => {
    const res = await rawRegister(stack, {
      ...claudeRegistration(),
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code', 'id_token'],
    });
    expect(res.status).toBe(201);
    const c = (await res.json()) as RegisteredClient & Json;
    expect(c.grant_types).toEqual(['authorization_code', 'refresh_token']);
    expect(c.response_types).toEqual(['code']);
    // Nothing the client listed beyond that is usable.
    for (const grant of ['client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer']) {
      await expectOAuthError(await tokenRequest(stack.baseUrl, c, { grant_type: grant, assertion: 'x.y.z' }), 400, 'unsupported_grant_type');
    }
    const tokens = await exchangeCode(stack, c, await authorizeHeadless(stack, c, { workspace: ws }));
    expect(await mcpStatus(stack, tokens.access_token)).toBe(200);
    // Narrowing never adds: a client that asked only for authorization_code gets no refresh grant.
    const codeOnly = await register(stack.baseUrl, { ...claudeRegistration(), grant_types: ['authorization_code', 'client_credentials'] });
    expect((codeOnly as RegisteredClient & Json).grant_types).toEqual(['authorization_code']);
  });

  it('accepts private-use scheme redirects (RFC 8252 §7.1), kept byte for byte', async () => {
    for (const uri of ['cursor://anysphere.cursor-mcp/oauth/callback', 'com.example.app:/oauth2redirect/example-provider', 'vscode://vscode.github-authentication/did-authenticate']) {
      const res = await rawRegister(stack, { ...claudeRegistration(), redirect_uris: [uri] });
      expect(res.status, uri).toBe(201);
      expect((await body(res)).redirect_uris).toEqual([uri]);
    }
  });

  it('accepts loopback http redirects (RFC 8252)', async () => {
    for (const uri of ['http://127.0.0.1:33418/callback', 'http://localhost:8080/cb']) {
      const res = await rawRegister(stack, { ...claudeRegistration(), redirect_uris: [uri] });
      expect(res.status, uri).toBe(201);
      expect((await body(res)).redirect_uris).toEqual([uri]);
    }
  });
});

describe('CIMD: client ID metadata documents (Claude\'s document as a local fixture)', () => {
  let cimd: Stack;
  const fetched: string[] = [];
  const MISMATCH_URL = 'https://impostor.example/oauth/client.json';
  const documents: Record<string, unknown> = {
    [CLAUDE_CIMD_ID]: CLAUDE_CIMD_DOC,
    // Claims to be Claude, but is served from another URL.
    [MISMATCH_URL]: { ...CLAUDE_CIMD_DOC, client_id: CLAUDE_CIMD_ID },
  };
  const cimdFetch: CimdFetcher = async (url) => {
    fetched.push(url);
    const doc = documents[url];
    if (!doc) return { status: 404, headers: {}, body: 'not found' };
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) };
  };
  const claude: RegisteredClient = { client_id: CLAUDE_CIMD_ID, redirect_uris: [CLAUDE_CALLBACK], token_endpoint_auth_method: 'none' };
  const claudeCom: RegisteredClient = { ...claude, redirect_uris: [CLAUDE_COM_CALLBACK] };

  beforeAll(async () => {
    cimd = await startStack({ cimdFetch });
  });
  afterAll(async () => cimd?.close());

  it('the full flow works with the document URL as client_id, on both callbacks, as a public client', async () => {
    for (const client of [claude, claudeCom]) {
      const consent = await openConsent(cimd, client);
      expect(consent.html).toContain('Claude');
      const auth = await authorizeHeadless(cimd, client, { workspace: ws });
      expect(auth.redirect.origin + auth.redirect.pathname).toBe(client.redirect_uris[0]);
      expect(auth.redirect.searchParams.get('iss')).toBe(cimd.baseUrl);
      const tokens = await exchangeCode(cimd, client, auth); // no client_secret anywhere
      expect(await mcpStatus(cimd, tokens.access_token)).toBe(200);
      const next = await refreshOk(cimd, client, tokens.refresh_token);
      expect(await mcpStatus(cimd, next.access_token)).toBe(200);
    }
    expect(fetched).toContain(CLAUDE_CIMD_ID);
    // The jwt-bearer grant the document lists is dropped, not granted.
    const jwt = await tokenRequest(cimd.baseUrl, claude, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: 'x.y.z' });
    expect(jwt.status).toBe(400);
    expect((await body(jwt)).error).toBe('unsupported_grant_type');
  });

  it('a redirect_uri the document does not list is refused with a page', async () => {
    const { challenge } = pkce();
    const res = await fetch(authorizeUrl(cimd.baseUrl, claude, { challenge, redirect_uri: 'https://evil.example/api/mcp/auth_callback' }), { redirect: 'manual' });
    await expectErrorPage(res);
  });

  it('a document whose client_id differs from its URL → error page at /authorize, not a redirect', async () => {
    const impostor: RegisteredClient = { ...claude, client_id: MISMATCH_URL };
    const { challenge } = pkce();
    const res = await fetch(authorizeUrl(cimd.baseUrl, impostor, { challenge }), { redirect: 'manual' });
    await expectErrorPage(res);
    expect(fetched).toContain(MISMATCH_URL);
  });
});

describe('OAuth 2.1 §4.1.1: /authorize validation', () => {
  let client: RegisteredClient;
  beforeAll(async () => {
    client = await register(stack.baseUrl);
  });

  const get = (params: Record<string, string | undefined>, c: RegisteredClient = client) =>
    fetch(authorizeUrl(stack.baseUrl, c, { challenge: pkce().challenge, ...params }), { redirect: 'manual' });

  it('unknown client → HTML error page, no Location', async () => {
    await expectErrorPage(await get({}, { ...client, client_id: 'no-such-client' }));
  });

  it('unregistered redirect_uri → HTML error page, no Location', async () => {
    await expectErrorPage(await get({ redirect_uri: 'https://evil.example/api/mcp/auth_callback' }));
    await expectErrorPage(await get({ redirect_uri: `${CLAUDE_CALLBACK}/extra` }));
  });

  const redirected: [string, Record<string, string | undefined>, string][] = [
    ['missing code_challenge', { code_challenge: undefined, challenge: '' }, 'invalid_request'],
    ['code_challenge_method=plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['missing code_challenge_method', { code_challenge_method: undefined }, 'invalid_request'],
    ['response_type=token', { response_type: 'token' }, 'unsupported_response_type'],
    ['a foreign resource', { resource: 'https://evil.example/mcp' }, 'invalid_target'],
    ['a resource with a fragment', { resource: 'RESOURCE#frag' }, 'invalid_target'],
    ['a state over 2,048 characters', { state: 's'.repeat(2049) }, 'invalid_request'],
  ];
  for (const [what, params, error] of redirected) {
    it(`${what} → 400 HTML error page naming ${error}, never a redirect (RFC 9700 §4.11.2)`, async () => {
      const p = { ...params };
      if (p.resource?.startsWith('RESOURCE')) p.resource = p.resource.replace('RESOURCE', `${stack.baseUrl}/mcp`);
      const res = await fetch(authorizeUrl(stack.baseUrl, client, { challenge: params.challenge ?? pkce().challenge, ...p }), { redirect: 'manual' });
      expect(await expectErrorPage(res, 400)).toContain(error);
    });
  }

  it('a resource with upper-case scheme and host is accepted (RFC 8707 case folding)', async () => {
    const upper = `HTTP://127.0.0.1:${new URL(stack.baseUrl).port}/mcp`;
    const { html } = await openConsent(stack, client, { resource: upper });
    expect(html).toContain('name="consent"');
    const { code, verifier } = await freshCode(stack, client, { params: { resource: upper } });
    const tokens = await exchangeWith(stack, client, code, verifier, undefined, { resource: upper });
    expect(tokens.status).toBe(200);
  });
});

describe('Consent page and the confused-deputy defences (MCP security best practices)', () => {
  let client: RegisteredClient;
  beforeAll(async () => {
    client = await register(stack.baseUrl);
  });

  it('names the client and the redirect host, and cannot be framed', async () => {
    const { page, html } = await openConsent(stack, client);
    expect(html).toContain('Claude');
    expect(html).toContain('claude.ai');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
  });

  it('a private-use redirect is shown as scheme://host with the on-device warning, even when its host reads like claude.ai', async () => {
    const uri = 'com.evil.app://claude.ai/api/mcp/auth_callback';
    const app = await register(stack.baseUrl, { ...claudeRegistration(), redirect_uris: [uri] });
    const { html } = await openConsent(stack, app, { redirect_uri: uri });
    expect(html).toContain('<span class="host">com.evil.app:&#47;&#47;claude.ai</span>');
    expect(html).toContain('a program on your own computer');
    expect(html).not.toContain('<span class="host">claude.ai</span>');
  });

  it('escapes a malicious client_name', async () => {
    const evil = await register(stack.baseUrl, { ...claudeRegistration(), client_name: '<script>alert(1)</script>' });
    const { html } = await openConsent(stack, evil);
    expect(html).not.toContain('<script');
    expect(html).toContain('alert(1)');
    expect(html).toMatch(/&#60;script&#62;|&lt;script&gt;/);
  });

  it('sends nothing to Notion before the user approves', async () => {
    stack.fake.reset();
    const { browser, fields } = await openConsent(stack, client);
    expect(stack.fake.requests).toEqual([]);
    const notionUrl = await approve(stack, browser, fields);
    // Only now does the browser go to Notion, with a state we made after consent.
    expect(notionUrl.searchParams.get('state')).toBeTruthy();
    expect(notionUrl.searchParams.get('state')).not.toBe(STATE);
    expect(stack.fake.requests.some((r) => r.path.startsWith('/v1/oauth/authorize'))).toBe(false);
  });

  it('deny → redirect to the client with access_denied, state and iss', async () => {
    const { browser, fields } = await openConsent(stack, client);
    const res = await browser.postForm(`${stack.baseUrl}/authorize`, { ...fields, decision: 'deny' });
    expectClientError(stack, res, 'access_denied');
  });

  it('the consent record is single use: re-posting the same form → error page', async () => {
    const { browser, fields } = await openConsent(stack, client);
    await approve(stack, browser, fields);
    const again = await browser.postForm(`${stack.baseUrl}/authorize`, { ...fields, decision: 'approve', access: 'write' });
    await expectErrorPage(again);
  });

  it('a POST without the browser cookie → error page, no redirect to Notion', async () => {
    const { fields } = await openConsent(stack, client);
    const res = await postForm(`${stack.baseUrl}/authorize`, { ...fields, decision: 'approve', access: 'write' });
    await expectErrorPage(res);
  });

  it('a POST with a wrong or missing csrf token → 403 page, no redirect to Notion', async () => {
    for (const forge of [(csrf: string) => csrf.slice(0, -4) + (csrf.endsWith('AAAA') ? 'BBBB' : 'AAAA'), () => '']) {
      const { browser, fields } = await openConsent(stack, client);
      const res = await browser.postForm(`${stack.baseUrl}/authorize`, { ...fields, csrf: forge(fields.csrf), decision: 'approve', access: 'write' });
      await expectErrorPage(res, 403);
    }
  });

  it('the consent form of one browser cannot be posted from another', async () => {
    const { fields } = await openConsent(stack, client);
    const other = new CookieBrowser();
    await other.get(authorizeUrl(stack.baseUrl, client, { challenge: pkce().challenge })); // gets its own cookie
    const res = await other.postForm(`${stack.baseUrl}/authorize`, { ...fields, decision: 'approve', access: 'write' });
    await expectErrorPage(res, 403);
  });

  it("Notion's state is single use: replaying the callback URL → error page", async () => {
    const { browser, fields } = await openConsent(stack, client);
    const callback = await notionAnswers(stack, browser, await approve(stack, browser, fields));
    const first = await browser.get(callback);
    expect(first.status).toBe(302);
    expect(new URL(first.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    await expectErrorPage(await browser.get(callback));
  });

  it("Notion's state is bound to the browser: the callback in another browser → 403 page", async () => {
    for (const elsewhere of [(url: string) => new CookieBrowser().get(url), (url: string) => fetch(url, { redirect: 'manual' })]) {
      const { browser, fields } = await openConsent(stack, client);
      const callback = await notionAnswers(stack, browser, await approve(stack, browser, fields));
      await expectErrorPage(await elsewhere(callback), 403); // another browser, then no cookie at all
    }
  });

  it('an unknown or missing Notion state → error page', async () => {
    const browser = new CookieBrowser();
    await expectErrorPage(await browser.get(`${stack.baseUrl}/oauth/callback?code=x&state=not-ours`));
    await expectErrorPage(await browser.get(`${stack.baseUrl}/oauth/callback?code=x`));
  });

  it('Notion answers error=access_denied → redirect to the client with access_denied, state and iss', async () => {
    const { browser, fields } = await openConsent(stack, client);
    const callback = await notionAnswers(stack, browser, await approve(stack, browser, fields), 'cancel');
    expect(new URL(callback).searchParams.get('error')).toBe('access_denied');
    expectClientError(stack, await browser.get(callback), 'access_denied');
  });

  it("a failed Notion code exchange → redirect to the client with an error, never a JSON page", async () => {
    const { browser, fields } = await openConsent(stack, client);
    const callback = await notionAnswers(stack, browser, await approve(stack, browser, fields));
    stack.fake.reset();
    stack.fake.enqueue({ status: 400, pathPrefix: '/v1/oauth/token', body: { error: 'invalid_grant', error_description: 'Invalid code.' } });
    const res = await browser.get(callback);
    expect(res.status).toBe(302);
    expect(res.headers.get('content-type') ?? '').not.toMatch(/json/);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin + to.pathname).toBe(CLAUDE_CALLBACK);
    expect(to.searchParams.get('error')).toBeTruthy();
    expect(to.searchParams.get('code')).toBeNull();
    expect(to.searchParams.get('state')).toBe(STATE);
    expect(to.searchParams.get('iss')).toBe(stack.baseUrl);
    expect(stack.fake.requests.filter((r) => r.path === '/v1/oauth/token')).toHaveLength(1);
    stack.fake.reset();
  });
});

describe('OAuth 2.1 §4.1.3: /token with authorization codes', () => {
  let client: RegisteredClient;
  let other: RegisteredClient;
  beforeAll(async () => {
    client = await register(stack.baseUrl);
    other = await register(stack.baseUrl);
  });

  it('PKCE: a wrong verifier → 400 invalid_grant, and the code still works with the right one', async () => {
    const { code, verifier } = await freshCode(stack, client);
    await expectOAuthError(await exchangeWith(stack, client, code, pkce().verifier), 400, 'invalid_grant');
    await expectOAuthError(await exchangeWith(stack, client, code, ''), 400, 'invalid_request');
    const ok = await exchangeWith(stack, client, code, verifier);
    expect(ok.status).toBe(200);
    expect(await mcpStatus(stack, ((await ok.json()) as TokenSet).access_token)).toBe(200);
  });

  it('a redirect_uri mismatch → invalid_grant, and the code is not consumed', async () => {
    const { code, verifier } = await freshCode(stack, client);
    await expectOAuthError(await exchangeWith(stack, client, code, verifier, CLAUDE_COM_CALLBACK), 400, 'invalid_grant');
    expect((await exchangeWith(stack, client, code, verifier)).status).toBe(200);
  });

  it("another client's code → invalid_grant, and the code is not consumed", async () => {
    const { code, verifier } = await freshCode(stack, client);
    await expectOAuthError(await exchangeWith(stack, other, code, verifier), 400, 'invalid_grant');
    expect((await exchangeWith(stack, client, code, verifier)).status).toBe(200);
  });

  it('a resource mismatch at /token → invalid_target, and the code is not consumed', async () => {
    const { code, verifier } = await freshCode(stack, client);
    await expectOAuthError(await exchangeWith(stack, client, code, verifier, undefined, { resource: 'https://evil.example/mcp' }), 400, 'invalid_target');
    await expectOAuthError(await exchangeWith(stack, client, code, verifier, undefined, { resource: `${stack.baseUrl}/mcp#x` }), 400, 'invalid_target');
    expect((await exchangeWith(stack, client, code, verifier)).status).toBe(200);
  });

  it('an unknown client → 401 invalid_client as JSON (so Claude re-registers)', async () => {
    const { code, verifier } = await freshCode(stack, client);
    const res = await exchangeWith(stack, { ...client, client_id: 'no-such-client' }, code, verifier);
    await expectOAuthError(res, 401, 'invalid_client');
    expect((await exchangeWith(stack, client, code, verifier)).status).toBe(200);
  });

  it('a confidential client with a wrong or missing secret → 401 invalid_client, code not consumed', async () => {
    const { code, verifier } = await freshCode(stack, client);
    await expectOAuthError(await exchangeWith(stack, { ...client, client_secret: `${client.client_secret}x` }, code, verifier), 401, 'invalid_client');
    const { client_secret: _omit, ...noSecret } = client;
    await expectOAuthError(await exchangeWith(stack, noSecret, code, verifier), 401, 'invalid_client');
    expect((await exchangeWith(stack, client, code, verifier)).status).toBe(200);
  });

  it('client_secret_basic works with an Authorization: Basic header', async () => {
    const basicClient = await register(stack.baseUrl, { ...claudeRegistration(), token_endpoint_auth_method: 'client_secret_basic' });
    expect(basicClient.client_secret).toBeTruthy();
    const { code, verifier } = await freshCode(stack, basicClient);
    const form = { grant_type: 'authorization_code', code, redirect_uri: CLAUDE_CALLBACK, code_verifier: verifier, resource: `${stack.baseUrl}/mcp` };
    const wrong = await postForm(`${stack.baseUrl}/token`, form, { authorization: basic(basicClient.client_id, 'not-the-secret') });
    await expectOAuthError(wrong, 401, 'invalid_client');
    const res = await postForm(`${stack.baseUrl}/token`, form, { authorization: basic(basicClient.client_id, basicClient.client_secret!) });
    expect(res.status).toBe(200);
    expect(await mcpStatus(stack, ((await res.json()) as TokenSet).access_token)).toBe(200);
  });

  it('a Basic header and a client_secret in the body together → 400', async () => {
    const { code, verifier } = await freshCode(stack, client);
    const form = { grant_type: 'authorization_code', code, redirect_uri: CLAUDE_CALLBACK, code_verifier: verifier, client_id: client.client_id, client_secret: client.client_secret! };
    const res = await postForm(`${stack.baseUrl}/token`, form, { authorization: basic(client.client_id, client.client_secret!) });
    await expectOAuthError(res, 400, 'invalid_request');
  });

  it('an unsupported grant_type → 400 unsupported_grant_type', async () => {
    for (const grant_type of ['client_credentials', 'password', 'urn:ietf:params:oauth:grant-type:device_code']) {
      await expectOAuthError(await tokenRequest(stack.baseUrl, client, { grant_type }), 400, 'unsupported_grant_type');
    }
  });

  it('every /token response, success or error, carries Cache-Control: no-store', async () => {
    const { code, verifier } = await freshCode(stack, client);
    const responses: [string, Response][] = [
      ['invalid_grant', await exchangeWith(stack, client, code, pkce().verifier)],
      ['invalid_client', await exchangeWith(stack, { ...client, client_id: 'no-such-client' }, code, verifier)],
      ['unsupported_grant_type', await tokenRequest(stack.baseUrl, client, { grant_type: 'password' })],
      ['missing grant_type', await tokenRequest(stack.baseUrl, client, {})],
      ['invalid_target', await exchangeWith(stack, client, code, verifier, undefined, { resource: 'https://evil.example/mcp' })],
      ['success', await exchangeWith(stack, client, code, verifier)],
      ['retry', await exchangeWith(stack, client, code, verifier)],
      ['replay', await exchangeWith(stack, client, code, pkce().verifier)],
    ];
    expect(responses.map(([, r]) => r.status)).toEqual([400, 401, 400, 400, 400, 200, 200, 400]);
    for (const [what, res] of responses) {
      expect(res.headers.get('cache-control') ?? '(none)', what).toMatch(/no-store/);
      await res.arrayBuffer();
    }
  });

  // Body-parser failures are answered by the shared error mapper in src/http/server.ts before
  // the token handler runs, so they must get no-store there too.
  it('even a body the parser rejects (malformed JSON, oversized form) gets Cache-Control: no-store', async () => {
    const malformed = await fetch(`${stack.baseUrl}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":' });
    await expectOAuthError(malformed.clone(), 400, 'invalid_request');
    const oversized = await postForm(`${stack.baseUrl}/token`, { grant_type: 'authorization_code', code: 'x'.repeat(70_000) });
    expect(oversized.status).toBe(413);
    for (const res of [malformed, oversized]) expect(res.headers.get('cache-control') ?? '(none)').toMatch(/no-store/);
  });

  it('a retried exchange (same client, redirect and verifier) gets the same tokens; a replay without the verifier revokes them', async () => {
    const { code, verifier } = await freshCode(stack, client);
    const first = await exchangeWith(stack, client, code, verifier);
    expect(first.status).toBe(200);
    const tokens = (await first.json()) as TokenSet;
    expect(await mcpStatus(stack, tokens.access_token)).toBe(200);
    // The response was lost and the client sends the same request again.
    const again = (await (await exchangeWith(stack, client, code, verifier)).json()) as TokenSet;
    expect(again).toMatchObject({ access_token: tokens.access_token, refresh_token: tokens.refresh_token, scope: tokens.scope });
    expect(await mcpStatus(stack, tokens.access_token)).toBe(200);
    // Someone holding only the code (browser history): RFC 6749 §4.1.2, everything from it is revoked.
    await expectOAuthError(await exchangeWith(stack, client, code, pkce().verifier), 400, 'invalid_grant');
    expect(await mcpStatus(stack, tokens.access_token)).toBe(401);
    await expectOAuthError(await refresh(stack, client, tokens.refresh_token), 400, 'invalid_grant');
  });

  it('parallel exchanges of one code all get the same tokens', async () => {
    const { code, verifier } = await freshCode(stack, client);
    const answers = await Promise.all(Array.from({ length: 6 }, () => exchangeWith(stack, client, code, verifier)));
    expect(answers.map((r) => r.status)).toEqual(Array(6).fill(200));
    const sets = (await Promise.all(answers.map((r) => r.json()))) as TokenSet[];
    expect(new Set(sets.map((t) => t.refresh_token)).size).toBe(1);
    expect(await mcpStatus(stack, sets[0]!.access_token)).toBe(200);
    await refreshOk(stack, client, sets[0]!.refresh_token);
  });

  it('a replay by another client revokes the tokens too', async () => {
    const { code, verifier } = await freshCode(stack, client);
    const tokens = (await (await exchangeWith(stack, client, code, verifier)).json()) as TokenSet;
    await expectOAuthError(await exchangeWith(stack, other, code, verifier), 400, 'invalid_grant');
    expect(await mcpStatus(stack, tokens.access_token)).toBe(401);
  });

  it('an expired code → invalid_grant', async () => {
    const { code, verifier } = await freshCode(stack, client);
    advance(stack.app.config.ttl.authCodeS * 1000 + 1000);
    await expectOAuthError(await exchangeWith(stack, client, code, verifier), 400, 'invalid_grant');
  });

  it('a made-up code → invalid_grant', async () => {
    await expectOAuthError(await exchangeWith(stack, client, 'nmr_ac_made-up', pkce().verifier), 400, 'invalid_grant');
  });
});

describe('OAuth 2.1 §4.3: refresh tokens (rotation, reuse detection, downscoping)', () => {
  it('rotates; the previous token gets the same answer until its successor is used, then presenting it ends the grant (RFC 9700 §4.14.2)', async () => {
    const { client, tokens: t0 } = await connect(stack, ws);
    advance(1000);
    const t1 = await refreshOk(stack, client, t0.refresh_token);
    expect(t1.refresh_token).not.toBe(t0.refresh_token);
    expect(t1.access_token).not.toBe(t0.access_token);
    expect(await mcpStatus(stack, t1.access_token)).toBe(200);

    // The client never received t1 (a dropped response) and retries with t0, even a day later.
    advance(86_400_000);
    const retry = await refreshOk(stack, client, t0.refresh_token);
    expect(retry).toMatchObject({ access_token: t1.access_token, refresh_token: t1.refresh_token, scope: t1.scope });
    expect(retry.expires_in).toBe(t1.expires_in - 86_400);

    // Once the successor is used, t0 can no longer be in legitimate use: presenting it ends the grant.
    advance(1000);
    const t2 = await refreshOk(stack, client, t1.refresh_token);
    expect(await mcpStatus(stack, t2.access_token)).toBe(200);
    const reuse = await expectOAuthError(await refresh(stack, client, t0.refresh_token), 400, 'invalid_grant');
    expect(reuse.error_description).toMatch(/ended/);
    expect(await mcpStatus(stack, t2.access_token)).toBe(401);
    await expectOAuthError(await refresh(stack, client, t2.refresh_token), 400, 'invalid_grant');
  });

  it('N concurrent refreshes with one token (processes sharing it) all get 200 and one same working refresh token', async () => {
    const { client, tokens: t0 } = await connect(stack, ws);
    const answers = await Promise.all(Array.from({ length: 8 }, () => refresh(stack, client, t0.refresh_token)));
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    const sets = (await Promise.all(answers.map((r) => r.json()))) as TokenSet[];
    // No pile-up of live access tokens either: one pair for all of them.
    expect(new Set(sets.map((t) => `${t.access_token} ${t.refresh_token}`)).size).toBe(1);
    const next = await refreshOk(stack, client, sets.at(-1)!.refresh_token);
    expect(await mcpStatus(stack, next.access_token)).toBe(200);
  });

  it('a refresh token with a forged or altered signature is refused and ends nothing', async () => {
    const { client, tokens: t0 } = await connect(stack, ws);
    const [grantPart] = t0.refresh_token.split('.');
    await expectOAuthError(await refresh(stack, client, `${grantPart}.forged.forged`), 400, 'invalid_grant');
    await expectOAuthError(await refresh(stack, client, `${t0.refresh_token}x`), 400, 'invalid_grant');
    expect(await mcpStatus(stack, t0.access_token)).toBe(200);
    await refreshOk(stack, client, t0.refresh_token);
  });

  it("another client's refresh token → invalid_grant, and it stays usable by its owner", async () => {
    const { client, tokens } = await connect(stack, ws);
    const other = await register(stack.baseUrl);
    await expectOAuthError(await refresh(stack, other, tokens.refresh_token), 400, 'invalid_grant');
    await refreshOk(stack, client, tokens.refresh_token);
  });

  it('an access token is not a refresh token, and a made-up one is refused', async () => {
    const { client, tokens } = await connect(stack, ws);
    await expectOAuthError(await refresh(stack, client, tokens.access_token), 400, 'invalid_grant');
    await expectOAuthError(await refresh(stack, client, 'nmr_rt_made-up'), 400, 'invalid_grant');
  });

  it('downscoping: scope=notion:read gives a read-only access token; later refreshes may ask for the full grant again', async () => {
    const { client, tokens } = await connect(stack, ws, 'write');
    expect(tokens.scope.split(' ').sort()).toEqual(['notion:read', 'notion:write']);
    const narrow = await refreshOk(stack, client, tokens.refresh_token, { scope: 'notion:read' });
    expect(narrow.scope).toBe('notion:read');
    const wide = await refreshOk(stack, client, narrow.refresh_token, { scope: 'notion:read notion:write' });
    expect(wide.scope.split(' ').sort()).toEqual(['notion:read', 'notion:write']);
  });

  it('asking for a scope that was not granted → invalid_scope (unknown scopes too)', async () => {
    const { client, tokens } = await connect(stack, ws, 'write');
    await expectOAuthError(await refresh(stack, client, tokens.refresh_token, { scope: 'notion:admin' }), 400, 'invalid_scope');
    // The refused request consumed nothing.
    await refreshOk(stack, client, tokens.refresh_token);
  });

  it("a read-only grant (consent access 'read') cannot widen to notion:write", async () => {
    const { client, tokens } = await connect(stack, ws, 'read');
    expect(tokens.scope).toBe('notion:read');
    await expectOAuthError(await refresh(stack, client, tokens.refresh_token, { scope: 'notion:write' }), 400, 'invalid_scope');
    await expectOAuthError(await refresh(stack, client, tokens.refresh_token, { scope: 'notion:read notion:write' }), 400, 'invalid_scope');
    const plain = await refreshOk(stack, client, tokens.refresh_token);
    expect(plain.scope).toBe('notion:read');
  });
});

describe('RFC 7009: token revocation', () => {
  it('revoking an access token makes /mcp answer 401 for it, while the refresh token still works', async () => {
    const { client, tokens } = await connect(stack, ws);
    expect(await mcpStatus(stack, tokens.access_token)).toBe(200);
    const res = await revoke(stack, client, { token: tokens.access_token, token_type_hint: 'access_token' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control') ?? '(none)').toMatch(/no-store/);
    expect(await mcpStatus(stack, tokens.access_token)).toBe(401);
    const next = await refreshOk(stack, client, tokens.refresh_token);
    expect(await mcpStatus(stack, next.access_token)).toBe(200);
  });

  it('revoking the previous refresh token (its wrapped key is gone) ends the grant and still revokes the Notion token upstream', async () => {
    const { client, tokens: t0 } = await connect(stack, ws);
    const t1 = await refreshOk(stack, client, t0.refresh_token);
    const before = stack.fake.revoked.size;
    expect((await revoke(stack, client, { token: t0.refresh_token })).status).toBe(200);
    expect(stack.fake.revoked.size).toBe(before + 1);
    expect(await mcpStatus(stack, t1.access_token)).toBe(401);
    await expectOAuthError(await refresh(stack, client, t1.refresh_token), 400, 'invalid_grant');
  });

  it("revoking with another client's credentials → 200, but the token keeps working", async () => {
    const { client, tokens } = await connect(stack, ws);
    const other = await register(stack.baseUrl);
    expect((await revoke(stack, other, { token: tokens.access_token })).status).toBe(200);
    expect((await revoke(stack, other, { token: tokens.refresh_token })).status).toBe(200);
    expect(await mcpStatus(stack, tokens.access_token)).toBe(200);
    await refreshOk(stack, client, tokens.refresh_token);
  });

  it('an unknown token → 200', async () => {
    const client = await register(stack.baseUrl);
    const res = await revoke(stack, client, { token: 'nmr_at_never-issued' });
    expect(res.status).toBe(200);
  });

  it('a missing token → 400 invalid_request', async () => {
    const client = await register(stack.baseUrl);
    await expectOAuthError(await revoke(stack, client, {}), 400, 'invalid_request');
  });

  it('an unauthenticated request → 401 invalid_client, and nothing is revoked', async () => {
    const { tokens } = await connect(stack, ws);
    await expectOAuthError(await revoke(stack, null, { token: tokens.access_token }), 401, 'invalid_client');
    await expectOAuthError(await revoke(stack, { client_id: 'no-such-client', redirect_uris: [], token_endpoint_auth_method: 'none' }, { token: tokens.access_token }), 401, 'invalid_client');
    expect(await mcpStatus(stack, tokens.access_token)).toBe(200);
  });
});

describe('Claude.ai specifics (docs/auth-and-claude.md §3)', () => {
  it('both callbacks (claude.ai and claude.com) can be registered and used', async () => {
    const client = await register(stack.baseUrl, { ...claudeRegistration(), redirect_uris: [CLAUDE_CALLBACK, CLAUDE_COM_CALLBACK] });
    for (const callback of [CLAUDE_CALLBACK, CLAUDE_COM_CALLBACK]) {
      const { code, verifier, auth } = await freshCode(stack, client, { params: { redirect_uri: callback } });
      expect(auth.redirect.origin + auth.redirect.pathname).toBe(callback);
      const res = await exchangeWith(stack, client, code, verifier, callback);
      expect(res.status, callback).toBe(200);
      expect(await mcpStatus(stack, ((await res.json()) as TokenSet).access_token)).toBe(200);
    }
  });

  it('an unknown client at /token gets 401 invalid_client, not 400, on refresh too', async () => {
    const { client, tokens } = await connect(stack, ws);
    const gone = { ...client, client_id: 'deleted-client' };
    const res = await refresh(stack, gone, tokens.refresh_token);
    await expectOAuthError(res, 401, 'invalid_client');
  });

  it('refresh tokens are issued and work without ever asking for offline_access', async () => {
    const client = await register(stack.baseUrl);
    const { code, verifier } = await freshCode(stack, client, { params: { scope: undefined } });
    const res = await exchangeWith(stack, client, code, verifier);
    const tokens = (await res.json()) as TokenSet;
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.expires_in).toBeGreaterThan(0);
    const next = await refreshOk(stack, client, tokens.refresh_token);
    expect(await mcpStatus(stack, next.access_token)).toBe(200);
  });

  it('offline_access in the requested scope is tolerated (and not echoed as a resource scope)', async () => {
    const client = await register(stack.baseUrl);
    const { code, verifier } = await freshCode(stack, client, { params: { scope: 'notion:read notion:write offline_access' } });
    const res = await exchangeWith(stack, client, code, verifier);
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as TokenSet;
    expect(tokens.scope.split(' ')).not.toContain('offline_access');
    expect(tokens.scope.split(' ')).toContain('notion:read');
    await refreshOk(stack, client, tokens.refresh_token);
  });
});

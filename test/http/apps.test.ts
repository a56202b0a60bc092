/**
 * Every major MCP app, end to end, with the registration body (DCR) or client ID metadata document
 * (CIMD) that app really sends or publishes, and the redirect URIs it really uses. Each case runs
 * the whole flow over HTTP against the real app (real SQLite; only Notion is faked):
 * register or CIMD → /authorize with the app's redirect URI → consent → Notion → our callback →
 * redirect to exactly that URI with code, state and iss (RFC 9207) and nothing else → /token as
 * the app authenticates → a tools/call that reaches Notion with the user's own token.
 * Where an app moves its loopback port at run time, the request uses a port other than the one
 * registered (RFC 8252 §7.3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CimdFetcher } from '../../src/oauth/cimd.js';
import {
  CHATGPT_CALLBACK,
  CHATGPT_CIMD_ID,
  CHATGPT_CONNECTOR_CALLBACK,
  CHATGPT_CONNECTOR_ID,
  CLAUDE_CIMD_ID,
  CLAUDE_COM_CALLBACK,
  CODEX_CALLBACK_ID,
  CODEX_CIMD_ID,
  CODEX_PER_SERVER_ID,
  CURSOR_APP_CALLBACK,
  CURSOR_CLOUD_CALLBACK,
  CURSOR_LOOPBACK,
  GEMINI_CALLBACK,
  VSCODE_CIMD_ID,
  VSCODE_DOC,
  chatgptDoc,
  claudeDoc,
  codexDoc,
  cursorRegistration,
  geminiRegistration,
  vscodeRegistration,
} from '../fixtures/apps.js';
import { type FakeWorkspace, fakeWorkspace } from '../helpers/fake-notion.js';
import {
  CLAUDE_CALLBACK,
  CookieBrowser,
  type RegisteredClient,
  type TokenSet,
  authorizeUrl,
  callTool,
  claudeRegistration,
  consentFields,
  pkce,
  register,
  tokenRequest,
} from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';

type Json = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// The apps' published documents (test/fixtures/apps.ts), by the URL each is served from
// ---------------------------------------------------------------------------------------------

const DOCUMENTS: Record<string, unknown> = {
  [CLAUDE_CIMD_ID]: claudeDoc(),
  [CHATGPT_CIMD_ID]: chatgptDoc(CHATGPT_CIMD_ID, CHATGPT_CALLBACK),
  [CHATGPT_CONNECTOR_ID]: chatgptDoc(CHATGPT_CONNECTOR_ID, CHATGPT_CONNECTOR_CALLBACK),
  [VSCODE_CIMD_ID]: VSCODE_DOC,
  [CODEX_CIMD_ID]: codexDoc(CODEX_CIMD_ID, '/callback'),
  [CODEX_PER_SERVER_ID]: codexDoc(CODEX_PER_SERVER_ID, `/callback/${CODEX_CALLBACK_ID}`),
};

// ---------------------------------------------------------------------------------------------
// The flow
// ---------------------------------------------------------------------------------------------

let stack: Stack;
const fetched: string[] = [];
/** Serves the documents above as their hosts do; the fetch hardening itself is tested in test/unit/cimd.test.ts. */
const cimdFetch: CimdFetcher = async (url) => {
  fetched.push(url);
  const doc = DOCUMENTS[url];
  if (!doc) return { status: 404, headers: {}, body: 'not found' };
  return { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify(doc) };
};

beforeAll(async () => {
  stack = await startStack({ cimdFetch });
});
afterAll(async () => stack?.close());

async function json(url: string): Promise<Json> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return (await res.json()) as Json;
}

async function dcr(payload: Record<string, unknown>): Promise<RegisteredClient & Json> {
  return (await register(stack.baseUrl, payload)) as RegisteredClient & Json;
}

/** A CIMD client as the app presents itself: its document URL is the client_id, no secret. */
const cimdClient = (clientId: string, redirectUri: string): RegisteredClient => ({ client_id: clientId, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });

/** Text as our pages write it: every character that could open markup or an attribute is a numeric reference. */
const htmlText = (text: string) => text.replace(/[&<>"'`=/]/g, (c) => `&#${c.charCodeAt(0)};`);

/** A loopback port other than any registered one, as an app that took a free port at run time. */
const otherPort = () => 40000 + Math.floor(Math.random() * 20000);

interface FlowResult {
  tokens: TokenSet;
  consentHtml: string;
}

/**
 * One app's connection, hop by hop, with every check that matters to the app: the consent page
 * names it and where the approval goes, the final redirect is exactly `redirectUri` plus code,
 * state and iss, the code exchanges at /token, and the access token reaches Notion as this user.
 */
async function connectApp(
  client: RegisteredClient,
  redirectUri: string,
  opts: { workspace: FakeWorkspace; clientName: string; shownAs: string; scope?: string; state?: string },
): Promise<FlowResult> {
  const browser = new CookieBrowser();
  const { verifier, challenge } = pkce();
  const state = opts.state ?? `state-${Math.random().toString(36).slice(2)}`;

  const page = await browser.get(authorizeUrl(stack.baseUrl, client, { challenge, redirect_uri: redirectUri, state, scope: opts.scope }));
  const consentHtml = await page.text();
  expect(page.status, consentHtml.slice(0, 300)).toBe(200);
  expect(consentHtml).toContain(opts.clientName);
  expect(consentHtml).toContain(`<span class="host">${htmlText(opts.shownAs)}</span>`);

  const approved = await browser.postForm(`${stack.baseUrl}/authorize`, { ...consentFields(consentHtml), decision: 'approve', access: 'write' });
  expect(approved.status).toBe(303);
  const toNotion = new URL(approved.headers.get('location')!);
  expect(toNotion.origin + toNotion.pathname).toBe(`${stack.fake.url}/v1/oauth/authorize`);

  stack.fake.authorizeAs = opts.workspace;
  const fromNotion = await browser.get(toNotion.toString().replace('/v1/oauth/authorize?', '/v1/oauth/authorize/allow?'));
  const callback = fromNotion.headers.get('location')!;
  expect(callback.startsWith(`${stack.baseUrl}/oauth/callback?`)).toBe(true);

  const final = await browser.get(callback);
  expect(final.status).toBe(302);
  const location = final.headers.get('location')!;
  // Exactly the registered URI (byte for byte, port included), then only code, state and iss.
  const query = location.indexOf('?');
  expect(location.slice(0, query)).toBe(redirectUri);
  const params = new URLSearchParams(location.slice(query + 1));
  expect([...params.keys()].sort()).toEqual(['code', 'iss', 'state']);
  expect(params.get('state')).toBe(state);
  expect(params.get('iss')).toBe(stack.baseUrl);
  const code = params.get('code')!;
  expect(code.length).toBeGreaterThan(20);

  const res = await tokenRequest(stack.baseUrl, client, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    resource: `${stack.baseUrl}/mcp`,
  });
  const tokenBody = await res.text();
  expect(res.status, tokenBody).toBe(200);
  const tokens = JSON.parse(tokenBody) as TokenSet;
  expect(tokens.token_type.toLowerCase()).toBe('bearer');

  // The access token works on /mcp, and the tool call reaches Notion with this user's Notion token.
  const before = stack.fake.requests.length;
  const self = await callTool(stack.baseUrl, tokens.access_token, 'get_self');
  expect(self.isError).toBe(false);
  expect(JSON.stringify(self.data)).toContain(opts.workspace.botId);
  const upstream = stack.fake.requests.slice(before).filter((r) => r.path === '/v1/users/me');
  expect(upstream).toHaveLength(1);
  expect(upstream[0]!.headers.authorization).toMatch(/^Bearer ntn_/);
  expect(upstream[0]!.headers.authorization).not.toContain(tokens.access_token);
  return { tokens, consentHtml };
}

/** /authorize for a URI the client did not register: an error page, never a redirect anywhere. */
async function expectRefused(client: RegisteredClient, redirectUri: string): Promise<void> {
  const res = await fetch(authorizeUrl(stack.baseUrl, client, { challenge: pkce().challenge, redirect_uri: redirectUri }), { redirect: 'manual' });
  expect(res.status, redirectUri).toBeGreaterThanOrEqual(400);
  expect(res.headers.get('location'), redirectUri).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  await res.arrayBuffer();
}

// ---------------------------------------------------------------------------------------------
// The apps
// ---------------------------------------------------------------------------------------------

describe('Claude (claude.ai, Desktop, mobile)', () => {
  const ws = fakeWorkspace('Claude');

  it('DCR with client_secret_post: both callbacks, claude.ai and claude.com', async () => {
    const client = await dcr({ ...claudeRegistration(), redirect_uris: [CLAUDE_CALLBACK, CLAUDE_COM_CALLBACK] });
    expect(client.client_secret).toEqual(expect.any(String));
    for (const [callback, host] of [[CLAUDE_CALLBACK, 'claude.ai'], [CLAUDE_COM_CALLBACK, 'claude.com']] as const) {
      const { consentHtml } = await connectApp(client, callback, { workspace: ws, clientName: 'Claude', shownAs: host });
      expect(consentHtml).not.toContain('Not Claude');
    }
    await expectRefused(client, 'https://claude.ai/api/mcp/auth_callback/');
    await expectRefused(client, 'https://evil.claude.ai/api/mcp/auth_callback');
  });

  it('CIMD: its published document as client_id, a public client', async () => {
    await connectApp(cimdClient(CLAUDE_CIMD_ID, CLAUDE_CALLBACK), CLAUDE_CALLBACK, { workspace: ws, clientName: 'Claude', shownAs: 'claude.ai' });
    expect(fetched).toContain(CLAUDE_CIMD_ID);
    // Its document lists only the claude.ai callback.
    await expectRefused(cimdClient(CLAUDE_CIMD_ID, CLAUDE_COM_CALLBACK), CLAUDE_COM_CALLBACK);
  });
});

describe('ChatGPT (developer mode, deep research, company knowledge)', () => {
  const ws = fakeWorkspace('ChatGPT');

  it('the metadata ChatGPT relies on: CIMD, a public method it shares, and iss (so it uses its stable callback)', async () => {
    const m = await json(`${stack.baseUrl}/.well-known/oauth-authorization-server`);
    expect(m.client_id_metadata_document_supported).toBe(true);
    expect(m.authorization_response_iss_parameter_supported).toBe(true);
    expect(m.token_endpoint_auth_methods_supported).toContain('none');
    expect(m.token_endpoint_auth_methods_supported).not.toContain('private_key_jwt');
  });

  it('CIMD: https://chatgpt.com/oauth/client.json (private_key_jwt preferred, none supported) on connector_platform_oauth_redirect', async () => {
    const client = cimdClient(CHATGPT_CIMD_ID, CHATGPT_CALLBACK);
    const { tokens } = await connectApp(client, CHATGPT_CALLBACK, { workspace: ws, clientName: 'ChatGPT', shownAs: 'chatgpt.com' });
    expect(fetched).toContain(CHATGPT_CIMD_ID);
    // A public client: it refreshes with its client_id alone, as with every method "none" client.
    const refreshed = await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    await refreshed.arrayBuffer();
    await expectRefused(client, 'https://chatgpt.com/connector_platform_oauth_redirect/x');
    await expectRefused(client, CHATGPT_CONNECTOR_CALLBACK);
  });

  it('CIMD: a per-connector document with its /connector/oauth/<callback_id> callback', async () => {
    const client = cimdClient(CHATGPT_CONNECTOR_ID, CHATGPT_CONNECTOR_CALLBACK);
    await connectApp(client, CHATGPT_CONNECTOR_CALLBACK, { workspace: ws, clientName: 'ChatGPT', shownAs: 'chatgpt.com' });
    await expectRefused(client, CHATGPT_CALLBACK);
  });
});

describe('VS Code / GitHub Copilot', () => {
  const ws = fakeWorkspace('VS Code');

  it('DCR with the body VS Code builds from our metadata: vscode.dev, insiders.vscode.dev, and 127.0.0.1 on any port', async () => {
    const asMeta = await json(`${stack.baseUrl}/.well-known/oauth-authorization-server`);
    const prm = await json(`${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`);
    const client = await dcr(vscodeRegistration(asMeta.grant_types_supported, prm.scopes_supported));
    expect(client.client_secret).toBeUndefined();
    expect(client.grant_types).toEqual(['authorization_code', 'refresh_token']);
    for (const [uri, shown] of [
      ['https://vscode.dev/redirect', 'vscode.dev'],
      ['https://insiders.vscode.dev/redirect', 'insiders.vscode.dev'],
      ['http://127.0.0.1:33418/', '127.0.0.1:33418'],
    ] as const) {
      await connectApp(client, uri, { workspace: ws, clientName: 'Visual Studio Code', shownAs: shown, scope: prm.scopes_supported.join(' ') });
    }
    // 33418 was busy: VS Code listens on another port (microsoft/vscode#278512).
    const port = otherPort();
    const { consentHtml } = await connectApp(client, `http://127.0.0.1:${port}/`, { workspace: ws, clientName: 'Visual Studio Code', shownAs: `127.0.0.1:${port}` });
    expect(consentHtml).toContain('a program on your own computer');
    await expectRefused(client, `http://127.0.0.1:${port}/other`);
    await expectRefused(client, `http://192.168.1.2:${port}/`);
  });

  it('DCR without a server grant list: the device_code grant it adds is dropped, not refused (RFC 7591 §3.2.1)', async () => {
    const client = await dcr(vscodeRegistration(undefined, ['notion:read']));
    expect(client.grant_types).toEqual(['authorization_code', 'refresh_token']);
    await connectApp(client, 'https://vscode.dev/redirect', { workspace: ws, clientName: 'Visual Studio Code', shownAs: 'vscode.dev', scope: 'notion:read' });
    const device = await tokenRequest(stack.baseUrl, client, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' });
    expect(device.status).toBe(400);
    expect(((await device.json()) as Json).error).toBe('unsupported_grant_type');
  });

  it('CIMD: https://vscode.dev/oauth/client-metadata.json, its loopback callback on another port, and vscode.dev', async () => {
    const port = otherPort();
    await connectApp(cimdClient(VSCODE_CIMD_ID, 'https://vscode.dev/redirect'), `http://127.0.0.1:${port}/`, {
      workspace: ws,
      clientName: 'Visual Studio Code',
      shownAs: `127.0.0.1:${port}`,
    });
    await connectApp(cimdClient(VSCODE_CIMD_ID, 'https://vscode.dev/redirect'), 'https://vscode.dev/redirect', { workspace: ws, clientName: 'Visual Studio Code', shownAs: 'vscode.dev' });
    // Its document does not list the insiders callback.
    await expectRefused(cimdClient(VSCODE_CIMD_ID, 'https://insiders.vscode.dev/redirect'), 'https://insiders.vscode.dev/redirect');
  });
});

describe('Cursor', () => {
  const ws = fakeWorkspace('Cursor');

  it('DCR with its three callbacks: cursor:// (RFC 8252 §7.1, exact), localhost:8787 (any port) and www.cursor.com, asking for every scope', async () => {
    const prm = await json(`${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`);
    const client = await dcr(cursorRegistration());
    expect(client.redirect_uris).toEqual([CURSOR_APP_CALLBACK, CURSOR_CLOUD_CALLBACK, CURSOR_LOOPBACK]);
    const everyScope = prm.scopes_supported.join(' ');

    const { tokens, consentHtml } = await connectApp(client, CURSOR_APP_CALLBACK, { workspace: ws, clientName: 'Cursor', shownAs: 'cursor://anysphere.cursor-mcp', scope: everyScope });
    expect(tokens.scope.split(' ').sort()).toEqual([...prm.scopes_supported].sort());
    // The approval goes to an app on this device, and the page says so.
    expect(consentHtml).toContain('a program on your own computer');

    await connectApp(client, CURSOR_LOOPBACK, { workspace: ws, clientName: 'Cursor', shownAs: 'localhost:8787', scope: everyScope });
    const port = otherPort();
    await connectApp(client, `http://localhost:${port}/callback`, { workspace: ws, clientName: 'Cursor', shownAs: `localhost:${port}`, scope: everyScope });
    await connectApp(client, CURSOR_CLOUD_CALLBACK, { workspace: ws, clientName: 'Cursor', shownAs: 'www.cursor.com', scope: everyScope });

    // A private-use URI matches byte for byte: no other host, path, query, case or port.
    for (const near of [
      'cursor://anysphere.cursor-mcp/oauth/callback/',
      'cursor://anysphere.cursor-mcp/oauth/callback?next=https://evil.example',
      'cursor://evil.example/oauth/callback',
      'Cursor://anysphere.cursor-mcp/oauth/callback',
      'cursor://anysphere.cursor-mcp:8787/oauth/callback',
      'cursor:anysphere.cursor-mcp/oauth/callback',
      'javascript://anysphere.cursor-mcp/oauth/callback',
    ]) {
      await expectRefused(client, near);
    }
  });
});

describe('Codex (codex mcp login)', () => {
  const ws = fakeWorkspace('Codex');

  it('CIMD: the stable https://chatgpt.com/oauth/codex/client.json, /callback on the loopback port Codex got', async () => {
    const client = cimdClient(CODEX_CIMD_ID, 'http://127.0.0.1/callback');
    for (const host of ['127.0.0.1', 'localhost']) {
      const port = otherPort();
      await connectApp(client, `http://${host}:${port}/callback`, { workspace: ws, clientName: 'Codex', shownAs: `${host}:${port}` });
    }
    await expectRefused(client, `http://127.0.0.1:${otherPort()}/callback/${CODEX_CALLBACK_ID}`);
  });

  it('CIMD: a per-server document with /callback/<callback_id>', async () => {
    const client = cimdClient(CODEX_PER_SERVER_ID, `http://127.0.0.1/callback/${CODEX_CALLBACK_ID}`);
    const port = otherPort();
    await connectApp(client, `http://127.0.0.1:${port}/callback/${CODEX_CALLBACK_ID}`, { workspace: ws, clientName: 'Codex', shownAs: `127.0.0.1:${port}` });
    await expectRefused(client, `http://127.0.0.1:${port}/callback`);
    expect(fetched).toContain(CODEX_PER_SERVER_ID);
  });
});

describe('Gemini CLI', () => {
  const ws = fakeWorkspace('Gemini');

  it('DCR with its body (empty scope): http://localhost:7777/oauth/callback, and the same path on another port', async () => {
    const client = await dcr(geminiRegistration());
    expect(client.client_secret).toBeUndefined();
    expect(client.token_endpoint_auth_method).toBe('none');
    // Gemini CLI sends no scope parameter when none is configured: the user's choice decides.
    await connectApp(client, GEMINI_CALLBACK, { workspace: ws, clientName: 'Gemini CLI MCP Client', shownAs: 'localhost:7777' });
    const port = otherPort();
    await connectApp(client, `http://localhost:${port}/oauth/callback`, { workspace: ws, clientName: 'Gemini CLI MCP Client', shownAs: `localhost:${port}` });
    await expectRefused(client, 'http://localhost:7777/callback');
    await expectRefused(client, 'https://localhost:7777/oauth/callback');
  });

  it('DCR with configured scopes', async () => {
    const client = await dcr(geminiRegistration(['notion:read']));
    const { tokens } = await connectApp(client, GEMINI_CALLBACK, { workspace: ws, clientName: 'Gemini CLI MCP Client', shownAs: 'localhost:7777', scope: 'notion:read' });
    expect(tokens.scope).toBe('notion:read');
  });
});

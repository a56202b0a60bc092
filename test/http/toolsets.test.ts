/**
 * Toolsets and lockdown, black box over HTTP: the consent form, the grant's scope, tools/list and
 * refusals on /mcp, the step-up 403, Your connections' settings form, refresh, and the operator's
 * TOOLSETS_DEFAULT / TOOLSETS_MAX / LOCKDOWN_DEFAULT. One stack for the file, configured with a
 * maximum that leaves `files` out, a default that leaves `users` unticked, and lockdown on.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { connectionSettingsForm } from '../../src/http/connections.js';
import type { AuthContext } from '../../src/oauth/grants.js';
import { downscope, effectiveScopes, grantScope, parseRequestedScope, TOOLSETS } from '../../src/oauth/scopes.js';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import {
  connect,
  CookieBrowser,
  type RegisteredClient,
  type TokenSet,
  authorizeUrl,
  consentFields,
  exchangeCode,
  mcpPost,
  pkce,
  register,
  tokenRequest,
} from '../helpers/oauth-client.js';
import { startRedis } from '../helpers/redis.js';
import { freePort, type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';

let stack: Stack;
const ws = fakeWorkspace('Toolsets');

beforeAll(async () => {
  stack = await startStack({
    env: { TOOLSETS_MAX: 'pages,databases,comments,users', TOOLSETS_DEFAULT: 'pages, databases, comments', LOCKDOWN_DEFAULT: 'true' },
  });
});
afterAll(async () => stack?.close());

const form = (pairs: [string, string][]) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(pairs).toString(),
});

/** The values of the checkboxes named `name` that the page ticks. */
const ticked = (html: string, name: string) => [...html.matchAll(new RegExp(`name="${name}" value="([^"]+)" checked`, 'g'))].map((m) => m[1]!);
const offered = (html: string) => [...html.matchAll(/name="toolset" value="([^"]+)"/g)].map((m) => m[1]!);

interface Consent {
  /** What the form sends: the toolsets ticked (null: a form without the settings, as older helpers post). */
  toolsets?: string[] | null;
  lockdown?: boolean;
  access?: 'read' | 'write';
  scope?: string;
  client?: RegisteredClient;
}

/** /authorize → consent as given → Notion → code → tokens. */
async function connectWith(opts: Consent = {}): Promise<{ client: RegisteredClient; tokens: TokenSet; consentHtml: string }> {
  const client = opts.client ?? (await register(stack.baseUrl));
  const browser = new CookieBrowser();
  const { verifier, challenge } = pkce();
  const page = await browser.get(authorizeUrl(stack.baseUrl, client, { challenge, scope: opts.scope }));
  expect(page.status).toBe(200);
  const consentHtml = await page.text();
  const fields = consentFields(consentHtml);
  const pairs: [string, string][] = [['consent', fields.consent], ['csrf', fields.csrf], ['decision', 'approve'], ['access', opts.access ?? 'write']];
  if (opts.toolsets !== null) {
    pairs.push(['settings', '1'], ...(opts.toolsets ?? ticked(consentHtml, 'toolset')).map((t): [string, string] => ['toolset', t]));
    if (opts.lockdown ?? ticked(consentHtml, 'lockdown').length > 0) pairs.push(['lockdown', 'on']);
  }
  const approved = await browser.request(`${stack.baseUrl}/authorize`, form(pairs));
  expect(approved.status).toBe(303);
  stack.fake.authorizeAs = ws;
  const fromNotion = await browser.get(approved.headers.get('location')!.replace('/v1/oauth/authorize?', '/v1/oauth/authorize/allow?'));
  const final = await browser.get(fromNotion.headers.get('location')!);
  expect(final.status).toBe(302);
  const tokens = await exchangeCode(stack, client, { redirect: new URL(final.headers.get('location')!), verifier });
  return { client, tokens, consentHtml };
}

const grantOf = (accessToken: string) => /^nmr_at_([0-9a-f-]{36})\./.exec(accessToken)![1]!;

/** tools/list over /mcp: the names (a group as `group:op,op`), and the AuthContext the registry got. */
async function list(accessToken: string): Promise<{ names: string[]; auth: AuthContext }> {
  const spy = vi.spyOn(stack.app.registry, 'definitions');
  try {
    const res = await mcpPost(stack.baseUrl, accessToken, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(res.status).toBe(200);
    const { result } = (await res.json()) as { result: { tools: { name: string; description: string }[] } };
    const names = result.tools.map((t) => {
      const ops = [...t.description.matchAll(/^- (\w+) /gm)].map((m) => m[1]!);
      return ops.length ? `${t.name}:${ops.join(',')}` : t.name;
    });
    return { names, auth: spy.mock.calls.at(-1)![0] };
  } finally {
    spy.mockRestore();
  }
}

async function call(accessToken: string, name: string, args: Record<string, unknown>): Promise<Response> {
  return mcpPost(stack.baseUrl, accessToken, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } });
}

async function toolError(res: Response): Promise<{ code: string; message: string }> {
  expect(res.status).toBe(200);
  const reply = (await res.json()) as { result: { isError?: boolean; content: { text: string }[] } };
  expect(reply.result.isError).toBe(true);
  return JSON.parse(reply.result.content[0]!.text).error;
}

const notionCalls = () => stack.fake.requests.filter((r) => r.path.startsWith('/v1/') && !r.path.startsWith('/v1/oauth'));
const COMMENT = { op: 'get_comments', args: { block_id: '59833787-2cf9-4fdf-8782-e53db20768a5' } };

describe('the consent form', () => {
  it('offers only the toolsets within TOOLSETS_MAX, ticks TOOLSETS_DEFAULT and LOCKDOWN_DEFAULT when the app names no toolset', async () => {
    const client = await register(stack.baseUrl);
    for (const scope of [undefined, 'notion:read notion:write']) {
      const html = await (await new CookieBrowser().get(authorizeUrl(stack.baseUrl, client, { challenge: pkce().challenge, scope }))).text();
      expect(offered(html)).toEqual(['pages', 'databases', 'comments', 'users']);
      expect(ticked(html, 'toolset')).toEqual(['pages', 'databases', 'comments']);
      expect(ticked(html, 'lockdown')).toEqual(['on']);
    }
  });

  it('ticks exactly the toolsets an app names, and refuses one beyond the maximum', async () => {
    const client = await register(stack.baseUrl);
    const html = await (await new CookieBrowser().get(authorizeUrl(stack.baseUrl, client, { challenge: pkce().challenge, scope: 'notion:read notion:users notion:comments' }))).text();
    expect(ticked(html, 'toolset')).toEqual(['comments', 'users']);
    expect(html).toContain('name="access" value="read"'); // no write asked: read only
    const refused = await new CookieBrowser().get(authorizeUrl(stack.baseUrl, client, { challenge: pkce().challenge, scope: 'notion:read notion:files' }));
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('notion:files');
  });

  it('grants what the user ticked: the token scope names the toolsets, and nothing ticked is refused without using the consent', async () => {
    const { tokens } = await connectWith({ toolsets: ['pages', 'databases'], lockdown: false });
    expect(tokens.scope).toBe('notion:read notion:write notion:pages notion:databases');
    const { auth } = await list(tokens.access_token);
    expect(auth.lockdown).toBe(false);

    const client = await register(stack.baseUrl);
    const browser = new CookieBrowser();
    const fields = consentFields(await (await browser.get(authorizeUrl(stack.baseUrl, client, { challenge: pkce().challenge }))).text());
    const none = await browser.request(`${stack.baseUrl}/authorize`, form([['consent', fields.consent], ['csrf', fields.csrf], ['settings', '1'], ['decision', 'approve']]));
    expect(none.status).toBe(400);
    expect(await none.text()).toContain('tick at least one');
    const retried = await browser.request(`${stack.baseUrl}/authorize`, form([['consent', fields.consent], ['csrf', fields.csrf], ['settings', '1'], ['toolset', 'pages'], ['decision', 'approve']]));
    expect(retried.status).toBe(303);
  });

  it('AS metadata lists every scope within the maximum; the resource metadata only the minimal two', async () => {
    const as = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
    expect(as.scopes_supported).toEqual(['notion:read', 'notion:write', 'notion:pages', 'notion:databases', 'notion:comments', 'notion:users']);
    const prm = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as { scopes_supported: string[] };
    expect(prm.scopes_supported).toEqual(['notion:read', 'notion:write']);
  });
});

describe('tools/list and refusals on /mcp', () => {
  it('without comments: no comments group, and a comment call is refused with toolset_not_allowed before reaching Notion', async () => {
    const { tokens } = await connectWith({ toolsets: ['pages', 'databases', 'users'] });
    const { names } = await list(tokens.access_token);
    expect(names.some((n) => n.startsWith('comments'))).toBe(false);
    expect(names).toContain('search');
    expect(names.find((n) => n.startsWith('more:'))).toContain('get_users');
    stack.fake.reset();
    for (const res of [await call(tokens.access_token, 'comments', COMMENT), await call(tokens.access_token, 'get_comments', COMMENT.args)]) {
      const error = await toolError(res);
      expect(error.code).toBe('toolset_not_allowed');
      expect(error.message).toContain('Comments');
      expect(error.message).toContain(`${stack.baseUrl}/connections`);
    }
    expect(notionCalls()).toEqual([]);
  });

  it('a group lists only the ops its connection allows: users unticked takes get_users out of `more`', async () => {
    const { tokens } = await connectWith({ toolsets: ['pages'] });
    const { names } = await list(tokens.access_token);
    const more = names.find((n) => n.startsWith('more:'))!;
    expect(more).not.toMatch(/get_users|get_user\b|get_self/);
    expect(more).toContain('duplicate_page');
    expect(names.some((n) => n.startsWith('database_admin') || n === 'query_data_source')).toBe(false);
    expect((await toolError(await call(tokens.access_token, 'more', { op: 'get_self', args: {} }))).code).toBe('toolset_not_allowed');
  });

  it('a grant from before toolsets (scope notion:read notion:write, no settings) keeps every tool within the maximum, and LOCKDOWN_DEFAULT', async () => {
    const { tokens } = await connectWith({ toolsets: ['pages'], lockdown: false });
    const grant = (await stack.app.store.getGrant(grantOf(tokens.access_token)))!;
    const { lockdown: _l, stepUp: _s, ...info } = grant.info;
    await stack.app.store.updateGrantSettings(grant.id, 'notion:read notion:write', info);
    const { names, auth } = await list(tokens.access_token);
    expect(auth.lockdown).toBe(true);
    expect(names).toEqual(expect.arrayContaining(['search', 'query_data_source', 'update_page']));
    expect(names.some((n) => n.startsWith('comments:get_comments,create_comment'))).toBe(true);
    expect(names.find((n) => n.startsWith('more:'))).toContain('get_users');
    // files is beyond TOOLSETS_MAX: never listed, and refused as not offered, even here.
    expect(names.join()).not.toMatch(/upload_file|list_file_uploads|get_file/);
    const error = await toolError(await call(tokens.access_token, 'more', { op: 'list_file_uploads', args: {} }));
    expect(error.code).toBe('toolset_not_offered');
  });

  it('read only keeps refusing writes with read_only_connection, for an app that named no toolset', async () => {
    const { tokens } = await connectWith({ access: 'read' });
    const { names } = await list(tokens.access_token);
    expect(names).not.toContain('update_page');
    expect((await toolError(await call(tokens.access_token, 'update_page', { page_id: '59833787-2cf9-4fdf-8782-e53db20768a5' }))).code).toBe('read_only_connection');
  });
});

describe('step-up (MCP authorization: runtime insufficient_scope)', () => {
  const challenge = (res: Response) => {
    const header = res.headers.get('www-authenticate') ?? '';
    return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  };

  it('an app that named toolset scopes gets 403 insufficient_scope naming its scopes plus the missing one, then widens at /authorize', async () => {
    const { client, tokens } = await connectWith({ scope: 'notion:read notion:write notion:pages' });
    expect(tokens.scope).toBe('notion:read notion:write notion:pages');
    stack.fake.reset();
    const res = await call(tokens.access_token, 'comments', COMMENT);
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", /);
    expect(challenge(res)).toMatchObject({
      error: 'insufficient_scope',
      scope: 'notion:read notion:write notion:pages notion:comments',
      resource_metadata: `${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`,
    });
    const body = (await res.json()) as { id: number; error: { message: string } };
    expect(body.id).toBe(7);
    expect(body.error.message).toContain('insufficient_scope');
    expect(notionCalls()).toEqual([]);

    // The client asks again with the challenge's scope: the consent page ticks exactly those.
    const html = await (await new CookieBrowser().get(authorizeUrl(stack.baseUrl, client, { challenge: pkce().challenge, scope: challenge(res).scope }))).text();
    expect(ticked(html, 'toolset')).toEqual(['pages', 'comments']);
    const wider = await connectWith({ client, scope: challenge(res).scope });
    const retried = await call(wider.tokens.access_token, 'comments', COMMENT);
    expect(retried.status).toBe(200);
  });

  it('a write on its read-only connection asks for notion:write; an allowed call and a tool beyond the maximum get no 403', async () => {
    const { tokens } = await connectWith({ scope: 'notion:read notion:pages' });
    const write = await call(tokens.access_token, 'update_page', { page_id: '59833787-2cf9-4fdf-8782-e53db20768a5' });
    expect(write.status).toBe(403);
    expect(challenge(write).scope).toBe('notion:read notion:write notion:pages');
    expect((await call(tokens.access_token, 'search', { query: 'x' })).status).toBe(200);
    expect((await toolError(await call(tokens.access_token, 'more', { op: 'list_file_uploads', args: {} }))).code).toBe('toolset_not_offered');
  });

  it('an app that named none (Claude) gets the tool error instead of a 403', async () => {
    const { tokens } = await connectWith({ scope: 'notion:read notion:write', toolsets: ['pages'] });
    const res = await call(tokens.access_token, 'comments', COMMENT);
    expect((await toolError(res)).code).toBe('toolset_not_allowed');
  });
});

describe('Your connections: changing the settings without reconnecting', () => {
  /** Signs in to /connections as the workspace user; returns the browser and the page's CSRF token. */
  async function signIn(): Promise<{ browser: CookieBrowser; csrf: string }> {
    const browser = new CookieBrowser();
    const start = await browser.get(`${stack.baseUrl}/connections/login`);
    stack.fake.authorizeAs = ws;
    const fromNotion = await browser.get(start.headers.get('location')!.replace('/v1/oauth/authorize?', '/v1/oauth/authorize/allow?'));
    await browser.get(fromNotion.headers.get('location')!);
    const html = await (await browser.get(`${stack.baseUrl}/connections`)).text();
    return { browser, csrf: consentFieldsCsrf(html) };
  }
  const unescape = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
  const consentFieldsCsrf = (html: string) => unescape(/name="csrf" value="([^"]+)"/.exec(html)![1]!);
  const save = (browser: CookieBrowser, pairs: [string, string][]) => browser.request(`${stack.baseUrl}/connections/settings`, form(pairs));

  it('takes effect on the next /mcp call with the same token, both ways, and lockdown reaches AuthContext', async () => {
    const { tokens } = await connectWith({ toolsets: ['pages', 'comments'], lockdown: false });
    const grant = grantOf(tokens.access_token);
    expect((await list(tokens.access_token)).names.some((n) => n.startsWith('comments'))).toBe(true);
    const { browser, csrf } = await signIn();

    const narrowed = await save(browser, [['grant', grant], ['csrf', csrf], ['toolset', 'pages'], ['lockdown', 'on']]);
    expect(narrowed.status).toBe(303);
    expect(narrowed.headers.get('location')).toBe('/connections?saved=1');
    const after = await list(tokens.access_token);
    expect(after.names.some((n) => n.startsWith('comments'))).toBe(false);
    expect(after.auth.lockdown).toBe(true);
    expect((await toolError(await call(tokens.access_token, 'comments', COMMENT))).code).toBe('toolset_not_allowed');

    await save(browser, [['grant', grant], ['csrf', csrf], ['toolset', 'pages'], ['toolset', 'comments'], ['toolset', 'users']]);
    const widened = await list(tokens.access_token);
    expect(widened.names.some((n) => n.startsWith('comments'))).toBe(true);
    expect(widened.names.find((n) => n.startsWith('more:'))).toContain('get_users');
    expect(widened.auth.lockdown).toBe(false);
    expect(widened.auth.scopes.has('notion:write')).toBe(true); // read or write stays as approved
  });

  it('the form fragment for /connections shows the connection as it is, and sent back unchanged it keeps it so', async () => {
    const { tokens } = await connectWith({ toolsets: ['databases', 'users'], lockdown: true });
    const grant = (await stack.app.store.getGrant(grantOf(tokens.access_token)))!;
    const { browser, csrf } = await signIn();
    const html = connectionSettingsForm(grant, csrf, stack.app.config);
    expect(html).toContain('action="/connections/settings"');
    expect(offered(html)).toEqual(['pages', 'databases', 'comments', 'users']);
    expect(ticked(html, 'toolset')).toEqual(['databases', 'users']);
    expect(ticked(html, 'lockdown')).toEqual(['on']);
    expect(html).toContain('<legend>What Claude may use</legend>');
    const hidden = [...html.matchAll(/type="hidden" name="(\w+)" value="([^"]+)"/g)].map((m): [string, string] => [m[1]!, unescape(m[2]!)]);
    const res = await save(browser, [...hidden, ...ticked(html, 'toolset').map((t): [string, string] => ['toolset', t]), ['lockdown', 'on']]);
    expect(res.status).toBe(303);
    const after = (await stack.app.store.getGrant(grant.id))!;
    expect(after.scope).toBe(grant.scope);
    expect(after.info.lockdown).toBe('on');
  });

  it('refresh follows the grant: a removed toolset does not come back, and asking for it is refused', async () => {
    const { client, tokens } = await connectWith({ toolsets: ['pages', 'comments'] });
    const { browser, csrf } = await signIn();
    await save(browser, [['grant', grantOf(tokens.access_token)], ['csrf', csrf], ['toolset', 'pages']]);
    const res = await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    const next = (await res.json()) as TokenSet;
    expect(next.scope).toBe('notion:read notion:write notion:pages');
    expect((await list(next.access_token)).names.some((n) => n.startsWith('comments'))).toBe(false);
    const wider = await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: next.refresh_token, scope: 'notion:read notion:comments' });
    expect(wider.status).toBe(400);
    expect(((await wider.json()) as { error: string }).error).toBe('invalid_scope');
    // A refresh that narrows keeps that token narrow, even after the connection is widened.
    const narrow = (await (await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: next.refresh_token, scope: 'notion:read' })).json()) as TokenSet;
    await save(browser, [['grant', grantOf(tokens.access_token)], ['csrf', csrf], ['toolset', 'pages'], ['toolset', 'comments']]);
    const narrowList = await list(narrow.access_token);
    expect(narrowList.names.some((n) => n.startsWith('comments'))).toBe(true);
    expect(narrowList.auth.scopes.has('notion:write')).toBe(false);
  });

  it('refuses a wrong CSRF token (403), an unknown connection (404), no sign-in (401) and an empty choice (400), changing nothing', async () => {
    const { tokens } = await connectWith({ toolsets: ['pages', 'comments'] });
    const grant = grantOf(tokens.access_token);
    const { browser, csrf } = await signIn();
    expect((await save(browser, [['grant', grant], ['csrf', `${csrf}x`], ['toolset', 'pages']])).status).toBe(403);
    expect((await save(new CookieBrowser(), [['grant', grant], ['csrf', csrf], ['toolset', 'pages']])).status).toBe(401);
    expect((await save(browser, [['grant', '00000000-0000-4000-8000-000000000000'], ['csrf', csrf], ['toolset', 'pages']])).status).toBe(404);
    expect((await save(browser, [['grant', grant], ['csrf', csrf]])).status).toBe(400);
    expect((await stack.app.store.getGrant(grant))!.scope).toBe('notion:read notion:write notion:pages notion:comments');
  });
});

describe('with Redis and two instances', () => {
  it('a settings change made through one instance reaches the other one\'s next calls with the same token', async () => {
    const redis = await startRedis();
    const a = await startStack({ env: { REDIS_URL: redis.url }, fake: stack.fake });
    // One public origin, as behind a load balancer: b serves a's BASE_URL on its own port.
    const port = await freePort();
    const b = await startStack({ port, env: { REDIS_URL: redis.url, BASE_URL: a.baseUrl, ADDITIONAL_ALLOWED_HOSTS: `127.0.0.1:${port}` }, fake: stack.fake });
    try {
      const { tokens } = await connect(a, ws);
      const names = async () => {
        const res = await mcpPost(b.baseUrl, tokens.access_token, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
        return ((await res.json()) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name);
      };
      expect(await names()).toContain('comments'); // b has verified the token and keeps it
      const grant = (await a.app.store.getGrant(grantOf(tokens.access_token)))!;
      await a.app.store.updateGrantSettings(grant.id, 'notion:read notion:write notion:pages', { ...grant.info, lockdown: 'on' });
      // b learns of it from the revocation channel, within the delivery of one message.
      await vi.waitFor(async () => expect(await names()).not.toContain('comments'));
      expect(((await b.app.store.getGrant(grant.id))!).info.lockdown).toBe('on');
    } finally {
      await a.close();
      await b.close();
      await redis.dispose();
    }
  });
});

describe('operator configuration', () => {
  const env = { NOTION_OAUTH_CLIENT_ID: 'id', NOTION_OAUTH_CLIENT_SECRET: 'secret', BASE_URL: 'https://mcp.example.com', SESSION_SECRET: TEST_SECRET };
  const problems = (extra: Record<string, string>) => {
    try {
      loadConfig({ ...env, ...extra });
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('defaults to every toolset, all ticked, lockdown off; lists are trimmed, any case, in a fixed order', () => {
    expect(loadConfig(env).toolsets).toEqual({ default: ['pages', 'databases', 'comments', 'files', 'users'], max: ['pages', 'databases', 'comments', 'files', 'users'], lockdown: false });
    expect(loadConfig({ ...env, TOOLSETS_MAX: ' Users, pages ', LOCKDOWN_DEFAULT: 'true' }).toolsets).toEqual({ default: ['pages', 'users'], max: ['pages', 'users'], lockdown: true });
  });

  it('refuses an unknown toolset, an empty list, a default beyond the maximum and a lockdown that is not a boolean, naming the variable', () => {
    expect(problems({ TOOLSETS_MAX: 'pages,wiki' })).toEqual([expect.stringMatching(/^TOOLSETS_MAX .*unknown: wiki/)]);
    expect(problems({ TOOLSETS_DEFAULT: ',' })).toEqual([expect.stringMatching(/^TOOLSETS_DEFAULT must be/)]);
    expect(problems({ TOOLSETS_MAX: 'pages', TOOLSETS_DEFAULT: 'pages,comments' })).toEqual([expect.stringMatching(/^TOOLSETS_DEFAULT names comments, which TOOLSETS_MAX leaves out/)]);
    expect(problems({ LOCKDOWN_DEFAULT: 'yes' })).toEqual(['LOCKDOWN_DEFAULT must be true or false']);
  });
});

describe('scope semantics (oauth/scopes.ts)', () => {
  const sorted = (set: Set<string>) => [...set].sort();

  it('a scope naming no toolset allows every one; a grant of all of them is stored in that short form', () => {
    expect(sorted(effectiveScopes('notion:read notion:write', 'notion:read notion:write', TOOLSETS))).toEqual(
      ['notion:comments', 'notion:databases', 'notion:files', 'notion:pages', 'notion:read', 'notion:users', 'notion:write'],
    );
    expect(grantScope(true, TOOLSETS)).toBe('notion:read notion:write');
    expect(grantScope(false, ['users', 'pages'])).toBe('notion:read notion:pages notion:users');
  });

  it('effective = grant ∩ token ∩ maximum: a token narrows, never widens; the maximum cuts older grants too', () => {
    expect(sorted(effectiveScopes('notion:read notion:pages', 'notion:read notion:write', TOOLSETS))).toEqual(['notion:pages', 'notion:read']);
    expect(sorted(effectiveScopes('notion:read notion:write', 'notion:read notion:comments', TOOLSETS))).toEqual(['notion:comments', 'notion:read']);
    expect(sorted(effectiveScopes('notion:read', 'notion:read', ['pages']))).toEqual(['notion:pages', 'notion:read']);
  });

  it('parsing refuses unknown scopes and toolsets beyond the maximum; a refresh may only narrow', () => {
    expect(parseRequestedScope('notion:read notion:comments offline_access', TOOLSETS)).toEqual(['notion:read', 'notion:comments']);
    expect(() => parseRequestedScope('notion:read notion:files', ['pages'])).toThrow(/notion:files/);
    expect(() => parseRequestedScope('notion:admin')).toThrow(/unknown scope notion:admin/);
    expect(downscope('notion:read notion:write', 'notion:read notion:users')).toBe('notion:read notion:users');
    expect(() => downscope('notion:read notion:pages', 'notion:read notion:users')).toThrow(/notion:users was not granted/);
  });
});

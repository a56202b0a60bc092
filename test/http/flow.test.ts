import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTION_VERSION } from '../../src/config.js';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { authorizeHeadless, callTool, connect, exchangeCode, mcpPost, register, tokenRequest } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';

describe('the whole connector flow (register → consent → Notion → token → tools → refresh → revoke)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  it('lands back at the client with our code, the state and iss (RFC 9207)', async () => {
    const client = await register(stack.baseUrl);
    const auth = await authorizeHeadless(stack, client, { workspace: fakeWorkspace('A') });
    expect(auth.redirect.origin + auth.redirect.pathname).toBe('https://claude.ai/api/mcp/auth_callback');
    expect(auth.redirect.searchParams.get('state')).toBe('client-state-123');
    expect(auth.redirect.searchParams.get('iss')).toBe(stack.baseUrl);
    expect(auth.redirect.searchParams.get('code')).toMatch(/^nmr_ac_/);
  });

  it('sends Notion our static client, owner=user and our callback, and exchanges with Basic auth', async () => {
    stack.fake.reset();
    const { tokens } = await connect(stack, fakeWorkspace('A'));
    expect(tokens.token_type).toBe('Bearer');
    const exchange = stack.fake.requests.find((r) => r.path === '/v1/oauth/token');
    expect(exchange?.method).toBe('POST');
    expect(exchange?.headers.authorization).toBe(`Basic ${Buffer.from(`${stack.fake.clientId}:${stack.fake.clientSecret}`).toString('base64')}`);
    expect(exchange?.headers['notion-version']).toBe(NOTION_VERSION);
    expect(exchange?.body).toMatchObject({ grant_type: 'authorization_code', redirect_uri: `${stack.baseUrl}/oauth/callback` });
    const screen = stack.fake.requests.find((r) => r.path === '/v1/oauth/authorize/allow');
    expect(screen?.query).toMatchObject({ client_id: stack.fake.clientId, owner: 'user', response_type: 'code', redirect_uri: `${stack.baseUrl}/oauth/callback` });
  });

  it("runs tools with that user's Notion token and the pinned Notion-Version, never ours", async () => {
    const { tokens } = await connect(stack, fakeWorkspace('A'));
    stack.fake.reset();
    const search = await callTool(stack.baseUrl, tokens.access_token, 'search', { query: 'Page' });
    expect(search.isError).toBe(false);
    expect(search.data.results.length).toBeGreaterThan(0);
    const page = search.data.results.find((r: { object: string }) => r.object === 'page');
    const got = await callTool(stack.baseUrl, tokens.access_token, 'get_page', { page_id: page.url });
    expect(got.data.object).toBe('page');
    expect(JSON.stringify(got.data)).toContain('Workspace A');
    const calls = stack.fake.requests.filter((r) => r.path.startsWith('/v1/') && !r.path.startsWith('/v1/oauth'));
    // GET /v1/users: who wrote what (provenance), read once for the connection alongside its first read.
    expect(calls.map((c) => `${c.method} ${c.path}`).sort()).toEqual(['GET /v1/users', 'POST /v1/search', `GET /v1/pages/${page.id}`].sort());
    for (const c of calls) {
      expect(c.headers['notion-version']).toBe(NOTION_VERSION);
      expect(c.headers.authorization).toMatch(/^Bearer ntn_/);
      expect(stack.fake.tokens.get(c.headers.authorization!.slice(7))?.name).toBe('Workspace A');
      expect(JSON.stringify(c)).not.toContain(tokens.access_token);
    }
  });

  it('returns Notion errors as tool errors with code, message and a hint', async () => {
    const { tokens } = await connect(stack, fakeWorkspace('A'));
    const res = await callTool(stack.baseUrl, tokens.access_token, 'get_page', { page_id: '00000000-0000-4000-8000-000000000000' });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('object_not_found');
    expect(res.data.error.hint).toMatch(/shared with this connector/);
  });

  it('refreshes with rotation, and revocation ends the grant and the Notion token upstream', async () => {
    const { client, tokens } = await connect(stack, fakeWorkspace('B'));
    const refreshed = await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    const pair = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect(pair.refresh_token).not.toBe(tokens.refresh_token);
    expect((await callTool(stack.baseUrl, pair.access_token, 'search')).isError).toBe(false);

    const notionToken = [...stack.fake.tokens].find(([, ws]) => ws.name === 'Workspace B')![0];
    const revoke = await fetch(`${stack.baseUrl}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: pair.refresh_token, client_id: client.client_id, client_secret: client.client_secret! }).toString(),
    });
    expect(revoke.status).toBe(200);
    expect(stack.fake.revoked.has(notionToken)).toBe(true);
    for (const t of [tokens.access_token, pair.access_token]) {
      expect((await mcpPost(stack.baseUrl, t, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(401);
    }
  });

  it('keeps connections across a restart, and stores no token in clear under DATA_DIR', async () => {
    const client = await register(stack.baseUrl);
    const auth = await authorizeHeadless(stack, client, { workspace: fakeWorkspace('C') });
    const tokens = await exchangeCode(stack, client, auth);
    await stack.restart();
    expect((await callTool(stack.baseUrl, tokens.access_token, 'search')).isError).toBe(false);
    const refreshed = await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);

    const secrets = [tokens.access_token, tokens.refresh_token, client.client_secret!, auth.redirect.searchParams.get('code')!, ...stack.fake.tokens.keys()];
    const files = readdirSync(stack.dataDir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const raw = readFileSync(join(stack.dataDir, f)).toString('latin1');
      for (const s of secrets) expect(raw.includes(s), `${f} holds a secret in clear`).toBe(false);
    }
    for (const line of stack.logs) for (const s of secrets) expect(line.includes(s)).toBe(false);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { authorizeHeadless, callTool, exchangeCode, mcpPost, register, tokenRequest } from '../helpers/oauth-client.js';
import { type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';

describe('logs of a full OAuth flow and tool calls', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  it('hold no token, code, client secret, Notion token or SESSION_SECRET, and every request line has its reqId', async () => {
    const client = await register(stack.baseUrl);
    const auth = await authorizeHeadless(stack, client, { workspace: fakeWorkspace(1) });
    const code = auth.redirect.searchParams.get('code')!;
    const tokens = await exchangeCode(stack, client, auth);
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_self')).isError).toBe(false);
    expect((await callTool(stack.baseUrl, tokens.access_token, 'search', { query: 'x' })).isError).toBe(false);
    // A Notion 401 makes the connector refresh the Notion token: both Notion tokens pass through.
    stack.fake.enqueue({ status: 401, body: { object: 'error', status: 401, code: 'unauthorized', message: 'API token is invalid.' }, pathPrefix: '/v1/users/me' });
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_self')).isError).toBe(false);
    const refreshed = await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    const second = (await refreshed.json()) as { access_token: string; refresh_token: string };
    // A bad token and a failing call are logged too.
    expect((await mcpPost(stack.baseUrl, `${tokens.access_token}x`, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(401);
    const tagged = await mcpPost(stack.baseUrl, second.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'x-request-id': 'trace-abc.123' });
    expect(tagged.headers.get('x-request-id')).toBe('trace-abc.123');
    const revoked = await fetch(`${stack.baseUrl}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: second.refresh_token, client_id: client.client_id, client_secret: client.client_secret! }).toString(),
    });
    expect(revoked.status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));

    // Every Notion token the connector sent: bearers on API calls, refresh and revoked tokens in bodies.
    const notionTokens = new Set<string>();
    for (const r of stack.fake.requests) {
      const bearer = /^Bearer (.+)$/i.exec(r.headers.authorization ?? '')?.[1];
      if (bearer) notionTokens.add(bearer);
      const body = (r.body ?? {}) as Record<string, unknown>;
      for (const key of ['refresh_token', 'token', 'code']) if (typeof body[key] === 'string') notionTokens.add(body[key] as string);
    }
    // The first access token, its refreshed successor, the refresh token and Notion's code at least.
    expect(notionTokens.size).toBeGreaterThanOrEqual(4);
    const secrets: Record<string, string> = {
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      second_access_token: second.access_token,
      second_refresh_token: second.refresh_token,
      code,
      client_secret: client.client_secret!,
      code_verifier: auth.verifier,
      SESSION_SECRET: TEST_SECRET,
      notion_client_secret: stack.fake.clientSecret,
      ...Object.fromEntries([...notionTokens].map((t, i) => [`notion_token_${i}`, t])),
    };
    const all = stack.logs.join('');
    expect(stack.logs.length).toBeGreaterThanOrEqual(13);
    expect(all).toContain('"path":"/token"');
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length).toBeGreaterThan(10);
      expect({ name, found: all.includes(secret) }).toEqual({ name, found: false });
    }

    const lines = stack.logs.map((l) => JSON.parse(l) as { msg: string; reqId?: unknown; path?: string });
    const requestLines = lines.filter((l) => l.msg === 'request');
    expect(requestLines.length).toBeGreaterThanOrEqual(12);
    for (const line of requestLines) expect(typeof line.reqId).toBe('string');
    // Distinct requests have distinct ids, and a given X-Request-Id is the one logged.
    const ids = requestLines.map((l) => l.reqId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(requestLines.some((l) => l.reqId === 'trace-abc.123' && l.path === '/mcp')).toBe(true);
  });
});

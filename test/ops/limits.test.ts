import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { connect, mcpPost, register, type TokenSet } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';

const LIMIT = 4;
const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };

function expectRetryAfter(res: Response): void {
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

/** Sends `send` until the first refusal; returns how many passed and the refusal. */
async function untilRefused(send: () => Promise<Response>, max = 20): Promise<{ passed: number; refused: Response }> {
  for (let passed = 0; passed < max; passed++) {
    const res = await send();
    if (res.status === 429) return { passed, refused: res };
    await res.arrayBuffer();
  }
  throw new Error(`no 429 within ${max} requests`);
}

describe('abuse limits', () => {
  let stack: Stack;
  let a: TokenSet;
  let b: TokenSet;
  beforeAll(async () => {
    stack = await startStack({
      env: {
        RATE_LIMIT_AUTHORIZE_PER_MINUTE: String(LIMIT),
        RATE_LIMIT_TOKEN_PER_MINUTE: String(LIMIT),
        RATE_LIMIT_MCP_PER_MINUTE: String(LIMIT),
      },
    });
    // Two connections: every per-IP counter below has used 2 of its LIMIT.
    a = (await connect(stack, fakeWorkspace(1))).tokens;
    b = (await connect(stack, fakeWorkspace(2))).tokens;
  });
  afterAll(async () => stack.close());

  it('/token: OAuth JSON 429 with Retry-After once the per-IP limit is used up', async () => {
    const { passed, refused } = await untilRefused(() =>
      fetch(`${stack.baseUrl}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password' }),
    );
    expect(passed).toBe(LIMIT - 2);
    expectRetryAfter(refused);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await refused.json()).toMatchObject({ error: 'too_many_requests' });
  });

  it('GET /authorize, POST /authorize and /oauth/callback: an HTML page with 429 and Retry-After', async () => {
    const sends: [string, () => Promise<Response>][] = [
      ['GET /authorize', () => fetch(`${stack.baseUrl}/authorize?client_id=x`, { redirect: 'manual' })],
      ['POST /authorize', () => fetch(`${stack.baseUrl}/authorize`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'consent=x' })],
      ['GET /oauth/callback', () => fetch(`${stack.baseUrl}/oauth/callback?state=x`, { redirect: 'manual' })],
    ];
    for (const [name, send] of sends) {
      const { passed, refused } = await untilRefused(send);
      expect({ name, passed }).toEqual({ name, passed: LIMIT - 2 });
      expectRetryAfter(refused);
      expect(refused.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await refused.text()).toContain('Too many requests');
    }
  });

  it('/mcp: a JSON-RPC error with 429 per grant; another grant from the same address is not affected', async () => {
    const { passed, refused } = await untilRefused(() => mcpPost(stack.baseUrl, a.access_token, ping));
    expect(passed).toBe(LIMIT);
    expectRetryAfter(refused);
    const body = (await refused.json()) as { jsonrpc: string; error: { code: number; message: string } };
    expect(body.jsonrpc).toBe('2.0');
    expect(body.error.code).toBe(-32000);
    expect(body.error.message).toMatch(/too many/i);
    expect((await mcpPost(stack.baseUrl, b.access_token, ping)).status).toBe(200);
    // Requests without a valid token are refused by authentication, not counted against a grant.
    expect((await mcpPost(stack.baseUrl, 'nmr_at_bogus', ping)).status).toBe(401);
  });
});

describe('body size caps: 413 in each endpoint’s format', () => {
  let stack: Stack;
  let tokens: TokenSet;
  beforeAll(async () => {
    stack = await startStack();
    tokens = (await connect(stack, fakeWorkspace(3))).tokens;
  });
  afterAll(async () => stack.close());

  const big = (bytes: number) => 'x'.repeat(bytes);
  const formBody = `a=${big(70 * 1024)}`;
  const jsonBody = JSON.stringify({ a: big(70 * 1024) });

  it('OAuth JSON on /register, /token and /revoke (form and JSON bodies)', async () => {
    const cases: [string, string, string][] = [
      ['/register', 'application/json', jsonBody],
      ['/token', 'application/x-www-form-urlencoded', formBody],
      ['/token', 'application/json', jsonBody],
      ['/revoke', 'application/x-www-form-urlencoded', formBody],
    ];
    for (const [path, type, body] of cases) {
      const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
      expect({ path, type, status: res.status }).toEqual({ path, type, status: 413 });
      expect(await res.json()).toMatchObject({ error: 'invalid_request', error_description: 'Request body too large' });
    }
  });

  it('an HTML page on POST /authorize and the /connections forms', async () => {
    for (const path of ['/authorize', '/connections/disconnect', '/connections/logout']) {
      const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: formBody });
      expect({ path, status: res.status }).toEqual({ path, status: 413 });
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('Request body too large');
    }
  });

  it('a JSON-RPC error on /mcp above 4 MB, while 3 MB still reaches the MCP layer', async () => {
    const res = await mcpPost(stack.baseUrl, tokens.access_token, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: big(4 * 1024 * 1024 + 10) } }));
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Request body too large' } });
    const ok = await mcpPost(stack.baseUrl, tokens.access_token, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: big(3 * 1024 * 1024) } }));
    expect(ok.status).toBe(200);
  });
});

describe('registered clients: MAX_CLIENTS of never-used clients, and idle-client clean-up', () => {
  const DAY = 86_400_000;
  let stack: Stack;
  beforeAll(async () => {
    // A few addresses behind a proxy, each within its registration rate limit.
    stack = await startStack({ env: { MAX_CLIENTS: '5', TRUST_PROXY: '1' } });
  });
  afterAll(async () => stack.close());

  const registerFrom = (ip: string) =>
    fetch(`${stack.baseUrl}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: JSON.stringify({ redirect_uris: ['https://attacker.example/cb'] }),
    });

  it('a registration flood from a few addresses never stops a new user from connecting, nor ends a connection', async () => {
    const earlier = await connect(stack, fakeWorkspace(4));
    for (let i = 0; i < 30; i++) {
      const res = await registerFrom(`198.51.100.${i % 3}`);
      expect(res.status).toBe(201);
      await res.arrayBuffer();
    }
    // Only MAX_CLIENTS never-used clients are kept; the connected client is not one of them.
    expect(await stack.app.store.countClients()).toBe(6);
    expect(await stack.app.store.getClient(earlier.client.client_id)).not.toBeNull();
    expect((await mcpPost(stack.baseUrl, earlier.tokens.access_token, ping)).status).toBe(200);
    // A new user registers, consents and gets tokens, with the flood still filling the cap.
    const fresh = await connect(stack, fakeWorkspace(5));
    expect((await mcpPost(stack.baseUrl, fresh.tokens.access_token, ping)).status).toBe(200);
  });

  it('the sweep deletes clients without a grant after CLIENT_IDLE_DAYS, and keeps those with one', async () => {
    const used = await connect(stack, fakeWorkspace(6));
    const unused = await register(stack.baseUrl);
    const { store, config } = stack.app;
    expect(config.clientIdleMs).toBe(30 * DAY);
    const before = await store.countClients();
    await store.sweep(Date.now() + 29 * DAY, config.clientIdleMs);
    expect(await store.countClients()).toBe(before);
    await store.sweep(Date.now() + 31 * DAY, config.clientIdleMs);
    expect(await store.getClient(unused.client_id)).toBeNull();
    expect(await store.getClient(used.client.client_id)).not.toBeNull();
  });
});

describe('/mcp: failed bearer attempts and batches', () => {
  let stack: Stack;
  let a: TokenSet;
  let b: TokenSet;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_MCP_PER_MINUTE: '6', TRUST_PROXY: '1' } });
    a = (await connect(stack, fakeWorkspace(1))).tokens;
    b = (await connect(stack, fakeWorkspace(2))).tokens;
  });
  afterAll(async () => stack.close());

  it('answers 429 once an address has spent its failed bearer attempts, and a valid token from it still passes', async () => {
    const { BEARER_FAILURES_PER_MINUTE } = await import('../../src/http/mcp-route.js');
    const guess = (i: number) => mcpPost(stack.baseUrl, `nmr_at_guess${i}`, ping);
    for (let i = 0; i < BEARER_FAILURES_PER_MINUTE; i++) {
      const res = await guess(i);
      expect(res.status).toBe(401);
      await res.arrayBuffer();
    }
    const refused = await guess(-1);
    expect(refused.status).toBe(429);
    expectRetryAfter(refused);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/failed authorization attempts/);
    // No credentials at all count as a failure too.
    expect((await mcpPost(stack.baseUrl, null, ping)).status).toBe(429);
    // The limit is on failures only: a real user behind the same address is not locked out.
    expect((await mcpPost(stack.baseUrl, b.access_token, ping)).status).toBe(200);
  });

  it('counts failures per client address as Express sees it behind TRUST_PROXY', async () => {
    const { BEARER_FAILURES_PER_MINUTE } = await import('../../src/http/mcp-route.js');
    const from = (ip: string) => mcpPost(stack.baseUrl, 'nmr_at_guess', ping, { 'x-forwarded-for': ip });
    for (let i = 0; i < BEARER_FAILURES_PER_MINUTE; i++) await (await from('203.0.113.7')).arrayBuffer();
    expect((await from('203.0.113.7')).status).toBe(429);
    expect((await from('203.0.113.8')).status).toBe(401);
  });

  it('counts every message of a batch against the connection limit', async () => {
    const remaining = (res: Response) => Number(/remaining=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
    const first = await mcpPost(stack.baseUrl, a.access_token, ping);
    expect(remaining(first)).toBe(5);
    const batch = [1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'ping' }));
    const res = await mcpPost(stack.baseUrl, a.access_token, batch);
    expect(res.status).toBe(200);
    expect(remaining(res)).toBe(2);
    // 2 left: a batch of 3 is over the limit.
    const over = await mcpPost(stack.baseUrl, a.access_token, batch);
    expect(over.status).toBe(429);
    expectRetryAfter(over);
  });

  it('accepts batches only in 2025-03-26 (no header or that version), refuses them from 2025-06-18 on', async () => {
    const batch = [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }];
    const ok = await mcpPost(stack.baseUrl, b.access_token, batch, { 'mcp-protocol-version': '2025-03-26' });
    expect(ok.status).toBe(200);
    expect(Array.isArray(await ok.json())).toBe(true);
    for (const version of ['2025-06-18', '2025-11-25']) {
      const res = await mcpPost(stack.baseUrl, b.access_token, batch, { 'mcp-protocol-version': version });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: number; message: string } };
      expect(body.error.code).toBe(-32600);
      expect(body.error.message).toMatch(/batches are not part of MCP/);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateGate } from '../../src/notion/rate-gate.js';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { callTool, connect } from '../helpers/oauth-client.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';

const PAGE = '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d';
const pageCalls = (ts: ToolStack) => ts.apiRequests().filter((r) => r.path === `/v1/pages/${PAGE}`);
const rateLimited = (retryAfter: string, status = 429) => ({
  status,
  body: { object: 'error', status, code: status === 429 ? 'rate_limited' : 'service_overload', message: 'Slow down', additional_data: { rate_limit_reason: 'integration' } },
  headers: { 'retry-after': retryAfter },
  pathPrefix: '/v1/pages/',
});

describe('Notion rate limits (429/529)', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  it('retries once when Retry-After is at most 2 s', async () => {
    ts.stack.fake.reset();
    ts.stack.fake.enqueue(rateLimited('1'));
    const res = await ts.call('get_page', { page_id: PAGE });
    expect(res.isError).toBe(false);
    expect(pageCalls(ts)).toHaveLength(2);
  });

  it('retries a 529 service_overload the same way', async () => {
    ts.stack.fake.reset();
    ts.stack.fake.enqueue(rateLimited('0', 529));
    expect((await ts.call('get_page', { page_id: PAGE })).isError).toBe(false);
    expect(pageCalls(ts)).toHaveLength(2);
  });

  it('returns a tool error with retry_after_seconds when the wait is longer', async () => {
    ts.stack.fake.reset();
    ts.stack.fake.enqueue(rateLimited('30'));
    const res = await ts.call('get_page', { page_id: PAGE });
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'rate_limited', retry_after_seconds: 30, rate_limit_reason: 'integration' });
    expect(pageCalls(ts)).toHaveLength(1);
  });

  it('does not retry twice: a second short 429 goes back to the model', async () => {
    ts.stack.fake.reset();
    ts.stack.fake.enqueue(rateLimited('0'));
    ts.stack.fake.enqueue(rateLimited('0'));
    const res = await ts.call('get_page', { page_id: PAGE });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('rate_limited');
    expect(pageCalls(ts)).toHaveLength(2);
  });
});

describe('per-connection rate gate', () => {
  it('lets a burst through, then spaces calls at the configured rate', async () => {
    let t = 0;
    const gate = new RateGate(2, 3, 10_000, () => t);
    for (let i = 0; i < 3; i++) await gate.take('g');
    const started = Date.now();
    await gate.take('g'); // the bucket is empty: waits 1/rate = 500 ms of real time
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    t += 1000; // two tokens come back after a second
    const again = Date.now();
    await gate.take('g');
    expect(Date.now() - again).toBeLessThan(50);
  });

  it('refuses with retry_after_seconds instead of queueing past the maximum wait', async () => {
    const gate = new RateGate(1, 1, 1500, () => 0);
    await gate.take('g');
    await expect(gate.take('g')).resolves.toBeUndefined(); // waits 1 s: allowed
    await expect(gate.take('g')).rejects.toMatchObject({ code: 'rate_limited', extra: { retry_after_seconds: 2 } });
  });

  it('keeps connections apart and drops idle buckets once past its size cap', async () => {
    let t = 0;
    const gate = new RateGate(1, 1, 0, () => t, 2);
    await gate.take('a');
    await expect(gate.take('b')).resolves.toBeUndefined();
    t += 5000;
    await gate.take('c');
    expect(gate.size).toBeLessThanOrEqual(2);
  });
});

describe('Notion 401: refresh the Notion token once, under a per-grant lock', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  it('refreshes, stores the rotated pair, retries, and keeps using the new token after a restart', async () => {
    const { tokens } = await connect(ts.stack, fakeWorkspace('R'));
    const fake = ts.stack.fake;
    const old = [...fake.tokens].find(([, w]) => w.name === 'Workspace R')![0];
    fake.tokens.delete(old); // Notion now refuses the old access token
    fake.reset();
    const res = await callTool(ts.stack.baseUrl, tokens.access_token, 'get_page', { page_id: PAGE });
    expect(res.isError).toBe(false);
    expect(JSON.stringify(res.data)).toContain('Workspace R');
    const seen = fake.requests.map((r) => `${r.method} ${r.path} ${r.headers.authorization?.split(' ')[0]}`);
    // Then the connection's users list, once, with the fresh token (provenance: who wrote the page).
    expect(seen).toEqual([`GET /v1/pages/${PAGE} Bearer`, 'POST /v1/oauth/token Basic', `GET /v1/pages/${PAGE} Bearer`, 'GET /v1/users Bearer']);
    const refresh = fake.requests[1]!;
    expect(refresh.body).toMatchObject({ grant_type: 'refresh_token' });
    expect(refresh.headers['notion-version']).toBe('2026-03-11');
    const fresh = fake.requests[2]!.headers.authorization!.slice(7);
    expect(fresh).not.toBe(old);
    expect(fake.tokens.get(fresh)?.name).toBe('Workspace R');

    await ts.stack.restart();
    fake.reset();
    expect((await callTool(ts.stack.baseUrl, tokens.access_token, 'get_page', { page_id: PAGE })).isError).toBe(false);
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${fresh}`]);
  });

  it('makes one refresh for many concurrent requests that all got 401', async () => {
    const { tokens } = await connect(ts.stack, fakeWorkspace('S'));
    const fake = ts.stack.fake;
    fake.tokens.delete([...fake.tokens].find(([, w]) => w.name === 'Workspace S')![0]);
    fake.reset();
    const results = await Promise.all(Array.from({ length: 6 }, () => callTool(ts.stack.baseUrl, tokens.access_token, 'get_page', { page_id: PAGE })));
    expect(results.every((r) => !r.isError)).toBe(true);
    expect(fake.requests.filter((r) => r.path === '/v1/oauth/token')).toHaveLength(1);
  });

  const revokedAtNotion = (name: string) => {
    const fake = ts.stack.fake;
    fake.tokens.delete([...fake.tokens].find(([, w]) => w.name === name)![0]);
    fake.reset();
  };

  it('tells the user to reconnect when the grant has no Notion refresh token', async () => {
    ts.stack.fake.consentRefreshTokens = false;
    const { tokens } = await connect(ts.stack, fakeWorkspace('T'));
    ts.stack.fake.consentRefreshTokens = true;
    revokedAtNotion('Workspace T');
    const res = await callTool(ts.stack.baseUrl, tokens.access_token, 'get_page', { page_id: PAGE });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('notion_access_revoked');
    expect(res.data.error.message).toMatch(/Reconnect the connector/);
    expect(ts.stack.fake.requests.map((r) => r.path)).toEqual([`/v1/pages/${PAGE}`, '/v1/oauth/introspect']);
  });

  it('tells the user to reconnect when Notion refuses the refresh too', async () => {
    const { tokens } = await connect(ts.stack, fakeWorkspace('U'));
    revokedAtNotion('Workspace U');
    ts.stack.fake.setHandler((req) => (req.path === '/v1/oauth/token' ? { status: 400, body: { error: 'invalid_grant' } } : undefined));
    const res = await callTool(ts.stack.baseUrl, tokens.access_token, 'get_page', { page_id: PAGE });
    ts.stack.fake.setHandler(null);
    expect(res.isError).toBe(true);
    expect(res.data.error.message).toMatch(/Reconnect the connector/);
    expect(ts.stack.fake.requests.map((r) => r.path)).toEqual([`/v1/pages/${PAGE}`, '/v1/oauth/token', '/v1/oauth/introspect']);
  });
});

import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { callTool, connect, tokenRequest } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';

/** The value of one sample line, e.g. `oauth_events_total{event="refresh"}`; 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function scrape(stack: Stack): Promise<string> {
  const res = await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('GET /metrics', () => {
  let stack: Stack;
  let other: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { METRICS_TOKEN } });
    // A second app in the same process: its own registry, no collision.
    other = await startStack();
  });
  afterAll(async () => {
    await stack.close();
    await other.close();
  });

  it('requires the METRICS_TOKEN bearer when one is set', async () => {
    expect((await fetch(`${stack.baseUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).status).toBe(401);
    // Through a proxy the token still works.
    expect((await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}`, 'x-forwarded-for': '203.0.113.9' } })).status).toBe(200);
    // Without METRICS_TOKEN a direct scraper on this machine (loopback, no forwarding header) reads it.
    expect((await fetch(`${other.baseUrl}/metrics`)).status).toBe(200);
  });

  it.each([
    ['x-forwarded-for', '203.0.113.9'],
    ['x-forwarded-for', '127.0.0.1'],
    ['forwarded', 'for=203.0.113.9;proto=https'],
    ['x-real-ip', '203.0.113.9'],
    ['x-forwarded-proto', 'https'],
  ])('without METRICS_TOKEN answers 404 to a proxied request (%s: %s), though it arrives from loopback', async (name, value) => {
    const res = await fetch(`${other.baseUrl}/metrics`, { headers: { [name]: value } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found' });
  });

  it('counts HTTP requests by route path, Notion calls, 429s and retries, OAuth events and active grants', async () => {
    const { client, tokens } = await connect(stack, fakeWorkspace(1));
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_self')).isError).toBe(false);
    stack.fake.enqueue({ status: 429, body: { object: 'error', status: 429, code: 'rate_limited', message: 'Slow down' }, headers: { 'retry-after': '0' }, pathPrefix: '/v1/users/me' });
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_self')).isError).toBe(false);
    const refreshed = await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    await fetch(`${stack.baseUrl}/pages/secret-looking-id-123?x=1`);

    const before = await scrape(stack);
    expect(sample(before, 'http_requests_total{method="POST",route="/mcp",status="200"}')).toBe(2);
    expect(sample(before, 'http_requests_total{method="POST",route="/register",status="201"}')).toBe(1);
    expect(sample(before, 'http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(sample(before, 'http_request_duration_seconds_count{method="POST",route="/mcp",status="200"}')).toBe(2);
    expect(sample(before, 'http_request_duration_seconds_sum{method="POST",route="/mcp",status="200"}')).toBeGreaterThan(0);
    // Cumulative buckets: never decreasing, every request under 30 s, +Inf equal to the count.
    const mcpBuckets = before.split('\n').filter((l) => l.startsWith('http_request_duration_seconds_bucket{method="POST",route="/mcp",status="200",le='));
    const counts = mcpBuckets.map((l) => Number(l.split(' ')[1]));
    expect(mcpBuckets).toHaveLength(13);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(sample(before, 'http_request_duration_seconds_bucket{method="POST",route="/mcp",status="200",le="30"}')).toBe(2);
    expect(sample(before, 'http_request_duration_seconds_bucket{method="POST",route="/mcp",status="200",le="+Inf"}')).toBe(2);
    // Route paths only: never the raw URL.
    expect(before).not.toContain('secret-looking-id-123');
    expect(sample(before, 'notion_requests_total{status="200"}')).toBe(2);
    expect(sample(before, 'notion_requests_total{status="429"}')).toBe(1);
    expect(sample(before, 'notion_rate_limited_total')).toBe(1);
    expect(sample(before, 'notion_retries_total{reason="rate_limited"}')).toBe(1);
    expect(sample(before, 'oauth_events_total{event="registration"}')).toBe(1);
    expect(sample(before, 'oauth_events_total{event="authorization"}')).toBe(1);
    expect(sample(before, 'oauth_events_total{event="refresh"}')).toBe(1);
    expect(sample(before, 'oauth_events_total{event="revocation"}')).toBe(0);
    expect(sample(before, 'active_grants')).toBe(1);
    expect(sample(before, 'registered_clients')).toBe(1);
    expect(sample(before, 'store_up')).toBe(1);

    const newRefresh = ((await refreshed.json()) as { refresh_token: string }).refresh_token;
    const revoked = await fetch(`${stack.baseUrl}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: newRefresh, client_id: client.client_id, client_secret: client.client_secret! }).toString(),
    });
    expect(revoked.status).toBe(200);
    const after = await scrape(stack);
    expect(sample(after, 'oauth_events_total{event="revocation"}')).toBe(1);
    expect(sample(after, 'active_grants')).toBe(0);

    // The other app counted none of this.
    const elsewhere = await (await fetch(`${other.baseUrl}/metrics`)).text();
    expect(sample(elsewhere, 'oauth_events_total{event="registration"}')).toBe(0);
    expect(sample(elsewhere, 'http_requests_total{method="POST",route="/mcp",status="200"}')).toBe(0);
  });

  it('reports store_up 0 when the store fails, and still answers', async () => {
    await other.app.store.close();
    const res = await fetch(`${other.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(sample(await res.text(), 'store_up')).toBe(0);
  });

  it('counts tool calls by tool and outcome, with unknown names under one label, and Notion latency by endpoint group', async () => {
    const { tokens } = await connect(stack, fakeWorkspace(7));
    const before = await scrape(stack);
    const call = (name: string, args: Record<string, unknown> = {}) => callTool(stack.baseUrl, tokens.access_token, name, args);
    expect((await call('get_self')).isError).toBe(false);
    expect((await call('get_self')).isError).toBe(false);
    expect((await call('get_page', { page_id: 'not an id' })).isError).toBe(true);
    expect((await call('no_such_tool_1')).isError).toBe(true);
    expect((await call('no_such_tool_2')).isError).toBe(true);
    const after = await scrape(stack);
    const delta = (series: string) => sample(after, series) - sample(before, series);
    expect(delta('mcp_tool_calls_total{tool="get_self",outcome="ok"}')).toBe(2);
    expect(delta('mcp_tool_calls_total{tool="get_page",outcome="tool_error"}')).toBe(1);
    expect(delta('mcp_tool_calls_total{tool="(unknown)",outcome="tool_error"}')).toBe(2);
    expect(after).not.toContain('no_such_tool');
    expect(delta('notion_request_duration_seconds_count{endpoint="users"}')).toBe(2);
    expect(sample(after, 'notion_request_duration_seconds_bucket{endpoint="users",le="+Inf"}')).toBe(sample(after, 'notion_request_duration_seconds_count{endpoint="users"}'));
    // The token exchange with Notion is timed too, in its own group.
    expect(sample(after, 'notion_request_duration_seconds_count{endpoint="oauth"}')).toBeGreaterThan(0);
  });
});

describe('GET /metrics without METRICS_TOKEN, listening on every interface', () => {
  let stack: Stack;
  // A non-loopback address of this machine: a request to it arrives from it, not from loopback.
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i?.family === 'IPv4' && !i.internal)?.address;
  beforeAll(async () => {
    // TRUST_PROXY=true: Express would believe any X-Forwarded-For; the gate must not.
    stack = await startStack({ env: { HOST: '0.0.0.0', TRUST_PROXY: 'true' } });
  });
  afterAll(async () => stack.close());

  it.skipIf(!external)('answers 404 to a peer that is not loopback, and the 404 page to a browser', async () => {
    const url = `${stack.baseUrl.replace('127.0.0.1', external!)}/metrics`;
    const res = await fetch(url);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found' });
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('Page not found');
    expect(await (await fetch(url.replace('/metrics', '/health'))).json()).toEqual({ status: 'ok' });
  });

  it('ignores TRUST_PROXY: a forged loopback X-Forwarded-For is still a proxied request', async () => {
    expect((await fetch(`${stack.baseUrl}/metrics`, { headers: { 'x-forwarded-for': '127.0.0.1' } })).status).toBe(404);
    expect((await fetch(`${stack.baseUrl}/metrics`)).status).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStore } from '../../src/store/redis.js';
import { type FakeNotion, startFakeNotion } from '../helpers/fake-notion.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { type Stack, startStack } from '../helpers/stack.js';

/**
 * The abuse limits with REDIS_URL: two app instances in this process share one real redis-server,
 * so a client cannot multiply its budget by the number of instances behind the load balancer.
 * Without Redis each instance counts on its own (memory store).
 */

const env = { RATE_LIMIT_TOKEN_PER_MINUTE: '3', RATE_LIMIT_AUTHORIZE_PER_MINUTE: '2' };

/** A token request that passes the limiter and then needs the store (an unknown client: 401). */
const token = (base: string) =>
  fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'nmr_rt_x', client_id: 'nobody' }).toString(),
  });
/** Starts the Notion sign-in: a 303 to Notion. */
const login = (base: string) => fetch(`${base}/connections/login`, { redirect: 'manual' });

async function status(res: Response): Promise<number> {
  await res.arrayBuffer();
  return res.status;
}

function expectRetryAfter(res: Response): void {
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

let fake: FakeNotion;
beforeAll(async () => {
  fake = await startFakeNotion();
});
afterAll(async () => fake?.close());

describe('shared limits: two instances on one Redis', () => {
  let redis: RedisServer;
  let a: Stack;
  let b: Stack;
  beforeAll(async () => {
    redis = await startRedis();
    const opts = { fake, env: { ...env, REDIS_URL: redis.url } };
    [a, b] = await Promise.all([startStack(opts), startStack(opts)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis?.dispose();
  });

  it('/token: three requests on A use up the address’s budget, so B answers 429 with Retry-After', async () => {
    for (let i = 0; i < 3; i++) expect(await status(await token(a.baseUrl))).toBe(401);
    const refused = await token(b.baseUrl);
    expect(refused.status).toBe(429);
    expectRetryAfter(refused);
    expect(await refused.json()).toMatchObject({ error: 'too_many_requests' });
    // One key per limiter, under its own prefix, expiring with the window.
    const client = (a.app.store as RedisStore).client;
    const keys = await client.keys('nmr:rl:token:*');
    expect(keys).toHaveLength(1);
    expect(await client.get(keys[0]!)).toBe('4');
    expect(await client.pttl(keys[0]!)).toBeGreaterThan(0);
  });

  it('/connections/login is limited per address (the authorize limit), shared too', async () => {
    for (let i = 0; i < 2; i++) expect(await status(await login(a.baseUrl))).toBe(303);
    const refused = await login(b.baseUrl);
    expect(refused.status).toBe(429);
    expectRetryAfter(refused);
    expect(refused.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await refused.text()).toContain('Too many requests');
  });

  it('while Redis is down the limiter fails open: routes answer the store’s 503, never 500, and nothing crashes', async () => {
    await redis.stop();
    // B's token budget is used up, but the counter cannot be read: the request goes on to the store.
    const res = await token(b.baseUrl);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
    const page = await login(b.baseUrl);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('Storage is unavailable');
    const reg = await fetch(`${a.baseUrl}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] }),
    });
    expect(reg.status).toBe(503);
    expect((await fetch(`${a.baseUrl}/health`)).status).toBe(200);
    expect(b.logs.some((l) => l.includes('rate limit store unavailable'))).toBe(true);

    // Back up (the append-only file kept the counter; Redis lost its script cache): counting resumes.
    await redis.start();
    const deadline = Date.now() + 10_000;
    let last = 0;
    while (Date.now() < deadline) {
      last = await status(await token(a.baseUrl));
      if (last === 429) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(last).toBe(429);
  });
});

describe('without Redis: each instance counts on its own', () => {
  let a: Stack;
  let b: Stack;
  beforeAll(async () => {
    [a, b] = await Promise.all([startStack({ fake, env }), startStack({ fake, env })]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('three /token requests on A leave B’s budget untouched', async () => {
    for (let i = 0; i < 3; i++) expect(await status(await token(a.baseUrl))).toBe(401);
    expect(await status(await token(b.baseUrl))).toBe(401);
    expect(await status(await token(a.baseUrl))).toBe(429);
  });

  it('/connections/login is limited per address on one instance', async () => {
    for (let i = 0; i < 2; i++) expect(await status(await login(a.baseUrl))).toBe(303);
    const refused = await login(a.baseUrl);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await status(await login(b.baseUrl))).toBe(303);
  });
});

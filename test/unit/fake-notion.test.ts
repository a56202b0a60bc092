import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeDatabase, fakePageTitle, fakeWorkspace, startFakeNotion, type FakeNotion, type FakeWorkspace } from '../helpers/fake-notion.js';

const VERSION = '2026-03-11';
const REDIRECT_URI = 'https://mcp.example.com/notion/callback';

let fake: FakeNotion;

beforeEach(async () => {
  fake = await startFakeNotion();
});

afterEach(async () => {
  await fake.close();
});

interface CallOptions {
  method?: string;
  body?: unknown;
  token?: string;
  basic?: { id: string; secret: string };
  version?: string | null;
}

/** Calls the fake the way the product calls Notion. */
async function call(path: string, opts: CallOptions = {}) {
  const headers: Record<string, string> = { 'user-agent': 'fake-notion-test' };
  if (opts.version !== null) headers['notion-version'] = opts.version ?? VERSION;
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.basic) headers.authorization = `Basic ${Buffer.from(`${opts.basic.id}:${opts.basic.secret}`).toString('base64')}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(fake.url + path, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: (text ? JSON.parse(text) : undefined) as Record<string, any> };
}

const client = () => ({ id: fake.clientId, secret: fake.clientSecret });

async function exchange(ws: FakeWorkspace) {
  const code = fake.issueCode(ws);
  const res = await call('/v1/oauth/token', {
    basic: client(),
    body: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI },
  });
  expect(res.status).toBe(200);
  return res.json as { access_token: string; refresh_token: string | null };
}

describe('fakeWorkspace', () => {
  it('is deterministic, uuid-shaped and distinct per n', () => {
    const a = fakeWorkspace(1);
    expect(a).toEqual(fakeWorkspace('A'));
    expect(a.name).toBe('Workspace A');
    expect(a.user.name).toBe('User A');
    expect(a.user.email).toBe('user-a@example.com');
    for (const id of [a.id, a.botId, a.user.id]) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fakeWorkspace(2).id).not.toBe(a.id);
    expect(fakeWorkspace(27).name).toBe('Workspace AA');
  });
});

describe('OAuth: authorization code grant', () => {
  it('exchanges a code with Basic auth and records the request', async () => {
    const ws = fakeWorkspace(1);
    const code = fake.issueCode(ws);
    const res = await call('/v1/oauth/token', {
      basic: client(),
      body: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI },
    });

    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      access_token: expect.stringMatching(/^ntn_/),
      token_type: 'bearer',
      refresh_token: expect.stringMatching(/^nrt_/),
      bot_id: ws.botId,
      workspace_id: ws.id,
      workspace_name: 'Workspace A',
      workspace_icon: null,
      owner: {
        type: 'user',
        user: { object: 'user', id: ws.user.id, name: 'User A', avatar_url: null, type: 'person', person: { email: ws.user.email } },
      },
      duplicated_template_id: null,
      request_id: expect.any(String),
    });
    expect(fake.tokens.get(res.json.access_token)).toBe(ws);

    expect(fake.requests).toHaveLength(1);
    const [recorded] = fake.requests;
    expect(recorded).toMatchObject({
      method: 'POST',
      path: '/v1/oauth/token',
      query: {},
      body: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI },
    });
    expect(recorded?.headers['notion-version']).toBe(VERSION);
    expect(recorded?.headers['content-type']).toBe('application/json');
    expect(recorded?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${fake.clientId}:${fake.clientSecret}`).toString('base64')}`,
    );
  });

  it('accepts a code once', async () => {
    const code = fake.issueCode(fakeWorkspace(1));
    const body = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI };
    expect((await call('/v1/oauth/token', { basic: client(), body })).status).toBe(200);
    const again = await call('/v1/oauth/token', { basic: client(), body });
    expect(again.status).toBe(400);
    expect(again.json).toMatchObject({ error: 'invalid_grant', error_description: expect.any(String), request_id: expect.any(String) });
  });

  it('rejects a wrong client secret and a missing refresh token is null when asked', async () => {
    const code = fake.issueCode(fakeWorkspace(1), { refreshToken: false });
    const body = { grant_type: 'authorization_code', code };
    const bad = await call('/v1/oauth/token', { basic: { id: fake.clientId, secret: 'nope' }, body });
    expect(bad.status).toBe(401);
    expect(bad.json.error).toBe('invalid_client');

    const ok = await call('/v1/oauth/token', { basic: client(), body });
    expect(ok.status).toBe(200);
    expect(ok.json.refresh_token).toBeNull();
  });

  it('honours a custom client and a redirect_uri bound to the code', async () => {
    const custom = await startFakeNotion({ clientId: 'cid', clientSecret: 'csecret' });
    try {
      expect(custom.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const code = custom.issueCode(fakeWorkspace(1), { redirectUri: REDIRECT_URI });
      const res = await fetch(`${custom.url}/v1/oauth/token`, {
        method: 'POST',
        headers: {
          'notion-version': VERSION,
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from('cid:csecret').toString('base64')}`,
        },
        body: JSON.stringify({ grant_type: 'authorization_code', code, redirect_uri: 'https://evil.example/cb' }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    } finally {
      await custom.close();
    }
  });
});

describe('OAuth: refresh, revoke, introspect', () => {
  it('rotates the pair on refresh and kills the old tokens', async () => {
    const ws = fakeWorkspace(1);
    const first = await exchange(ws);
    const refreshed = await call('/v1/oauth/token', {
      basic: client(),
      body: { grant_type: 'refresh_token', refresh_token: first.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.access_token).not.toBe(first.access_token);
    expect(refreshed.json.refresh_token).not.toBe(first.refresh_token);
    expect(refreshed.json.workspace_id).toBe(ws.id);

    expect(fake.tokens.has(first.access_token)).toBe(false);
    expect((await call('/v1/users/me', { token: first.access_token })).status).toBe(401);
    expect((await call('/v1/users/me', { token: refreshed.json.access_token })).status).toBe(200);

    const reuse = await call('/v1/oauth/token', {
      basic: client(),
      body: { grant_type: 'refresh_token', refresh_token: first.refresh_token },
    });
    expect(reuse.status).toBe(400);
    expect(reuse.json.error).toBe('invalid_grant');
  });

  it('revokes a token and reports it inactive', async () => {
    const { access_token, refresh_token } = await exchange(fakeWorkspace(1));
    const active = await call('/v1/oauth/introspect', { basic: client(), body: { token: access_token } });
    expect(active.json).toEqual({ active: true, request_id: expect.any(String) });

    const revoked = await call('/v1/oauth/revoke', { basic: client(), body: { token: access_token } });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toEqual({ request_id: expect.any(String) });
    expect(fake.revoked.has(access_token)).toBe(true);
    expect(fake.tokens.has(access_token)).toBe(false);

    const inactive = await call('/v1/oauth/introspect', { basic: client(), body: { token: refresh_token } });
    expect(inactive.json.active).toBe(false);
    expect((await call('/v1/search', { token: access_token, body: {} })).status).toBe(401);
  });
});

describe('API: search, pages, users', () => {
  it('answers with the token owner’s workspace content', async () => {
    const a = fakeWorkspace(1);
    const b = fakeWorkspace(2);
    const tokenA = (await exchange(a)).access_token;
    const tokenB = (await exchange(b)).access_token;
    fake.reset();

    const all = await call('/v1/search', { token: tokenA, body: {} });
    expect(all.status).toBe(200);
    expect(all.json).toMatchObject({ object: 'list', has_more: false, next_cursor: null, type: 'page_or_data_source' });
    const results = all.json.results as Array<{ object: string; id: string }>;
    expect(results.map((r) => r.object).sort()).toEqual(['data_source', 'page', 'page']);

    const tasks = await call('/v1/search', { token: tokenA, body: { query: 'TASKS' } });
    expect(tasks.json.results).toHaveLength(1);
    expect(tasks.json.results[0].object).toBe('data_source');

    const paged = await call('/v1/search', { token: tokenA, body: { page_size: 2 } });
    expect(paged.json.results).toHaveLength(2);
    expect(paged.json.has_more).toBe(true);
    const rest = await call('/v1/search', { token: tokenA, body: { page_size: 2, start_cursor: paged.json.next_cursor } });
    expect(rest.json.results).toHaveLength(1);

    const pageId = results.find((r) => r.object === 'page')?.id ?? '';
    const pageA = await call(`/v1/pages/${pageId.replace(/-/g, '')}?filter_properties=title`, { token: tokenA });
    expect(pageA.status).toBe(200);
    expect(pageA.json).toMatchObject({
      object: 'page',
      id: pageId,
      cover: null,
      icon: { type: 'emoji' },
      parent: { type: 'workspace', workspace: true },
      in_trash: false,
      is_locked: false,
      public_url: null,
      request_id: expect.any(String),
    });
    const title = pageA.json.properties.title.title[0];
    expect(title.plain_text).toBe(fakePageTitle(pageId, a));
    expect(title.plain_text).toContain('Workspace A');
    expect(title.annotations).toEqual({ bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' });
    expect(pageA.json.url).toBe(`https://www.notion.so/${title.plain_text.replace(/ /g, '-')}-${pageId.replace(/-/g, '')}`);

    // A page lives in one workspace: another workspace's token does not find it, as with Notion.
    const pageB = await call(`/v1/pages/${pageId}`, { token: tokenB });
    expect(pageB.status).toBe(404);
    expect(pageB.json.code).toBe('object_not_found');

    const me = await call('/v1/users/me', { token: tokenB });
    expect(me.json).toMatchObject({ object: 'user', id: b.botId, type: 'bot', bot: { workspace_name: 'Workspace B' } });

    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/search',
      'POST /v1/search',
      'POST /v1/search',
      'POST /v1/search',
      `GET /v1/pages/${pageId.replace(/-/g, '')}`,
      `GET /v1/pages/${pageId}`,
      'GET /v1/users/me',
    ]);
    expect(fake.requests[1]?.body).toEqual({ query: 'TASKS' });
    expect(fake.requests[4]?.query).toEqual({ filter_properties: 'title' });
    expect(fake.requests[4]?.headers.authorization).toBe(`Bearer ${tokenA}`);
    expect(fake.requests[5]?.headers.authorization).toBe(`Bearer ${tokenB}`);
    expect(fake.requests[4]?.body).toBeUndefined();
  });

  it('answers 404 for unknown pages and routes, 401 for bad tokens', async () => {
    const { access_token } = await exchange(fakeWorkspace(1));
    const missing = await call('/v1/pages/00000000-0000-4000-8000-000000000001', { token: access_token });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ object: 'error', status: 404, code: 'object_not_found', request_id: expect.any(String) });
    expect(missing.json.message).toContain('00000000-0000-4000-8000-000000000001');

    const route = await call('/v1/nope', { token: access_token });
    expect(route.status).toBe(404);
    expect(route.json.code).toBe('invalid_request_url');

    const bad = await call('/v1/users/me', { token: 'ntn_bogus' });
    expect(bad.status).toBe(401);
    expect(bad.json).toMatchObject({ object: 'error', status: 401, code: 'unauthorized', message: 'API token is invalid.' });
  });

  it('tells pages, databases and data sources apart, as Notion does', async () => {
    const ws = fakeWorkspace(1);
    const { access_token } = await exchange(ws);
    const { databaseId, dataSourceId } = fakeDatabase(ws);
    const page = '1f3c5e7a-9b2d-4c6e-8f01-23456789abcd';

    const dbAsPage = await call(`/v1/pages/${databaseId}`, { token: access_token });
    expect(dbAsPage.status).toBe(400);
    expect(dbAsPage.json).toMatchObject({ code: 'validation_error', message: `Provided ID ${databaseId} is a database, not a page. Use the retrieve database API instead, \`/v1/databases/${databaseId}\`.` });
    const pageAsDb = await call(`/v1/databases/${page}`, { token: access_token });
    expect(pageAsDb.status).toBe(400);
    expect(pageAsDb.json.message).toContain('is a page, not a database');
    const db = await call(`/v1/databases/${databaseId}`, { token: access_token });
    expect(db.status).toBe(200);
    expect(db.json).toMatchObject({ object: 'database', id: databaseId, data_sources: [{ id: dataSourceId }] });
    expect((await call(`/v1/data_sources/${databaseId}`, { token: access_token })).status).toBe(404);
    expect((await call(`/v1/data_sources/${dataSourceId}`, { token: access_token })).json).toMatchObject({ object: 'data_source', id: dataSourceId });

    const underDb = await call('/v1/pages', { token: access_token, body: { parent: { page_id: databaseId } } });
    expect(underDb.status).toBe(404);
    expect(underDb.json).toMatchObject({ code: 'object_not_found' });
    const underDs = await call('/v1/pages', { token: access_token, body: { parent: { data_source_id: dataSourceId } } });
    expect(underDs.status).toBe(200);
    expect(underDs.json.parent).toEqual({ type: 'data_source_id', data_source_id: dataSourceId, database_id: databaseId });
  });

  it('requires Notion-Version on every request', async () => {
    const { access_token } = await exchange(fakeWorkspace(1));
    const res = await call('/v1/users/me', { token: access_token, version: null });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ object: 'error', status: 400, code: 'missing_version', request_id: expect.any(String) });
    expect(res.json.message).toMatch(/^Notion-Version header failed validation/);

    const oauth = await call('/v1/oauth/introspect', { basic: client(), body: { token: access_token }, version: null });
    expect(oauth.status).toBe(400);
  });
});

describe('fault injection', () => {
  it('returns an enqueued 429 once, then the default', async () => {
    const { access_token } = await exchange(fakeWorkspace(1));
    fake.enqueue({
      status: 429,
      headers: { 'Retry-After': '2' },
      body: { object: 'error', status: 429, code: 'rate_limited', message: 'Rate limited.' },
    });
    const limited = await call('/v1/search', { token: access_token, body: {} });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(limited.json.code).toBe('rate_limited');

    const next = await call('/v1/search', { token: access_token, body: {} });
    expect(next.status).toBe(200);
    expect(next.headers.get('retry-after')).toBeNull();
  });

  it('consumes a queued response only on its path prefix', async () => {
    const { access_token } = await exchange(fakeWorkspace(1));
    fake.enqueue({ status: 503, body: 'upstream down', pathPrefix: '/v1/pages/' });
    expect((await call('/v1/users/me', { token: access_token })).status).toBe(200);
    const res = await fetch(`${fake.url}/v1/pages/${fakeWorkspace(1).id}`, { headers: { 'notion-version': VERSION } });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('upstream down');
  });

  it('lets a test handler answer or fall through', async () => {
    const { access_token } = await exchange(fakeWorkspace(1));
    fake.setHandler((req) => (req.path === '/v1/users/me' ? { status: 418, body: { teapot: true } } : undefined));
    expect((await call('/v1/users/me', { token: access_token })).json).toEqual({ teapot: true });
    expect((await call('/v1/search', { token: access_token, body: {} })).status).toBe(200);
    fake.reset();
    expect(fake.requests).toEqual([]);
    expect((await call('/v1/users/me', { token: access_token })).status).toBe(200);
  });

  it('delays answers by latencyMs', async () => {
    const { access_token } = await exchange(fakeWorkspace(1));
    fake.latencyMs = 120;
    const started = Date.now();
    expect((await call('/v1/users/me', { token: access_token })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('makes fetch fail while down, and records the attempt', async () => {
    const { access_token } = await exchange(fakeWorkspace(1));
    fake.down = true;
    await expect(call('/v1/search', { token: access_token, body: { query: 'x' } })).rejects.toThrow();
    expect(fake.requests.at(-1)).toMatchObject({ path: '/v1/search', body: { query: 'x' } });
    fake.down = false;
    expect((await call('/v1/search', { token: access_token, body: {} })).status).toBe(200);
  });

  it('stops answering after close', async () => {
    const url = fake.url;
    await fake.close();
    await expect(fetch(`${url}/v1/users/me`)).rejects.toThrow();
    await fake.close(); // idempotent, so afterEach may close again
  });
});

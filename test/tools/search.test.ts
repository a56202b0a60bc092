import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../helpers/fake-notion.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';

const PAGE_ID = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const DB_ID = '2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a';
const DS_ID = '3e4f5a6b-7c8d-4e9f-8a1b-2c3d4e5f6a7b';
const BLOCK_ID = '4f5a6b7c-8d9e-4f0a-9b2c-3d4e5f6a7b8c';
const dashless = (id: string) => id.replace(/-/g, '');

const user = { object: 'user', id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' };
const title = (text: string) => [
  { type: 'text', text: { content: text, link: null }, annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' }, plain_text: text, href: null },
];
const page = {
  object: 'page',
  id: PAGE_ID,
  created_time: '2026-10-01T10:00:00.000Z',
  last_edited_time: '2026-11-20T08:30:00.000Z',
  created_by: user,
  last_edited_by: user,
  cover: null,
  icon: { type: 'emoji', emoji: '📘' },
  parent: { type: 'workspace', workspace: true },
  in_trash: false,
  is_locked: false,
  properties: { title: { id: 'title', type: 'title', title: title('Roadmap') } },
  url: `https://www.notion.so/Roadmap-${dashless(PAGE_ID)}`,
  public_url: null,
  request_id: 'req-1',
};
const dataSource = {
  object: 'data_source',
  id: DS_ID,
  title: title('Tasks'),
  parent: { type: 'database_id', database_id: DB_ID },
  database_parent: { type: 'page_id', page_id: PAGE_ID },
  properties: { Name: { id: 'title', name: 'Name', type: 'title', title: {} } },
  url: `https://www.notion.so/${dashless(DB_ID)}`,
  in_trash: false,
};
const blockOf = (id: string, type: string, content: Record<string, unknown>) => ({
  object: 'block',
  id,
  parent: { type: 'page_id', page_id: PAGE_ID },
  created_time: '2026-10-01T10:00:00.000Z',
  last_edited_time: '2026-10-01T10:00:00.000Z',
  created_by: user,
  last_edited_by: user,
  has_children: false,
  in_trash: false,
  type,
  [type]: content,
});

describe('search and fetch tools', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  const expectUserCall = (req: RecordedRequest | undefined, method: string, path: string) => {
    expect(req?.method).toBe(method);
    expect(req?.path).toBe(path);
    expect(req?.headers['notion-version']).toBe('2026-03-11');
    expect(req?.headers.authorization).toBe(`Bearer ${ts.notionToken}`);
  };

  it('search posts the query and filter as given and keeps object, id, url and parent', async () => {
    ts.answer(() => ({ body: { object: 'list', results: [page, dataSource], next_cursor: 'cur-2', has_more: true, type: 'page_or_data_source', page_or_data_source: {} } }));
    const res = await ts.call('search', { query: 'road', filter: '{"property":"object","value":"page"}', page_size: 2 });
    expect(res.isError).toBe(false);
    const [req] = ts.apiRequests();
    expectUserCall(req, 'POST', '/v1/search');
    expect(req?.body).toEqual({ query: 'road', filter: { property: 'object', value: 'page' }, page_size: 2 });
    expect(ts.apiRequests()).toHaveLength(1);
    expect(res.data).toMatchObject({ object: 'list', has_more: true, next_cursor: 'cur-2' });
    expect(res.data.results[0]).toMatchObject({ object: 'page', id: PAGE_ID, url: page.url, parent: { workspace: true }, icon: '📘', properties: { title: { title: 'Roadmap' } } });
    expect(res.data.results[1]).toMatchObject({ object: 'data_source', id: DS_ID, title: 'Tasks', parent: { database_id: DB_ID } });
    expect(JSON.stringify(res.data)).not.toMatch(/null|request_id|"in_trash":false|page_or_data_source/);
  });

  it('search works on a read-only connection', async () => {
    ts.answer(() => ({ body: { object: 'list', results: [], next_cursor: null, has_more: false } }));
    const res = await ts.call('search', {}, ts.readOnlyToken);
    expect(res.isError).toBe(false);
    expect(res.data).toEqual({ object: 'list', results: [], has_more: false });
    // No parameters still sends a JSON object, as the SDK's typed method does.
    expect(ts.apiRequests()[0]?.body).toEqual({});
  });

  it('fetch of a page URL: block lookup, then the page and its Markdown', async () => {
    ts.answer((req) => {
      if (req.path === `/v1/blocks/${PAGE_ID}`) return { body: blockOf(PAGE_ID, 'child_page', { title: 'Roadmap' }) };
      if (req.path === `/v1/pages/${PAGE_ID}`) return { body: page };
      if (req.path === `/v1/pages/${PAGE_ID}/markdown`) return { body: { object: 'page_markdown', markdown: '# Roadmap\n- ship', truncated: false, unknown_block_ids: [] } };
      return undefined;
    });
    const res = await ts.call('fetch', { id: page.url });
    expect(res.isError).toBe(false);
    const calls = ts.apiRequests();
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET /v1/blocks/${PAGE_ID}`, `GET /v1/pages/${PAGE_ID}`, `GET /v1/pages/${PAGE_ID}/markdown`]);
    for (const c of calls) expectUserCall(c, c.method, c.path);
    expect(res.data).toMatchObject({ kind: 'page', page: { object: 'page', id: PAGE_ID }, markdown: '# Roadmap\n- ship' });
  });

  it('fetch of a database id says it is a database and lists its data sources', async () => {
    ts.answer((req) => {
      if (req.path === `/v1/blocks/${DB_ID}`) return { body: blockOf(DB_ID, 'child_database', { title: 'Tasks' }) };
      if (req.path === `/v1/databases/${DB_ID}`) {
        return { body: { object: 'database', id: DB_ID, title: title('Tasks'), parent: { type: 'page_id', page_id: PAGE_ID }, data_sources: [{ id: DS_ID, name: 'Tasks' }], url: dataSource.url } };
      }
      return undefined;
    });
    const res = await ts.call('fetch', { id: dashless(DB_ID) });
    expect(ts.apiRequests().map((c) => c.path)).toEqual([`/v1/blocks/${DB_ID}`, `/v1/databases/${DB_ID}`]);
    expect(res.data).toMatchObject({ kind: 'database', database: { object: 'database', id: DB_ID, title: 'Tasks', data_sources: [{ id: DS_ID, name: 'Tasks' }] } });
  });

  it('fetch of a data source id: not a block, so one more lookup finds the data source', async () => {
    ts.answer((req) => {
      if (req.path === `/v1/blocks/${DS_ID}`) return { status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: 'Could not find block' } };
      if (req.path === `/v1/data_sources/${DS_ID}`) return { body: dataSource };
      return undefined;
    });
    const res = await ts.call('fetch', { id: DS_ID });
    expect(ts.apiRequests().map((c) => c.path)).toEqual([`/v1/blocks/${DS_ID}`, `/v1/data_sources/${DS_ID}`]);
    expect(res.data).toMatchObject({ kind: 'data_source', data_source: { object: 'data_source', id: DS_ID, properties: { Name: { type: 'title' } } } });
  });

  it('fetch of collection://<id> goes straight to the data source', async () => {
    ts.answer(() => ({ body: dataSource }));
    const res = await ts.call('fetch', { id: `collection://${DS_ID}` });
    expect(ts.apiRequests().map((c) => c.path)).toEqual([`/v1/data_sources/${DS_ID}`]);
    expect(res.data.kind).toBe('data_source');
  });

  it('fetch of a URL with a #block fragment returns that block as readable text', async () => {
    ts.answer(() => ({ body: blockOf(BLOCK_ID, 'paragraph', { rich_text: title('Hello'), color: 'default' }) }));
    const res = await ts.call('fetch', { id: `https://www.notion.so/Roadmap-${dashless(PAGE_ID)}#${dashless(BLOCK_ID)}` });
    expect(ts.apiRequests().map((c) => c.path)).toEqual([`/v1/blocks/${BLOCK_ID}`]);
    expect(res.data).toEqual({ kind: 'block', block: { object: 'block', id: BLOCK_ID, type: 'paragraph', parent: { page_id: PAGE_ID }, paragraph: { text: 'Hello' } } });
  });

  it('fetch of something that is nowhere keeps Notion\'s not-found error and its hint', async () => {
    ts.answer(() => ({ status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: 'Could not find object' } }));
    const res = await ts.call('fetch', { id: PAGE_ID });
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'object_not_found', status: 404 });
    expect(res.data.error.hint).toMatch(/shared/);
  });

  it('fetch refuses text that is not a Notion id, before calling Notion', async () => {
    ts.answer(() => ({ body: {} }));
    const res = await ts.call('fetch', { id: 'not an id' });
    expect(res.isError).toBe(true);
    expect(res.data.error.message).toMatch(/^id: /);
    expect(ts.apiRequests()).toHaveLength(0);
  });
});

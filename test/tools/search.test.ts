import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../helpers/fake-notion.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';
import { Ajv2020 } from 'ajv/dist/2020.js';

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
const ROW1_ID = '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d';
const ROW2_ID = '6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e';
const row = (id: string, name: string, status: string | null, tags: string[]) => ({
  object: 'page',
  id,
  created_time: '2026-10-01T10:00:00.000Z',
  last_edited_time: '2026-11-20T08:30:00.000Z',
  created_by: user,
  last_edited_by: user,
  cover: null,
  icon: null,
  parent: { type: 'data_source_id', data_source_id: DS_ID, database_id: DB_ID },
  in_trash: false,
  is_locked: false,
  properties: {
    Name: { id: 'title', type: 'title', title: title(name) },
    Status: { id: 'st%3A', type: 'select', select: status ? { id: 'opt1', name: status, color: 'green' } : null },
    Tags: { id: 'tg%3A', type: 'multi_select', multi_select: tags.map((t, i) => ({ id: `t${i}`, name: t, color: 'blue' })) },
  },
  url: `https://www.notion.so/${name.replace(/ /g, '-')}-${dashless(id)}`,
  public_url: null,
});
/** POST /v1/data_sources/{id}/query as Notion answers it. */
const rowsList = {
  object: 'list',
  results: [row(ROW1_ID, 'Write spec', 'Done', ['docs', 'q4']), row(ROW2_ID, 'Ship it', null, [])],
  next_cursor: null,
  has_more: false,
  type: 'page_or_data_source',
  page_or_data_source: {},
  request_id: 'req-2',
};
const ROWS_TEXT = [
  `- Write spec (https://www.notion.so/Write-spec-${dashless(ROW1_ID)}) · Status: Done · Tags: docs, q4`,
  `- Ship it (https://www.notion.so/Ship-it-${dashless(ROW2_ID)})`,
].join('\n');
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
    // The deep research document: id, title, text (the Markdown), url; the page under metadata.
    expect(res.data).toMatchObject({ id: PAGE_ID, title: 'Roadmap', text: '# Roadmap\n- ship', url: page.url, metadata: { kind: 'page', page: { object: 'page', id: PAGE_ID } } });
    expect(Object.keys(res.data)).toEqual(['id', 'title', 'text', 'url', 'metadata']);
  });

  it('fetch of a database id says it is a database and lists its data sources', async () => {
    ts.answer((req) => {
      if (req.path === `/v1/blocks/${DB_ID}`) return { body: blockOf(DB_ID, 'child_database', { title: 'Tasks' }) };
      if (req.path === `/v1/databases/${DB_ID}`) {
        return { body: { object: 'database', id: DB_ID, title: title('Tasks'), parent: { type: 'page_id', page_id: PAGE_ID }, data_sources: [{ id: DS_ID, name: 'Tasks' }], url: dataSource.url } };
      }
      if (req.path === `/v1/data_sources/${DS_ID}/query`) return { body: rowsList };
      return undefined;
    });
    const res = await ts.call('fetch', { id: dashless(DB_ID) });
    // Its text is the rows of its data source: one query more than before.
    expect(ts.apiRequests().map((c) => `${c.method} ${c.path}`)).toEqual([`GET /v1/blocks/${DB_ID}`, `GET /v1/databases/${DB_ID}`, `POST /v1/data_sources/${DS_ID}/query`]);
    expect(res.data).toMatchObject({
      id: DB_ID,
      title: 'Tasks',
      url: dataSource.url,
      text: ROWS_TEXT,
      metadata: { kind: 'database', database: { object: 'database', id: DB_ID, title: 'Tasks', data_sources: [{ id: DS_ID, name: 'Tasks' }] } },
    });
  });

  it('fetch of a data source id: not a block, so one more lookup finds the data source', async () => {
    ts.answer((req) => {
      if (req.path === `/v1/blocks/${DS_ID}`) return { status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: 'Could not find block' } };
      if (req.path === `/v1/data_sources/${DS_ID}`) return { body: dataSource };
      if (req.path === `/v1/data_sources/${DS_ID}/query`) return { body: { ...rowsList, has_more: true, next_cursor: ROW2_ID } };
      return undefined;
    });
    const res = await ts.call('fetch', { id: DS_ID });
    expect(ts.apiRequests().map((c) => c.path)).toEqual([`/v1/blocks/${DS_ID}`, `/v1/data_sources/${DS_ID}`, `/v1/data_sources/${DS_ID}/query`]);
    expect(ts.apiRequests()[2]?.body).toEqual({});
    expect(res.data).toMatchObject({
      id: DS_ID,
      title: 'Tasks',
      url: dataSource.url,
      metadata: { kind: 'data_source', data_source: { object: 'data_source', id: DS_ID, properties: { Name: { type: 'title' } } }, next_cursor: ROW2_ID },
    });
    // More rows than one page: the text says how to read on.
    expect(res.data.text).toBe(`${ROWS_TEXT}\n(more rows: query_data_source with data_source_id ${DS_ID} and start_cursor ${ROW2_ID})`);
  });

  it('fetch of collection://<id> goes straight to the data source', async () => {
    ts.answer((req) => ({ body: req.path.endsWith('/query') ? rowsList : dataSource }));
    const res = await ts.call('fetch', { id: `collection://${DS_ID}` });
    expect(ts.apiRequests().map((c) => c.path)).toEqual([`/v1/data_sources/${DS_ID}`, `/v1/data_sources/${DS_ID}/query`]);
    expect(res.data).toMatchObject({ id: DS_ID, text: ROWS_TEXT, metadata: { kind: 'data_source' } });
  });

  it('fetch with include_content false reads no Markdown and no rows', async () => {
    ts.answer((req) => (req.path === `/v1/blocks/${PAGE_ID}` ? { body: blockOf(PAGE_ID, 'child_page', { title: 'Roadmap' }) } : { body: page }));
    const res = await ts.call('fetch', { id: PAGE_ID, include_content: false });
    expect(ts.apiRequests().map((c) => c.path)).toEqual([`/v1/blocks/${PAGE_ID}`, `/v1/pages/${PAGE_ID}`]);
    expect(res.data).toMatchObject({ id: PAGE_ID, title: 'Roadmap', text: '', url: page.url, metadata: { kind: 'page' } });
  });

  it('fetch of a URL with a #block fragment returns that block as readable text', async () => {
    ts.answer(() => ({ body: blockOf(BLOCK_ID, 'paragraph', { rich_text: title('Hello'), color: 'default' }) }));
    const res = await ts.call('fetch', { id: `https://www.notion.so/Roadmap-${dashless(PAGE_ID)}#${dashless(BLOCK_ID)}` });
    expect(ts.apiRequests().map((c) => c.path)).toEqual([`/v1/blocks/${BLOCK_ID}`]);
    expect(res.data).toEqual({
      id: BLOCK_ID,
      title: 'paragraph',
      text: 'Hello',
      url: `https://www.notion.so/${dashless(PAGE_ID)}#${dashless(BLOCK_ID)}`,
      metadata: { kind: 'block', block: { object: 'block', id: BLOCK_ID, type: 'paragraph', parent: { page_id: PAGE_ID }, paragraph: { text: 'Hello' } } },
    });
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

  describe('the deep research contract (ChatGPT calls only search and fetch)', () => {
    const untitled = { ...page, id: BLOCK_ID, properties: { title: { id: 'title', type: 'title', title: [] } }, url: `https://www.notion.so/${dashless(BLOCK_ID)}` };
    const workspace = (req: RecordedRequest) => {
      if (req.path === '/v1/search') return { body: { object: 'list', results: [page, dataSource, untitled], next_cursor: null, has_more: false, type: 'page_or_data_source', page_or_data_source: {} } };
      if (req.path === `/v1/blocks/${PAGE_ID}`) return { body: blockOf(PAGE_ID, 'child_page', { title: 'Roadmap' }) };
      if (req.path === `/v1/blocks/${BLOCK_ID}`) return { body: blockOf(BLOCK_ID, 'child_page', { title: '' }) };
      if (req.path === `/v1/blocks/${DS_ID}`) return { status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: 'Could not find block' } };
      if (req.path === `/v1/pages/${PAGE_ID}`) return { body: page };
      if (req.path === `/v1/pages/${BLOCK_ID}`) return { body: untitled };
      if (req.path.endsWith('/markdown')) return { body: { object: 'page_markdown', markdown: '# Roadmap', truncated: false, unknown_block_ids: [] } };
      if (req.path === `/v1/data_sources/${DS_ID}`) return { body: dataSource };
      if (req.path === `/v1/data_sources/${DS_ID}/query`) return { body: rowsList };
      return undefined;
    };

    it('search answers one text item of JSON {"results":[{"id","title","url",…}]}, keeping the shaped fields', async () => {
      ts.answer(workspace);
      const res = await ts.call('search', { query: 'road' });
      expect(res.isError).toBe(false);
      expect(res.data.results.map((r: Record<string, unknown>) => Object.keys(r).slice(0, 3))).toEqual([['id', 'title', 'url'], ['id', 'title', 'url'], ['id', 'title', 'url']]);
      expect(res.data.results.map((r: Record<string, unknown>) => [r.id, r.title, r.url])).toEqual([
        [PAGE_ID, 'Roadmap', page.url],
        [DS_ID, 'Tasks', dataSource.url],
        [BLOCK_ID, 'Untitled', untitled.url],
      ]);
      // What search gave before stays: object, parent, icon, properties.
      expect(res.data.results[0]).toMatchObject({ object: 'page', parent: { workspace: true }, icon: '📘', properties: { title: { title: 'Roadmap' } } });
    });

    it('fetch of every id search returned answers {"id","title","text","url","metadata"} with that same id', async () => {
      ts.answer(workspace);
      const hits = (await ts.call('search', { query: '' })).data.results as { id: string; title: string; url: string }[];
      for (const hit of hits) {
        const doc = await ts.call('fetch', { id: hit.id });
        expect(doc.isError, hit.id).toBe(false);
        expect(doc.data.id, hit.id).toBe(hit.id);
        expect(doc.data.title, hit.id).toBe(hit.title);
        expect(doc.data.url, hit.id).toBe(hit.url);
        expect(typeof doc.data.text, hit.id).toBe('string');
        expect(doc.data.text.length, hit.id).toBeGreaterThan(0);
        expect(typeof doc.data.metadata, hit.id).toBe('object');
      }
      // The URL of a result names the same thing as its id.
      expect((await ts.call('fetch', { id: hits[0]!.url })).data.id).toBe(PAGE_ID);
    });

    it('search and fetch return structuredContent equal to their text, valid against their outputSchema', async () => {
      ts.answer(workspace);
      const registry = ts.stack.app.registry;
      const defs = registry.definitions({ scopes: new Set(['notion:read']) } as never).tools;
      const ajv = new Ajv2020({ strict: true });
      for (const [name, args] of [['search', { query: 'road' }], ['fetch', { id: PAGE_ID }], ['fetch', { id: DS_ID }], ['get_page_markdown', { page_id: PAGE_ID }]] as const) {
        const result = await ts.result(name, args);
        expect(result.content).toHaveLength(1);
        expect(result.structuredContent, name).toEqual(JSON.parse(result.content[0].text));
        const validate = ajv.compile(defs.find((d) => d.name === name)!.outputSchema!);
        expect(validate(result.structuredContent), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }
      // A tool without an output schema returns only the text.
      expect(await ts.result('get_page', { page_id: PAGE_ID })).not.toHaveProperty('structuredContent');
    });
  });
});

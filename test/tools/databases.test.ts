import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolRegistry } from '../../src/tools/registry.js';
import { dataSourcesTools } from '../../src/tools/data-sources.js';
import { databasesTools } from '../../src/tools/databases.js';
import { viewsTools } from '../../src/tools/views.js';
import { routes, startToolStack, type ToolStack } from '../helpers/tools.js';
import {
  bugsDataSource,
  CURSOR,
  DB_ID,
  DB_URL,
  DS2_ID,
  DS_ID,
  dataSource,
  database,
  lastQueryPage,
  MULTI_DB_ID,
  multiDatabase,
  notFound,
  PAGE_ID,
  queryResult,
  ROW_IDS,
  templates,
  USER_ID,
  validationError,
} from '../fixtures/databases.js';

const dashless = (id: string) => id.replace(/-/g, '');

describe('database and data source tools', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  it('fits its share of the tools/list budget, with exact annotations', () => {
    const registry = new ToolRegistry([...databasesTools, ...dataSourcesTools, ...viewsTools]);
    expect(registry.size).toBe(16);
    // 9,500 before every tool also carried a top-level title (16 titles, about 400 bytes);
    // query_data_source's query language (where, order_by, offset, count…, and the earlier names) adds about 460.
    expect(JSON.stringify(registry.definitions({ scopes: new Set(['notion:read', 'notion:write']) } as never).tools).length).toBeLessThanOrEqual(10_200);
    const hints = Object.fromEntries(
      registry.definitions({ scopes: new Set(['notion:read', 'notion:write']) } as never).tools.map((t) => {
        const a = t.annotations as unknown as Record<string, boolean>;
        return [t.name, [a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint].map((b) => (b ? 1 : 0)).join('')];
      }),
    );
    expect(hints).toEqual({
      create_database: '0001',
      get_database: '1011',
      update_database: '0111',
      archive_database: '0111',
      query_database: '1011',
      get_data_source: '1011',
      update_data_source: '0111',
      query_data_source: '1011',
      list_data_source_templates: '1011',
      create_data_source: '0001',
      list_views: '1011',
      get_view: '1011',
      create_view: '0001',
      update_view: '0111',
      delete_view: '0111',
      query_view: '1011',
    });
    for (const t of registry.definitions({ scopes: new Set(['notion:read', 'notion:write']) } as never).tools) expect((t.annotations as { title: string }).title).toMatch(/^[A-Z]/);
  });

  // -------------------------------------------------------------------------------------------
  // Databases
  // -------------------------------------------------------------------------------------------

  it('create_database: builds the body from plain text, emoji and a bare properties map', async () => {
    ts.answer(routes({ 'POST /v1/databases': { body: database } }));
    const res = await ts.call('create_database', {
      parent: `https://www.notion.so/acme/Team-${dashless(PAGE_ID)}`,
      title: 'Tasks',
      description: [{ type: 'text', text: { content: 'Everything' } }],
      initial_data_source: { Name: { title: {} }, Due: { date: {} } },
      icon: '✅',
      cover: 'https://images.unsplash.com/photo-1.jpg',
    });
    expect(res.isError).toBe(false);
    const req = ts.oneCall('POST', '/v1/databases', {});
    expect(req!.body).toEqual({
      parent: { type: 'page_id', page_id: PAGE_ID },
      title: [{ type: 'text', text: { content: 'Tasks' } }],
      description: [{ type: 'text', text: { content: 'Everything' } }],
      initial_data_source: { properties: { Name: { title: {} }, Due: { date: {} } } },
      icon: { type: 'emoji', emoji: '✅' },
      cover: { type: 'external', external: { url: 'https://images.unsplash.com/photo-1.jpg' } },
    });
    // A confirmation, not the database: id, url and its data sources for the next call.
    expect(res.data).toEqual({ id: DB_ID, url: database.url, data_sources: [{ id: DS_ID, name: 'Tasks' }] });
  });

  it('create_database: takes the legacy shapes (parent object, rich text title, {properties}) and a workspace parent', async () => {
    ts.answer(routes({ 'POST /v1/databases': { body: database } }));
    const legacy = await ts.call('create_database', {
      parent: JSON.stringify({ type: 'page_id', page_id: dashless(PAGE_ID) }),
      title: [{ type: 'text', text: { content: 'Tasks' }, annotations: { bold: true } }],
      initial_data_source: JSON.stringify({ properties: { Name: { title: {} } } }),
      is_inline: true,
      icon: { type: 'external', external: { url: 'https://example.com/i.png' } },
    });
    expect(legacy.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.body).toEqual({
      parent: { type: 'page_id', page_id: PAGE_ID },
      title: [{ type: 'text', text: { content: 'Tasks' }, annotations: { bold: true } }],
      initial_data_source: { properties: { Name: { title: {} } } },
      is_inline: true,
      icon: { type: 'external', external: { url: 'https://example.com/i.png' } },
    });

    ts.answer(routes({ 'POST /v1/databases': { body: database } }));
    await ts.call('create_database', { parent: { workspace: true }, title: 'Top' });
    expect(ts.upstream(1)[0]!.body).toMatchObject({ parent: { type: 'workspace', workspace: true } });
  });

  it('create_database: a bad parent names the field and reaches nobody', async () => {
    ts.answer(routes({}));
    const res = await ts.call('create_database', { parent: 'not-an-id', title: 'X' });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('invalid_arguments');
    expect(res.data.error.message).toMatch(/^Invalid arguments\. parent: /);
    ts.upstream(0);
  });

  it('get_database: the container with its data sources, from a URL (view param ignored)', async () => {
    ts.answer(routes({ [`GET /v1/databases/${DB_ID}`]: { body: database } }));
    const res = await ts.call('get_database', { database_id: DB_URL });
    expect(res.isError).toBe(false);
    const req = ts.oneCall('GET', `/v1/databases/${DB_ID}`, {});
    expect(req!.body).toBeUndefined();
    expect(res.data).toMatchObject({ object: 'database', id: DB_ID, title: 'Tasks', parent: { page_id: PAGE_ID }, data_sources: [{ id: DS_ID, name: 'Tasks' }], url: database.url });
    expect(JSON.stringify(res.data)).not.toMatch(/request_id|public_url|"archived"|"in_trash"|null/);
  });

  it('get_database: a data source ID is looked up once as a data source and says so', async () => {
    ts.answer(
      routes({
        [`GET /v1/databases/${DS_ID}`]: { status: 404, body: notFound('database', DS_ID) },
        [`GET /v1/data_sources/${DS_ID}`]: { body: dataSource },
      }),
    );
    const res = await ts.call('get_database', { database_id: dashless(DS_ID) });
    expect(res.isError).toBe(false);
    expect(ts.upstream(2).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/databases/${DS_ID}`, `GET /v1/data_sources/${DS_ID}`]);
    expect(res.data).toMatchObject({ resolved_as: 'data_source', object: 'data_source', id: DS_ID, parent: { database_id: DB_ID } });
  });

  it("get_database: neither a database nor a data source gives the database's own 404", async () => {
    const id = '00000000-0000-4000-8000-000000000001';
    ts.answer(
      routes({
        [`GET /v1/databases/${id}`]: { status: 404, body: notFound('database', id) },
        [`GET /v1/data_sources/${id}`]: { status: 404, body: notFound('data_source', id) },
      }),
    );
    const res = await ts.call('get_database', { database_id: id });
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'object_not_found', status: 404 });
    expect(res.data.error.message).toContain('Could not find database');
    expect(res.data.error.hint).toMatch(/shared with this connector/);
    ts.upstream(2);
  });

  it('update_database: sends only what changes', async () => {
    const updated = { ...database, title: [{ ...database.title[0]!, plain_text: 'Team tasks', text: { content: 'Team tasks', link: null } }], is_inline: true };
    ts.answer(routes({ [`PATCH /v1/databases/${DB_ID}`]: { body: updated } }));
    const res = await ts.call('update_database', { database_id: dashless(DB_ID), title: 'Team tasks', is_inline: true, cover: '{"type":"external","external":{"url":"https://x.test/c.png"}}' });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.method).toBe('PATCH');
    expect(req!.path).toBe(`/v1/databases/${DB_ID}`);
    expect(req!.body).toEqual({
      title: [{ type: 'text', text: { content: 'Team tasks' } }],
      cover: { type: 'external', external: { url: 'https://x.test/c.png' } },
      is_inline: true,
    });
    expect(res.data).toEqual({ id: DB_ID, url: database.url, changed: ['title', 'cover', 'is_inline'] });
  });

  it('update_database / update_data_source: nothing to change is refused before Notion', async () => {
    ts.answer(routes({}));
    for (const [name, args] of [
      ['update_database', { database_id: DB_ID }],
      ['update_data_source', { data_source_id: DS_ID }],
    ] as const) {
      const res = await ts.call(name, args);
      expect(res.isError, name).toBe(true);
      expect(res.data.error.code, name).toBe('invalid_arguments');
    }
    ts.upstream(0);
  });

  it('archive_database: in_trash true', async () => {
    ts.answer(routes({ [`PATCH /v1/databases/${DB_ID}`]: { body: { ...database, in_trash: true, archived: true } } }));
    const res = await ts.call('archive_database', { database_id: DB_ID });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.method).toBe('PATCH');
    expect(req!.body).toEqual({ in_trash: true });
    expect(res.data).toMatchObject({ object: 'database', id: DB_ID, in_trash: true, url: database.url });
  });

  // -------------------------------------------------------------------------------------------
  // query_database: explicit resolution
  // -------------------------------------------------------------------------------------------

  it('query_database: resolves the one data source, then queries it with the filter and sorts', async () => {
    ts.answer(
      routes({
        [`GET /v1/databases/${DB_ID}`]: { body: database },
        [`POST /v1/data_sources/${DS_ID}/query`]: { body: queryResult },
      }),
    );
    const filter = { and: [{ property: 'Status', status: { equals: 'In progress' } }, { property: 'Done', checkbox: { equals: false } }] };
    const res = await ts.call('query_database', {
      database_id: DB_URL,
      filter: JSON.stringify(filter),
      sorts: [{ property: 'Due', direction: 'ascending' }],
      page_size: 3,
      filter_properties: ['title', 'bXDk'],
      archived: false,
    });
    expect(res.isError).toBe(false);
    const [get, query] = ts.upstream(2);
    expect(`${get!.method} ${get!.path}`).toBe(`GET /v1/databases/${DB_ID}`);
    expect(query!.method).toBe('POST');
    expect(query!.path).toBe(`/v1/data_sources/${DS_ID}/query`);
    expect(query!.query).toEqual({ filter_properties: 'title,bXDk' });
    expect(query!.body).toEqual({ filter, sorts: [{ property: 'Due', direction: 'ascending' }], page_size: 3, in_trash: false });

    expect(res.data.object).toBe('list');
    expect(res.data.data_source_id).toBe(DS_ID);
    expect(res.data.has_more).toBe(true);
    expect(res.data.next_cursor).toBe(CURSOR);
    expect(res.data.results).toHaveLength(3);
    expect(res.data.results[0]).toEqual({
      object: 'page',
      id: ROW_IDS[0],
      last_edited_time: '2026-07-19T16:30:00.000Z',
      icon: '🚀',
      properties: {
        Name: { title: 'Ship the connector' },
        Status: { status: 'In progress' },
        Priority: { select: 'High' },
        Tags: { multi_select: ['backend', 'docs'] },
        Estimate: { number: 5 },
        Due: { date: '2026-08-01' },
        Owner: { people: [{ id: USER_ID, name: 'Ada Lovelace', email: 'ada@example.com' }] },
        Done: { checkbox: false },
        Notes: { rich_text: 'Needs **review**' },
        Project: { relation: ['1b9104cd-477e-8111-9d2e-7f6a5b4c3d2e'] },
        ID: { unique_id: 'TASK-42' },
        Overdue: { formula: false },
      },
      url: queryResult.results[0]!.url,
    });
    expect(JSON.stringify(res.data)).not.toMatch(/request_id|public_url|page_or_data_source|"parent"|created_time/);
  });

  it('query_database: data_source_id picks the source directly, in one call', async () => {
    ts.answer(routes({ [`POST /v1/data_sources/${DS2_ID}/query`]: { body: lastQueryPage } }));
    const res = await ts.call('query_database', { database_id: MULTI_DB_ID, data_source_id: dashless(DS2_ID), start_cursor: CURSOR, in_trash: true });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.path).toBe(`/v1/data_sources/${DS2_ID}/query`);
    expect(req!.query).toEqual({});
    expect(req!.body).toEqual({ start_cursor: CURSOR, in_trash: true });
    expect(res.data).toMatchObject({ object: 'list', data_source_id: DS2_ID, has_more: false, incomplete: expect.stringMatching(/row limit/) });
    expect(res.data.next_cursor).toBeUndefined();
  });

  it('query_database: several data sources → ambiguous_database listing them, and no query', async () => {
    ts.answer(routes({ [`GET /v1/databases/${MULTI_DB_ID}`]: { body: multiDatabase } }));
    const res = await ts.call('query_database', { database_id: MULTI_DB_ID });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('ambiguous_database');
    expect(res.data.error.message).toMatch(/Roadmap.*2 data sources.*"Tasks".*"Bugs".*Which one\?.*data_source_id/);
    expect(res.data.error.database_id).toBe(MULTI_DB_ID);
    expect(res.data.error.data_sources).toEqual([
      { id: DS_ID, name: 'Tasks' },
      { id: DS2_ID, name: 'Bugs' },
    ]);
    ts.upstream(1);
  });

  it('query_database: a data source ID (what search returns) is queried after one database lookup', async () => {
    ts.answer(
      routes({
        [`GET /v1/databases/${DS_ID}`]: { status: 404, body: notFound('database', DS_ID) },
        [`POST /v1/data_sources/${DS_ID}/query`]: { body: queryResult },
      }),
    );
    const res = await ts.call('query_database', { database_id: DS_ID });
    expect(res.isError).toBe(false);
    expect(ts.upstream(2).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/databases/${DS_ID}`, `POST /v1/data_sources/${DS_ID}/query`]);
    expect(res.data.data_source_id).toBe(DS_ID);
  });

  it('query_database: a bad filter on the fallback keeps its own validation error', async () => {
    ts.answer(
      routes({
        [`GET /v1/databases/${DS_ID}`]: { status: 404, body: notFound('database', DS_ID) },
        [`POST /v1/data_sources/${DS_ID}/query`]: { status: 400, body: validationError('Could not find property with name or id: Stauts') },
      }),
    );
    const res = await ts.call('query_database', { database_id: DS_ID, filter: { property: 'Stauts', status: { equals: 'Done' } } });
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'validation_error', status: 400 });
    expect(res.data.error.message).toContain('Stauts');
  });

  it('query_database: a malformed argument names the field', async () => {
    ts.answer(routes({}));
    const res = await ts.call('query_database', { database_id: DB_ID, page_size: 500 });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('invalid_arguments');
    expect(res.data.error.message).toMatch(/page_size: expected an integer from 1 to 100/);
    const bad = await ts.call('query_database', { database_id: DB_ID, filter: '{"property": "Status",' });
    expect(bad.data.error.message).toMatch(/filter: /);
    ts.upstream(0);
  });

  // -------------------------------------------------------------------------------------------
  // Data sources
  // -------------------------------------------------------------------------------------------

  it('get_data_source: the schema, compact, in one call', async () => {
    ts.answer(routes({ [`GET /v1/data_sources/${DS_ID}`]: { body: dataSource } }));
    const res = await ts.call('get_data_source', { data_source_id: dashless(DS_ID) });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.method).toBe('GET');
    expect(req!.path).toBe(`/v1/data_sources/${DS_ID}`);
    expect(req!.body).toBeUndefined();
    expect(res.data).toMatchObject({
      object: 'data_source',
      id: DS_ID,
      title: 'Tasks',
      parent: { database_id: DB_ID },
      database_parent: { page_id: PAGE_ID },
      url: dataSource.url,
      icon: '✅',
    });
    expect(res.data.resolved_data_source_id).toBeUndefined();
    const p = res.data.properties;
    expect(p.Name).toEqual({ type: 'title', id: 'title' });
    expect(p.Status).toEqual({ type: 'status', id: 'bXDk', options: ['Not started', 'In progress', 'Done'], groups: ['To-do', 'In progress', 'Complete'] });
    expect(p.Tags).toEqual({ type: 'multi_select', id: 'Tg%5Dq', options: ['backend', 'docs'] });
    expect(p.Estimate).toEqual({ type: 'number', id: 'Es%3Dm', format: 'number' });
    expect(p.Project).toMatchObject({ type: 'relation', relation_type: 'dual_property', id: 'Pr%3Dj', data_source_id: '1b9104cd-477e-80c4-9d2e-7f6a5b4c3d2e' });
    expect(p.Overdue).toEqual({ type: 'formula', id: 'Ov%3Dd', expression: 'prop("Due") < now()' });
    expect(p.ID).toEqual({ type: 'unique_id', id: 'Id%3Dd', prefix: 'TASK' });
    expect(JSON.stringify(res.data)).not.toMatch(/request_id|null|"color"/);
  });

  it('get_data_source: a database ID with one data source resolves and says so (rule b)', async () => {
    ts.answer(
      routes({
        [`GET /v1/data_sources/${DB_ID}`]: { status: 404, body: notFound('data_source', DB_ID) },
        [`GET /v1/databases/${DB_ID}`]: { body: database },
        [`GET /v1/data_sources/${DS_ID}`]: { body: dataSource },
      }),
    );
    const res = await ts.call('get_data_source', { data_source_id: DB_URL });
    expect(res.isError).toBe(false);
    expect(ts.upstream(3).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/data_sources/${DB_ID}`, `GET /v1/databases/${DB_ID}`, `GET /v1/data_sources/${DS_ID}`]);
    expect(res.data).toMatchObject({ resolved_data_source_id: DS_ID, object: 'data_source', id: DS_ID });
  });

  it('get_data_source: a database with several data sources → ambiguous_database', async () => {
    ts.answer(
      routes({
        [`GET /v1/data_sources/${MULTI_DB_ID}`]: { status: 404, body: notFound('data_source', MULTI_DB_ID) },
        [`GET /v1/databases/${MULTI_DB_ID}`]: { body: multiDatabase },
      }),
    );
    const res = await ts.call('get_data_source', { data_source_id: MULTI_DB_ID });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('ambiguous_database');
    expect(res.data.error.data_sources).toEqual([
      { id: DS_ID, name: 'Tasks' },
      { id: DS2_ID, name: 'Bugs' },
    ]);
    ts.upstream(2);
  });

  it('get_data_source: not a database either → the original 404', async () => {
    const id = '00000000-0000-4000-8000-000000000002';
    ts.answer(
      routes({
        [`GET /v1/data_sources/${id}`]: { status: 404, body: notFound('data_source', id) },
        [`GET /v1/databases/${id}`]: { status: 404, body: notFound('database', id) },
      }),
    );
    const res = await ts.call('get_data_source', { data_source_id: id });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('object_not_found');
    expect(res.data.error.message).toContain('Could not find data_source');
    ts.upstream(2);
  });

  it('get_data_source: a page ID (database lookup says 400) keeps the original 404', async () => {
    ts.answer(
      routes({
        [`GET /v1/data_sources/${PAGE_ID}`]: { status: 404, body: notFound('data_source', PAGE_ID) },
        [`GET /v1/databases/${PAGE_ID}`]: { status: 400, body: validationError(`Provided ID ${PAGE_ID} is a page, not a database.`) },
      }),
    );
    const res = await ts.call('get_data_source', { data_source_id: PAGE_ID });
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'object_not_found', status: 404 });
    ts.upstream(2);
  });

  it('update_data_source: schema changes, title and icon in one PATCH', async () => {
    ts.answer(routes({ [`PATCH /v1/data_sources/${DS_ID}`]: { body: dataSource } }));
    const properties = { Estimate: { number: { format: 'dollar' } }, Notes: { name: 'Comments' }, Link: null };
    const res = await ts.call('update_data_source', { data_source_id: DS_ID, properties: JSON.stringify(properties), title: 'Tasks', icon: 'https://x.test/i.png' });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.method).toBe('PATCH');
    expect(req!.path).toBe(`/v1/data_sources/${DS_ID}`);
    expect(req!.body).toEqual({
      properties,
      title: [{ type: 'text', text: { content: 'Tasks' } }],
      icon: { type: 'external', external: { url: 'https://x.test/i.png' } },
    });
    expect(res.data).toMatchObject({ object: 'data_source', id: DS_ID, parent: { database_id: DB_ID } });
  });

  it('update_data_source: a database ID resolves before the write (rule b), in_trash passes through', async () => {
    ts.answer(
      routes({
        [`PATCH /v1/data_sources/${DB_ID}`]: { status: 404, body: notFound('data_source', DB_ID) },
        [`GET /v1/databases/${DB_ID}`]: { body: database },
        [`PATCH /v1/data_sources/${DS_ID}`]: { body: { ...dataSource, in_trash: true } },
      }),
    );
    const res = await ts.call('update_data_source', { data_source_id: DB_ID, in_trash: true });
    expect(res.isError).toBe(false);
    const reqs = ts.upstream(3);
    expect(reqs.map((r) => `${r.method} ${r.path}`)).toEqual([`PATCH /v1/data_sources/${DB_ID}`, `GET /v1/databases/${DB_ID}`, `PATCH /v1/data_sources/${DS_ID}`]);
    expect(reqs[2]!.body).toEqual({ in_trash: true });
    expect(res.data).toMatchObject({ resolved_data_source_id: DS_ID, id: DS_ID, in_trash: true });
  });

  it("query_data_source: Notion's filter and sort JSON in one call, the cursor and limit as given, columnar rows", async () => {
    ts.answer(routes({ [`POST /v1/data_sources/${DS_ID}/query`]: { body: queryResult } }));
    const res = await ts.call('query_data_source', {
      data_source_id: `https://www.notion.so/${dashless(DS_ID)}`,
      where: { property: 'Done', checkbox: { equals: false } },
      order_by: JSON.stringify([{ timestamp: 'last_edited_time', direction: 'descending' }]),
      start_cursor: CURSOR,
      limit: 3,
      in_trash: false,
    });
    expect(res.isError).toBe(false);
    const req = ts.oneCall('POST', `/v1/data_sources/${DS_ID}/query`, {});
    expect(req!.body).toEqual({
      filter: { property: 'Done', checkbox: { equals: false } },
      sorts: [{ timestamp: 'last_edited_time', direction: 'descending' }],
      start_cursor: CURSOR,
      page_size: 3,
      in_trash: false,
    });
    expect(res.data).toMatchObject({ data_source_id: DS_ID, has_more: true, next_cursor: CURSOR, next_offset: 3 });
    expect(res.data.resolved_data_source_id).toBeUndefined();
    expect(res.data.columns).toEqual(['id', 'Name', 'Status', 'Priority', 'Tags', 'Estimate', 'Due', 'Owner', 'Done', 'Link', 'Notes', 'Project', 'ID', 'Overdue']);
    expect(res.data.rows).toEqual([
      [ROW_IDS[0], 'Ship the connector', 'In progress', 'High', ['backend', 'docs'], 5, '2026-08-01', ['Ada Lovelace'], false, null, 'Needs **review**', ['1b9104cd-477e-8111-9d2e-7f6a5b4c3d2e'], 'TASK-42', false],
      [ROW_IDS[1], 'Write the docs', 'Not started', null, null, null, null, null, false, null, null, null, 'TASK-43', null],
      [ROW_IDS[2], 'Fix login', 'Done', null, null, null, null, null, true, 'https://github.com/acme/app/pull/7', null, null, 'TASK-44', null],
    ]);
  });

  it('query_data_source: format "rows" keeps one object per row, without empty values', async () => {
    ts.answer(routes({ [`POST /v1/data_sources/${DS_ID}/query`]: { body: queryResult } }));
    const res = await ts.call('query_data_source', { data_source_id: DS_ID, limit: 3, format: 'rows' });
    expect(res.isError).toBe(false);
    expect(res.data).toMatchObject({ object: 'list', data_source_id: DS_ID, has_more: true, next_cursor: CURSOR });
    expect(res.data.results.map((r: { id: string }) => r.id)).toEqual([...ROW_IDS]);
    expect(res.data.results[1]).toEqual({
      object: 'page',
      id: ROW_IDS[1],
      last_edited_time: '2026-07-19T16:30:00.000Z',
      properties: {
        Name: { title: 'Write the docs' },
        Status: { status: 'Not started' },
        Done: { checkbox: false },
        ID: { unique_id: 'TASK-43' },
      },
      url: queryResult.results[1]!.url,
    });
  });

  it('query_data_source: a database ID resolves (rule b) and the output says which source ran', async () => {
    ts.answer(
      routes({
        [`POST /v1/data_sources/${DB_ID}/query`]: { status: 404, body: notFound('data_source', DB_ID) },
        [`GET /v1/databases/${DB_ID}`]: { body: database },
        [`POST /v1/data_sources/${DS_ID}/query`]: { body: lastQueryPage },
      }),
    );
    const res = await ts.call('query_data_source', { data_source_id: DB_ID, in_trash: true });
    expect(res.isError).toBe(false);
    const reqs = ts.upstream(3);
    expect(reqs[0]!.body).toEqual({ page_size: 100, in_trash: true });
    expect(reqs[2]!.body).toEqual({ page_size: 100, in_trash: true });
    expect(res.data).toMatchObject({ resolved_data_source_id: DS_ID, data_source_id: DS_ID, has_more: false, incomplete: expect.stringMatching(/row limit/) });
  });

  it('list_data_source_templates: name and paging go in the query string', async () => {
    ts.answer(routes({ [`GET /v1/data_sources/${DS_ID}/templates`]: { body: templates } }));
    const res = await ts.call('list_data_source_templates', { data_source_id: DS_ID, name: 'Bug', page_size: 10, start_cursor: CURSOR });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.method).toBe('GET');
    expect(req!.query).toEqual({ name: 'Bug', page_size: '10', start_cursor: CURSOR });
    expect(req!.body).toBeUndefined();
    expect(res.data).toEqual({
      templates: [
        { id: templates.templates[0]!.id, name: 'Bug report', is_default: true },
        { id: templates.templates[1]!.id, name: 'Feature', is_default: false },
      ],
      has_more: false,
    });
  });

  it('list_data_source_templates: a database ID resolves (rule b)', async () => {
    ts.answer(
      routes({
        [`GET /v1/data_sources/${DB_ID}/templates`]: { status: 404, body: notFound('data_source', DB_ID) },
        [`GET /v1/databases/${DB_ID}`]: { body: database },
        [`GET /v1/data_sources/${DS_ID}/templates`]: { body: templates },
      }),
    );
    const res = await ts.call('list_data_source_templates', { data_source_id: DB_ID });
    expect(res.isError).toBe(false);
    ts.upstream(3);
    expect(res.data.resolved_data_source_id).toBe(DS_ID);
  });

  it('create_data_source: parent database, schema, title and icon', async () => {
    ts.answer(routes({ 'POST /v1/data_sources': { body: bugsDataSource } }));
    const properties = { Name: { title: {} }, Severity: { select: { options: [{ name: 'P0', color: 'red' }] } } };
    const res = await ts.call('create_data_source', { database_id: `https://www.notion.so/${dashless(MULTI_DB_ID)}`, properties, title: 'Bugs', icon: '🐞' });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/v1/data_sources');
    expect(req!.body).toEqual({
      parent: { type: 'database_id', database_id: MULTI_DB_ID },
      properties,
      title: [{ type: 'text', text: { content: 'Bugs' } }],
      icon: { type: 'emoji', emoji: '🐞' },
    });
    expect(res.data).toMatchObject({ object: 'data_source', id: DS2_ID, title: 'Bugs', icon: '🐞', parent: { database_id: MULTI_DB_ID }, properties: { Severity: { type: 'select', options: ['P0'] } } });
  });

  it('create_data_source: properties are required, and the error names them', async () => {
    ts.answer(routes({}));
    const res = await ts.call('create_data_source', { database_id: DB_ID });
    expect(res.isError).toBe(true);
    expect(res.data.error.message).toMatch(/properties: /);
    ts.upstream(0);
  });

  // -------------------------------------------------------------------------------------------
  // Read-only connections
  // -------------------------------------------------------------------------------------------

  it('a read-only connection is refused every write, before Notion', async () => {
    ts.answer(routes({}));
    const writes: [string, Record<string, unknown>][] = [
      ['create_database', { parent: PAGE_ID, title: 'X' }],
      ['update_database', { database_id: DB_ID, title: 'X' }],
      ['archive_database', { database_id: DB_ID }],
      ['update_data_source', { data_source_id: DS_ID, title: 'X' }],
      ['create_data_source', { database_id: DB_ID, properties: { Name: { title: {} } } }],
    ];
    await ts.expectWritesRefused(writes);
  });

  it('a read-only connection can read and query', async () => {
    ts.answer(
      routes({
        [`GET /v1/databases/${DB_ID}`]: { body: database },
        [`GET /v1/data_sources/${DS_ID}`]: { body: dataSource },
        [`POST /v1/data_sources/${DS_ID}/query`]: { body: queryResult },
        [`GET /v1/data_sources/${DS_ID}/templates`]: { body: templates },
      }),
    );
    for (const [name, args] of [
      ['get_database', { database_id: DB_ID }],
      ['get_data_source', { data_source_id: DS_ID }],
      ['query_data_source', { data_source_id: DS_ID, limit: 3 }],
      ['query_database', { database_id: DB_ID }],
      ['list_data_source_templates', { data_source_id: DS_ID }],
    ] as const) {
      const res = await ts.call(name, args, ts.readOnlyToken);
      expect(res.isError, name).toBe(false);
    }
    ts.upstream(6, { token: ts.readOnlyNotionToken });
  });
});

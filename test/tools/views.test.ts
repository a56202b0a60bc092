import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toViewId } from '../../src/tools/views.js';
import { routes, startToolStack, type ToolStack } from '../helpers/tools.js';
import {
  CURSOR,
  DB_ID,
  DB_URL,
  DS2_ID,
  DS_ID,
  dataSource,
  database,
  deletedView,
  MULTI_DB_ID,
  multiDatabase,
  notFound,
  QUERY_ID,
  ROW_IDS,
  VIEW2_ID,
  VIEW_ID,
  view,
  viewList,
  viewQuery,
  viewQueryResults,
} from '../fixtures/databases.js';

const dashless = (id: string) => id.replace(/-/g, '');
const VIEW_URL = `https://www.notion.so/acme/${dashless(DB_ID)}?v=${dashless(VIEW_ID)}`;

describe('view tools', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  it('reads a view ID from a ?v= link, a dashless ID or a UUID', () => {
    expect(toViewId(VIEW_URL)).toBe(VIEW_ID);
    expect(toViewId(DB_URL)).toBe(VIEW_ID);
    expect(toViewId(dashless(VIEW_ID))).toBe(VIEW_ID);
    expect(toViewId(VIEW_ID.toUpperCase())).toBe(VIEW_ID);
    expect(toViewId('board')).toBeNull();
  });

  it('list_views: by database (URL) in one call, paging in the query string', async () => {
    ts.answer(routes({ 'GET /v1/views': { body: viewList } }));
    const res = await ts.call('list_views', { database_id: DB_URL, page_size: 50, start_cursor: CURSOR });
    expect(res.isError).toBe(false);
    const req = ts.oneCall('GET', '/v1/views', { database_id: DB_ID, page_size: '50', start_cursor: CURSOR });
    expect(req!.body).toBeUndefined();
    expect(res.data).toEqual({
      object: 'list',
      results: [
        { object: 'view', id: VIEW_ID },
        { object: 'view', id: VIEW2_ID },
      ],
      has_more: false,
    });
  });

  it('list_views: by data source', async () => {
    ts.answer(routes({ 'GET /v1/views': { body: viewList } }));
    const res = await ts.call('list_views', { data_source_id: dashless(DS_ID) });
    expect(res.isError).toBe(false);
    expect(ts.upstream(1)[0]!.query).toEqual({ data_source_id: DS_ID });
  });

  it('list_views: neither ID is refused, naming the field', async () => {
    ts.answer(routes({}));
    const res = await ts.call('list_views', {});
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('invalid_arguments');
    expect(res.data.error.message).toMatch(/database_id: /);
    ts.upstream(0);
  });

  it('get_view: from a view link, compact output', async () => {
    ts.answer(routes({ [`GET /v1/views/${VIEW_ID}`]: { body: view } }));
    const res = await ts.call('get_view', { view_id: VIEW_URL });
    expect(res.isError).toBe(false);
    const req = ts.oneCall('GET', `/v1/views/${VIEW_ID}`, {});
    expect(req!.body).toBeUndefined();
    expect(res.data).toMatchObject({
      object: 'view',
      id: VIEW_ID,
      parent: { database_id: DB_ID },
      name: 'High priority',
      type: 'board',
      url: view.url,
      data_source_id: DS_ID,
      filter: { property: 'Priority', select: { equals: 'High' } },
      sorts: [{ property: 'Due', direction: 'ascending' }],
      configuration: { type: 'board', group_by: { type: 'status', property_id: 'bXDk', property_name: 'Status' }, card_layout: 'compact' },
    });
    expect(JSON.stringify(res.data)).not.toMatch(/request_id|null|created_by/);
  });

  it('create_view: from a database ID, its one data source is looked up first', async () => {
    ts.answer(
      routes({
        [`GET /v1/databases/${DB_ID}`]: { body: database },
        'POST /v1/views': { body: view },
      }),
    );
    const res = await ts.call('create_view', {
      database_id: DB_URL,
      name: 'High priority',
      type: 'board',
      filter: JSON.stringify(view.filter),
      sorts: view.sorts,
      configuration: { type: 'board', group_by: { type: 'status', property_id: 'bXDk', group_by: 'option', sort: { type: 'manual' } } },
    });
    expect(res.isError).toBe(false);
    const [get, post] = ts.upstream(2);
    expect(`${get!.method} ${get!.path}`).toBe(`GET /v1/databases/${DB_ID}`);
    expect(post!.method).toBe('POST');
    expect(post!.path).toBe('/v1/views');
    expect(post!.body).toEqual({
      database_id: DB_ID,
      data_source_id: DS_ID,
      name: 'High priority',
      type: 'board',
      filter: view.filter,
      sorts: view.sorts,
      configuration: { type: 'board', group_by: { type: 'status', property_id: 'bXDk', group_by: 'option', sort: { type: 'manual' } } },
    });
    expect(res.data).toEqual({ id: VIEW_ID, url: view.url, name: 'High priority', type: 'board' });
  });

  it('create_view: database and data source given → one call', async () => {
    ts.answer(routes({ 'POST /v1/views': { body: { ...view, type: 'table', filter: null, sorts: null, configuration: null } } }));
    const res = await ts.call('create_view', { database_id: MULTI_DB_ID, data_source_id: dashless(DS2_ID), name: 'All bugs', type: 'table' });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.body).toEqual({ database_id: MULTI_DB_ID, data_source_id: DS2_ID, name: 'All bugs', type: 'table' });
    expect(res.data).toEqual({ id: VIEW_ID, url: view.url, name: 'All bugs', type: 'table' });
  });

  it('create_view: from a data source alone, its database comes from the data source', async () => {
    ts.answer(
      routes({
        [`GET /v1/data_sources/${DS_ID}`]: { body: dataSource },
        'POST /v1/views': { body: view },
      }),
    );
    const res = await ts.call('create_view', { data_source_id: DS_ID, name: 'Calendar', type: 'calendar' });
    expect(res.isError).toBe(false);
    const [get, post] = ts.upstream(2);
    expect(`${get!.method} ${get!.path}`).toBe(`GET /v1/data_sources/${DS_ID}`);
    expect(post!.body).toEqual({ database_id: DB_ID, data_source_id: DS_ID, name: 'Calendar', type: 'calendar' });
  });

  it('create_view: a database with several data sources → ambiguous_database, nothing created', async () => {
    ts.answer(routes({ [`GET /v1/databases/${MULTI_DB_ID}`]: { body: multiDatabase } }));
    const res = await ts.call('create_view', { database_id: MULTI_DB_ID, name: 'X', type: 'list' });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('ambiguous_database');
    expect(res.data.error.data_sources).toEqual([
      { id: DS_ID, name: 'Tasks' },
      { id: DS2_ID, name: 'Bugs' },
    ]);
    expect(res.data.error.message).toMatch(/data_source_id/);
    ts.upstream(1);
  });

  it('create_view: an unknown type is refused, naming the field', async () => {
    ts.answer(routes({}));
    const res = await ts.call('create_view', { database_id: DB_ID, name: 'X', type: 'kanban' });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('invalid_arguments');
    expect(res.data.error.message).toMatch(/type: /);
    ts.upstream(0);
  });

  it('update_view: sends only the changes; null clears the filter', async () => {
    ts.answer(routes({ [`PATCH /v1/views/${VIEW_ID}`]: { body: { ...view, name: 'Urgent', filter: null } } }));
    const res = await ts.call('update_view', { view_id: dashless(VIEW_ID), name: 'Urgent', filter: null, sorts: '[{"property":"Due","direction":"descending"}]' });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.method).toBe('PATCH');
    expect(req!.path).toBe(`/v1/views/${VIEW_ID}`);
    expect(req!.body).toEqual({ name: 'Urgent', filter: null, sorts: [{ property: 'Due', direction: 'descending' }] });
    expect(res.data).toEqual({ id: VIEW_ID, url: view.url, changed: ['name', 'filter', 'sorts'] });
  });

  it('delete_view: DELETE, one call', async () => {
    ts.answer(routes({ [`DELETE /v1/views/${VIEW_ID}`]: { body: deletedView } }));
    const res = await ts.call('delete_view', { view_id: VIEW_URL });
    expect(res.isError).toBe(false);
    const [req] = ts.upstream(1);
    expect(req!.method).toBe('DELETE');
    expect(req!.path).toBe(`/v1/views/${VIEW_ID}`);
    expect(req!.body).toBeUndefined();
    expect(res.data).toEqual({ object: 'view', id: VIEW_ID, parent: { database_id: DB_ID }, type: 'board' });
  });

  it('query_view: the first page comes with the query it belongs to, in one call', async () => {
    ts.answer(routes({ [`POST /v1/views/${VIEW_ID}/queries`]: { body: viewQuery } }));
    const res = await ts.call('query_view', { view_id: VIEW_URL, page_size: 2 });
    expect(res.isError).toBe(false);
    const req = ts.oneCall('POST', `/v1/views/${VIEW_ID}/queries`, {});
    expect(req!.body).toEqual({ page_size: 2 });
    expect(res.data).toEqual({
      object: 'list',
      query_id: QUERY_ID,
      total_count: 3,
      results: [
        { object: 'page', id: ROW_IDS[0] },
        { object: 'page', id: ROW_IDS[1] },
      ],
      has_more: true,
      next_cursor: CURSOR,
    });
  });

  it('query_view: the last page reads the cached query, then deletes the query', async () => {
    ts.answer(
      routes({
        [`GET /v1/views/${VIEW_ID}/queries/${QUERY_ID}`]: { body: viewQueryResults },
        [`DELETE /v1/views/${VIEW_ID}/queries/${QUERY_ID}`]: { body: { object: 'view_query', id: QUERY_ID, deleted: true } },
      }),
    );
    const res = await ts.call('query_view', { view_id: VIEW_ID, query_id: dashless(QUERY_ID), start_cursor: CURSOR, page_size: 2 });
    expect(res.isError).toBe(false);
    const [req, del] = ts.upstream(2);
    expect(req!.method).toBe('GET');
    expect(req!.query).toEqual({ start_cursor: CURSOR, page_size: '2' });
    expect(req!.body).toBeUndefined();
    expect(`${del!.method} ${del!.path}`).toBe(`DELETE /v1/views/${VIEW_ID}/queries/${QUERY_ID}`);
    expect(del!.query).toEqual({});
    expect(del!.body).toBeUndefined();
    // The query is gone: no query_id to page on.
    expect(res.data).toEqual({ object: 'list', results: [{ object: 'page', id: ROW_IDS[2] }], has_more: false });
  });

  it('query_view: a view that fits one page deletes its query at once; a failed delete still returns the rows', async () => {
    const whole = { ...viewQuery, has_more: false, next_cursor: null };
    ts.answer(
      routes({
        [`POST /v1/views/${VIEW_ID}/queries`]: { body: whole },
        [`DELETE /v1/views/${VIEW_ID}/queries/${QUERY_ID}`]: { status: 500, body: { object: 'error', status: 500, code: 'internal_server_error', message: 'boom' } },
      }),
    );
    const res = await ts.call('query_view', { view_id: VIEW_ID });
    expect(res.isError).toBe(false);
    const reqs = ts.upstream(2);
    expect(reqs.map((r) => `${r.method} ${r.path}`)).toEqual([`POST /v1/views/${VIEW_ID}/queries`, `DELETE /v1/views/${VIEW_ID}/queries/${QUERY_ID}`]);
    expect(res.data).toEqual({ object: 'list', total_count: 3, results: [{ object: 'page', id: ROW_IDS[0] }, { object: 'page', id: ROW_IDS[1] }], has_more: false });
  });

  it('query_view: a cursor without its query is refused before Notion', async () => {
    ts.answer(routes({}));
    const res = await ts.call('query_view', { view_id: VIEW_ID, start_cursor: CURSOR });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('invalid_arguments');
    expect(res.data.error.message).toMatch(/query_id: /);
    ts.upstream(0);
  });

  it('query_view: an expired query says to start again', async () => {
    ts.answer(routes({ [`GET /v1/views/${VIEW_ID}/queries/${QUERY_ID}`]: { status: 404, body: notFound('view query', QUERY_ID) } }));
    const res = await ts.call('query_view', { view_id: VIEW_ID, query_id: QUERY_ID, start_cursor: CURSOR });
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'query_expired', view_id: VIEW_ID, query_id: QUERY_ID });
    expect(res.data.error.message).toMatch(/without query_id/);
    ts.upstream(1);
  });

  it('a read-only connection is refused view changes, before Notion', async () => {
    ts.answer(routes({}));
    await ts.expectWritesRefused([
      ['create_view', { database_id: DB_ID, data_source_id: DS_ID, name: 'X', type: 'table' }],
      ['update_view', { view_id: VIEW_ID, name: 'X' }],
      ['delete_view', { view_id: VIEW_ID }],
    ] as const);
  });

  it('a read-only connection can list, get and query views', async () => {
    ts.answer(
      routes({
        'GET /v1/views': { body: viewList },
        [`GET /v1/views/${VIEW_ID}`]: { body: view },
        [`POST /v1/views/${VIEW_ID}/queries`]: { body: viewQuery },
      }),
    );
    for (const [name, args] of [
      ['list_views', { database_id: DB_ID }],
      ['get_view', { view_id: VIEW_ID }],
      ['query_view', { view_id: VIEW_ID }],
    ] as const) {
      const res = await ts.call(name, args, ts.readOnlyToken);
      expect(res.isError, name).toBe(false);
    }
    const reqs = ts.upstream(3, { token: ts.readOnlyNotionToken });
    expect(`${reqs[2]!.method} ${reqs[2]!.path}`).toBe(`POST /v1/views/${VIEW_ID}/queries`);
    expect(reqs[2]!.body).toEqual({});
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolRegistry } from '../../src/tools/registry.js';
import { dataSourcesTools } from '../../src/tools/data-sources.js';
import { COUNT_CAP } from '../../src/tools/query.js';
import { MAX_RESULT_CHARS } from '../../src/tools/budget.js';
import { fakeDatabase, fakeWorkspace } from '../helpers/fake-notion.js';
import { startToolStack, type ToolStack } from '../helpers/tools.js';
import {
  dueOf,
  OWNERS,
  PROJECT_IDS,
  rowId,
  STATUSES,
  TRACKER_DS_ID,
  TRACKER_ROWS,
  trackerDataSource,
  trackerRow,
  USERS,
} from '../fixtures/tracker.js';

type Obj = Record<string, any>;
const QUERY = `/v1/data_sources/${TRACKER_DS_ID}/query`;
const SCHEMA = `/v1/data_sources/${TRACKER_DS_ID}`;
const all = Array.from({ length: TRACKER_ROWS }, (_, i) => i);
const ids = (rows: number[]) => rows.map(rowId);
const isoDay = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

describe('query_data_source: the query language, rows by offset or cursor, columns, count', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
    ts.stack.fake.dataSources.set(TRACKER_DS_ID, trackerDataSource());
    ts.stack.fake.users.push(...Object.values(USERS));
  });
  afterAll(async () => ts.close());

  /** The fake's own behaviour: its query engine on the registered tracker. */
  const fresh = () => ts.answer(() => undefined);
  const query = (args: Obj) => ts.call('query_data_source', { data_source_id: TRACKER_DS_ID, ...args });
  const calls = () => ts.apiRequests().map((r) => `${r.method} ${r.path}`);
  const queries = () => ts.apiRequests().filter((r) => r.path === QUERY);
  const firstColumn = (data: Obj) => data.rows.map((r: unknown[]) => r[0]);

  it('stays small in tools/list (at most 1,500 bytes of compact JSON)', () => {
    const registry = new ToolRegistry(dataSourcesTools);
    const tool = registry.definitions({ scopes: new Set(['notion:read']) } as never).tools.find((t) => t.name === 'query_data_source');
    expect(JSON.stringify(tool).length).toBeLessThanOrEqual(1500);
  });

  describe('where: by property name with plain values', () => {
    it('compiles each type to Notion conditions, reads the schema and users once, and Notion returns the right rows', async () => {
      fresh();
      const res = await query({
        where: {
          Status: 'done',
          Priority: ['High', 'Medium'],
          Tags: 'docs',
          Owner: 'sam@acme.test',
          Due: { before: '2026-12-31' },
          Estimate: { '>=': 2 },
          Done: true,
          Project: `https://www.notion.so/acme/Apollo-${PROJECT_IDS[0].replace(/-/g, '')}`,
          Link: null,
        },
        limit: 1000,
      });
      expect(res.isError, JSON.stringify(res.data)).toBe(false);
      expect(calls()).toEqual([`GET ${SCHEMA}`, 'GET /v1/users', `POST ${QUERY}`]);
      const [, users, q] = ts.upstream(3);
      expect(users!.query).toEqual({ page_size: '100' });
      expect(q!.query).toEqual({});
      expect(q!.body).toEqual({
        filter: {
          and: [
            { property: 'Status', status: { equals: 'Done' } },
            { or: [{ property: 'Priority', select: { equals: 'High' } }, { property: 'Priority', select: { equals: 'Medium' } }] },
            { property: 'Tags', multi_select: { contains: 'docs' } },
            { property: 'Owner', people: { contains: USERS.sam1.id } },
            { property: 'Due', date: { before: '2026-12-31' } },
            { property: 'Estimate', number: { greater_than_or_equal_to: 2 } },
            { property: 'Done', checkbox: { equals: true } },
            { property: 'Project', relation: { contains: PROJECT_IDS[0] } },
            { property: 'Link', url: { is_empty: true } },
          ],
        },
        page_size: 100,
      });
      // The same rows worked out from the fixture: the fake really filtered.
      const expected = all.filter((i) => {
        const est = i % 9 === 0 ? null : i % 13;
        const due = dueOf(i);
        return (
          i % 3 === 2 && i % 4 < 2 && ((i >> 2) & 1) === 1 && i % 5 !== 4 && OWNERS[i % 3] === USERS.sam1 &&
          due !== null && due < '2026-12-31' && est !== null && est >= 2 && i % 4 === 1 && i % 11 !== 0
        );
      });
      expect(expected.length).toBeGreaterThan(3);
      expect(firstColumn(res.data)).toEqual(ids(expected));
    });

    it('text contains, numbers as text, unique ids, files, formulas, not, between and or', async () => {
      fresh();
      const res = await query({
        where: { or: [{ Notes: 'review 1' }, { ID: 'TRK-7' }], Files: false, Score: { between: [2, 20] }, Status: { not: 'Done' } },
        limit: 1000,
      });
      expect(res.isError, JSON.stringify(res.data)).toBe(false);
      const [q] = queries();
      expect(q!.body).toEqual({
        filter: {
          and: [
            { or: [{ property: 'Notes', rich_text: { contains: 'review 1' } }, { property: 'ID', unique_id: { equals: 7 } }] },
            { property: 'Files', files: { is_empty: true } },
            { property: 'Score', formula: { number: { greater_than_or_equal_to: 2 } } },
            { property: 'Score', formula: { number: { less_than_or_equal_to: 20 } } },
            { property: 'Status', status: { does_not_equal: 'Done' } },
          ],
        },
        page_size: 100,
      });
      const expected = all.filter((i) => {
        const est = i % 9 === 0 ? null : i % 13;
        const notes = i % 6 === 0 ? `blocked on review ${i}` : '';
        return (notes.includes('review 1') || i + 1 === 7) && i % 50 !== 0 && est !== null && est * 2 >= 2 && est * 2 <= 20 && i % 3 !== 2;
      });
      expect(expected.length).toBeGreaterThan(3);
      expect(firstColumn(res.data)).toEqual(ids(expected));
    });

    it('dates: ISO days, Notion ranges and relative values, and "past N days" as two bounds', async () => {
      fresh();
      const res = await query({
        where: { and: [{ Due: '2026-03-05' }, { Due: 'this week' }, { Due: { after: 'one_month_ago' } }, { Due: 'past 7 days' }, { Created: 'next_month' }, { Due: { '<=': 'today' } }] },
      });
      expect(res.isError, JSON.stringify(res.data)).toBe(false);
      expect(queries()[0]!.body).toEqual({
        filter: {
          and: [
            { property: 'Due', date: { equals: '2026-03-05' } },
            { property: 'Due', date: { this_week: {} } },
            { property: 'Due', date: { after: 'one_month_ago' } },
            { property: 'Due', date: { on_or_after: isoDay(-7) } },
            { property: 'Due', date: { on_or_before: 'today' } },
            { property: 'Created', created_time: { next_month: {} } },
            { property: 'Due', date: { on_or_before: 'today' } },
          ],
        },
        page_size: 100,
      });
    });

    it('a plain ISO day finds exactly the rows due that day', async () => {
      fresh();
      const res = await query({ where: { Due: '2026-02-10' }, properties: ['Due'] });
      expect(res.isError).toBe(false);
      const expected = all.filter((i) => dueOf(i) === '2026-02-10');
      expect(expected.length).toBeGreaterThan(0);
      expect(firstColumn(res.data)).toEqual(ids(expected));
    });

    it('people: "me" and user IDs go as they are, without listing users; a name resolves', async () => {
      fresh();
      let res = await query({ where: { Owner: 'me', Done: { equals: false } }, limit: 1 });
      expect(res.isError).toBe(false);
      expect(calls()).toEqual([`GET ${SCHEMA}`, `POST ${QUERY}`]);
      expect(queries()[0]!.body).toMatchObject({ filter: { and: [{ property: 'Owner', people: { contains: 'me' } }, { property: 'Done', checkbox: { equals: false } }] } });

      fresh();
      res = await query({ where: { Owner: USERS.grace.id.replace(/-/g, '') }, limit: 1 });
      expect(calls()).toEqual([`GET ${SCHEMA}`, `POST ${QUERY}`]);
      expect(queries()[0]!.body).toMatchObject({ filter: { property: 'Owner', people: { contains: USERS.grace.id } } });

      fresh();
      res = await query({ where: { or: [{ Owner: 'grace hopper' }, { Owner: 'ADA@example.com' }] }, limit: 1 });
      expect(res.isError).toBe(false);
      // Two people, one users list.
      expect(calls()).toEqual([`GET ${SCHEMA}`, 'GET /v1/users', `POST ${QUERY}`]);
      expect(queries()[0]!.body).toMatchObject({ filter: { or: [{ people: { contains: USERS.grace.id } }, { people: { contains: USERS.ada.id } }] } });
    });

    it('people: a name two people share, or nobody has, is an error that names who exists', async () => {
      fresh();
      const twice = await query({ where: { Owner: 'Sam Lee' } });
      expect(twice.isError).toBe(true);
      expect(twice.data.error.code).toBe('invalid_arguments');
      expect(twice.data.error.message).toContain('Sam Lee <sam@acme.test>');
      expect(twice.data.error.message).toContain('Sam Lee <sam@other.test>');
      const nobody = await query({ where: { Owner: 'Linus' } });
      expect(nobody.data.error.message).toMatch(/no user "Linus".*Ada Lovelace <ada@example.com>/);
      expect(calls().filter((c) => c.startsWith('POST'))).toEqual([]);
    });

    it('"not" with a list means none of them; a connection that may not list users is told to give the ID', async () => {
      fresh();
      const res = await query({ where: { Status: { not: ['Done', 'in progress'] } }, limit: 1000 });
      expect(queries()[0]!.body).toMatchObject({
        filter: { and: [{ property: 'Status', status: { does_not_equal: 'Done' } }, { property: 'Status', status: { does_not_equal: 'In progress' } }] },
      });
      expect(firstColumn(res.data)).toEqual(ids(all.filter((i) => i % 3 === 0)));

      ts.answer((req) => (req.path === '/v1/users' ? { status: 403, body: { object: 'error', status: 403, code: 'restricted_resource', message: 'Insufficient permissions for this endpoint.' } } : undefined));
      const denied = await query({ where: { Owner: 'Ada Lovelace' } });
      expect(denied.isError).toBe(true);
      expect(denied.data.error).toMatchObject({ code: 'invalid_arguments', message: expect.stringMatching(/may not list the workspace's users.*Give the user ID/) });
      expect(calls()).toEqual([`GET ${SCHEMA}`, 'GET /v1/users']);
    });

    it('an unknown property or option is a tool error listing the valid names, and nothing is queried', async () => {
      fresh();
      const prop = await query({ where: { Stauts: 'Done' } });
      expect(prop.isError).toBe(true);
      expect(prop.data.error.code).toBe('invalid_arguments');
      expect(prop.data.error.message).toMatch(/^No property "Stauts" in this data source\. Properties: "Name", "Status", "Priority", "Tags"/);
      expect(prop.data.error.valid).toContain('Due');
      const opt = await query({ where: { Status: 'Finished' } });
      expect(opt.data.error.message).toBe('Status has no option "Finished". Options: "Not started", "In progress", "Done".');
      expect(opt.data.error.valid).toEqual([...STATUSES]);
      const op = await query({ where: { Estimate: { before: 3 } } });
      expect(op.data.error.message).toMatch(/^Estimate \(number\) has no operator "before"/);
      const date = await query({ where: { Due: 'someday' } });
      expect(date.data.error.message).toMatch(/"someday" is not a date/);
      const order = await query({ order_by: ['Deadline'] });
      expect(order.data.error.message).toMatch(/^No property "Deadline"/);
      const props = await query({ properties: ['Name', 'Colour'] });
      expect(props.data.error.message).toMatch(/^No property "Colour"/);
      expect(calls()).toEqual(Array(6).fill(`GET ${SCHEMA}`));
    });

    it("Notion's own filter and sort JSON pass through in one call, without reading the schema", async () => {
      fresh();
      const filter = { or: [{ property: 'Status', status: { equals: 'Done' } }, { timestamp: 'created_time', created_time: { before: '2026-01-02' } }] };
      const sorts = [{ property: 'Estimate', direction: 'descending' }];
      const res = await query({ where: filter, order_by: sorts, limit: 5 });
      expect(res.isError, JSON.stringify(res.data)).toBe(false);
      ts.oneCall('POST', QUERY, {});
      expect(queries()[0]!.body).toEqual({ filter, sorts, page_size: 5 });
    });
  });

  describe('order_by and properties', () => {
    it('sorts by name, "-" for descending, timestamps by name', async () => {
      fresh();
      const res = await query({ order_by: ['Priority', '-Estimate', 'created_time desc'], properties: ['Priority', 'Estimate'], limit: 20 });
      expect(res.isError).toBe(false);
      const [q] = queries();
      expect(q!.body).toEqual({
        sorts: [
          { property: 'Priority', direction: 'ascending' },
          { property: 'Estimate', direction: 'descending' },
          { timestamp: 'created_time', direction: 'descending' },
        ],
        page_size: 20,
      });
      expect(q!.query).toEqual({ filter_properties: 'Pr|y,Es=m' });
      expect(res.data.columns).toEqual(['id', 'Priority', 'Estimate']);
      // High first, within it the largest estimate first (empty last), then the newest.
      const est = (i: number) => (i % 9 === 0 ? -1 : i % 13);
      const expected = all.filter((i) => i % 4 === 0).sort((x, y) => est(y) - est(x) || y - x).slice(0, 20);
      expect(res.data.rows).toEqual(expected.map((i) => [rowId(i), 'High', est(i) < 0 ? null : est(i)]));
    });
  });

  describe('the columnar result', () => {
    it('one header, rows as arrays of plain values, empty as null, ids kept and the row URL rule once', async () => {
      fresh();
      // Row 14: no owner (14 % 5 = 4), a date range (14 % 7 = 0).
      const res = await query({ offset: 14, limit: 1 });
      expect(res.isError).toBe(false);
      ts.oneCall('POST', QUERY, {});
      expect(queries()[0]!.body).toEqual({ page_size: 15 });
      expect(res.data).toEqual({
        data_source_id: TRACKER_DS_ID,
        columns: ['id', 'Name', 'Status', 'Priority', 'Tags', 'Estimate', 'Due', 'Owner', 'Done', 'Notes', 'Project', 'Files', 'Link', 'ID', 'Score', 'Created'],
        rows: [[rowId(14), 'Task 14', 'Done', 'Low', ['frontend', 'docs', 'ops'], 1, '2026-01-15→2026-01-17', null, true, null, null, null, null, 'TRK-15', 2, trackerRow(14).created_time]],
        has_more: true,
        next_cursor: rowId(15),
        next_offset: 15,
        row_url: 'https://www.notion.so/<id without dashes>',
      });
    });

    it('files by name, relations as ids, rich text as Markdown', async () => {
      fresh();
      const res = await query({ where: { ID: 51 }, properties: ['Files', 'Project', 'Notes', 'Link'] });
      expect(res.data.rows).toEqual([[rowId(50), ['spec-50.pdf'], null, null, null]]);
      const r2 = await query({ where: { ID: 67 }, properties: ['Project', 'Notes', 'Link'] });
      expect(r2.data.rows).toEqual([[rowId(66), null, 'Blocked on review 66', 'https://github.com/acme/app/pull/66']]);
      const r3 = await query({ where: { ID: 2 }, properties: ['Project'] });
      expect(r3.data.rows).toEqual([[rowId(1), [PROJECT_IDS[0]]]]);
    });

    it('format "rows" keeps the per-row form, without empty values', async () => {
      fresh();
      // Row 10: no due date, no notes, no link, no project, no files.
      const res = await query({ format: 'rows', offset: 10, limit: 1 });
      expect(res.isError).toBe(false);
      expect(res.data).toMatchObject({ object: 'list', data_source_id: TRACKER_DS_ID, has_more: true, next_cursor: rowId(11), next_offset: 11 });
      expect(res.data.results).toEqual([
        {
          object: 'page',
          id: rowId(10),
          last_edited_time: trackerRow(10).last_edited_time,
          properties: {
            Name: { title: 'Task 10' },
            Status: { status: 'In progress' },
            Priority: { select: 'Low' },
            Tags: { multi_select: ['frontend', 'ops'] },
            Estimate: { number: 10 },
            Owner: { people: [{ id: USERS.grace.id, name: 'Grace Hopper', email: 'grace@example.com' }] },
            Done: { checkbox: false },
            ID: { unique_id: 'TRK-11' },
            Score: { formula: 20 },
            Created: { created_time: trackerRow(10).created_time },
          },
          url: trackerRow(10).url,
        },
      ]);
    });

    it('is smaller than the per-row form: measured on 100 rows', async () => {
      fresh();
      const columns = JSON.stringify((await query({ limit: 100 })).data).length;
      const rows = JSON.stringify((await query({ limit: 100, format: 'rows' })).data).length;
      expect(columns).toBeLessThan(rows * 0.5);
    });
  });

  describe(`paging through ${TRACKER_ROWS} rows: no gaps, no repeats`, () => {
    it('by offset: limit 100 at a time, every row once and in order', async () => {
      fresh();
      const seen: string[] = [];
      let offset: number | undefined = 0;
      while (offset !== undefined) {
        const res = await query({ offset, limit: 100 });
        seen.push(...firstColumn(res.data));
        offset = res.data.next_offset;
        if (offset !== undefined) expect(offset).toBe(seen.length);
      }
      expect(seen).toEqual(ids(all));
    });

    it('an offset inside Notion pages reads whole pages of 100, then exactly what is left, so Notion\'s cursor continues', async () => {
      fresh();
      const res = await query({ offset: 250, limit: 30 });
      expect(firstColumn(res.data)).toEqual(ids(all.slice(250, 280)));
      expect(res.data.next_cursor).toBe(rowId(280));
      expect(res.data.next_offset).toBe(280);
      expect(queries().map((r) => r.body)).toEqual([{ page_size: 100 }, { page_size: 100, start_cursor: rowId(100) }, { page_size: 80, start_cursor: rowId(200) }]);
    });

    it('by cursor: limit 70 at a time, every row once and in order', async () => {
      fresh();
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let n = 0; n < 20; n++) {
        const res = await query({ limit: 70, ...(cursor ? { start_cursor: cursor } : {}) });
        seen.push(...firstColumn(res.data));
        cursor = res.data.next_cursor;
        if (!res.data.has_more) break;
      }
      expect(cursor).toBeUndefined();
      expect(seen).toEqual(ids(all));
      // Each call starts where the last ended: 70 rows is one page of 70.
      for (const r of queries()) expect((r.body as Obj).page_size).toBe(70);
    });

    it('mixing: offset, then next_cursor, then a cursor with an offset, then next_offset with that cursor', async () => {
      fresh();
      const a = (await query({ offset: 0, limit: 150, where: { Done: false } })).data;
      const b = (await query({ start_cursor: a.next_cursor, limit: 120, where: { Done: false } })).data;
      const c = (await query({ start_cursor: b.next_cursor, offset: 10, limit: 50, where: { Done: false } })).data;
      const d = (await query({ start_cursor: b.next_cursor, offset: c.next_offset, limit: 1000, where: { Done: false } })).data;
      const notDone = all.filter((i) => i % 3 !== 2);
      expect(firstColumn(a)).toEqual(ids(notDone.slice(0, 150)));
      expect(firstColumn(b)).toEqual(ids(notDone.slice(150, 270)));
      expect(firstColumn(c)).toEqual(ids(notDone.slice(280, 330)));
      expect(c.next_offset).toBe(60);
      expect(firstColumn(d)).toEqual(ids(notDone.slice(330)));
      expect(d.has_more).toBe(false);
      expect(d.next_cursor).toBeUndefined();
      expect(d.next_offset).toBeUndefined();
      for (const r of queries()) expect((r.body as Obj).filter).toEqual({ property: 'Done', checkbox: { equals: false } });
    });

    it('a result over the budget is cut after whole rows; the continuation (cursor or offset) reads on with no gaps', async () => {
      // 1,000 rows per call with long notes: far over 75,000 characters.
      const long = trackerDataSource();
      for (const r of long.rows) (r.properties as Obj).Notes.rich_text = [{ ...(r.properties as Obj).Name.title[0], plain_text: 'x'.repeat(400) }];
      ts.stack.fake.dataSources.set(TRACKER_DS_ID, long);
      try {
        for (const via of ['cursor', 'offset'] as const) {
          fresh();
          const seen: string[] = [];
          let args: Obj = { limit: 1000 };
          for (let n = 0; n < 20; n++) {
            const r = await ts.result('query_data_source', { data_source_id: TRACKER_DS_ID, ...args });
            expect(r.content[0].text.length).toBeLessThanOrEqual(MAX_RESULT_CHARS);
            const out = JSON.parse(r.content[0].text);
            seen.push(...firstColumn(out));
            if (!out.has_more) break;
            expect(out.cut).toMatch(/start_cursor = next_cursor \(or offset = next_offset\)/);
            expect(out.next_offset).toBe(seen.length);
            args = via === 'cursor' ? { limit: 1000, start_cursor: out.next_cursor } : { limit: 1000, offset: out.next_offset };
          }
          expect(seen).toEqual(ids(all));
        }
      } finally {
        ts.stack.fake.dataSources.set(TRACKER_DS_ID, trackerDataSource());
      }
    });
  });

  describe('count', () => {
    it('counts every row, reading only the title, and never returns rows', async () => {
      fresh();
      const res = await query({ count: true });
      expect(res.data).toEqual({ data_source_id: TRACKER_DS_ID, count: TRACKER_ROWS });
      const qs = queries();
      expect(qs).toHaveLength(6);
      expect(qs.map((r) => r.body)).toEqual([{ page_size: 100 }, ...[1, 2, 3, 4, 5].map((p) => ({ page_size: 100, start_cursor: rowId(p * 100) }))]);
      for (const r of qs) expect(r.query).toEqual({ filter_properties: 'title' });
    });

    it('counts what where matches', async () => {
      fresh();
      const res = await query({ count: true, where: { Status: 'Done', Owner: 'Grace Hopper' } });
      expect(res.data.count).toBe(all.filter((i) => i % 3 === 2 && i % 5 !== 4 && OWNERS[i % 3] === USERS.grace).length);
      expect(res.data.incomplete).toBeUndefined();
    });

    it(`stops at ${COUNT_CAP.toLocaleString('en-US')} rows and says so`, async () => {
      const big = 'aa1104cd-477e-80af-bc30-000bd28de8f9';
      const rows = Array.from({ length: COUNT_CAP + 150 }, (_, i) => ({ object: 'page', id: rowId(10_000 + i), properties: { Name: { id: 'title', type: 'title', title: [] } } }));
      ts.stack.fake.dataSources.set(big, { schema: { object: 'data_source', id: big, properties: { Name: { id: 'title', name: 'Name', type: 'title', title: {} } } }, rows });
      fresh();
      const res = await ts.call('query_data_source', { data_source_id: big, count: true });
      expect(res.data).toEqual({ data_source_id: big, count: COUNT_CAP, incomplete: expect.stringMatching(/^Counting stops at 5,000 rows: at least 5000/) });
      expect(ts.apiRequests()).toHaveLength(COUNT_CAP / 100);
    });
  });

  describe('resolution and arguments', () => {
    it('a database ID resolves to its data source once, and the result says which ran', async () => {
      const ws = fakeWorkspace('A');
      const db = fakeDatabase(ws);
      fresh();
      const res = await ts.call('query_data_source', { data_source_id: db.databaseId, where: { Done: true } });
      expect(res.isError, JSON.stringify(res.data)).toBe(false);
      expect(calls()).toEqual([`GET /v1/data_sources/${db.databaseId}`, `GET /v1/databases/${db.databaseId}`, `GET /v1/data_sources/${db.dataSourceId}`, `POST /v1/data_sources/${db.dataSourceId}/query`]);
      expect(res.data).toEqual({ resolved_data_source_id: db.dataSourceId, data_source_id: db.dataSourceId, columns: ['id', 'Name', 'Done'], rows: [], has_more: false, row_url: 'https://www.notion.so/<id without dashes>' });

      fresh();
      const plain = await ts.call('query_data_source', { data_source_id: db.databaseId, count: true });
      expect(plain.data).toEqual({ resolved_data_source_id: db.dataSourceId, data_source_id: db.dataSourceId, count: 0 });
      expect(calls()).toEqual([`POST /v1/data_sources/${db.databaseId}/query`, `GET /v1/databases/${db.databaseId}`, `POST /v1/data_sources/${db.dataSourceId}/query`]);
    });

    it('bad offsets, limits and shapes are refused before Notion, naming the field', async () => {
      fresh();
      for (const [args, field] of [
        [{ offset: -1 }, /offset: expected a whole number from 0 to 10,000/],
        [{ limit: 0 }, /limit: expected a whole number from 1 to 1,000/],
        [{ limit: 2.5 }, /limit: /],
        [{ order_by: 'Due' }, /order_by: /],
        [{ where: { and: ['Done'] } }, /where\.and: expected a list of conditions/],
        [{ where: {} }, /where: give at least one condition/],
      ] as const) {
        const res = await query(args as Obj);
        expect(res.isError, JSON.stringify(args)).toBe(true);
        expect(res.data.error.message).toMatch(field);
      }
      expect(calls().filter((c) => c.startsWith('POST'))).toEqual([]);
    });

    it("the earlier parameters still work under their names: filter, sorts, page_size, filter_properties, archived, result_type", async () => {
      fresh();
      const res = await query({
        filter: JSON.stringify({ property: 'Status', status: { equals: 'Done' } }),
        sorts: [{ property: 'Estimate', direction: 'descending' }],
        page_size: 3,
        filter_properties: ['title', 'St%3Ds'],
        archived: false,
        result_type: 'page',
      });
      expect(res.isError, JSON.stringify(res.data)).toBe(false);
      expect(calls()).toEqual([`GET ${SCHEMA}`, `POST ${QUERY}`]);
      const [q] = queries();
      expect(q!.query).toEqual({ filter_properties: 'title,St=s' });
      expect(q!.body).toEqual({
        filter: { property: 'Status', status: { equals: 'Done' } },
        sorts: [{ property: 'Estimate', direction: 'descending' }],
        page_size: 3,
        in_trash: false,
        result_type: 'page',
      });
      expect(res.data.columns).toEqual(['id', 'Name', 'Status']);
      expect(res.data.rows).toHaveLength(3);
      expect(res.data.rows.every((r: unknown[]) => r[2] === 'Done')).toBe(true);

      fresh();
      const bad = await query({ page_size: 'ten' });
      expect(bad.data.error.message).toMatch(/^Invalid arguments\. page_size: /);
      const kind = await query({ result_type: 'block' });
      expect(kind.data.error.message).toMatch(/result_type: expected "page" or "data_source"/);
      expect(calls()).toEqual([]);
    });

    it('Notion answering empty pages that never end is a tool error after a bounded number of calls, not a loop', async () => {
      ts.answer(() => ({ body: { object: 'list', results: [], has_more: true, next_cursor: rowId(1), type: 'page_or_data_source', page_or_data_source: {} } }));
      const res = await query({ limit: 5 });
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('notion_paging');
      expect(ts.apiRequests()).toHaveLength(120);
    });

    it('the fake refuses what Notion refuses: a wrong type key is a 400 with Notion\'s message', async () => {
      fresh();
      const res = await query({ where: { property: 'Status', select: { equals: 'Done' } } });
      expect(res.isError).toBe(true);
      expect(res.data.error).toMatchObject({ code: 'validation_error', status: 400 });
      const [q] = queries();
      expect(q!.body).toEqual({ filter: { property: 'Status', select: { equals: 'Done' } }, page_size: 100 });
    });
  });
});

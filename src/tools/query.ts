/**
 * Data source queries in the model's terms: `where` and `order_by` by property name
 * (query-language.ts compiles them with the schema, GET /v1/data_sources/{id}, read only when a
 * name must be resolved), rows by offset or cursor, a columnar result and a count.
 */
import type { QueryDataSourceResponse } from '@notionhq/client';
import { ToolError } from '../errors.js';
import type { NotionSession } from '../notion/session.js';
import { cellValue, isEmptyValue, richText, shape } from '../notion/shape.js';
import { getDataSource, onDataSource, withResolved } from '../notion/resolve.js';
import { compileOrderBy, compileWhere, orderByNeedsSchema, Schema, whereNeedsSchema } from './query-language.js';
import { type Provenance, provenance, withheldNote } from './provenance.js';
import type { ToolContext } from './registry.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Notion's most rows per query page. */
const NOTION_PAGE_SIZE = 100;
/** Rows one call returns by default, and at most (the result budget cuts a long answer cleanly). */
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Notion stops a query at 10,000 rows; an offset beyond cannot be reached. */
export const MAX_OFFSET = 10_000;
/** `count` reads at most this many rows (50 Notion calls) and says when it stopped. */
export const COUNT_CAP = 5000;

// ---------------------------------------------------------------------------------------------
// Reading rows
// ---------------------------------------------------------------------------------------------

interface QueryRequest {
  filter?: Obj;
  sorts?: Obj[];
  filter_properties?: string[];
  in_trash?: boolean;
  result_type?: string;
}

interface Window {
  rows: Obj[];
  has_more: boolean;
  next_cursor: string | null;
  incomplete: boolean;
}

function queryPage(notion: NotionSession, dataSourceId: string, req: QueryRequest, cursor: string | undefined, size: number) {
  const params: Obj = { data_source_id: dataSourceId };
  if (req.filter) params.filter = req.filter;
  if (req.sorts?.length) params.sorts = req.sorts;
  if (cursor) params.start_cursor = cursor;
  params.page_size = size;
  if (req.filter_properties?.length) params.filter_properties = req.filter_properties;
  if (req.in_trash !== undefined) params.in_trash = req.in_trash;
  if (req.result_type) params.result_type = req.result_type;
  return notion.read((n, auth) => n.dataSources.query({ ...(params as Parameters<typeof n.dataSources.query>[0]), auth }));
}

/** One page of the query: `req` from `cursor`, `size` rows. */
type Pager = (req: QueryRequest, cursor: string | undefined, size: number) => Promise<QueryDataSourceResponse>;

/** Notion calls one read may take: the farthest offset plus the longest limit, and some slack for short pages. */
const MAX_CALLS = (MAX_OFFSET + MAX_LIMIT) / NOTION_PAGE_SIZE + 10;
const tooManyPages = () =>
  new ToolError('notion_paging', `Notion answered ${MAX_CALLS} pages without reaching the rows asked for. Narrow where, or continue from next_cursor of a smaller limit.`);

/**
 * Rows `offset` to `offset + limit` after `cursor` (the start without one). Notion pages hold at
 * most 100 rows, so skipped rows are read in pages of 100 and the last page asks for exactly what
 * is left: the window then ends on a Notion page boundary, and Notion's next_cursor continues
 * exactly after the last row returned (no gaps, no repeats).
 */
async function readWindow(page: Pager, req: QueryRequest, cursor: string | undefined, offset: number, limit: number): Promise<Window> {
  const rows: Obj[] = [];
  let skip = offset;
  let incomplete = false;
  for (let calls = 0; calls < MAX_CALLS; calls++) {
    const res = await page(req, cursor, Math.min(NOTION_PAGE_SIZE, skip + limit - rows.length));
    if (res.request_status?.type === 'incomplete') incomplete = true;
    const results = res.results as unknown as Obj[];
    rows.push(...results.slice(skip, skip + limit - rows.length));
    skip = Math.max(0, skip - results.length);
    const next = res.has_more ? res.next_cursor : null;
    if (!next || rows.length >= limit) return { rows, has_more: !!next, next_cursor: next, incomplete };
    cursor = next;
  }
  throw tooManyPages();
}

/** Counts rows (reading only the title), up to COUNT_CAP; in lockdown only rows members wrote. */
async function countRows(page: Pager, req: QueryRequest, who: Provenance): Promise<Obj> {
  let count = 0;
  let cursor: string | undefined;
  let notionIncomplete = false;
  const thin = { ...req, filter_properties: ['title'] };
  for (let calls = 0; calls < MAX_CALLS; calls++) {
    const res = await page(thin, cursor, NOTION_PAGE_SIZE);
    count += who.lockdown ? res.results.filter((r) => !who.withholds(r)).length : res.results.length;
    if (res.request_status?.type === 'incomplete') notionIncomplete = true;
    const next = res.has_more ? res.next_cursor : null;
    if (!next) {
      return notionIncomplete ? { count, incomplete: `Notion stopped at its row limit: at least ${count} rows; narrow where to count exactly` } : { count };
    }
    if (count >= COUNT_CAP) return { count, incomplete: `Counting stops at ${COUNT_CAP.toLocaleString('en-US')} rows: at least ${count}; narrow where to count exactly` };
    cursor = next;
  }
  throw tooManyPages();
}

// ---------------------------------------------------------------------------------------------
// Columnar result
// ---------------------------------------------------------------------------------------------

/** How a row's URL is built from its id. */
const ROW_URL = 'https://www.notion.so/<id without dashes>';

/**
 * Rows as one header and arrays: `columns` is "id" then the property names (the order asked
 * for, else Notion's with the title first); each cell is a plain JSON value, null when empty.
 */
function columnar(rows: Obj[], names: string[] | undefined, schema: Schema | undefined): { columns: string[]; rows: unknown[][] } {
  let cols = names;
  if (!cols) {
    const seen = new Set<string>();
    const title: string[] = [];
    for (const r of rows) {
      for (const [name, p] of Object.entries(isObj(r.properties) ? r.properties : {})) {
        if (seen.has(name)) continue;
        seen.add(name);
        (isObj(p) && p.type === 'title' ? title : []).push(name);
      }
    }
    if (seen.size === 0 && schema) for (const p of schema.props) seen.add(p.name);
    const titles = schema ? schema.props.filter((p) => p.type === 'title').map((p) => p.name) : title;
    cols = [...titles.filter((t) => seen.has(t)), ...[...seen].filter((n) => !titles.includes(n))];
  }
  const out = rows.map((r) => {
    const props = isObj(r.properties) ? r.properties : {};
    if (r.object !== 'page' && r.object !== undefined) {
      // A wiki's data source among the rows: its id and title.
      const t = Array.isArray(r.title) ? richText(r.title) || null : null;
      return [r.id, ...cols!.map((_, i) => (i === 0 ? t : null))];
    }
    return [r.id, ...cols!.map((c) => (c in props ? cellValue(props[c]) : null))];
  });
  return { columns: ['id', ...cols], rows: out };
}

/** Row fields that are the same for every row or rarely matter, dropped from the per-row form. */
const ROW_NOISE = ['parent', 'created_time'];
const INCOMPLETE = 'Notion stopped at its row limit: narrow the filter';

/**
 * A query result one object per row (`object`, `id`, `url`, `last_edited_time`, properties as
 * `{type: value}` without the empty ones), the data source once at the top, and `incomplete`
 * when Notion stopped at its 10,000-row limit.
 */
export function shapeRows(res: QueryDataSourceResponse, dataSourceId: string): Obj {
  const list = shape(res) as Obj;
  const rows = (list.results as Obj[]).map((row) => {
    if (row.object !== 'page') return row;
    const out = { ...row };
    for (const k of ROW_NOISE) delete out[k];
    if (isObj(out.properties)) out.properties = Object.fromEntries(Object.entries(out.properties).filter(([, v]) => !isEmptyValue(v)));
    return out;
  });
  const out: Obj = { object: 'list', data_source_id: dataSourceId, results: rows, has_more: list.has_more };
  if (list.next_cursor) out.next_cursor = list.next_cursor;
  if (res.request_status?.type === 'incomplete') out.incomplete = INCOMPLETE;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The query_data_source tool
// ---------------------------------------------------------------------------------------------

export interface QueryToolArgs {
  where?: Obj | undefined;
  order_by?: (string | Obj)[] | undefined;
  properties?: string[] | undefined;
  offset?: number | undefined;
  limit?: number | undefined;
  start_cursor?: string | undefined;
  count?: boolean | undefined;
  format?: 'rows' | undefined;
  in_trash?: boolean | undefined;
  result_type?: 'page' | 'data_source' | undefined;
}

/**
 * Runs a query on a data source ID (a database ID resolves to its one data source). The schema is
 * read first only when `where`, `order_by` or `properties` name properties; otherwise the query
 * is the only call, as before.
 */
export async function queryDataSource(ctx: ToolContext, id: string, args: QueryToolArgs): Promise<unknown> {
  const { notion } = ctx;
  const who = await provenance(ctx);
  const needsSchema = whereNeedsSchema(args.where) || orderByNeedsSchema(args.order_by) || !!args.properties?.length;
  let dataSourceId = id;
  let resolved: string | undefined;
  let schema: Schema | undefined;
  if (needsSchema) {
    const r = await onDataSource(notion, id, (x) => getDataSource(notion, x));
    schema = new Schema(r.value);
    resolved = r.resolvedDataSourceId;
    dataSourceId = resolved ?? id;
  }
  const req: QueryRequest = {};
  if (args.where) req.filter = await compileWhere(args.where, schema, notion);
  if (args.order_by?.length) req.sorts = compileOrderBy(args.order_by, schema);
  const names = args.properties?.length ? [...new Set(args.properties.map((n) => schema!.get(n).name))] : undefined;
  if (names) req.filter_properties = names.map((n) => schema!.get(n).id);
  if (args.in_trash !== undefined) req.in_trash = args.in_trash;
  if (args.result_type) req.result_type = args.result_type;

  // The first call resolves a database ID on a 404 unless the schema read did; later ones use the result.
  let resolving = !needsSchema;
  const page: Pager = async (r, cursor, size) => {
    if (!resolving) return queryPage(notion, dataSourceId, r, cursor, size);
    resolving = false;
    const res = await onDataSource(notion, id, (x) => queryPage(notion, x, r, cursor, size));
    if (res.resolvedDataSourceId) dataSourceId = resolved = res.resolvedDataSourceId;
    return res.value;
  };
  if (args.count) {
    const counted = await countRows(page, req, who);
    return withResolved({ data_source_id: dataSourceId, ...counted }, resolved);
  }

  const offset = args.offset ?? 0;
  const w = await readWindow(page, req, args.start_cursor, offset, args.limit ?? DEFAULT_LIMIT);
  const tail: Obj = { has_more: w.has_more };
  if (w.next_cursor) tail.next_cursor = w.next_cursor;
  if (w.has_more) tail.next_offset = offset + w.rows.length;
  if (w.incomplete) tail.incomplete = INCOMPLETE;
  const rows = w.rows.filter((r) => !who.withholds(r));
  Object.assign(tail, withheldNote(w.rows.length - rows.length));
  if (args.format === 'rows') {
    const list = { object: 'list', results: rows, has_more: w.has_more, next_cursor: w.next_cursor } as unknown as QueryDataSourceResponse;
    const shaped = shapeRows(list, dataSourceId);
    return withResolved({ ...shaped, results: who.vetList(rows, shaped.results as unknown[]).kept, ...tail }, resolved);
  }
  const table = columnar(rows, names, schema);
  // Rows a guest or an integration wrote: an `untrusted` column with the source, only when there are some.
  const sources = rows.map((r) => who.mark(r)?.source ?? null);
  if (sources.some((s) => s !== null)) {
    table.columns.push('untrusted');
    table.rows.forEach((row, i) => row.push(sources[i]));
  }
  return withResolved({ data_source_id: dataSourceId, columns: table.columns, rows: table.rows, ...tail, row_url: ROW_URL }, resolved);
}

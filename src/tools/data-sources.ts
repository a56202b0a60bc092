import type { CreateDataSourceParameters, QueryDataSourceParameters, QueryDataSourceResponse, UpdateDataSourceParameters } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from './registry.js';
import { annotations, notionId, OVERWRITE, pageSize, READ, startCursor, toIcon } from './args.js';
import { fitBody } from './limits.js';
import { getDataSource, onDataSource, withResolved } from '../notion/resolve.js';
import type { NotionSession } from '../notion/session.js';
import { shape } from '../notion/shape.js';
import { DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, queryDataSource } from './query.js';
import { provenance } from './provenance.js';

// ---------------------------------------------------------------------------------------------
// Argument pieces shared by the database, data source and view tools
// ---------------------------------------------------------------------------------------------

const obj = z.record(z.string(), z.unknown());
type Obj = Record<string, unknown>;

/** Objects and arrays become their JSON text, which `toRichText` / `toIcon` / `toCover` read back. */
const asText = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : v);
/**
 * An optional argument typed as a string in tools/list (cheap to describe) that still takes
 * Notion's own object or array (rich text, icon, cover), sent as such or as JSON text.
 */
export const looseString = (describe?: string) => {
  const inner = describe ? z.string().describe(describe) : z.string();
  return z.preprocess(asText, inner).optional();
};
/** `looseString` that also takes null, which clears the value (icon, cover). */
export const clearableString = (describe: string) => z.preprocess(asText, z.string().nullable().describe(describe)).optional();
const ICON_DESCRIBE = 'Emoji, URL or custom emoji ID';
/** The icon argument of the database and data source tools (read by `toIcon`); updates may clear it with null. */
export const iconInput = (clearable: boolean) => (clearable ? clearableString(ICON_DESCRIBE) : looseString(ICON_DESCRIBE));
export const filterArg = obj;
export const sortsArg = z.array(obj);

type RichTextRequest = NonNullable<UpdateDataSourceParameters['title']>;

/** JSON text of an object or array, else undefined. */
export function parseJson(value: string, open: '[' | '{'): unknown {
  const t = value.trim();
  if (!t.startsWith(open)) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

/**
 * Plain text becomes one text item; a rich text array (or its JSON text) is sent as given. The
 * tools pass the body through `fitBody`, which splits text at Notion's 2,000-character limit.
 */
export function toRichText(text: string): RichTextRequest {
  const parsed = parseJson(text, '[');
  if (Array.isArray(parsed) && parsed.every((i) => typeof i === 'object' && i !== null)) return parsed as RichTextRequest;
  return [{ type: 'text', text: { content: text } }] as RichTextRequest;
}

/** "https://…" → external cover; a cover object (or its JSON text) as given. */
export function toCover<T>(value: string): T {
  const parsed = parseJson(value, '{');
  return (parsed && typeof parsed === 'object' ? parsed : { type: 'external', external: { url: value.trim() } }) as T;
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

export const queryInput = {
  filter: filterArg.optional().describe('e.g. {"property":"Status","status":{"equals":"Done"}}; nest in {"and":[…]}'),
  sorts: sortsArg.optional().describe('e.g. [{"property":"Due","direction":"ascending"}]'),
  start_cursor: startCursor,
  page_size: pageSize,
  filter_properties: z.array(z.string()).optional().describe('Property IDs'),
  in_trash: z.boolean().optional(),
  archived: z.boolean().optional().describe('= in_trash'),
};

export interface QueryArgs {
  filter?: Obj | undefined;
  sorts?: Obj[] | undefined;
  start_cursor?: string | undefined;
  page_size?: number | undefined;
  filter_properties?: string[] | undefined;
  in_trash?: boolean | undefined;
  archived?: boolean | undefined;
  result_type?: 'page' | 'data_source' | undefined;
}

/** The query body Notion takes: `archived` (the legacy name) is sent as `in_trash`. */
export function queryParams(dataSourceId: string, args: QueryArgs): QueryDataSourceParameters {
  const params: Obj = { data_source_id: dataSourceId };
  if (args.filter) params.filter = args.filter;
  if (args.sorts) params.sorts = args.sorts;
  if (args.start_cursor) params.start_cursor = args.start_cursor;
  if (args.page_size !== undefined) params.page_size = args.page_size;
  if (args.filter_properties?.length) params.filter_properties = args.filter_properties;
  const inTrash = args.in_trash ?? args.archived;
  if (inTrash !== undefined) params.in_trash = inTrash;
  if (args.result_type) params.result_type = args.result_type;
  return params as unknown as QueryDataSourceParameters;
}

export function runQuery(notion: NotionSession, dataSourceId: string, args: QueryArgs): Promise<QueryDataSourceResponse> {
  return notion.read((n, auth) => n.dataSources.query({ ...queryParams(dataSourceId, args), auth }));
}

/** The per-row query result form; query_database and fetch use it. */
export { shapeRows } from './query.js';

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

const dataSourceId = notionId('data source');
/** A whole number from `min` to `max`, checked here rather than in the schema (zod's bounds cost bytes). */
const wholeNumber = (max: number, min = 0) =>
  z
    .number()
    .refine((n) => Number.isInteger(n) && n >= min && n <= max, `expected a whole number from ${min} to ${max.toLocaleString('en-US')}`)
    .optional();

const QUERY_INPUT = {
  where: obj
    .optional()
    .describe(
      'By property name, ANDed: {"Status":"Done","Tags":["a","b"],"Due":{"before":"2026-12-31"},"Owner":"ada@x.com","Notes":null}. Text: contains; list: any of; null: empty. Ops: not, >, <, between, contains… Dates: ISO, today, this_week, past_month, "past 7 days". {"or":[…]}. Notion filter JSON works too.',
    ),
  order_by: z.array(z.union([z.string(), obj])).optional().describe('e.g. ["Due","-Priority"]'),
  properties: z.array(z.string()).optional().describe('Names to return'),
  offset: wholeNumber(MAX_OFFSET),
  limit: wholeNumber(MAX_LIMIT, 1).describe(`Default ${DEFAULT_LIMIT}`),
  start_cursor: startCursor,
  count: z.boolean().optional().describe('Only {count}'),
  format: z.enum(['rows']).optional().describe('One object per row'),
  in_trash: z.boolean().optional(),
};
/** query_data_source's earlier parameters → the ones that replaced them. */
const LEGACY = { filter: 'where', sorts: 'order_by', page_size: 'limit', filter_properties: 'properties', archived: 'in_trash' } as const;
const QueryInputSchema = z.object(QUERY_INPUT);
const untyped = z.unknown().optional();

/**
 * Moves an earlier parameter onto its new name (a new one given as well wins), checked by the new
 * one's schema; objects and arrays may come as JSON text, as everywhere.
 */
function withLegacy(args: Record<string, unknown>): z.infer<typeof QueryInputSchema> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) if (!(k in LEGACY) && v !== undefined) out[k] = v;
  for (const [old, now] of Object.entries(LEGACY)) {
    let v = args[old];
    if (v === undefined || out[now] !== undefined) continue;
    if (typeof v === 'string' && /^\s*[[{]/.test(v)) v = parseJson(v, v.trim()[0] as '[' | '{') ?? v;
    const parsed = QUERY_INPUT[now].safeParse(v);
    if (!parsed.success) throw new ToolError('invalid_arguments', `Invalid arguments. ${old}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    out[now] = parsed.data;
  }
  return out as z.infer<typeof QueryInputSchema>;
}

export const dataSourcesTools = [
  defineTool({
    name: 'get_data_source',
    description: "Get a data source's schema: property types and options. A database ID resolves to its data source.",
    input: { data_source_id: dataSourceId },
    annotations: annotations('Get data source', READ),
    run: async ({ data_source_id }, ctx) => {
      const { notion } = ctx;
      const r = await onDataSource(notion, data_source_id, (id) => getDataSource(notion, id));
      const who = await provenance(ctx);
      return withResolved(who.vetOne(r.value, shape(r.value), 'data source'), r.resolvedDataSourceId);
    },
  }),
  defineTool({
    name: 'update_data_source',
    description:
      'Change a data source\'s schema, title or icon, or trash it. properties: {"P":{"number":{}}} adds/retypes, {"P":{"name":"Q"}} renames, {"P":null} deletes.',
    input: {
      data_source_id: dataSourceId,
      properties: obj.optional(),
      title: looseString(),
      icon: iconInput(true),
      in_trash: z.boolean().optional(),
    },
    annotations: annotations('Update data source', OVERWRITE),
    run: async (args, ctx) => {
      const { notion } = ctx;
      const body: Obj = {};
      if (args.properties) body.properties = args.properties;
      if (args.title !== undefined) body.title = toRichText(args.title);
      if (args.icon !== undefined) body.icon = toIcon(args.icon);
      if (args.in_trash !== undefined) body.in_trash = args.in_trash;
      if (Object.keys(body).length === 0) throw new ToolError('invalid_arguments', 'Nothing to update: give properties, title, icon or in_trash.');
      const sent = fitBody(body) as Partial<UpdateDataSourceParameters>;
      const r = await onDataSource(notion, args.data_source_id, (id) =>
        notion.write((n, auth) => n.dataSources.update({ ...sent, data_source_id: id, auth })),
      );
      // The whole schema comes back, its names and options mostly written by others.
      return withResolved((await provenance(ctx)).vetEcho(r.value, shape(r.value), 'data source'), r.resolvedDataSourceId);
    },
  }),
  defineTool({
    name: 'query_data_source',
    description:
      'Rows of a data source (a database ID resolves) as {columns, rows:[[id,…]]}; row URL: https://www.notion.so/<id without dashes>. More: start_cursor = next_cursor, or offset = next_offset.',
    input: {
      data_source_id: dataSourceId,
      ...QUERY_INPUT,
      // The earlier parameters, still taken under their names; untyped, so tools/list leaves them out.
      filter: untyped,
      sorts: untyped,
      page_size: untyped,
      filter_properties: untyped,
      archived: untyped,
      result_type: untyped,
    },
    annotations: annotations('Query data source', READ),
    paging: 'list',
    run: async ({ data_source_id, result_type, ...args }, ctx) => {
      if (result_type !== undefined && result_type !== 'page' && result_type !== 'data_source') {
        throw new ToolError('invalid_arguments', 'Invalid arguments. result_type: expected "page" or "data_source"');
      }
      return queryDataSource(ctx, data_source_id, { ...withLegacy(args), ...(result_type ? { result_type } : {}) });
    },
  }),
  defineTool({
    name: 'list_data_source_templates',
    description: "List a data source's page templates.",
    input: {
      data_source_id: dataSourceId,
      name: z.string().optional().describe('Name filter'),
      start_cursor: startCursor,
      page_size: pageSize,
    },
    annotations: annotations('List data source templates', READ),
    run: async ({ data_source_id, ...args }, { notion }) => {
      const r = await onDataSource(notion, data_source_id, (id) =>
        notion.get(`data_sources/${id}/templates`, args),
      );
      return withResolved(shape(r.value), r.resolvedDataSourceId);
    },
  }),
  defineTool({
    name: 'create_data_source',
    description: 'Add a data source (table with its own schema) to a database.',
    input: {
      database_id: notionId('database'),
      properties: obj.describe('e.g. {"Name":{"title":{}},"Done":{"checkbox":{}}}'),
      title: looseString(),
      icon: iconInput(false),
    },
    annotations: annotations('Create data source'),
    run: async (args, { notion }) => {
      const params: Obj = { parent: { type: 'database_id', database_id: args.database_id }, properties: args.properties };
      if (args.title !== undefined) params.title = toRichText(args.title);
      if (args.icon !== undefined) params.icon = toIcon(args.icon);
      const sent = fitBody(params) as unknown as CreateDataSourceParameters;
      return shape(await notion.write((n, auth) => n.dataSources.create({ ...sent, auth })));
    },
  }),
];

import { extractNotionId, type GetPageResponse } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool, type ToolContext, type WorkspaceView } from './registry.js';
import { annotations, notionId, pageSize, READ, startCursor, textStart } from './args.js';
import { getDatabase, getDataSource, isNotFound } from '../notion/resolve.js';
import type { NotionSession } from '../notion/session.js';
import { hideFileLinks, shape } from '../notion/shape.js';
import { parseJson, runQuery, shapeRows } from './data-sources.js';
import { fence, type Provenance, provenance, withheldError, withheldNote } from './provenance.js';

const blockId = notionId('block');

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const dashless = (id: string) => id.replace(/-/g, '');

/**
 * search and fetch follow the contract ChatGPT's deep research and company knowledge rely on
 * (they call only these two tools): search answers `{"results":[{"id","title","url",…}]}`, and
 * fetch of any of those ids answers `{"id","title","text","url","metadata"}` with the same id, the
 * page's Markdown (or a data source's rows) as `text`, and a non-empty `url` to cite. Everything
 * the tools returned before stays: search results keep their shaped fields after id, title and
 * url; fetch keeps what it found under `metadata` (`kind` and the page, database, data source
 * or block).
 */

/** A shaped page's title: the value of its title property; data sources and databases carry `title`. */
export function titleOf(o: Obj): string {
  if (typeof o.title === 'string') return o.title;
  if (isObj(o.properties)) {
    for (const p of Object.values(o.properties)) if (isObj(p) && typeof p.title === 'string') return p.title || 'Untitled';
  }
  return 'Untitled';
}

/** The object's Notion URL; every page and data source has one, an address is built otherwise. */
const urlOf = (o: Obj): string => (typeof o.url === 'string' && o.url ? o.url : `https://www.notion.so/${dashless(String(o.id ?? ''))}`);

/** A search result with `id`, `title` and `url` first, then everything the shaped result has. */
const searchHit = (r: unknown): unknown => (isObj(r) ? { id: r.id, title: titleOf(r), url: urlOf(r), ...r } : r);

/** One property value as plain text: `{ select: "Done" }` → `Done`, lists joined with commas. */
function valueText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(valueText).filter(Boolean).join(', ');
  if (isObj(v)) {
    if (typeof v.name === 'string') return v.name;
    const inner = Object.values(v);
    return inner.length === 1 ? valueText(inner[0]) : JSON.stringify(v);
  }
  return String(v);
}

/** Rows as text, one line each: `- Title (url) · Property: value · …`; empty values left out; a non-member's row says so. */
function rowsText(rows: unknown[]): string {
  return rows
    .filter(isObj)
    .map((row) => {
      const parts = [`- ${titleOf(row)} (${urlOf(row)})`];
      if (row.untrusted) parts.push(`untrusted: by ${String(row.source)}`);
      for (const [name, p] of Object.entries(isObj(row.properties) ? row.properties : {})) {
        if (isObj(p) && 'title' in p) continue;
        const text = valueText(p);
        if (text) parts.push(`${name}: ${text}`);
      }
      return parts.join(' · ');
    })
    .join('\n');
}

/** The first page of a data source's rows as text, with how to read more; lockdown leaves out non-members' rows. */
async function rows(notion: NotionSession, who: Provenance, dataSourceId: string): Promise<{ text: string; next_cursor?: string }> {
  const raw = await runQuery(notion, dataSourceId, {});
  const list = shapeRows(raw, dataSourceId);
  const { kept: results, withheld } = who.vetList(raw.results, list.results as unknown[]);
  let text = results.length ? rowsText(results) : '(no rows)';
  if (withheld) text += `\n(${withheldNote(withheld).withheld as string})`;
  if (typeof list.next_cursor !== 'string') return { text };
  text += `\n(more rows: query_data_source with data_source_id ${dataSourceId} and start_cursor ${list.next_cursor})`;
  return { text, next_cursor: list.next_cursor };
}

/**
 * The fetch result: contract fields first, what was found under `metadata`. Written by a non-member
 * (`raw` is the Notion object), the text is fenced and the result marked; in lockdown, refused.
 */
function doc(who: Provenance, raw: unknown, kind: string, found: Obj, text: string, extra: Obj = {}): Obj {
  if (who.withholds(raw)) throw withheldError(kind.replace('_', ' '));
  const mark = who.mark(raw);
  const body = mark && text ? fence(text, mark.source) : text;
  return { id: found.id, title: titleOf(found), text: body, url: urlOf(found), ...mark, metadata: { kind, [kind]: found, ...extra } };
}

/** A block's own text (paragraph, heading, to-do…), or its type when it has none. */
function blockText(b: Obj): string {
  const body = b[String(b.type)];
  if (isObj(body)) for (const k of ['text', 'title', 'caption', 'url', 'expression']) if (typeof body[k] === 'string') return body[k] as string;
  return '';
}

/**
 * Works out what an id or URL points at. A block lookup answers for pages (child_page) and
 * databases (child_database) too, so one call tells the kind; only data sources, which are not
 * blocks, need a second lookup. Data sources and databases come with the first page of rows.
 */
/**
 * `vetter` gives the Provenance only once the first read found the object: on a connection with
 * several workspaces, that read is what tells whose members judge it.
 */
async function fetchAnything(notion: NotionSession, vetter: () => Promise<Provenance>, raw: string, withContent: boolean): Promise<Obj> {
  const trimmed = raw.trim();
  const collection = /^collection:\/\/(.+)$/.exec(trimmed);
  // A URL with a #block fragment points at that block, not at the page.
  const id = collection ? extractNotionId(collection[1]!) : blockId.safeParse(trimmed).data;
  if (!id) throw new ToolError('invalid_arguments', 'id: expected a Notion URL, an ID (with or without dashes) or collection://<data source id>');
  const dataSource = async () => {
    const source = await getDataSource(notion, id);
    const who = await vetter();
    const found = shape(source) as Obj;
    if (!withContent || who.withholds(source)) return doc(who, source, 'data_source', found, '');
    const r = await rows(notion, who, id);
    return doc(who, source, 'data_source', found, r.text, r.next_cursor ? { next_cursor: r.next_cursor } : {});
  };
  if (collection) return dataSource();

  let block: { type?: string };
  try {
    block = await notion.get<{ type?: string }>(`blocks/${id}`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return dataSource();
  }
  const who = await vetter();
  if (block.type === 'child_page') {
    const raw = await notion.get<GetPageResponse>(`pages/${id}`);
    const page = shape(raw) as Obj;
    if (!withContent) return doc(who, raw, 'page', page, '');
    if (who.withholds(raw)) throw withheldError('page');
    const md = await notion.get<{ markdown?: string; truncated?: boolean; unknown_block_ids?: string[] }>(`pages/${id}/markdown`);
    const extra: Obj = md.truncated ? { truncated: true, ...(md.unknown_block_ids?.length ? { unknown_block_ids: md.unknown_block_ids } : {}) } : {};
    return doc(who, raw, 'page', page, hideFileLinks(md.markdown ?? ''), extra);
  }
  if (block.type === 'child_database') {
    const rawDatabase = await getDatabase(notion, id);
    const database = shape(rawDatabase) as Obj;
    const sources = (Array.isArray(database.data_sources) ? database.data_sources : []).filter(isObj);
    if (!withContent || who.withholds(rawDatabase)) return doc(who, rawDatabase, 'database', database, '');
    const parts: string[] = [];
    for (const ds of sources) {
      const r = await rows(notion, who, String(ds.id));
      parts.push(sources.length > 1 ? `## ${String(ds.name ?? ds.id)} (collection://${String(ds.id)})\n${r.text}` : r.text);
    }
    return doc(who, rawDatabase, 'database', database, parts.join('\n\n') || '(no data sources)');
  }
  const shaped = who.vetOne(block, shape(block), 'block') as Obj;
  const parent = isObj(shaped.parent) && typeof shaped.parent.page_id === 'string' ? shaped.parent.page_id : undefined;
  const url = `https://www.notion.so/${dashless(parent ?? id)}#${dashless(id)}`;
  const { untrusted, source } = shaped;
  const text = untrusted ? fence(blockText(shaped), String(source)) : blockText(shaped);
  return { id: shaped.id, title: String(shaped.type), text, url, ...(untrusted ? { untrusted, source } : {}), metadata: { kind: 'block', block: shaped } };
}

/** Notion's `{property: "object", value}` / `{timestamp, direction}` object (or its JSON text) as the one string it holds. */
const objectValue = (key: string) => (v: unknown) => {
  const o = typeof v === 'string' ? (parseJson(v, '{') ?? v) : v;
  return typeof o === 'object' && o !== null && key in o ? (o as Obj)[key] : v;
};

const str = { type: 'string' };
/** search's output: the deep research contract; each result also has its shaped Notion fields. */
const SEARCH_OUTPUT = {
  type: 'object',
  properties: {
    results: { type: 'array', items: { type: 'object', properties: { id: str, title: str, url: str }, required: ['id', 'title', 'url'] } },
    has_more: { type: 'boolean' },
    next_cursor: str,
  },
  required: ['results'],
};
/** fetch's output: the deep research contract, plus `next_start` when `text` was cut. */
const FETCH_OUTPUT = {
  type: 'object',
  properties: { id: str, title: str, text: str, url: str, metadata: { type: 'object' }, next_start: { type: 'integer' } },
  required: ['id', 'title', 'text', 'url', 'metadata'],
};

interface SearchArgs {
  query?: string;
  filter?: 'page' | 'data_source';
  sort?: 'ascending' | 'descending';
  start_cursor?: string;
  page_size?: number;
}

/** One workspace's search: its shaped results, with `withheld` the number lockdown left out. */
async function searchRaw(args: SearchArgs, ctx: ToolContext): Promise<{ list: Obj; results: unknown[]; withheld: number }> {
  const { filter, sort, ...rest } = args;
  const params = {
    ...rest,
    ...(filter ? { filter: { property: 'object' as const, value: filter } } : {}),
    ...(sort ? { sort: { timestamp: 'last_edited_time' as const, direction: sort } } : {}),
  };
  const raw = await ctx.notion.read((n, auth) => n.search({ ...params, auth }));
  const who = await provenance(ctx);
  const list = shape(raw) as Obj;
  const { kept, withheld } = who.vetList(raw.results, (list.results as unknown[]).map(searchHit));
  return { list, results: kept, withheld };
}

async function searchOne(args: SearchArgs, ctx: ToolContext): Promise<Obj> {
  const { list, results, withheld } = await searchRaw(args, ctx);
  return { ...list, results, ...withheldNote(withheld) };
}

/** The cursor of a search across workspaces: each workspace's Notion cursor, by workspace id. */
const EACH_CURSOR = 'nmw.';

/**
 * search on a connection with several workspaces: every workspace at once (each through the
 * grant's rate gate and call slots), each result naming its `workspace`. `next_cursor` holds the
 * cursor of every workspace with more; a workspace that failed is named under `unavailable`.
 */
async function searchEach(args: SearchArgs, ctx: ToolContext, views: readonly WorkspaceView[]): Promise<Obj> {
  let cursors: Record<string, string> | null = null;
  if (args.start_cursor !== undefined) {
    try {
      if (!args.start_cursor.startsWith(EACH_CURSOR)) throw new Error('not ours');
      cursors = JSON.parse(Buffer.from(args.start_cursor.slice(EACH_CURSOR.length), 'base64url').toString()) as Record<string, string>;
      if (typeof cursors !== 'object' || cursors === null) throw new Error('not an object');
    } catch {
      throw new ToolError('invalid_arguments', 'Invalid arguments. start_cursor: pass the next_cursor of the previous search unchanged.');
    }
  }
  const keyOf = (v: WorkspaceView) => v.id ?? v.name;
  const chosen = cursors ? views.filter((v) => typeof cursors[keyOf(v)] === 'string') : views;
  const settled = await Promise.allSettled(
    chosen.map((v) =>
      searchRaw(
        { ...args, start_cursor: cursors?.[keyOf(v)] },
        { ...ctx, notion: v.notion, workspaces: undefined },
      ),
    ),
  );
  const results: unknown[] = [];
  const next: Record<string, string> = {};
  const unavailable: string[] = [];
  let withheld = 0;
  let failure: unknown;
  settled.forEach((s, i) => {
    const v = chosen[i]!;
    if (s.status === 'rejected') {
      failure ??= s.reason;
      unavailable.push(`${v.name}: ${s.reason instanceof Error ? s.reason.message : 'failed'}`);
      return;
    }
    const found = s.value.results.filter(isObj);
    v.seen(found.map((r) => String(r.id)));
    for (const r of found) {
      const { id, title, url, ...rest } = r;
      results.push({ id, title, url, workspace: v.name, ...rest });
    }
    withheld += s.value.withheld;
    if (typeof s.value.list.next_cursor === 'string') next[keyOf(v)] = s.value.list.next_cursor;
  });
  if (unavailable.length === chosen.length && failure) throw failure;
  const more = Object.keys(next).length > 0;
  return {
    results,
    has_more: more,
    ...(more ? { next_cursor: EACH_CURSOR + Buffer.from(JSON.stringify(next)).toString('base64url') } : {}),
    ...(unavailable.length ? { unavailable } : {}),
    ...withheldNote(withheld),
  };
}

export const searchTools = [
  defineTool({
    name: 'search',
    description: 'Find pages and data sources shared with this connection by title. Page with start_cursor = next_cursor.',
    input: {
      query: z.string().optional().describe('Title text; omit to list all'),
      // Listed as plain strings (cheap); Notion's own filter and sort objects are accepted too.
      filter: z.preprocess(objectValue('value'), z.enum(['page', 'data_source'])).optional().describe('Only this kind'),
      sort: z.preprocess(objectValue('direction'), z.enum(['ascending', 'descending'])).optional().describe('By last edit'),
      start_cursor: startCursor,
      page_size: pageSize,
    },
    annotations: annotations('Search Notion', READ),
    output: SEARCH_OUTPUT,
    paging: 'list',
    run: (args, ctx) => (ctx.workspaces ? searchEach(args, ctx, ctx.workspaces) : searchOne(args, ctx)),
  }),
  defineTool({
    name: 'fetch',
    description: 'Read a Notion URL or ID (page, database, data source, block): id, title, url, text (page Markdown or rows) and metadata.',
    input: {
      id: z.string().min(1).describe('notion.so URL, ID, or collection://<data source id>'),
      include_content: z.boolean().optional().describe('Page body as Markdown (default true)'),
      start: textStart,
    },
    annotations: annotations('Fetch by URL or ID', READ),
    output: FETCH_OUTPUT,
    paging: { text: 'text' },
    run: async (args, ctx) => fetchAnything(ctx.notion, () => provenance(ctx), args.id, args.include_content !== false),
  }),
];

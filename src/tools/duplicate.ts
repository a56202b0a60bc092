import type { Client } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool, type ToolContext } from './registry.js';
import { annotations, notionId } from './args.js';
import { notionUrl } from './confirm.js';
import { MAX_ARRAY, MAX_BLOCK_ELEMENTS, MAX_NESTING } from './limits.js';
import { dataSourcesOf, underUntypedParent } from '../notion/resolve.js';
import type { NotionSession } from '../notion/session.js';

/**
 * duplicate_page: a page copied through the public API, which has no copy endpoint. The whole
 * tree is read first (so a dry run can say what a copy would do, and progress has a total), then
 * written level by level: each append of at most 100 blocks answers the new blocks' IDs, under
 * which their children go next. Child pages are copied as child pages of the copy; child
 * databases as new databases with the same schema, without their rows. What the API cannot
 * create is reported as skipped, by ID, never dropped silently.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
type Parent = { page_id: string } | { data_source_id: string } | { workspace: true };

/** The most blocks one call copies: a bigger tree is refused before anything is written. */
const MAX_COPY_BLOCKS = 5000;
/** Bytes of one append, below Notion's 500 KB per request. */
const MAX_APPEND_BYTES = 400_000;

/** Block types Notion creates from the body it reads (see `writable`). */
const CREATABLE = new Set([
  'paragraph', 'heading_1', 'heading_2', 'heading_3', 'heading_4', 'bulleted_list_item', 'numbered_list_item', 'to_do', 'toggle',
  'quote', 'callout', 'code', 'equation', 'divider', 'breadcrumb', 'table_of_contents', 'bookmark', 'embed', 'link_to_page',
  'image', 'video', 'audio', 'pdf', 'file', 'table', 'table_row', 'column_list', 'column', 'synced_block',
]);
/** Types Notion creates only together with their children (a table with rows, columns with content). */
const WITH_CHILDREN = new Set(['table', 'column_list', 'column', 'synced_block']);
const MEDIA = new Set(['image', 'video', 'audio', 'pdf', 'file']);
const HOSTED_FILE = 'a file uploaded to Notion: its link expires, so the copy cannot point at it';
/** A column Notion would refuse empty (all it held were child pages): it gets an empty paragraph. */
const EMPTY_PARAGRAPH = { type: 'paragraph', paragraph: { rich_text: [] } };

/** Page property types whose values can be written back. */
const VALUE_TYPES = new Set(['rich_text', 'number', 'select', 'multi_select', 'status', 'date', 'people', 'files', 'checkbox', 'url', 'email', 'phone_number', 'relation', 'place']);

interface Skip {
  id: string;
  type: string;
  property?: string;
  reason: string;
}

/** A block to copy, a child page or a child database, with its children (skipped ones left out). */
interface Node {
  id: string;
  type: string;
  body?: Obj;
  children: Node[];
  page?: PageSource;
  database?: DatabaseSource;
}

interface PageSource {
  id: string;
  name: string;
  title: Obj[];
  parent: Obj;
  /** Icon and cover as Notion takes them back; a hosted file cannot be. */
  look: Obj;
  /** The row's writable values, for a copy in the same data source. */
  values: Obj;
  blocks: Node[];
}

interface DatabaseSource {
  id: string;
  title: string;
  create: Obj;
  /** Data sources after the first, created in the new database. */
  more: Obj[];
}

/** Rich text as Notion takes it back: its type, that type's body and the annotations; a mention names its target by ID only. */
function richText(items: unknown): Obj[] {
  return (Array.isArray(items) ? items : []).filter(isObj).map((i) => {
    const type = String(i.type);
    let body = i[type];
    if (type === 'mention' && isObj(body)) {
      const kind = String(body.type);
      const target = body[kind];
      if (isObj(target) && typeof target.id === 'string') body = { type: kind, [kind]: { id: target.id } };
    }
    return i.annotations ? { type, [type]: body, annotations: i.annotations } : { type, [type]: body };
  });
}

const plain = (items: unknown): string => (Array.isArray(items) ? items : []).map((i) => (isObj(i) && typeof i.plain_text === 'string' ? i.plain_text : '')).join('');

/** A block body as Notion's create takes it, or why it cannot be created. */
function writable(type: string, body: unknown): Obj | string {
  if (!CREATABLE.has(type) || !isObj(body)) return 'Notion cannot create this block type through the API';
  if (MEDIA.has(type) && body.type !== 'external') return HOSTED_FILE;
  if (type === 'synced_block' && body.synced_from) return 'a synced copy of a block elsewhere';
  const out: Obj = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === 'children') continue;
    if (k === 'rich_text' || k === 'caption') out[k] = richText(v);
    else if (k === 'cells' && Array.isArray(v)) out[k] = v.map(richText);
    // A callout keeps its icon unless it is a hosted file; Notion then shows its default.
    else if (k === 'icon' && isObj(v) && v.type === 'file') continue;
    else out[k] = v;
  }
  return out;
}

/** A data source's schema as POST /v1/databases and /v1/data_sources take it. */
function schema(properties: unknown): Obj {
  const out: Obj = {};
  for (const p of Object.values(isObj(properties) ? properties : {})) {
    if (!isObj(p)) continue;
    const type = String(p.type);
    const conf = isObj(p[type]) ? (p[type] as Obj) : {};
    let config: Obj = {};
    if (type === 'select' || type === 'multi_select' || type === 'status') {
      const options = Array.isArray(conf.options) ? conf.options.filter(isObj) : [];
      config = { options: options.map((o) => ({ name: o.name, color: o.color, ...(o.description ? { description: o.description } : {}) })) };
    } else if (type === 'number' && conf.format) config = { format: conf.format };
    else if (type === 'formula') config = { expression: conf.expression };
    else if (type === 'unique_id') config = { prefix: conf.prefix ?? null };
    // One-way, so the copy adds no property to the related database.
    else if (type === 'relation') config = { data_source_id: conf.data_source_id, single_property: {} };
    else if (type === 'rollup') config = { function: conf.function, relation_property_name: conf.relation_property_name, rollup_property_name: conf.rollup_property_name };
    out[String(p.name)] = { [type]: config, ...(p.description ? { description: p.description } : {}) };
  }
  return out;
}

/** Thrown between calls once the client cancelled the call. */
class Stopped extends Error {}

/** The whole tree of a page, read before anything is written. */
class Reader {
  blocks = 0;
  readonly byType: Record<string, number> = {};
  readonly skipped: Skip[] = [];
  readonly pages: Obj[] = [];
  readonly databases: Obj[] = [];

  constructor(
    private readonly notion: NotionSession,
    private readonly signal?: AbortSignal,
  ) {}

  async page(id: string): Promise<PageSource> {
    const p = await this.notion.get<Obj>(`pages/${id}`);
    const props = isObj(p.properties) ? p.properties : {};
    const titleProp = Object.values(props).find((v) => isObj(v) && v.type === 'title') as Obj | undefined;
    const look: Obj = {};
    for (const k of ['icon', 'cover'] as const) {
      const v = p[k];
      if (!isObj(v)) continue;
      if (v.type === 'file') this.skipped.push({ id, type: k, reason: HOSTED_FILE });
      else look[k] = v;
    }
    return { id, name: plain(titleProp?.title), title: richText(titleProp?.title), parent: isObj(p.parent) ? p.parent : {}, look, values: this.values(id, props), blocks: await this.children(id) };
  }

  private values(id: string, props: Obj): Obj {
    const out: Obj = {};
    for (const [name, p] of Object.entries(props)) {
      if (!isObj(p) || !VALUE_TYPES.has(String(p.type))) continue;
      const type = String(p.type);
      let v = p[type];
      if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) continue;
      if (type === 'rich_text') v = richText(v);
      else if (type === 'select' || type === 'status') v = { name: (v as Obj).name };
      else if (type === 'multi_select') v = (v as Obj[]).map((o) => ({ name: o.name }));
      else if (type === 'people' || type === 'relation') v = (v as Obj[]).map((o) => ({ id: o.id }));
      else if (type === 'files') {
        const files = v as Obj[];
        if (files.some((f) => f.type !== 'external')) this.skipped.push({ id, type, property: name, reason: HOSTED_FILE });
        v = files.filter((f) => f.type === 'external').map((f) => ({ name: f.name, type: 'external', external: f.external }));
      }
      if (type === 'relation' && p.has_more === true) this.skipped.push({ id, type, property: name, reason: 'more than 25 relations: the first 25 are copied' });
      out[name] = { [type]: v };
    }
    return out;
  }

  async children(blockId: string): Promise<Node[]> {
    const out: Node[] = [];
    let cursor: string | undefined;
    do {
      if (this.signal?.aborted) throw new Stopped();
      const res = await this.notion.get<{ results: Obj[]; has_more: boolean; next_cursor: string | null }>(`blocks/${blockId}/children`, { start_cursor: cursor, page_size: 100 });
      for (const b of res.results) {
        const node = await this.node(b);
        if (node) out.push(node);
      }
      cursor = res.has_more && res.next_cursor ? res.next_cursor : undefined;
    } while (cursor);
    return out;
  }

  private async node(b: Obj): Promise<Node | undefined> {
    const id = String(b.id);
    const type = String(b.type);
    if (type === 'child_page') {
      const page = await this.page(id);
      this.pages.push({ id, title: page.name });
      return { id, type, children: [], page };
    }
    if (type === 'child_database') {
      const database = await this.database(id);
      if (!database) return undefined;
      this.databases.push({ id, title: database.title });
      return { id, type, children: [], database };
    }
    const body = writable(type, b[type]);
    if (typeof body === 'string') {
      this.skipped.push({ id, type, reason: body });
      return undefined;
    }
    if (++this.blocks > MAX_COPY_BLOCKS) {
      throw new ToolError('too_large', `The page has more than ${MAX_COPY_BLOCKS} blocks to copy; duplicate its child pages one by one instead. Nothing was written.`);
    }
    this.byType[type] = (this.byType[type] ?? 0) + 1;
    return { id, type, body, children: b.has_children === true ? await this.children(id) : [] };
  }

  /** A child database's container and schemas; a linked or unshared one is skipped. */
  private async database(id: string): Promise<DatabaseSource | undefined> {
    let db: Obj;
    try {
      db = await this.notion.get<Obj>(`databases/${id}`);
    } catch (err) {
      const status = err instanceof ToolError ? err.extra.status : undefined;
      if (status !== 400 && status !== 403 && status !== 404) throw err;
      this.skipped.push({ id, type: 'child_database', reason: 'a linked database, or one not shared with this connection' });
      return undefined;
    }
    const sources = [];
    for (const s of dataSourcesOf(db as never)) {
      const ds = await this.notion.get<Obj>(`data_sources/${s.id}`);
      sources.push({ title: richText(ds.title), properties: schema(ds.properties) });
    }
    const create: Obj = { title: richText(db.title), is_inline: db.is_inline === true };
    if (Array.isArray(db.description) && db.description.length) create.description = richText(db.description);
    if (isObj(db.icon) && db.icon.type === 'file') this.skipped.push({ id, type: 'icon', reason: HOSTED_FILE });
    else if (isObj(db.icon)) create.icon = db.icon;
    if (sources[0]) create.initial_data_source = { properties: sources[0].properties };
    return { id, title: plain(db.title), create, more: sources.slice(1) };
  }
}

type Append = { node: Node; request: Obj; size: number };

/**
 * Writes a copy: for real, or dry, where every call is counted and answered with made-up IDs,
 * so a dry run counts exactly the calls a real one would make.
 */
class Writer {
  calls = 0;
  blocks = 0;
  pages = 0;
  databases = 0;
  /** Blocks to copy, known once the tree is read: the progress total. */
  total = 0;
  root?: { id: string; url: string };
  private made = 0;

  constructor(
    private readonly ctx: ToolContext,
    private readonly dry: boolean,
  ) {}

  copied() {
    return { blocks: this.blocks, pages: this.pages, databases: this.databases };
  }

  /** One call to Notion, or its made-up answer in a dry run; none once the call was cancelled. */
  private async send<T>(real: () => Promise<T>, fake: () => T): Promise<T> {
    if (this.ctx.signal?.aborted) throw new Stopped();
    this.calls++;
    return this.dry ? fake() : real();
  }

  private write<T>(fn: (n: Client, auth: string) => Promise<T>): () => Promise<T> {
    return () => this.ctx.notion.write(fn);
  }

  private readonly fakeId = () => `00000000-0000-4000-8000-${String(++this.made).padStart(12, '0')}`;

  /** Creates the page under `parent` (a bare ID: `underUntypedParent`), then its content. */
  async page(src: PageSource, parent: Parent | string, title: Obj[]): Promise<string> {
    const body = (p: Parent) => {
      // A row keeps its values only in its own data source; elsewhere only the title fits.
      const values = 'data_source_id' in p && p.data_source_id === src.parent.data_source_id ? src.values : {};
      return { parent: p, properties: { ...values, title: { title } }, ...src.look };
    };
    const create = (p: Parent) => this.ctx.notion.write((n, auth) => n.pages.create({ ...(body(p) as Obj), auth } as never));
    const created = (await this.send(
      () => (typeof parent === 'string' ? underUntypedParent(this.ctx.notion, parent, create, 'Call again with parent {"data_source_id": "<id>"}.') : create(parent)),
      () => ({ id: this.fakeId() }),
    )) as Obj;
    const id = String(created.id);
    if (!this.root) this.root = { id, url: typeof created.url === 'string' ? created.url : notionUrl(id) };
    this.pages++;
    await this.fill(id, src.blocks);
    return id;
  }

  private async database(src: DatabaseSource, pageId: string): Promise<void> {
    const db = (await this.send(
      this.write((n, auth) => n.databases.create({ parent: { type: 'page_id', page_id: pageId }, ...src.create, auth } as never)),
      () => ({ id: this.fakeId() }),
    )) as Obj;
    for (const more of src.more) {
      await this.send(this.write((n, auth) => n.dataSources.create({ parent: { type: 'database_id', database_id: String(db.id) }, ...more, auth } as never)), () => ({}));
    }
    this.databases++;
  }

  /**
   * A page's content, level by level: runs of blocks are appended in requests Notion takes, a
   * child page or database is created where it stands (under the page: the API puts neither in a
   * block), and each block's children are queued under its new ID.
   */
  private async fill(pageId: string, nodes: Node[]): Promise<void> {
    const queue: { parent: string; nodes: Node[] }[] = [{ parent: pageId, nodes }];
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { parent } = next;
      let run: Append[] = [];
      const flush = async () => {
        for (const chunk of chunks(run)) await this.append(parent, chunk, pageId, queue);
        run = [];
      };
      for (const node of next.nodes) {
        if (node.page || node.database) {
          await flush();
          if (node.page) await this.page(node.page, { page_id: pageId }, node.page.title);
          else await this.database(node.database!, pageId);
        } else {
          const request = toRequest(node, 0);
          run.push({ node, request, size: size(node, 0) });
        }
      }
      await flush();
    }
  }

  private async append(parent: string, chunk: Append[], pageId: string, queue: { parent: string; nodes: Node[] }[]): Promise<void> {
    const children = chunk.map((a) => a.request);
    const res = (await this.send(
      this.write((n, auth) => n.blocks.children.append({ block_id: parent, children: children as never, auth })),
      () => ({ results: chunk.map(() => ({ id: this.fakeId() })) }),
    )) as { results: Obj[] };
    this.blocks += chunk.reduce((sum, a) => sum + a.size, 0);
    if (!this.dry) this.ctx.progress?.(this.blocks, this.total);
    for (const [i, a] of chunk.entries()) await this.settle(a.node, String(res.results[i]?.id), 0, pageId, queue);
  }

  /**
   * After a block is created: its children not sent along are queued under its new ID; children
   * sent along that have their own are found by listing the new block's children, in order.
   */
  private async settle(node: Node, id: string, depth: number, pageId: string, queue: { parent: string; nodes: Node[] }[]): Promise<void> {
    const sent = inlined(node, depth);
    const later = node.children.filter((c) => !sent.includes(c));
    if (later.length) queue.push({ parent: id, nodes: later });
    if (!sent.some((c) => pending(c, depth + 1))) return;
    const ids = await this.childIds(id, sent.length);
    for (const [i, c] of sent.entries()) await this.settle(c, ids[i]!, depth + 1, pageId, queue);
  }

  private async childIds(id: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    while (ids.length < count) {
      const res = (await this.send(
        () => this.ctx.notion.get<Obj>(`blocks/${id}/children`, { start_cursor: cursor, page_size: 100 }),
        () => ({ results: Array.from({ length: Math.min(100, count - ids.length) }, () => ({ id: this.fakeId() })), has_more: true, next_cursor: 'dry' }),
      )) as { results: Obj[]; has_more?: boolean; next_cursor?: string | null };
      ids.push(...res.results.map((b) => String(b.id)));
      if (!res.has_more || !res.next_cursor) break;
      cursor = res.next_cursor;
    }
    return ids;
  }
}

/** The children Notion gets together with `node` (types that need them, within the nesting limit). */
const inlined = (node: Node, depth: number): Node[] => (WITH_CHILDREN.has(node.type) && depth < MAX_NESTING ? node.children.filter((c) => c.body).slice(0, MAX_ARRAY) : []);
/** Whether anything under `node` is left once it is created with what `inlined` sends. */
const pending = (node: Node, depth: number): boolean => {
  const sent = inlined(node, depth);
  return node.children.length > sent.length || sent.some((c) => pending(c, depth + 1));
};
/** How many blocks one request creates for `node`. */
const size = (node: Node, depth: number): number => 1 + inlined(node, depth).reduce((sum, c) => sum + size(c, depth + 1), 0);

function toRequest(node: Node, depth: number): Obj {
  const body: Obj = { ...node.body };
  const sent = inlined(node, depth);
  if (sent.length) body.children = sent.map((c) => toRequest(c, depth + 1));
  else if (node.type === 'column' && depth < MAX_NESTING) body.children = [EMPTY_PARAGRAPH];
  return { type: node.type, [node.type]: body };
}

/** Appends of at most 100 blocks, 1,000 block elements and MAX_APPEND_BYTES each. */
function chunks(run: Append[]): Append[][] {
  const out: Append[][] = [];
  let chunk: Append[] = [];
  let elements = 0;
  let bytes = 0;
  for (const a of run) {
    const b = Buffer.byteLength(JSON.stringify(a.request));
    if (chunk.length && (chunk.length === MAX_ARRAY || elements + a.size > MAX_BLOCK_ELEMENTS || bytes + b > MAX_APPEND_BYTES)) {
      out.push(chunk);
      chunk = [];
      elements = 0;
      bytes = 0;
    }
    chunk.push(a);
    elements += a.size;
    bytes += b;
  }
  if (chunk.length) out.push(chunk);
  return out;
}

/** Where the copy goes by default: the original's parent; a page inside a block goes under the page that holds it. */
async function defaultParent(notion: NotionSession, parent: Obj): Promise<Parent> {
  let p = parent;
  for (let hops = 0; p.type === 'block_id' && hops < 20; hops++) p = ((await notion.get<Obj>(`blocks/${String(p.block_id)}`)).parent ?? {}) as Obj;
  if (p.type === 'page_id') return { page_id: String(p.page_id) };
  if (p.type === 'data_source_id') return { data_source_id: String(p.data_source_id) };
  if (p.type === 'workspace') return { workspace: true };
  throw new ToolError('invalid_arguments', 'The page has no parent a copy can be created under: give parent.');
}

const NOTE_ROWS = 'Databases are copied with their schema, without rows.';
const TRASH_IT = 'Move it to the trash (trash) or keep what is there.';

export const duplicateTools = [
  defineTool({
    name: 'duplicate_page',
    description:
      "Copy a page with its content, child pages and child databases (schema only, no rows), as the original's sibling unless parent is given. dry_run counts what would be copied and skipped, and the Notion calls, without writing. Returns the copy's id and url, counts and what was skipped.",
    input: {
      page_id: notionId('page'),
      parent: notionId('page', 'Page, database or data source ID/URL').optional(),
      title: z.string().optional().describe('Default: "<title> (copy)"'),
      dry_run: z.boolean().optional(),
    },
    annotations: annotations('Duplicate page'),
    run: async (args, ctx) => {
      const dry = args.dry_run === true;
      const reader = new Reader(ctx.notion, ctx.signal);
      const writer = new Writer(ctx, dry);
      const skipped = () => (reader.skipped.length ? { skipped: reader.skipped } : {});
      try {
        const src = await reader.page(args.page_id);
        const name = args.title ?? (src.name ? `${src.name} (copy)` : 'Untitled (copy)');
        // The original's rich text keeps its formatting and mentions in the copy's title.
        const title = args.title === undefined && src.name ? [...src.title, { type: 'text', text: { content: ' (copy)' } }] : [{ type: 'text', text: { content: name } }];
        const parent = args.parent ?? (await defaultParent(ctx.notion, src.parent));
        writer.total = reader.blocks;
        await writer.page(src, parent, title);
        const note = reader.databases.length ? { note: NOTE_ROWS } : {};
        if (dry) return { dry_run: true, title: name, blocks: reader.byType, pages: reader.pages, databases: reader.databases, ...skipped(), notion_calls: writer.calls, ...note };
        return { ...writer.root, copied: writer.copied(), ...skipped(), ...note };
      } catch (err) {
        const partial = !dry && writer.root;
        if (err instanceof Stopped) {
          if (!partial) return { stopped: 'Cancelled before anything was written.' };
          return { ...writer.root, copied: writer.copied(), ...skipped(), stopped: `Cancelled: this copy is incomplete. ${TRASH_IT}` };
        }
        if (err instanceof ToolError && partial) {
          throw new ToolError(err.code, `${err.message} The copy stopped part way: ${writer.root!.url} is incomplete. ${TRASH_IT}`, { ...err.extra, partial_copy: writer.root, copied: writer.copied() });
        }
        throw err;
      }
    },
  }),
];

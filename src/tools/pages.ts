import type { Client, CreatePageParameters, GetAsyncTaskResponse, GetPageResponse, UpdatePageParameters } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from './registry.js';
import { annotations, maxTokens, notionId, OVERWRITE, pageSize, READ, startCursor, textStart, toIcon } from './args.js';
import { confirmation, notionUrl, setFields } from './confirm.js';
import { fullMarkdown, headingText, lockdownPage, outline, readVetted, section, writeVetted } from './page-reading.js';
import { fenced, provenance, withheldContent } from './provenance.js';
import { fitBody } from './limits.js';
import { getDatabase, isNotFound, soleDataSource, underUntypedParent } from '../notion/resolve.js';
import type { NotionSession } from '../notion/session.js';
import { hideFileLinks, propertyValue, shape } from '../notion/shape.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// Shared argument pieces
// ---------------------------------------------------------------------------------------------

const PARENT_KEYS = ['page_id', 'data_source_id', 'database_id', 'workspace'] as const;
type ParentKey = (typeof PARENT_KEYS)[number];
/** `untyped`: a bare ID or URL, which may name a page, a database or a data source (see `withParent`). */
type Parent = { page_id: string } | { data_source_id: string } | { database_id: string } | { workspace: true } | { untyped: string };

/**
 * A parent: a page ID or URL (→ page_id), or an object with exactly one of `keys`. Notion's own
 * `{type, <type>: id}` form is accepted too; every ID is normalised like `notionId`.
 */
function parentArg(keys: readonly ParentKey[], describe: string) {
  return z
    .union([z.string(), z.record(z.string(), z.unknown())])
    .describe(describe)
    .transform((v, ctx): Parent => {
      if (typeof v === 'string') {
        const id = notionId('page').safeParse(v);
        if (id.success) return { untyped: id.data };
        ctx.addIssue({ code: 'custom', message: `expected a page, database or data source ID or URL, or an object with one of ${keys.join(', ')}` });
        return z.NEVER;
      }
      const present = keys.filter((k) => v[k] !== undefined && v[k] !== null && v[k] !== false);
      const key = present[0];
      if (present.length !== 1 || key === undefined) {
        ctx.addIssue({ code: 'custom', message: `give exactly one of ${keys.join(', ')}` });
        return z.NEVER;
      }
      if (key === 'workspace') {
        if (v.workspace === true) return { workspace: true };
        ctx.addIssue({ code: 'custom', message: 'expected true', path: ['workspace'] });
        return z.NEVER;
      }
      const id = notionId(key.slice(0, -3).replace('_', ' ')).safeParse(v[key]);
      if (id.success) return { [key]: id.data } as Parent;
      ctx.addIssue({ code: 'custom', message: id.error.issues[0]?.message ?? 'invalid ID', path: [key] });
      return z.NEVER;
    });
}

/** Icon: see `toIcon`; null removes it. */
const iconArg = z
  .union([z.string(), z.record(z.string(), z.unknown()), z.null()])
  .optional()
  .describe('Emoji, image URL or custom emoji ID');

/** Cover: an image URL or Notion's cover object; null removes it. */
const coverArg = z
  .union([z.string(), z.record(z.string(), z.unknown()), z.null()])
  .optional()
  .describe('Image URL')
  .transform((v) => (typeof v === 'string' ? { type: 'external', external: { url: v.trim() } } : v));

const propertiesArg = z.record(z.string(), z.unknown());
const blockIdArg = notionId('block');

// ---------------------------------------------------------------------------------------------
// Parent resolution
// ---------------------------------------------------------------------------------------------

type PageParent = NonNullable<CreatePageParameters['parent']>;

const CHOOSE_SOURCE = 'Ask the user which one, then call again with parent {"data_source_id": "<id>"}.';

/**
 * A `database_id` parent becomes the database's data source: pages live in data sources since
 * 2025-09-03. One data source: used. Several: the model must choose (never a guess). An ID that
 * is not a database is tried as a data source, as the legacy connector did.
 */
async function resolveParent(parent: Exclude<Parent, { untyped: string }>, notion: NotionSession): Promise<{ parent: PageParent; notFound?: ToolError }> {
  if (!('database_id' in parent)) return { parent };
  const databaseId = parent.database_id;
  let db;
  try {
    db = await getDatabase(notion, databaseId);
  } catch (err) {
    if (isNotFound(err)) return { parent: { data_source_id: databaseId }, notFound: err };
    throw err;
  }
  return { parent: { data_source_id: soleDataSource(db, CHOOSE_SOURCE) } };
}

/**
 * Runs a write whose parent may have been guessed from a `database_id` (a miss reports the
 * database) or given as a bare ID (tried as a page, then resolved: `underUntypedParent`).
 */
async function withParent<T>(parent: Parent, notion: NotionSession, write: (parent: PageParent) => Promise<T>): Promise<T> {
  if ('untyped' in parent) return underUntypedParent(notion, parent.untyped, write, CHOOSE_SOURCE);
  const resolved = await resolveParent(parent, notion);
  try {
    return await write(resolved.parent);
  } catch (err) {
    if (resolved.notFound && isNotFound(err)) throw resolved.notFound;
    throw err;
  }
}

/** Where a page may move: under a page or a data source (a database ID resolves to its data source). */
const moveParentArg = parentArg(['page_id', 'data_source_id', 'database_id'], 'Page, database or data source ID/URL');

function movePage(notion: NotionSession, pageId: string, parent: Parent) {
  return withParent(parent, notion, (p) => notion.write((n, auth) => n.pages.move({ page_id: pageId, parent: p as Parameters<Client['pages']['move']>[0]['parent'], auth })));
}

// ---------------------------------------------------------------------------------------------
// Output summaries
// ---------------------------------------------------------------------------------------------

/** get_page_markdown's output; `next_start` when the result budget cut `markdown`. */
const MARKDOWN_OUTPUT = {
  type: 'object',
  properties: {
    markdown: { type: 'string' },
    truncated: { type: 'boolean' },
    unknown_block_ids: { type: 'array', items: { type: 'string' } },
    next_start: { type: 'integer' },
    outline: { type: 'array', items: { type: 'object' } },
  },
  required: ['markdown', 'truncated'],
};

function markdownResult(res: unknown): Obj {
  const r = (isObj(res) ? res : {}) as Obj;
  const out: Obj = { markdown: hideFileLinks(String(r.markdown ?? '')), truncated: r.truncated === true };
  if (Array.isArray(r.unknown_block_ids) && r.unknown_block_ids.length > 0) out.unknown_block_ids = r.unknown_block_ids;
  return out;
}

/**
 * A property item, single or paginated, as one readable value: `{ object, id, type, <type>: value }`
 * (the same value shape `get_page` shows), plus `has_more` / `next_cursor` for paginated ones.
 */
function propertyItemResult(res: unknown): unknown {
  if (!isObj(res)) return shape(res);
  if (res.object === 'property_item') {
    const type = String(res.type);
    return dropNull({ object: 'property_item', id: res.id, type, ...(propertyValue(res) as Obj) });
  }
  if (res.object !== 'list' || !isObj(res.property_item)) return shape(res);
  const meta = res.property_item;
  const type = String(meta.type);
  const items = (Array.isArray(res.results) ? res.results : []).filter(isObj);
  let value: unknown;
  if (type === 'rollup') {
    const rollup = isObj(meta.rollup) ? meta.rollup : {};
    value =
      rollup.type === 'array'
        ? items.map((i) => propertyValue(i))
        : (propertyValue({ type: 'rollup', rollup }) as Obj).rollup;
  } else {
    value = (propertyValue({ type, [type]: items.map((i) => i[type]) }) as Obj)[type];
  }
  const out: Obj = dropNull({ object: 'property_item', id: meta.id, type, [type]: value });
  out.has_more = res.has_more === true;
  if (res.next_cursor) out.next_cursor = res.next_cursor;
  return out;
}

function dropNull(o: Obj): Obj {
  for (const [k, v] of Object.entries(o)) if (v === null || v === undefined) delete o[k];
  return o;
}

/** Notion property IDs arrive URL-encoded ("%3AUPp"); a decoded one is encoded for the path. */
function propertyPathId(id: string): string {
  try {
    return encodeURIComponent(decodeURIComponent(id));
  } catch {
    return encodeURIComponent(id);
  }
}

/** The SDK percent-decodes each filter_properties value; one that is not valid encoding is encoded first. */
function queryPropertyId(id: string): string {
  try {
    decodeURIComponent(id);
    return id;
  } catch {
    return encodeURIComponent(id);
  }
}

const hasTitle = (props: Obj) => 'title' in props || Object.values(props).some((p) => isObj(p) && ('title' in p || p.type === 'title'));

function templateArg(v: string | Obj | undefined): CreatePageParameters['template'] {
  if (v === undefined || isObj(v)) return v as CreatePageParameters['template'];
  if (v === 'none' || v === 'default') return { type: v };
  const id = notionId('template').safeParse(v);
  if (!id.success) throw new ToolError('invalid_arguments', 'template: expected "default", "none" or a template ID (list_data_source_templates)');
  return { type: 'template_id', template_id: id.data };
}

/** Notion fills a page from a template in the background, after the write has answered. */
const TEMPLATE_NOTE = 'Notion applies the template in the background: the page fills in within moments.';

/** What a write sent with allow_async answers when Notion runs it in the background (HTTP 202). */
const isTask = (res: unknown): res is GetAsyncTaskResponse => isObj(res) && res.object === 'async_task';

function taskStarted(t: GetAsyncTaskResponse): Obj {
  return { task_id: t.id, status: t.status, poll_after_seconds: 'poll_after_seconds' in t ? t.poll_after_seconds : undefined, next: 'Poll with get_async_task (in more) and this task_id.' };
}

/** A task's status; when it succeeded, the id and url of what it wrote; when it failed, Notion's error. */
function taskResult(t: GetAsyncTaskResponse): Obj {
  const out: Obj = { task_id: t.id, status: t.status, operation: t.operation?.name };
  if ('poll_after_seconds' in t) out.poll_after_seconds = t.poll_after_seconds;
  if (t.status === 'succeeded' && typeof t.result.id === 'string') {
    out.result = { id: t.result.id, url: typeof t.result.url === 'string' ? t.result.url : notionUrl(t.result.id) };
  }
  if (t.status === 'failed') out.error = { code: t.error.code, message: t.error.message };
  return out;
}

function positionArg(v: Obj | undefined): CreatePageParameters['position'] {
  if (!v) return undefined;
  if (v.type === 'start') return { type: 'page_start' };
  if (v.type === 'end') return { type: 'page_end' };
  const after = isObj(v.after_block) ? notionId('block').safeParse(v.after_block.id) : undefined;
  if (after?.success) return { type: 'after_block', after_block: { id: after.data } };
  return v as CreatePageParameters['position'];
}


/**
 * The two current PATCH /v1/pages/{id}/markdown commands. `insert_content` (and
 * `replace_content_range`) are deprecated in Notion's reference, so inserts are made with
 * `update_content` too (see `insertEdit`).
 */
type MarkdownBody =
  | {
      type: 'update_content';
      update_content: { content_updates: { old_str: string; new_str: string; replace_all_matches?: boolean }[]; allow_deleting_content?: boolean };
    }
  | { type: 'replace_content'; replace_content: { new_str: string; allow_deleting_content?: boolean } };

/** Blocks in Notion's Markdown are separated by a blank line, as get_page_markdown shows them. */
const BLOCK_BREAK = '\n\n';

/** The first line of the page: its first match is the page's start, so content goes before it. */
const firstLine = (md: string) => md.split('\n', 1)[0]!;

/** The shortest run of whole last lines that occurs only at the end, so its first match is the end. */
function lastLines(md: string): string {
  for (let i = md.length; ; ) {
    i = md.lastIndexOf('\n', i - 1);
    const tail = md.slice(i + 1);
    if (i < 0 || md.indexOf(tail) === i + 1) return tail;
  }
}

/** The exact text a "start...end" selection names: from the first `start` to the next `end`. */
function selection(md: string, after: string): string | undefined {
  if (md.includes(after)) return after;
  const dots = after.indexOf('...');
  if (dots < 0) return undefined;
  const [start, end] = [after.slice(0, dots), after.slice(dots + 3)];
  const from = md.indexOf(start);
  const to = from < 0 ? -1 : md.indexOf(end, from + start.length);
  return to < 0 ? undefined : md.slice(from, to + end.length);
}

/**
 * An insert as an `update_content` edit anchored on text of the page: `old_str` is the anchor and
 * `new_str` the anchor with the content next to it, so nothing else changes. `after` exact text
 * needs no read; a "start...end" selection and `position` read the page's Markdown first to find
 * the exact anchor (its first line, or last lines that occur only at the end). An empty page gets
 * the content with replace_content, which has nothing to delete.
 */
async function insertEdit(
  notion: NotionSession,
  pageId: string,
  content: string,
  where: { after: string } | { position: 'start' | 'end' },
  allow: { allow_deleting_content?: boolean },
): Promise<MarkdownBody> {
  const edit = (old_str: string, new_str: string): MarkdownBody => ({ type: 'update_content', update_content: { content_updates: [{ old_str, new_str }], ...allow } });
  if ('after' in where && !where.after.includes('...')) return edit(where.after, where.after + BLOCK_BREAK + content);
  const page = (await notion.get(`pages/${pageId}/markdown`)) as { markdown?: unknown; truncated?: unknown };
  const md = typeof page.markdown === 'string' ? page.markdown.trim() : '';
  if ('after' in where) {
    const anchor = selection(md, where.after);
    if (anchor === undefined) throw new ToolError('invalid_arguments', `after: ${JSON.stringify(where.after.slice(0, 80))} is not in the page's Markdown. Read it with get_page_markdown and give exact text.`);
    return edit(anchor, anchor + BLOCK_BREAK + content);
  }
  if (!md) return { type: 'replace_content', replace_content: { new_str: content } };
  if (where.position === 'start') {
    const anchor = firstLine(md);
    return edit(anchor, content + BLOCK_BREAK + anchor);
  }
  if (page.truncated === true) {
    throw new ToolError('invalid_arguments', "position: the page is longer than Notion's Markdown shows, so its end cannot be found. Add blocks at the end with append_block_children.");
  }
  const anchor = lastLines(md);
  return edit(anchor, anchor + BLOCK_BREAK + content);
}

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

export const pageTools = [
  defineTool({
    name: 'create_page',
    description:
      'Create a page (or a database row) with properties and a markdown body. Returns its id and url.',
    input: {
      parent: parentArg(PARENT_KEYS, 'Page, database or data source ID/URL, or {workspace:true}'),
      properties: propertiesArg
        .optional()
        .describe('By name, Notion values, e.g. {"Tags":{"multi_select":[{"name":"A"}]}}'),
      title: z.string().optional().describe('The title property'),
      markdown: z.string().optional().describe('Body (Notion-flavoured)'),
      children: z.array(z.record(z.string(), z.unknown())).max(100).optional().describe('Body as blocks, instead'),
      template: z
        .union([z.string(), z.record(z.string(), z.unknown())])
        .optional()
        .describe('"default", "none" or a template ID'),
      allow_async: z.boolean().optional(),
      position: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('{type:"page_start"} or {type:"after_block",after_block:{id}}'),
      icon: iconArg,
      cover: coverArg,
    },
    annotations: annotations('Create page'),
    run: async (args, { notion }) => {
      if (args.markdown !== undefined && args.children !== undefined) {
        throw new ToolError('invalid_arguments', 'Give the body as markdown or as children, not both.');
      }
      const template = templateArg(args.template);
      const templated = template !== undefined && template.type !== 'none';
      // Notion refuses content next to a template, which it applies later on its own.
      if (templated && (args.markdown !== undefined || args.children !== undefined)) {
        throw new ToolError('invalid_arguments', 'A template fills the body: give markdown or children without template, or edit the page once the template is applied.');
      }
      if (args.allow_async && args.markdown === undefined) {
        throw new ToolError('invalid_arguments', 'allow_async: Notion runs a page creation in the background only with markdown.');
      }
      const properties: Obj = { ...(args.properties ?? {}) };
      if (args.title !== undefined && !hasTitle(properties)) properties.title = { title: [{ text: { content: args.title } }] }; // fitBody splits it
      const body: Omit<CreatePageParameters, 'parent'> = {};
      if (Object.keys(properties).length > 0) body.properties = properties as CreatePageParameters['properties'];
      if (args.markdown !== undefined) body.markdown = args.markdown;
      if (args.children !== undefined) body.children = args.children as CreatePageParameters['children'];
      if (template !== undefined) body.template = template;
      if (args.allow_async) body.allow_async = true;
      if (args.position !== undefined) body.position = positionArg(args.position);
      if (args.icon !== undefined) body.icon = toIcon(args.icon) as CreatePageParameters['icon'];
      if (args.cover !== undefined) body.cover = args.cover as CreatePageParameters['cover'];
      const sent = fitBody(body);
      const page: unknown = await withParent(args.parent, notion, (parent) => notion.write((n, auth) => n.pages.create({ parent, ...sent, auth })));
      if (isTask(page)) return taskStarted(page);
      return confirmation(page, { parent: (shape(page) as Obj).parent, ...(templated ? { template: TEMPLATE_NOTE } : {}) });
    },
  }),
  defineTool({
    name: 'get_page',
    description: "Retrieve a page's properties (not its content). Accepts a page ID or a notion.so URL.",
    input: {
      page_id: notionId('page'),
      filter_properties: z
        .array(z.string())
        .optional()
        .describe('Property IDs to return; omit for all')
        .transform((ids) => ids?.map(queryPropertyId)),
    },
    annotations: annotations('Get page', READ),
    run: async ({ page_id, filter_properties }, ctx) => {
      const page = await ctx.notion.get<GetPageResponse>(`pages/${page_id}`, { filter_properties });
      const who = await provenance(ctx);
      return who.vetOne(page, shape(page), 'page');
    },
  }),
  defineTool({
    name: 'get_page_property_item',
    description: 'Retrieve one property value in full (titles, text, people and relations past 25 items, rollups). Paginated.',
    input: {
      page_id: notionId('page'),
      property_id: z.string().min(1).describe('Property ID (from get_page or the schema)'),
      start_cursor: startCursor,
      page_size: pageSize,
    },
    annotations: annotations('Get page property', READ),
    run: async (args, ctx) => {
      await lockdownPage(ctx, args.page_id);
      return propertyItemResult(
        await ctx.notion.get(`pages/${args.page_id}/properties/${propertyPathId(args.property_id)}`, {
          start_cursor: args.start_cursor,
          page_size: args.page_size,
        }),
      );
    },
  }),
  defineTool({
    name: 'update_page',
    description:
      "Change a page's properties (only those given), icon, cover, lock or parent (moves it); erase_content empties its body: ask the user first. Returns what changed.",
    input: {
      page_id: notionId('page'),
      properties: propertiesArg.optional().describe('As in create_page'),
      parent: moveParentArg.optional(),
      erase_content: z.boolean().optional(),
      icon: iconArg,
      cover: coverArg,
      in_trash: z.boolean().optional(),
      is_locked: z.boolean().optional(),
      template: z.string().optional(),
    },
    annotations: annotations('Update page', OVERWRITE),
    run: async ({ page_id, parent, ...rest }, { notion }) => {
      const body = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Omit<UpdatePageParameters, 'page_id'>;
      if (rest.icon !== undefined) body.icon = toIcon(rest.icon) as UpdatePageParameters['icon'];
      if (rest.template !== undefined) {
        if (rest.template === 'none') throw new ToolError('invalid_arguments', 'template: expected "default" or a template ID');
        body.template = templateArg(rest.template) as UpdatePageParameters['template'];
      }
      if (Object.keys(body).length === 0 && !parent) {
        throw new ToolError('invalid_arguments', 'Nothing to update: give properties, parent, icon, cover, in_trash, is_locked, erase_content or template.');
      }
      // A move first, so a failed move changes nothing else.
      const moved = parent ? await movePage(notion, page_id, parent) : undefined;
      const page = Object.keys(body).length ? await notion.write((n, auth) => n.pages.update({ page_id, ...fitBody(body), auth })) : moved;
      const changed = [...Object.keys(rest.properties ?? {}), ...(parent ? ['parent'] : []), ...setFields(rest, ['icon', 'cover', 'in_trash', 'is_locked', 'erase_content', 'template'])];
      return confirmation(page, { changed, ...(moved ? { parent: (shape(moved) as Obj).parent } : {}), ...(rest.template !== undefined ? { template: TEMPLATE_NOTE } : {}) });
    },
  }),
  defineTool({
    name: 'archive_page',
    description: 'Move a page to the trash (undo with restore_from_trash).',
    input: { page_id: notionId('page') },
    annotations: annotations('Archive page', OVERWRITE),
    run: async (args, ctx) => {
      const page = await ctx.notion.write((n, auth) => n.pages.update({ page_id: args.page_id, in_trash: true, auth }));
      return (await provenance(ctx)).vetEcho(page, shape(page), 'page');
    },
  }),
  defineTool({
    name: 'move_page',
    description: 'Move a page under another page, database or data source.',
    input: { page_id: notionId('page'), parent: moveParentArg },
    annotations: annotations('Move page', { idempotentHint: true }),
    run: async (args, { notion }) => {
      const page = await movePage(notion, args.page_id, args.parent);
      return confirmation(page, { parent: (shape(page) as Obj).parent });
    },
  }),
  defineTool({
    name: 'get_page_markdown',
    description:
      "Read a page's body as Markdown: whole, one section, or its outline (headings with block IDs). A long body comes in parts: pass next_start as start.",
    input: {
      page_id: notionId('page'),
      section: z.string().min(1).optional().describe('Heading text or block ID'),
      outline: z.boolean().optional(),
      max_tokens: maxTokens,
      include_transcript: z.boolean().optional().describe('Of meeting notes'),
      start: textStart,
    },
    annotations: annotations('Get page Markdown', READ),
    output: MARKDOWN_OUTPUT,
    paging: { text: 'markdown' },
    run: async ({ page_id, section: wanted, outline: asOutline, include_transcript }, ctx) => {
      const { notion } = ctx;
      if (asOutline) return { markdown: '', truncated: false, ...(await outline(notion, await provenance(ctx), page_id)) };
      const { body: page, mark } = await readVetted(ctx, page_id, () => fullMarkdown(notion, page_id, { include_transcript }));
      if (wanted === undefined) return fenced(markdownResult(page), 'markdown', mark);
      // A heading's block ID (or link) names it; anything else is its text.
      const t = wanted.trim();
      const id = /^[0-9a-f-]{32,36}$|^https?:\/\//i.test(t) ? blockIdArg.safeParse(t).data : undefined;
      const heading = id ? await headingText(notion, id) : wanted;
      return fenced({ ...markdownResult(page), ...section(page.markdown, heading) }, 'markdown', mark);
    },
  }),
  defineTool({
    name: 'update_page_markdown',
    description:
      "Edit a page's body: edits (search and replace, preferred), markdown with after or position (insert), or markdown alone (replace all). Deletes child pages or databases only with allow_deleting_content: ask the user first.",
    input: {
      page_id: notionId('page'),
      markdown: z.string().optional().describe('To insert, or the whole new body'),
      edits: z
        .array(z.object({ old_str: z.string().min(1), new_str: z.string(), replace_all_matches: z.boolean().optional() }))
        .min(1)
        .max(100)
        .optional(),
      after: z.string().min(1).optional().describe('Insert after this text ("start...end" spans)'),
      position: z.enum(['start', 'end']).optional(),
      allow_deleting_content: z.boolean().optional(),
      return_markdown: z.boolean().optional().describe('Also return the whole new body'),
      allow_async: z.boolean().optional(),
    },
    annotations: annotations('Update page Markdown', { destructiveHint: true }),
    run: async (args, ctx) => {
      const { notion } = ctx;
      const body = fitBody({ ...(await markdownUpdate(notion, args)), ...(args.allow_async ? { allow_async: true } : {}) });
      const write = (): Promise<unknown> => notion.write((n, auth) => n.pages.updateMarkdown({ page_id: args.page_id, ...body, auth }));
      // The body it returns is the page's content, most of it not the model's: vetted like a read.
      const { body: answer, mark, withheld } = args.return_markdown ? await writeVetted(ctx, args.page_id, write) : { body: await write(), mark: undefined, withheld: undefined };
      if (isTask(answer)) return taskStarted(answer);
      const res = markdownResult(answer);
      if (args.return_markdown && !withheld) return fenced(res, 'markdown', mark);
      const changed = args.edits ? { edits_applied: args.edits.length } : args.after !== undefined || args.position !== undefined ? { inserted_chars: args.markdown!.length } : { replaced: true };
      return { id: args.page_id, url: notionUrl(args.page_id), ...changed, page_chars: String(res.markdown).length, ...(withheld ? { withheld: withheldContent('page') } : {}) };
    },
  }),
  defineTool({
    name: 'get_async_task',
    description: 'The status of a write sent with allow_async; once it succeeded, the id and url of the page.',
    input: { task_id: z.string().min(1).max(200) },
    annotations: annotations('Get async task', READ),
    run: async ({ task_id }, { notion }) => taskResult(await notion.get<GetAsyncTaskResponse>(`async_tasks/${encodeURIComponent(task_id)}`)),
  }),
];

async function markdownUpdate(
  notion: NotionSession,
  a: {
    page_id: string;
    markdown?: string | undefined;
    edits?: { old_str: string; new_str: string; replace_all_matches?: boolean | undefined }[] | undefined;
    after?: string | undefined;
    position?: 'start' | 'end' | undefined;
    allow_deleting_content?: boolean | undefined;
  },
): Promise<MarkdownBody> {
  const allow = a.allow_deleting_content !== undefined ? { allow_deleting_content: a.allow_deleting_content } : {};
  const insert = a.after !== undefined || a.position !== undefined;
  if (a.edits) {
    if (a.markdown !== undefined || insert) {
      throw new ToolError('invalid_arguments', 'edits works alone: do not also give markdown, after or position.');
    }
    const content_updates = a.edits.map((e) => ({
      old_str: e.old_str,
      new_str: e.new_str,
      ...(e.replace_all_matches !== undefined ? { replace_all_matches: e.replace_all_matches } : {}),
    }));
    return { type: 'update_content', update_content: { content_updates, ...allow } };
  }
  if (a.markdown === undefined) {
    throw new ToolError('invalid_arguments', 'Give markdown (to replace or insert) or edits (to search and replace).');
  }
  if (insert) {
    if (a.after !== undefined && a.position !== undefined) throw new ToolError('invalid_arguments', 'Give after or position, not both.');
    return insertEdit(notion, a.page_id, a.markdown, a.after !== undefined ? { after: a.after } : { position: a.position! }, allow);
  }
  return { type: 'replace_content', replace_content: { new_str: a.markdown, ...allow } };
}

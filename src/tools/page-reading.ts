import type { ListBlockChildrenResponse } from '@notionhq/client';
import { ToolError } from '../errors.js';
import type { NotionSession } from '../notion/session.js';
import { hideFileLinks, richText } from '../notion/shape.js';
import { type Mark, type Provenance, provenance, withheldError } from './provenance.js';
import type { ToolContext } from './registry.js';

/**
 * Reading a page within a budget: the whole Markdown with Notion's truncated subtrees filled in,
 * one section by its heading, or the outline (headings with their block IDs).
 */

type Obj = Record<string, unknown>;
interface PageMarkdown {
  markdown?: string;
  truncated?: boolean;
  unknown_block_ids?: string[];
}

/** Most follow-up reads of truncated subtrees per call; what is left stays listed in unknown_block_ids. */
export const MAX_FOLLOW_UPS = 25;
/** Most pages of top-level blocks an outline reads (100 blocks each). */
const MAX_OUTLINE_PAGES = 10;

const dashless = (id: string) => id.replace(/-/g, '');

/**
 * A page's Markdown with every subtree Notion left out (`truncated`, `unknown_block_ids`) read
 * with the same endpoint, which takes those block IDs, and put where its `<unknown url="…#id">` tag
 * stands (appended if there is none). Subtrees may be truncated again; they are followed in turn,
 * breadth first, up to MAX_FOLLOW_UPS reads; a subtree Notion refuses ends the following.
 */
export async function fullMarkdown(notion: NotionSession, id: string, query: Obj): Promise<{ markdown: string; truncated: boolean; unknown_block_ids?: string[] }> {
  const first = await notion.get<PageMarkdown>(`pages/${id}/markdown`, query as Record<string, string | undefined>);
  let markdown = first.markdown ?? '';
  const pending = first.truncated ? [...(first.unknown_block_ids ?? [])] : [];
  let reads = 0;
  while (pending.length > 0 && reads < MAX_FOLLOW_UPS) {
    const block = pending[0]!;
    reads++;
    let part: PageMarkdown;
    try {
      part = await notion.get<PageMarkdown>(`pages/${block}/markdown`, query as Record<string, string | undefined>);
    } catch (err) {
      // A subtree Notion will not give: return what was read, with the rest still listed.
      if (err instanceof ToolError && err.code !== 'shutting_down') break;
      throw err;
    }
    pending.shift();
    markdown = fillIn(markdown, block, part.markdown ?? '');
    if (part.truncated) pending.push(...(part.unknown_block_ids ?? []));
  }
  markdown = hideFileLinks(markdown);
  return pending.length ? { markdown, truncated: true, unknown_block_ids: pending } : { markdown, truncated: false };
}

/**
 * Replaces the tag Notion left for `block`, `<unknown url="…#<block ID>" alt="…"/>` (the ID is
 * the URL's fragment, dashed or not), with its Markdown. Notion renders a subtree from column 0,
 * while on the page its lines sit at the tag's depth, so every following line gets the tag
 * line's indentation (children are tab-indented).
 */
function fillIn(markdown: string, block: string, part: string): string {
  const ids = [block, dashless(block)].map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  const tag = new RegExp(`<unknown\\b[^>]*\\burl="[^"]*#(?:${ids})"[^>]*?/?>(?:</unknown>)?`, 'i').exec(markdown);
  if (!tag) return markdown ? `${markdown}\n\n${part}` : part;
  const indent = /^[\t ]*/.exec(markdown.slice(markdown.lastIndexOf('\n', tag.index - 1) + 1))![0];
  const placed = part.replace(/\n(?=.)/g, `\n${indent}`);
  return markdown.slice(0, tag.index) + placed + markdown.slice(tag.index + tag[0].length);
}

/**
 * A page body from `read` with who wrote the page: the Markdown endpoint says nothing of authors,
 * so the page itself is read alongside (GET /v1/pages/{id}); its creator and last editor stand for
 * the body. In lockdown the page is checked before its body is read. Not read when the connection
 * may not list users (nothing could be told).
 */
export async function readVetted<T>(ctx: ToolContext, pageId: string, read: () => Promise<T>): Promise<{ body: T; mark?: Mark | undefined }> {
  const who = await provenance(ctx);
  if (!who.knows) return { body: await read() };
  const page = ctx.notion.get(`pages/${pageId}`);
  if (who.lockdown && who.withholds(await page)) throw withheldError('page');
  const [raw, body] = await Promise.all([page, read()]);
  return { body, mark: who.mark(raw) };
}

/**
 * A write that answers with the page's body (`return_markdown`), and who wrote that body: the page
 * is read before the write, since after it the connector is its last editor. Its creator and last
 * editor until now stand for the body, which in lockdown is `withheld` unless members wrote it; the
 * write itself goes ahead either way. Not read when the connection may not list users.
 */
export async function writeVetted<T>(ctx: ToolContext, pageId: string, write: () => Promise<T>): Promise<{ body: T; mark?: Mark | undefined; withheld?: true }> {
  const who = await provenance(ctx);
  if (!who.knows) return { body: await write() };
  const page = await ctx.notion.get(`pages/${pageId}`);
  const body = await write();
  return who.withholds(page) ? { body, withheld: true } : { body, mark: who.mark(page) };
}

/** In lockdown, refuses a page not written only by members (one GET of the page); otherwise nothing. */
export async function lockdownPage(ctx: ToolContext, pageId: string): Promise<void> {
  if (!ctx.auth.lockdown) return;
  const who = await provenance(ctx);
  if (who.withholds(await ctx.notion.get(`pages/${pageId}`))) throw withheldError('page');
}

interface Heading {
  level: number;
  text: string;
  /** Offset of the heading line in the Markdown. */
  at: number;
}

/** Markdown headings (`#` to `######`) outside code fences, with their offsets. */
function headings(markdown: string): Heading[] {
  const out: Heading[] = [];
  let fence: string | null = null;
  let at = 0;
  for (const line of markdown.split('\n')) {
    const f = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (f && (fence === null || f.startsWith(fence))) fence = fence === null ? f : null;
    else if (fence === null) {
      const m = /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
      if (m) out.push({ level: m[1]!.length, text: m[2]!, at });
    }
    at += line.length + 1;
  }
  return out;
}

/** Heading text as compared: no Markdown emphasis, links or color attributes, spaces collapsed, lower case. */
const plain = (s: string) =>
  s
    .replace(/\{[^}]*\}\s*$/, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_~`]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();

/**
 * The section under a heading: from its line to the next heading of the same or a higher level.
 * An exact (plain-text) match wins over a heading that starts with the text. None: a tool error
 * that lists the headings there are.
 */
export function section(markdown: string, heading: string): { markdown: string; heading: string } {
  const all = headings(markdown);
  const want = plain(heading.replace(/^#+\s*/, ''));
  const hit = all.find((h) => plain(h.text) === want) ?? all.find((h) => plain(h.text).startsWith(want));
  if (!hit || !want) {
    const list = all.slice(0, 40).map((h) => `${'#'.repeat(h.level)} ${h.text}`);
    throw new ToolError(
      'section_not_found',
      all.length ? `No heading "${heading}" on this page. Its headings: ${list.join(' | ')}${all.length > 40 ? ' | …' : ''}` : 'This page has no headings: read it whole.',
    );
  }
  const next = all.find((h) => h.at > hit.at && h.level <= hit.level);
  return { markdown: markdown.slice(hit.at, next ? next.at : undefined).replace(/\n+$/, ''), heading: hit.text };
}

/** The text of a heading block given by ID, to find its section in the Markdown. */
export async function headingText(notion: NotionSession, blockId: string): Promise<string> {
  const block = await notion.get<Obj>(`blocks/${blockId}`);
  const type = String(block.type ?? '');
  const body = block[type] as { rich_text?: unknown } | undefined;
  if (!/^heading_[1-4]$/.test(type) || !body) {
    throw new ToolError('invalid_arguments', `Invalid arguments. section: block ${blockId} is a ${type || 'block'}, not a heading; give a heading's text or ID (see outline: true).`);
  }
  return richText(body.rich_text);
}

/**
 * The page's headings with their block IDs, in order: its top-level heading blocks (where a
 * page's headings live), read 100 blocks per call; marked or, in lockdown, left out by who wrote them.
 */
export async function outline(notion: NotionSession, who: Provenance, pageId: string): Promise<{ outline: Obj[]; has_more?: true }> {
  const items: Obj[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_OUTLINE_PAGES; page++) {
    const res = await notion.get<ListBlockChildrenResponse>(`blocks/${pageId}/children`, { page_size: 100, start_cursor: cursor });
    for (const b of res.results as Obj[]) {
      const m = /^heading_([1-4])$/.exec(String(b.type ?? ''));
      if (!m || who.withholds(b)) continue;
      const body = b[String(b.type)] as { rich_text?: unknown };
      items.push({ level: Number(m[1]), text: richText(body.rich_text), id: String(b.id), ...who.mark(b) });
    }
    if (!res.has_more || !res.next_cursor) return { outline: items };
    cursor = res.next_cursor;
  }
  return { outline: items, has_more: true };
}

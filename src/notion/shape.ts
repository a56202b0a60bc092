/**
 * Output shaping: what a model reads, in as few tokens as meaning allows.
 *
 * - Compact JSON without nulls, request ids, empty containers and default values
 *   (`color: "default"`, `in_trash: false`, plain annotations…).
 * - `object`, `id`, `url`, `parent`, `has_more` and `next_cursor` always stay, so pages,
 *   databases, data sources and blocks can be told apart and followed.
 * - Rich text becomes one Markdown string (bold, italic, code, strike, links, mentions, equations).
 * - A page property becomes `{ <type>: value }`, the same shape a write takes. A page keeps its
 *   empty values (`{"date": null}`), so every property it has shows; query rows drop them
 *   (tools/query.ts), and the columnar row form flattens each value further (`cellValue`).
 * - Users become `{ id, name }` or just their id where only the reference matters.
 */

type Json = unknown;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys that never carry meaning for a model. */
const NOISE = new Set(['request_id', 'developer_survey', 'public_url', 'archived']);
/** Values equal to these defaults are dropped. */
const DEFAULTS: Record<string, unknown> = {
  color: 'default',
  in_trash: false,
  is_archived: false,
  is_locked: false,
  is_inline: false,
  has_children: false,
  is_toggleable: false,
};

interface Annotations {
  bold?: boolean;
  italic?: boolean;
  strikethrough?: boolean;
  underline?: boolean;
  code?: boolean;
  color?: string;
}

/** Notion rich text → Markdown. */
export function richText(items: unknown): string {
  if (!Array.isArray(items)) return '';
  let out = '';
  for (const raw of items) {
    if (!isObj(raw)) continue;
    const type = raw.type as string | undefined;
    let text = typeof raw.plain_text === 'string' ? raw.plain_text : '';
    if (type === 'equation') {
      text = `$${(raw.equation as Obj | undefined)?.expression ?? text}$`;
    } else if (type === 'mention') {
      const m = raw.mention as Obj | undefined;
      const kind = m?.type as string | undefined;
      const target = kind && isObj(m?.[kind]) ? (m[kind] as Obj) : undefined;
      if (kind === 'user') text = `@${text.replace(/^@/, '')}`;
      else if ((kind === 'page' || kind === 'database') && typeof target?.id === 'string') text = `[${text}](${target.id})`;
      else if (kind === 'date' && target) text = String(target.end ? `${target.start} → ${target.end}` : target.start);
    } else {
      const a = (raw.annotations ?? {}) as Annotations;
      if (text.trim()) {
        if (a.code) text = `\`${text}\``;
        if (a.bold) text = `**${text}**`;
        if (a.italic) text = `*${text}*`;
        if (a.strikethrough) text = `~~${text}~~`;
      }
      const href = typeof raw.href === 'string' ? raw.href : undefined;
      if (href) text = `[${text}](${href})`;
    }
    out += text;
  }
  return out;
}

function userRef(u: unknown): Json {
  if (!isObj(u)) return u;
  const out: Obj = { id: u.id };
  if (typeof u.name === 'string') out.name = u.name;
  const email = (u.person as Obj | undefined)?.email;
  if (typeof email === 'string') out.email = email;
  if (u.type === 'bot') out.type = 'bot';
  return Object.keys(out).length === 1 ? u.id : out;
}

/**
 * Stands in for the URL of a file Notion hosts: a pre-signed link that expires within the hour and
 * costs the model a few hundred tokens to read. get_file reads the file itself, with a fresh link.
 */
export const NOTION_FILE = '(Notion file: read it with get_file)';

/** Where Notion serves the files it hosts (as tools/media.ts downloads them). */
const HOSTED = String.raw`https://(?:prod-files-secure\.s3\.us-west-2\.amazonaws\.com/|s3\.us-west-2\.amazonaws\.com/secure\.notion-static\.com/|file\.notion\.so/)`;
/** URL characters, with one level of balanced parentheses (a file named "scan (1).png"). */
const URL_TAIL = String.raw`(?:[^\s()"'<>]|\([^\s()"'<>]*\))*`;
/** `(link)` of `![alt](link)` / `[text](link)`, or the bare link (`<file source="link">`). */
const HOSTED_LINK = new RegExp(String.raw`\(${HOSTED}${URL_TAIL}\)|${HOSTED}${URL_TAIL}`, 'gi');

/**
 * Markdown (GET /v1/pages/{id}/markdown) with the links to files Notion hosts replaced by
 * NOTION_FILE, as in JSON results: Notion renders an uploaded image or file with its pre-signed
 * S3 link (`X-Amz-Signature`, valid an hour, readable by whoever holds it). The Markdown names
 * no block IDs; get_block_children lists the file blocks that get_file reads.
 */
export function hideFileLinks(markdown: string): string {
  if (!markdown.includes('amazonaws.com/') && !markdown.includes('file.notion.so/')) return markdown;
  return markdown.replace(HOSTED_LINK, NOTION_FILE);
}

function fileUrl(f: unknown): Json {
  if (!isObj(f)) return f;
  const type = f.type as string;
  const inner = f[type] as Obj | undefined;
  const url = type === 'file' && inner?.url ? NOTION_FILE : (inner?.url ?? (type === 'file_upload' ? inner?.id : undefined));
  return f.name && url ? { name: f.name, url } : (url ?? shapeGeneric(f));
}

function icon(v: unknown): Json {
  if (!isObj(v)) return v;
  if (v.type === 'emoji') return v.emoji;
  if (v.type === 'custom_emoji') return (v.custom_emoji as Obj | undefined)?.name ?? v.custom_emoji;
  return fileUrl(v);
}

function dateValue(d: unknown): Json {
  if (!isObj(d)) return d;
  if (!d.end && !d.time_zone) return d.start;
  return shapeGeneric(d);
}

/** A page property value → `{ <type>: readable value }`. */
export function propertyValue(p: unknown): Json {
  if (!isObj(p) || typeof p.type !== 'string') return shapeGeneric(p);
  const type = p.type;
  const v = p[type];
  let value: Json;
  switch (type) {
    case 'title':
    case 'rich_text':
      value = richText(v);
      break;
    case 'select':
    case 'status':
      value = isObj(v) ? v.name : null;
      break;
    case 'multi_select':
      value = Array.isArray(v) ? v.map((o) => (isObj(o) ? o.name : o)) : v;
      break;
    case 'people':
      value = Array.isArray(v) ? v.map(userRef) : v;
      break;
    case 'created_by':
    case 'last_edited_by':
      value = userRef(v);
      break;
    case 'relation':
      value = Array.isArray(v) ? v.map((r) => (isObj(r) ? r.id : r)) : v;
      break;
    case 'date':
      value = dateValue(v);
      break;
    case 'files':
      value = Array.isArray(v) ? v.map(fileUrl) : v;
      break;
    case 'formula': {
      const f = v as Obj | undefined;
      value = f ? (f.type === 'date' ? dateValue(f.date) : f[f.type as string]) : null;
      break;
    }
    case 'rollup': {
      const r = v as Obj | undefined;
      const rt = r?.type as string | undefined;
      value = rt === 'array' ? (r!.array as unknown[]).map(propertyValue) : rt === 'date' ? dateValue(r!.date) : rt ? r![rt] : null;
      break;
    }
    case 'unique_id': {
      const u = v as Obj | undefined;
      value = u ? `${u.prefix ? `${u.prefix}-` : ''}${u.number}` : null;
      break;
    }
    case 'verification':
      value = isObj(v) ? v.state : v;
      break;
    default:
      value = shapeGeneric(v);
  }
  return { [type]: value ?? null };
}

/** A flattened value: a user or file by name, a date as "start" or "start→end", lists of those; empty → null. */
function flat(v: unknown): Json {
  if (v === null || v === undefined || v === '') return null;
  if (Array.isArray(v)) {
    const items = v.map(flat).filter((x) => x !== null);
    return items.length ? items : null;
  }
  if (!isObj(v)) return v;
  if (typeof v.start === 'string') return v.end ? `${v.start}→${String(v.end)}` : v.start;
  if (typeof v.name === 'string') return v.name;
  const inner = Object.values(v);
  // A rollup's array items are `{ <type>: value }`.
  return inner.length === 1 ? flat(inner[0]) : v;
}

/**
 * A page property value as one plain JSON cell: text as Markdown, select and status as the option
 * name, people as names (ids when Notion gives no name), dates as "start" or "start→end", files by
 * name, relations as page ids, formulas and rollups as their value; null when empty.
 */
export function cellValue(p: unknown): Json {
  const shaped = propertyValue(p);
  if (!isObj(shaped)) return flat(shaped);
  const values = Object.values(shaped);
  return flat(values.length === 1 ? values[0] : shaped);
}

/** Whether a shaped property value `{ <type>: value }` is empty (null, "" or []); false and 0 are values. */
export const isEmptyValue = (shaped: unknown): boolean => {
  if (!isObj(shaped)) return shaped === null || shaped === undefined;
  const values = Object.values(shaped);
  return values.length === 1 && (values[0] === null || values[0] === '' || (Array.isArray(values[0]) && values[0].length === 0));
};

/** A data source schema entry: its type and id, plus options or target where they exist. */
function schemaProperty(p: unknown): Json {
  if (!isObj(p) || typeof p.type !== 'string') return shapeGeneric(p);
  const type = p.type;
  const config = p[type] as Obj | undefined;
  const out: Obj = { type, id: p.id };
  if (typeof p.description === 'string' && p.description) out.description = p.description;
  if (!config || Object.keys(config).length === 0) return out;
  if (Array.isArray(config.options)) out.options = config.options.map((o) => (isObj(o) ? o.name : o));
  if (Array.isArray(config.groups)) out.groups = config.groups.map((g) => (isObj(g) ? g.name : g));
  for (const [k, v] of Object.entries(config)) {
    if (k === 'options' || k === 'groups') continue;
    // A config's own `type` (a relation's "dual_property") must not replace the property type.
    if (k === 'type') {
      out[`${type}_type`] = v;
      continue;
    }
    const s = shapeGeneric(v);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

function parentRef(p: unknown): Json {
  if (!isObj(p) || typeof p.type !== 'string') return p;
  const type = p.type;
  // `{ type: "page_id", page_id: "…" }` → `{ page_id: "…" }`; the key already says the type.
  const out: Obj = { [type]: p[type] };
  if (type === 'data_source_id' && p.database_id) out.database_id = p.database_id;
  return out;
}

function shapeBlock(b: Obj): Obj {
  const type = b.type as string;
  const out: Obj = { object: 'block', id: b.id, type };
  if (b.parent) out.parent = parentRef(b.parent);
  if (b.has_children) out.has_children = true;
  if (b.in_trash) out.in_trash = true;
  const content = b[type];
  if (isObj(content)) {
    const c: Obj = {};
    for (const [k, v] of Object.entries(content)) {
      if (v === null || DEFAULTS[k] === v) continue;
      if ((k === 'rich_text' || k === 'caption' || k === 'title') && Array.isArray(v)) {
        const text = richText(v);
        if (text) c[k === 'rich_text' ? 'text' : k] = text;
      } else if (k === 'icon') c.icon = icon(v);
      // A table row's cells are rich-text arrays: each becomes its Markdown string.
      else if (k === 'cells' && Array.isArray(v)) c.cells = v.map(richText);
      else if (type === 'image' || type === 'file' || type === 'pdf' || type === 'video' || type === 'audio') {
        if (k === 'type' || k === 'external' || k === 'file' || k === 'file_upload') continue;
        const s = shapeGeneric(v);
        if (s !== undefined) c[k] = s;
      } else {
        const s = shapeGeneric(v, k);
        if (s !== undefined) c[k] = s;
      }
    }
    if (['image', 'file', 'pdf', 'video', 'audio'].includes(type)) c.url = fileUrl(content);
    if (Object.keys(c).length > 0) out[type] = c;
  }
  return out;
}

function shapeTyped(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === null || v === undefined || NOISE.has(k) || DEFAULTS[k] === v) continue;
    switch (k) {
      case 'parent':
        out.parent = parentRef(v);
        break;
      case 'created_by':
      case 'last_edited_by':
        // Who created a comment matters; on pages and databases it is noise, unless the author is
        // not a member (tools/provenance.ts marks those from the raw object).
        if (o.object === 'comment') out[k] = userRef(v);
        break;
      case 'icon':
        out.icon = icon(v);
        break;
      case 'cover':
        out.cover = fileUrl(v);
        break;
      case 'title':
      case 'description':
      case 'rich_text':
        if (Array.isArray(v)) {
          const text = richText(v);
          if (text) out[k === 'rich_text' ? 'text' : k] = text;
        } else out[k] = shapeGeneric(v);
        break;
      case 'properties':
        if (isObj(v)) {
          const props: Obj = {};
          const asSchema = o.object === 'data_source' || o.object === 'database';
          for (const [name, p] of Object.entries(v)) props[name] = asSchema ? schemaProperty(p) : propertyValue(p);
          out.properties = props;
        }
        break;
      default: {
        const s = shapeGeneric(v, k);
        if (s !== undefined) out[k] = s;
      }
    }
  }
  return out;
}

/** Shapes any Notion response or part of one. */
export function shape(value: unknown): Json {
  return shapeGeneric(value) ?? {};
}

function shapeGeneric(value: unknown, key?: string): Json {
  if (Array.isArray(value)) return value.map((v) => shapeGeneric(v)).filter((v) => v !== undefined);
  if (!isObj(value)) return value === null ? undefined : value;
  switch (value.object) {
    case 'block':
      return shapeBlock(value);
    case 'user':
      return key === undefined ? shapeTyped(flattenUser(value)) : userRef(value);
    case 'list': {
      const results = shapeGeneric(value.results) as Json[];
      const out: Obj = { object: 'list', results };
      // Children of one block, or rows of one data source, share their parent: say it once.
      const shared = sharedParent(results);
      if (shared !== undefined) {
        out.parent = shared;
        for (const r of results) delete (r as Obj).parent;
      }
      out.has_more = value.has_more === true;
      if (value.next_cursor) out.next_cursor = value.next_cursor;
      return out;
    }
    case 'page':
    case 'database':
    case 'data_source':
    case 'comment':
    case 'view':
    case 'file_upload':
      return shapeTyped(value);
    default: {
      if (value.object === undefined && key === 'annotations') return undefined;
      const out = shapeTyped(value);
      return Object.keys(out).length === 0 ? undefined : out;
    }
  }
}

function sharedParent(results: Json[]): Json | undefined {
  if (results.length < 2 || !results.every((r) => isObj(r) && r.parent !== undefined)) return undefined;
  const first = JSON.stringify((results[0] as Obj).parent);
  return results.every((r) => JSON.stringify((r as Obj).parent) === first) ? (results[0] as Obj).parent : undefined;
}

function flattenUser(u: Obj): Obj {
  const out: Obj = { object: 'user', id: u.id, name: u.name, type: u.type, avatar_url: u.avatar_url };
  const email = (u.person as Obj | undefined)?.email;
  if (email) out.email = email;
  const bot = u.bot as Obj | undefined;
  if (bot?.workspace_name) out.workspace_name = bot.workspace_name;
  return out;
}

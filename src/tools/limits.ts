import { ToolError } from '../errors.js';

/**
 * Notion's documented request limits (developers.notion.com/reference/request-limits), checked
 * before a write is sent: text the model gives in one piece is split where Notion allows it, and
 * everything else Notion would refuse with a 400 becomes a tool error that names the field.
 */

/** One rich text item's `text.content` (and `text.link.url`). */
export const MAX_TEXT = 2000;
/** `equation.expression` of a rich text item. */
const MAX_EQUATION = 1000;
/** Items in any one array: rich text, children, multi_select, relation, people. */
export const MAX_ARRAY = 100;
/** Block elements in one request, nested children included. */
export const MAX_BLOCK_ELEMENTS = 1000;
/** Levels of `children` below the blocks of one request ("up to two levels of nesting"). */
export const MAX_NESTING = 2;
/** The whole JSON body. */
const MAX_PAYLOAD_BYTES = 500_000;
/** Far deeper than any body Notion takes; bounds the walk below (and the SDK's JSON.stringify). */
const MAX_DEPTH = 40;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (message: string) => new ToolError('invalid_arguments', message);

/** `value` in pieces of at most 2,000 UTF-16 units (Notion's limit), never splitting a surrogate pair. */
function textChunks(value: string): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < value.length; ) {
    let end = Math.min(i + MAX_TEXT, value.length);
    const last = value.charCodeAt(end - 1);
    if (end < value.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    chunks.push(value.slice(i, end));
    i = end;
  }
  return chunks;
}

/** A block's nested children arrays: `children` on the block or in its type's body. */
function nestedChildren(block: unknown): [string, unknown[]][] {
  if (!isObj(block)) return [];
  const out: [string, unknown[]][] = [];
  if (Array.isArray(block.children)) out.push(['children', block.children]);
  const type = typeof block.type === 'string' ? block.type : undefined;
  const body = type ? block[type] : undefined;
  if (type && isObj(body) && Array.isArray(body.children)) out.push([`${type}.children`, body.children]);
  return out;
}

/**
 * Refuses children Notion would refuse: more than two levels of nested children, or more than
 * 1,000 block elements in all. Iterative, so no input is too deep to be counted.
 */
export function checkBlocks(children: unknown[], field = 'children'): void {
  let total = 0;
  const todo: { blocks: unknown[]; level: number; path: string }[] = [{ blocks: children, level: 0, path: field }];
  for (let next = todo.pop(); next; next = todo.pop()) {
    const { blocks, level, path } = next;
    total += blocks.length;
    blocks.forEach((block, i) => {
      for (const [key, nested] of nestedChildren(block)) {
        const at = `${path}[${i}].${key}`;
        if (level >= MAX_NESTING) {
          throw invalid(
            `${at}: Notion takes at most ${MAX_NESTING} levels of nested children per call. Leave them out, then append them to the created block with append_block_children.`,
          );
        }
        todo.push({ blocks: nested, level: level + 1, path: at });
      }
    });
  }
  if (total > MAX_BLOCK_ELEMENTS) {
    throw invalid(`${field}: ${total} blocks with nested children; Notion takes at most ${MAX_BLOCK_ELEMENTS} per call. Split them.`);
  }
}

/** A rich text item whose text is too long becomes several items with the same annotations and link. */
function splitItem(item: unknown): unknown[] {
  if (!isObj(item) || !isObj(item.text) || typeof item.text.content !== 'string' || item.text.content.length <= MAX_TEXT) return [item];
  const text = item.text;
  return textChunks(item.text.content).map((content) => ({ ...item, text: { ...text, content } }));
}

function fit(value: unknown, path: string, depth: number): unknown {
  if (depth > MAX_DEPTH) throw invalid(`${path}: nested too deeply for Notion`);
  if (Array.isArray(value)) {
    const items = value.flatMap(splitItem);
    if (items.length > MAX_ARRAY) {
      const why = items.length > value.length ? ` (after splitting text into pieces of ${MAX_TEXT} characters)` : '';
      throw invalid(`${path}: ${items.length} items${why}; Notion takes at most ${MAX_ARRAY} per array. Send the rest in another call.`);
    }
    return items.map((item, i) => fit(item, `${path}[${i}]`, depth + 1));
  }
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [key, v] of Object.entries(value)) out[key] = fit(v, path ? `${path}.${key}` : key, depth + 1);
  if (isObj(out.text) && isObj(out.text.link) && typeof out.text.link.url === 'string' && out.text.link.url.length > MAX_TEXT) {
    throw invalid(`${path}.text.link.url: longer than ${MAX_TEXT} characters`);
  }
  if (isObj(out.equation) && typeof out.equation.expression === 'string' && out.equation.expression.length > MAX_EQUATION) {
    throw invalid(`${path}.equation.expression: longer than ${MAX_EQUATION} characters`);
  }
  return out;
}

/**
 * A write body as Notion takes it: rich text over 2,000 characters split into several items
 * (surrogate pairs kept whole); arrays over 100 items, bodies nested absurdly deep and bodies over
 * 500 KB refused with the field's name. `children` arrays are checked with `checkBlocks` too.
 */
export function fitBody<T extends Obj>(body: T): T {
  for (const [key, v] of Object.entries(body)) if (key === 'children' && Array.isArray(v)) checkBlocks(v);
  const out = fit(body, '', 0) as T;
  const bytes = Buffer.byteLength(JSON.stringify(out));
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw invalid(`The request would be ${Math.ceil(bytes / 1000)} KB; Notion takes at most ${MAX_PAYLOAD_BYTES / 1000} KB per call. Send the content in several calls.`);
  }
  return out;
}

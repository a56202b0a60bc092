/**
 * The result budget: no tool result is longer than a model client takes in one piece.
 *
 * Claude Code refuses tool output over 25,000 tokens (`MAX_MCP_OUTPUT_TOKENS`); claude.ai cuts
 * near 150,000 characters. Tokens are estimated conservatively at 3 characters (UTF-16 units) of
 * the result's JSON text per token (Markdown and English run near 4, JSON with IDs near 3), so a
 * result's text may be at most 75,000 characters. Only the length of the text already built is
 * measured: a result under the budget costs one comparison.
 *
 * A longer result is cut at a clean boundary, never silently, and says how to get the rest:
 * - `paging: 'list'` tools (a `results` array, or the columnar `rows` of query_data_source, with
 *   `start_cursor`): cut after the last whole item that fits; `next_cursor` becomes a continuation
 *   cursor (`nmr1.<skip>.<page size>.<Notion cursor>`) that the same tool takes as `start_cursor`:
 *   it asks Notion for the same page again and drops the items already returned, so nothing is
 *   missed or repeated. Cut `rows` also get `next_offset` (the `offset` argument plus the rows
 *   returned), which reads on from the same place.
 * - `paging: { text: field }` tools (one long string field and a `start` argument): the string is
 *   cut after a blank line, else a line break, else a space; `next_start` is the offset to pass
 *   as `start`, and the next call returns the text from exactly there.
 * - anything else (one item alone over the budget): the longest strings are shortened at a clean
 *   boundary, each marked `…[cut N characters]` (failing that, the longest arrays lose their last
 *   items, marked `…[cut N more items]`), and `cut` says so. No continuation exists there.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Claude Code's default cap on one tool result. */
export const RESULT_TOKEN_BUDGET = 25_000;
/** Conservative: real text averages more characters per token. */
export const CHARS_PER_TOKEN = 3;
/** The longest result text (UTF-16 units of its JSON) a tool returns. */
export const MAX_RESULT_CHARS = RESULT_TOKEN_BUDGET * CHARS_PER_TOKEN;
/** Room kept for the note and the continuation fields a cut adds. */
const NOTE_RESERVE = 600;

/** How a tool's result over the budget is continued. */
export type Paging = 'list' | { text: string };

const CURSOR = /^nmr1\.(\d+)\.(\d*)\.(.*)$/s;

/**
 * Before a `paging: 'list'` tool runs: a continuation cursor in `start_cursor` is replaced by the
 * Notion cursor and page size it stands for. Returns how many items of that page were already
 * returned (0 for an ordinary call).
 */
export function resumeList(args: Obj): number {
  const c = args.start_cursor;
  if (typeof c !== 'string') return 0;
  const m = CURSOR.exec(c);
  if (!m) return 0;
  const [, skip, size, cursor] = m;
  if (cursor) args.start_cursor = cursor;
  else delete args.start_cursor;
  if (size) args.page_size = Number(size);
  else delete args.page_size;
  return Number(skip);
}

/** A cut index at most `max` in `s`: after a blank line, else a line break, else a space, never inside a surrogate pair. */
export function cleanCut(s: string, max: number): number {
  if (s.length <= max) return s.length;
  const floor = Math.floor(max / 2);
  const head = s.slice(0, max);
  for (const sep of ['\n\n', '\n', ' ']) {
    const i = head.lastIndexOf(sep);
    if (i >= floor) return i + sep.length;
  }
  const code = s.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}

export interface Budgeted {
  /** The output to return (the same object when nothing was cut). */
  output: unknown;
  /** Its JSON text. */
  text: string;
}

/**
 * Applies the budget to a tool's output. `text` is the output's JSON if the caller has it;
 * `skip` is what `resumeList` returned; `start` the `start` argument of a text-paged tool.
 */
export function fitResult(tool: string, paging: Paging | undefined, output: unknown, args: Obj, skip = 0, max = MAX_RESULT_CHARS): Budgeted {
  output = resumeOutput(paging, output, args, skip);
  const text = JSON.stringify(output);
  if (text.length <= max) return { output, text };
  if (isObj(output)) {
    if (paging === 'list' && (Array.isArray(output.results) || Array.isArray(output.rows))) return cutList(tool, output, text, args, skip, max);
    if (paging && paging !== 'list' && typeof output[paging.text] === 'string') return cutText(tool, output, paging.text, text, args, max);
  }
  return shorten(output, text, max, `This result was longer than about ${RESULT_TOKEN_BUDGET.toLocaleString('en-US')} tokens: the longest texts (or lists) are shortened, each marked "…[cut N characters]" (or "…[cut N more items]"). Ask for less, e.g. with filter_properties.`);
}

/**
 * The part of a continued call's output not returned yet: a list without the `skip` items
 * already returned, a text from offset `start`.
 */
function resumeOutput(paging: Paging | undefined, output: unknown, args: Obj, skip: number): unknown {
  if (!paging || !isObj(output)) return output;
  if (paging !== 'list') return startAt(output, paging.text, args.start);
  const key = listKey(output);
  return skip > 0 && key ? { ...output, [key]: (output[key] as unknown[]).slice(skip) } : output;
}

/** The list a `paging: 'list'` result holds: `results`, or the columnar `rows`. */
const listKey = (output: Obj): 'results' | 'rows' | undefined =>
  Array.isArray(output.results) ? 'results' : Array.isArray(output.rows) ? 'rows' : undefined;

/** A continuation (`start` = N) returns the text from offset N. */
function startAt(output: Obj, field: string, start: unknown): Obj {
  const value = output[field];
  if (typeof start !== 'number' || start <= 0 || typeof value !== 'string') return output;
  return { ...output, [field]: value.slice(start), start };
}

function cutList(tool: string, output: Obj, text: string, args: Obj, skip: number, max: number): Budgeted {
  const key = listKey(output)!;
  const results = output[key] as unknown[];
  const room = max - (text.length - JSON.stringify(results).length) - NOTE_RESERVE;
  let used = 2;
  let k = 0;
  for (; k < results.length; k++) {
    const size = JSON.stringify(results[k]).length + 1;
    if (used + size > room) break;
    used += size;
  }
  const kept = results.slice(0, Math.max(k, 1));
  if (k === 0) kept[0] = shorten(kept[0], JSON.stringify(kept[0]), Math.max(room - 2, 1000), '').output;
  const taken = skip + kept.length;
  const cursor = typeof args.start_cursor === 'string' ? args.start_cursor : '';
  const size = typeof args.page_size === 'number' ? String(args.page_size) : '';
  const next_cursor = `nmr1.${taken}.${size}.${cursor}`;
  const out: Obj = { ...output, [key]: kept, has_more: true, next_cursor };
  let how = 'start_cursor = next_cursor';
  if (key === 'rows') {
    out.next_offset = (typeof args.offset === 'number' ? args.offset : 0) + taken;
    how += ' (or offset = next_offset)';
  }
  out.cut = `Cut after ${kept.length} of ${results.length} ${key === 'rows' ? 'rows' : 'results'} to stay under about ${RESULT_TOKEN_BUDGET.toLocaleString('en-US')} tokens${k === 0 ? ' (its long texts shortened, each marked "…[cut N characters]")' : ''}. For the rest call ${tool} again with the same arguments and ${how}.`;
  return { output: out, text: JSON.stringify(out) };
}

function cutText(tool: string, output: Obj, field: string, text: string, args: Obj, max: number): Budgeted {
  const value = output[field] as string;
  const escaped = JSON.stringify(value).length;
  const room = max - (text.length - escaped) - NOTE_RESERVE;
  // JSON escapes (\n, \") make the text longer than the string: scale by the measured ratio.
  let limit = Math.max(1, Math.floor(room * (value.length / escaped)));
  const from = typeof args.start === 'number' && args.start > 0 ? args.start : 0;
  for (;;) {
    const at = cleanCut(value, limit);
    const next_start = from + at;
    const out: Obj = {
      ...output,
      [field]: value.slice(0, at),
      next_start,
      cut: `Cut at character ${next_start} to stay under about ${Math.round(max / CHARS_PER_TOKEN).toLocaleString('en-US')} tokens. For the rest call ${tool} again with the same arguments and start = ${next_start}.`,
    };
    const json = JSON.stringify(out);
    if (json.length <= max || limit <= 1) return { output: out, text: json };
    limit = Math.floor(limit * 0.9);
  }
}

/**
 * Shortens the longest strings (at clean boundaries, each marked) until the JSON fits in `max`;
 * if strings alone cannot make it fit, the longest arrays lose their last items (marked too).
 */
function shorten(output: unknown, text: string, max: number, note: string): Budgeted {
  const copy = structuredClone(output) as unknown;
  const target = max - (note ? NOTE_RESERVE : 0);
  let json = text;
  for (let round = 0; round < 8 && json.length > target; round++) {
    const strings: { holder: Record<string | number, unknown>; key: string | number; length: number }[] = [];
    const arrays: unknown[][] = [];
    const walk = (v: unknown, depth: number) => {
      if (depth > 64) return;
      if (Array.isArray(v) && v.length > 1) arrays.push(v);
      const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : isObj(v) ? Object.entries(v) : [];
      for (const [key, x] of entries) {
        if (typeof x === 'string' && x.length > 200 && !x.endsWith(' characters]')) strings.push({ holder: v as Record<string | number, unknown>, key, length: x.length });
        else walk(x, depth + 1);
      }
    };
    walk(copy, 0);
    let over = json.length - target;
    if (strings.length > 0) {
      strings.sort((a, b) => b.length - a.length);
      for (const s of strings) {
        if (over <= 0) break;
        const value = s.holder[s.key] as string;
        const keep = cleanCut(value, Math.max(100, value.length - over - 40));
        const marker = `…[cut ${value.length - keep} characters]`;
        s.holder[s.key] = value.slice(0, keep) + marker;
        over -= value.length - keep - marker.length;
      }
    } else if (arrays.length > 0) {
      const longest = arrays.reduce((a, b) => (b.length > a.length ? b : a));
      const last = longest[longest.length - 1];
      const marked = typeof last === 'string' ? /^…\[cut (\d+) more items\]$/.exec(last) : null;
      const items = marked ? longest.length - 1 : longest.length;
      const keep = Math.ceil(items / 2);
      longest.splice(keep, longest.length - keep, `…[cut ${(marked ? Number(marked[1]) : 0) + items - keep} more items]`);
    } else break;
    json = JSON.stringify(copy);
  }
  const out = note && isObj(copy) ? { ...copy, cut: note } : copy;
  return { output: out, text: JSON.stringify(out) };
}

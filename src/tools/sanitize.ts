/**
 * Defences for content read from Notion before the model sees it. A page can be written by anyone
 * the workspace let in (a guest, a shared-page visitor, an integration), so its text may carry
 * instructions meant for the model, hidden from the person who reads the page:
 *
 * - invisible and bidirectional control characters, Unicode tag characters (U+E0000–E007F:
 *   "ASCII smuggling") and runs of variation selectors ("emoji smuggling") are removed;
 *   the joiners that writing systems and emoji need (ZWJ between emoji, ZWNJ between letters, one
 *   variation selector after its character, tag sequences of flag emoji) are kept;
 * - links and images keep only http(s) URLs (and Notion's own `user://<id>`-style references): a
 *   `javascript:`, `data:` or any other scheme in a Markdown link or image, an HTML-like
 *   `src`/`href`/`url` attribute, or a `url`/`href`/`src` field is dropped, the link's text kept.
 *
 * What this cannot do: text that is visible but hostile ("ignore your instructions…") reads like
 * any other text, and an http(s) image URL can still carry data out if a client renders it.
 */

type Obj = Record<string, unknown>;

const VS = '\\uFE00-\\uFE0F\\u{E0100}-\\u{E01EF}';
/** Always invisible, never needed: soft hyphen, fillers, zero-width space, marks, bidi controls, invisible operators, BOM, annotations. */
const ALWAYS =
  '\\u00AD\\u034F\\u061C\\u115F\\u1160\\u17B4\\u17B5\\u180B-\\u180F\\u200B\\u200E\\u200F\\u202A-\\u202E\\u2060-\\u206F\\u3164\\uFEFF\\uFFA0\\uFFF9-\\uFFFB\\u{1D173}-\\u{1D17A}';
const C0_C1 = '\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F';

/**
 * Everything to remove, in one pass: the characters above; a ZWJ not between emoji; a ZWNJ not
 * between letters; a variation selector after another one; a run of tag characters, unless it is
 * a flag's tag sequence (kept with its U+1F3F4).
 */
const STRIP = new RegExp(
  [
    `[${ALWAYS}${C0_C1}]`,
    '\\u200D(?!\\p{Extended_Pictographic})',
    '(?<!\\p{Extended_Pictographic}[\\uFE0F\\u{1F3FB}-\\u{1F3FF}]?)\\u200D',
    '\\u200C(?!\\p{L})',
    '(?<!\\p{L}\\p{M}*)\\u200C',
    `(?<=[${VS}])[${VS}]`,
    '(\\u{1F3F4}?)[\\u{E0000}-\\u{E007F}]+',
  ].join('|'),
  'gu',
);
/** The tags of a subdivision flag (🏴 + 2 to 6 letters or digits + cancel tag), e.g. Scotland's. */
const FLAG_TAGS = /^[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{2,6}\u{E007F}$/u;

/**
 * Notion's own references in its Markdown and objects (`user://<id>`, `collection://<id>`,
 * `discussion://<id>`): an ID the API resolves, nothing a client opens, and needed to write a
 * mention back. Only a bare ID may follow, so nothing else rides on them.
 */
const NOTION_REF = '[a-z][a-z-]*://[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}(?![\\w.~%/?#&=+-])';
/** A scheme other than http(s), at the start of a URL that is no Notion reference. */
const BAD_SCHEME = `(?!https?:|${NOTION_REF})[a-z][a-z0-9+.-]*:`;
/** `[text](url)` and `![alt](url)` with another scheme: the text stays, the link goes. */
const MD_LINK = new RegExp(`(!?)\\[([^\\]\\n]*)\\]\\(\\s*<?${BAD_SCHEME}(?:[^()\\n]|\\([^()\\n]*\\))*\\)`, 'giu');
/** `src="…"`, `href="…"`, `url="…"`, `source="…"` attributes of Notion's Markdown tags. */
const ATTR = new RegExp(`\\b(src|href|url|source)=(["'])\\s*${BAD_SCHEME}[^"'\\n]*\\2`, 'giu');
/** JSON fields that hold a link. */
const LINK_FIELDS = new Set(['url', 'href', 'src', 'source', 'link']);

/**
 * A quick test on a result's JSON text: true when it may hold anything `sanitize` changes. It runs
 * on every result and finds nothing in almost every one, so it is three scans written for V8's
 * fast paths (about 2 ns a character together, against 11 ns for one regex with every rule):
 * the characters (astral ones by their surrogates: tags and variation selectors supplement are
 * U+DB40 U+DC00–DDEF, the musical invisibles U+D834 U+DD73–DD7A); C0 controls, which JSON text
 * writes as escapes (`\b`, `\f`, `\u00XX`; text with a backslash before such letters also matches,
 * which only costs that result the walk); and a scheme other than http(s) after `](`, `="` or `":"`.
 */
const SUSPECT = [
  new RegExp(`[${ALWAYS.replace('\\u{1D173}-\\u{1D17A}', '')}\\u007F-\\u009F\\u200C\\u200D\\uFE00-\\uFE0F]|\\uDB40|\\uD834[\\uDD73-\\uDD7A]`),
  /\\(?:[bf]|u00(?:0[0-8bcef]|1[0-9a-f]|7f))/i,
  new RegExp(`(?:\\]\\(|=\\\\?["']|":")\\s*<?${BAD_SCHEME}`, 'i'),
];

export const mayNeedSanitizing = (json: string): boolean => SUSPECT.some((r) => r.test(json));

/** One string, cleaned. */
export function sanitizeText(text: string): string {
  // A removal can bring two characters together that the rules treat differently side by side
  // (two variation selectors around a stray joiner): repeat until nothing changes.
  for (;;) {
    const next = text
      .replace(STRIP, (m: string, flag?: string) => (flag && FLAG_TAGS.test(m.slice(flag.length)) ? m : (flag ?? '')))
      .replace(MD_LINK, (_, image: string, label: string) => (image ? label || '(image removed: not an http(s) URL)' : label))
      .replace(ATTR, (_, name: string, quote: string) => `${name}=${quote}${quote}`);
    if (next === text) return text;
    text = next;
  }
}

const BAD_START = new RegExp(`^\\s*${BAD_SCHEME}`, 'i');
const isHttp = (s: string) => !BAD_START.test(s);

/** A tool's output with every string cleaned, and link fields that are not http(s) set to null. */
export function sanitize(value: unknown, key?: string): unknown {
  if (typeof value === 'string') {
    if (key !== undefined && LINK_FIELDS.has(key) && !isHttp(value)) return null;
    return sanitizeText(value);
  }
  if (Array.isArray(value)) return value.map((v) => sanitize(v));
  if (typeof value !== 'object' || value === null) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) out[sanitizeText(k)] = sanitize(v, k);
  return out;
}

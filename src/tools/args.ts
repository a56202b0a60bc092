import { extractNotionId } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import type { ToolAnnotations } from './registry.js';

// Argument pieces and annotations shared by the tool files in ./tools.

const UUID = '[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const BLOCK_FRAGMENT = new RegExp(`#(?:block-)?(${UUID})(?![0-9a-f])`, 'i');

/**
 * A block ID from a UUID, a dashless ID or a Notion URL. A URL's `#<block id>` fragment (what
 * "Copy link to block" gives; dashed or dashless, with or without `block-`) wins over the page
 * ID in its path.
 */
function toBlockId(value: string): string | null {
  const fragment = BLOCK_FRAGMENT.exec(value.trim());
  return extractNotionId(fragment?.[1] ?? value);
}

/**
 * A string argument read into an ID by `extract`; `null` is refused with `message` (which
 * formatIssues prefixes with the field's name).
 */
export function idArg(describe: string | undefined, extract: (value: string) => string | null, message: string) {
  const text = describe ? z.string().describe(describe) : z.string();
  return text.transform((value, ctx) => {
      const id = extract(value);
      if (!id) {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return id;
    });
}

/**
 * An ID argument: a UUID, a dashless ID or a notion.so / notion.site URL, normalised to a
 * dashed UUID before it reaches Notion. `notionId('block')` is the one block ID parser: it
 * honours a URL's `#<block id>` fragment, so a page URL names the page and a block link the block.
 */
export function notionId(what: string, describe?: string) {
  // Unlabelled by default: an ID field needs no description, and every conversation pays for one.
  return idArg(
    describe,
    what === 'block' ? toBlockId : extractNotionId,
    `expected a ${what === 'block' ? 'block or page' : what} ID (UUID, with or without dashes) or a Notion URL`,
  );
}

/** A paging cursor: the `next_cursor` of the previous call. */
export const startCursor = z.string().optional();

/** Where a text cut by the result budget continues: the `next_start` of the previous call. */
export const textStart = z
  .number()
  .refine((n) => Number.isInteger(n) && n >= 0, 'expected a whole number from 0')
  .optional()
  .describe('next_start of a cut result');

/**
 * A smaller result budget for this call, in tokens (see budget.ts): a long text comes in parts of
 * at most this size, each with the `next_start` of the next.
 */
export const maxTokens = z
  .number()
  .refine((n) => Number.isInteger(n) && n >= 500 && n <= 25_000, 'expected an integer from 500 to 25000')
  .optional()
  .describe('Part size, 500–25000');

/** 1–100; checked here rather than in the schema, where zod's integer bounds would cost bytes. */
export const pageSize = z
  .number()
  .refine((n) => Number.isInteger(n) && n >= 1 && n <= 100, 'expected an integer from 1 to 100')
  .optional();

const GRAPHEMES = new Intl.Segmenter('en', { granularity: 'grapheme' });
const UUID_ONLY = new RegExp(`^(?:${UUID})$`, 'i');

/** Exactly one emoji: a pictographic sequence (with skin tone, ZWJ, VS16), a flag or a keycap. */
function isEmoji(s: string): boolean {
  if ([...GRAPHEMES.segment(s)].length !== 1) return false;
  return /^\p{Extended_Pictographic}/u.test(s) || /^\p{Regional_Indicator}{2}$/u.test(s) || /^[0-9#*]\uFE0F?\u20E3$/u.test(s);
}

const NOT_AN_ICON = 'expected one emoji character (e.g. 🚀), an image URL (https://…), a custom emoji ID (list_custom_emojis) or an icon object';

/**
 * An icon as Notion takes it: one emoji, an http(s) image URL (external), a custom emoji's UUID,
 * or Notion's icon object (also as JSON text); null clears the icon. Anything else, such as
 * ":rocket:" or "🚀 Launch", is refused here: Notion would refuse it as an emoji.
 */
export function toIcon(value: string | Record<string, unknown> | null): Record<string, unknown> | null {
  if (value === null) return null;
  let v: unknown = value;
  if (typeof v === 'string' && v.trim().startsWith('{')) {
    try {
      v = JSON.parse(v);
    } catch {
      // Not JSON: refused below as a string.
    }
  }
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (o.type === 'emoji' && !(typeof o.emoji === 'string' && isEmoji(o.emoji))) throw new ToolError('invalid_arguments', `icon.emoji: ${NOT_AN_ICON}`);
    return o;
  }
  const s = String(v).trim();
  if (/^https?:\/\/\S+$/i.test(s)) return { type: 'external', external: { url: s } };
  if (UUID_ONLY.test(s)) return { type: 'custom_emoji', custom_emoji: { id: extractNotionId(s)! } };
  if (isEmoji(s)) return { type: 'emoji', emoji: s };
  throw new ToolError('invalid_arguments', `icon: ${JSON.stringify(s.slice(0, 40))} is not an icon; ${NOT_AN_ICON}`);
}

/** Hints of a tool that only reads. */
export const READ = { readOnlyHint: true, idempotentHint: true } as const;
/** Hints of a tool that overwrites or deletes, with the same result when repeated. */
export const OVERWRITE = { destructiveHint: true, idempotentHint: true } as const;

/** A tool's annotations: by default a write that adds (not destructive, not idempotent). */
export const annotations = (title: string, hints: Partial<Omit<ToolAnnotations, 'title'>> = {}): ToolAnnotations => ({
  title,
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: true,
  ...hints,
});

import { extractNotionId } from '@notionhq/client';
import { z } from 'zod';
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
export function idArg(describe: string, extract: (value: string) => string | null, message: string) {
  return z
    .string()
    .describe(describe)
    .transform((value, ctx) => {
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
export function notionId(what: string, describe = `${what} ID or URL`) {
  return idArg(
    describe,
    what === 'block' ? toBlockId : extractNotionId,
    `expected a ${what === 'block' ? 'block or page' : what} ID (UUID, with or without dashes) or a Notion URL`,
  );
}

/** A paging cursor: the `next_cursor` of the previous call. */
export const startCursor = z.string().optional();

/** 1–100; checked here rather than in the schema, where zod's integer bounds would cost bytes. */
export const pageSize = z
  .number()
  .refine((n) => Number.isInteger(n) && n >= 1 && n <= 100, 'expected an integer from 1 to 100')
  .optional();

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

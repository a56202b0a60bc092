import { extractBlockId, extractNotionId } from '@notionhq/client';
import { z } from 'zod';

/**
 * An ID argument: a UUID, a dashless ID or a notion.so / notion.site URL, normalised to a
 * dashed UUID before it reaches Notion. For blocks, a URL's `#<block id>` fragment wins over
 * the page in its path, because that is what "copy link to block" gives.
 */
export function notionId(what: string) {
  const extract = what === 'block' ? (v: string) => extractBlockId(v) ?? extractNotionId(v) : extractNotionId;
  return z
    .string()
    .describe(`${what} ID or URL`)
    .transform((value, ctx) => {
      const id = extract(value);
      if (!id) {
        ctx.addIssue({ code: 'custom', message: `expected a ${what} ID (UUID, with or without dashes) or a Notion URL` });
        return z.NEVER;
      }
      return id;
    });
}

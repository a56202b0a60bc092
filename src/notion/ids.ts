import { extractNotionId } from '@notionhq/client';
import { z } from 'zod';

/**
 * An ID argument: a UUID, a dashless ID or a notion.so / notion.site URL, normalised to a
 * dashed UUID before it reaches Notion.
 */
export function notionId(what: string) {
  return z
    .string()
    .describe(`${what} ID or Notion URL`)
    .transform((value, ctx) => {
      const id = extractNotionId(value);
      if (!id) {
        ctx.addIssue({ code: 'custom', message: `expected a ${what} ID (UUID, with or without dashes) or a Notion URL` });
        return z.NEVER;
      }
      return id;
    });
}

import type { ListCustomEmojisResponse } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool, type ToolContext } from './registry.js';
import { annotations, notionId, OVERWRITE, pageSize, READ, startCursor } from './args.js';
import { isNotFound } from '../notion/resolve.js';
import type { NotionSession } from '../notion/session.js';
import { shape } from '../notion/shape.js';
import { eachStep } from './steps.js';

const KINDS = ['page', 'block', 'database', 'data_source'] as const;
type Kind = (typeof KINDS)[number];

/** Most items one trash call takes: each is one or two Notion calls, paced by the rate gate. */
export const MAX_TRASH_ITEMS = 50;

/**
 * What an ID names, in one call: a block lookup answers for pages (child_page) and databases
 * (child_database) too; only data sources, which are not blocks, are not found.
 */
async function kindOf(notion: NotionSession, id: string): Promise<Kind> {
  try {
    const block = await notion.get<{ type?: string }>(`blocks/${id}`);
    return block.type === 'child_page' ? 'page' : block.type === 'child_database' ? 'database' : 'block';
  } catch (err) {
    if (isNotFound(err)) return 'data_source';
    throw err;
  }
}

/** Moves one item to the trash or back, with the endpoint its kind takes. */
function setTrashed(notion: NotionSession, id: string, kind: Kind, in_trash: boolean): Promise<unknown> {
  return notion.write<unknown>((n, auth) => {
    switch (kind) {
      case 'block':
        return in_trash ? n.blocks.delete({ block_id: id, auth }) : n.blocks.update({ block_id: id, in_trash, auth });
      case 'database':
        return n.databases.update({ database_id: id, in_trash, auth });
      case 'data_source':
        return n.dataSources.update({ data_source_id: id, in_trash, auth });
      default:
        return n.pages.update({ page_id: id, in_trash, auth });
    }
  });
}

/**
 * Trashes or restores each item in turn; one failure does not stop the rest, and each says how it
 * went. A cancelled call stops between items and lists the IDs it did not get to as `not_run`.
 */
async function trashAll(ctx: ToolContext, ids: string[], kind: Kind | undefined, restore: boolean) {
  const done: { id: string; kind: Kind }[] = [];
  const failed: { id: string; error: string; message: string }[] = [];
  let firstError: ToolError | undefined;
  const ran = await eachStep(ids, ctx, async (id) => {
    try {
      const k = kind ?? (await kindOf(ctx.notion, id));
      await setTrashed(ctx.notion, id, k, !restore);
      done.push({ id, kind: k });
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      firstError ??= err;
      failed.push({ id, error: err.code, message: err.message });
    }
  });
  const notRun = ids.slice(ran);
  // Nothing changed: the call failed, with Notion's own error (and hint) for the first item.
  if (firstError && done.length === 0 && notRun.length === 0) {
    if (ids.length === 1) throw firstError;
    throw new ToolError(firstError.code, `None of the ${ids.length} items changed. First: ${firstError.message}`, { ...firstError.extra, failed });
  }
  return { [restore ? 'restored' : 'trashed']: done, ...(failed.length ? { failed } : {}), ...(notRun.length ? { not_run: notRun } : {}) };
}

export const workspaceTools = [
  defineTool({
    name: 'trash',
    description: `Trash pages, blocks, databases or data sources (restore: true brings them back); a page goes with everything in it: ask the user first. Up to ${MAX_TRASH_ITEMS} IDs, each with its outcome.`,
    input: {
      ids: z.array(notionId('block')).min(1).max(MAX_TRASH_ITEMS),
      restore: z.boolean().optional(),
      kind: z.enum(KINDS).optional().describe('Skips a lookup per ID'),
    },
    annotations: annotations('Trash or restore', OVERWRITE),
    run: async ({ ids, restore, kind }, ctx) => trashAll(ctx, [...new Set(ids)], kind, restore === true),
  }),
  defineTool({
    name: 'list_custom_emojis',
    description: "List the workspace's custom emojis (id, name, url), e.g. to use one as an icon.",
    input: {
      name: z.string().optional().describe('Filter by name'),
      start_cursor: startCursor,
      page_size: pageSize,
    },
    annotations: annotations('List custom emojis', READ),
    run: async (query, { notion }) => shape(await notion.get<ListCustomEmojisResponse>('custom_emojis', query)),
  }),
  defineTool({
    name: 'restore_from_trash',
    description: 'Restore a page, block, database or data source from the trash.',
    input: {
      id: notionId('trashed item'),
      kind: z.enum(KINDS).default('page'),
    },
    annotations: annotations('Restore from trash', { idempotentHint: true }),
    run: async ({ id, kind }, ctx) => trashAll(ctx, [id], kind, true),
  }),
];

import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool, type ToolContext, type ToolDef } from './registry.js';
import { annotations } from './args.js';
import { pageTools } from './pages.js';
import { eachStep } from './steps.js';

type Obj = Record<string, unknown>;

/** Most items one save_pages call takes: at Notion's 3 requests a second, about half a minute. */
export const MAX_BATCH_ITEMS = 100;

/** Errors after which the rest of a batch would fail too: stop and say which items did not run. */
const STOPS = new Set(['rate_limited', 'shutting_down', 'too_many_concurrent_calls', 'notion_unreachable', 'notion_timeout', 'unauthorized']);

const byName = (name: string): ToolDef => pageTools.find((t) => t.name === name)!;
const createPage = byName('create_page');
const updatePage = byName('update_page');
const createSchema = z.object(createPage.input);
const updateSchema = z.object(updatePage.input);

const issues = (e: z.ZodError) => e.issues.slice(0, 3).map((i) => `${i.path.join('.') || 'item'}: ${i.message}`).join('; ');

/**
 * Runs each item as create_page or update_page would, in order, each paced by the connection's
 * rate gate. Every item reports its outcome by index, so a partial failure (or a cancelled call)
 * is resumed by sending only the failed and not-run items again.
 */
async function saveAll(items: Obj[], parent: unknown, ctx: ToolContext) {
  const saved: Obj[] = [];
  const failed: Obj[] = [];
  const ran = await eachStep(items, ctx, async (item, index) => {
    const update = item.page_id !== undefined;
    const parsed = update ? updateSchema.safeParse(item) : createSchema.safeParse(parent !== undefined && item.parent === undefined ? { ...item, parent } : item);
    if (!parsed.success) {
      failed.push({ index, error: 'invalid_arguments', message: issues(parsed.error) });
      return;
    }
    try {
      const res = (await (update ? updatePage : createPage).run(parsed.data as never, ctx)) as Obj;
      saved.push({ index, action: update ? 'updated' : 'created', id: res.id, url: res.url });
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      failed.push({ index, error: err.code, message: err.message });
      return !STOPS.has(err.code);
    }
  });
  const notRun = items.map((_, i) => i).slice(ran);
  if (saved.length === 0 && failed.length > 0 && notRun.length === 0 && items.length === 1) {
    const only = failed[0]!;
    throw new ToolError(String(only.error), String(only.message));
  }
  const out: Obj = { saved };
  if (failed.length) out.failed = failed;
  if (notRun.length) out.not_run = notRun;
  if (failed.length || notRun.length) out.resume = 'Send only the items at the failed and not_run indexes again (after fixing or waiting).';
  return out;
}

export const batchTools = [
  defineTool({
    name: 'save_pages',
    description: `Create or update up to ${MAX_BATCH_ITEMS} pages or rows in one call: items with page_id are updated (as update_page), others created (as create_page). Each reports its outcome by index.`,
    input: {
      items: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_BATCH_ITEMS),
      parent: z.union([z.string(), z.record(z.string(), z.unknown())]).optional().describe('For new items without one'),
    },
    annotations: annotations('Create or update pages', { destructiveHint: true }),
    run: async ({ items, parent }, ctx) => saveAll(items, parent, ctx),
  }),
];

import type { AppendBlockChildrenParameters, GetBlockResponse, ListBlockChildrenResponse, UpdateBlockParameters } from '@notionhq/client';
// The SDK sends only these body keys of an update and silently drops the rest; checking against
// the same list turns a would-be silent no-op into an error the model can fix.
import { updateBlock as updateBlockEndpoint } from '@notionhq/client/build/src/api-endpoints/blocks.js';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from './registry.js';
import { annotations, notionId, OVERWRITE, pageSize, READ, startCursor } from './args.js';
import { confirmation } from './confirm.js';
import { fitBody, MAX_ARRAY } from './limits.js';
import type { NotionSession } from '../notion/session.js';
import { shape } from '../notion/shape.js';
import { provenance, withheldNote } from './provenance.js';

const blockId = notionId('block', 'Block ID or URL');
const pageOrBlockId = notionId('block', 'Page or block ID or URL');
const blockObject = z.record(z.string(), z.unknown());

const UPDATABLE = new Set<string>(updateBlockEndpoint.bodyParams);

type Position = NonNullable<AppendBlockChildrenParameters['position']>;

/** `position` as Notion takes it since 2026-03-11; the legacy `after` id means after_block. */
function appendPosition(position: string | Record<string, unknown> | undefined, after: string | undefined): Position | undefined {
  if (position === undefined) return after ? { type: 'after_block', after_block: { id: after } } : undefined;
  const type = typeof position === 'string' ? position : position.type;
  if (type === 'start' || type === 'end') return { type };
  if (type !== 'after_block' || typeof position === 'string') {
    throw new ToolError('invalid_arguments', 'position: expected "start", "end" or {"type":"after_block","after_block":{"id":<block ID>}}');
  }
  const raw = (position.after_block as { id?: unknown } | undefined)?.id;
  const id = typeof raw === 'string' ? blockId.safeParse(raw).data : after;
  if (!id) throw new ToolError('invalid_arguments', 'position.after_block.id: expected the ID of a block in the parent');
  return { type: 'after_block', after_block: { id } };
}

/**
 * A child page or database is a block of its parent: trashing that block trashes the page or
 * database and everything in it. Unless `allow` says the user agreed, the block is read first
 * (one GET) and such a block is refused before anything is written.
 */
async function refuseTrashingPages(notion: NotionSession, blockId: string, allow: boolean | undefined): Promise<void> {
  if (allow) return;
  const block = await notion.get<GetBlockResponse>(`blocks/${blockId}`);
  if (!('type' in block) || (block.type !== 'child_page' && block.type !== 'child_database')) return;
  const what = block.type === 'child_page' ? 'page' : 'database';
  const title = block.type === 'child_page' ? block.child_page.title : block.child_database.title;
  throw new ToolError(
    'confirmation_required',
    `Block ${blockId} is the ${what} "${title}": trashing it trashes the ${what} and everything in it. Ask the user first; only if they agree, call again with allow_deleting_content: true.`,
  );
}

export const blocksTools = [
  defineTool({
    name: 'get_block',
    description: "Retrieve one block: type, text as Markdown, has_children. A page's content: get_block_children.",
    input: { block_id: blockId },
    annotations: annotations('Get block', READ),
    run: async ({ block_id }, ctx) => {
      const block = await ctx.notion.get<GetBlockResponse>(`blocks/${block_id}`);
      const who = await provenance(ctx);
      return who.vetOne(block, shape(block), 'block');
    },
  }),
  defineTool({
    name: 'get_block_children',
    description:
      'List the blocks in a page or block with their IDs, 100 per call (more: start_cursor = next_cursor); nested blocks need their own call.',
    input: { block_id: pageOrBlockId, start_cursor: startCursor, page_size: pageSize },
    annotations: annotations('Get block children', READ),
    paging: 'list',
    run: async ({ block_id, ...query }, ctx) => {
      const raw = await ctx.notion.get<ListBlockChildrenResponse>(`blocks/${block_id}/children`, query);
      const who = await provenance(ctx);
      const list = shape(raw) as Record<string, unknown>;
      const { kept, withheld } = who.vetList(raw.results, list.results as unknown[]);
      return { ...list, results: kept, ...withheldNote(withheld) };
    },
  }),
  defineTool({
    name: 'append_block_children',
    description:
      'Add up to 100 blocks to a page or block, at the end unless position says otherwise, e.g. {"paragraph":{"rich_text":[{"text":{"content":"Hi"}}]}}. Returns their IDs.',
    input: {
      block_id: pageOrBlockId,
      children: z
        .array(blockObject)
        .max(MAX_ARRAY, `at most ${MAX_ARRAY} blocks per call: send the rest in another call, with position after the last block added`)
        .describe('Block objects'),
      position: z
        .union([z.enum(['start', 'end']), z.record(z.string(), z.unknown())])
        .optional()
        .describe('Or {"type":"after_block","after_block":{"id":…}}'),
      after: notionId('block', 'A block ID: insert after it').optional(),
    },
    annotations: annotations('Append blocks'),
    run: async ({ block_id, children, position, after }, { notion }) => {
      const pos = appendPosition(position, after);
      const body = fitBody({ children, ...(pos ? { position: pos } : {}) }) as Omit<AppendBlockChildrenParameters, 'block_id'>;
      const res = await notion.write((n, auth) => n.blocks.children.append({ block_id, ...body, auth }));
      // The new blocks' IDs and types, in order: what a following edit needs.
      return { block_id, added: res.results.map((b) => ({ id: b.id, ...('type' in b ? { type: b.type } : {}) })) };
    },
  }),
  defineTool({
    name: 'update_block',
    description:
      'Change a block\'s content, keeping its type, e.g. content {"to_do":{"checked":true}}; in_trash true trashes (a child page or database: ask the user first), false restores.',
    input: {
      block_id: blockId,
      content: z.record(z.string(), z.unknown()).optional().describe('{<block type>: body}'),
      in_trash: z.boolean().optional(),
      allow_deleting_content: z.boolean().optional(),
    },
    annotations: annotations('Update block', OVERWRITE),
    run: async ({ block_id, content = {}, in_trash, allow_deleting_content }, { notion }) => {
      const body: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(content)) {
        if (key === 'archived') body.in_trash = value;
        else if (UPDATABLE.has(key)) body[key] = value;
        else {
          throw new ToolError(
            'invalid_arguments',
            `content.${key}: not a block type Notion can update. Wrap the body in the block's type, e.g. {"paragraph":{"rich_text":[…]}}.`,
          );
        }
      }
      if (in_trash !== undefined) body.in_trash = in_trash;
      if (Object.keys(body).length === 0) throw new ToolError('invalid_arguments', 'content: nothing to update; give content or in_trash');
      if (body.in_trash === true) await refuseTrashingPages(notion, block_id, allow_deleting_content);
      const params = { block_id, ...fitBody(body) } as UpdateBlockParameters;
      const res = await notion.write((n, auth) => n.blocks.update({ ...params, auth }));
      return confirmation(res, { ...('type' in res ? { type: res.type } : {}), changed: Object.keys(body) });
    },
  }),
  defineTool({
    name: 'delete_block',
    description: 'Move a block to the trash (update_block with in_trash false restores it). A child page or database only with allow_deleting_content: ask the user first.',
    input: { block_id: blockId, allow_deleting_content: z.boolean().optional() },
    annotations: annotations('Delete block', OVERWRITE),
    run: async ({ block_id, allow_deleting_content }, ctx) => {
      await refuseTrashingPages(ctx.notion, block_id, allow_deleting_content);
      const block = await ctx.notion.write((n, auth) => n.blocks.delete({ block_id, auth }));
      return (await provenance(ctx)).vetEcho(block, shape(block), 'block');
    },
  }),
];

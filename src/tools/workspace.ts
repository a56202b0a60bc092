import type { ListCustomEmojisResponse } from '@notionhq/client';
import { z } from 'zod';
import { defineTool } from './registry.js';
import { annotations, notionId, pageSize, READ, startCursor } from './args.js';
import { shape } from '../notion/shape.js';

export const workspaceTools = [
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
      kind: z.enum(['page', 'block', 'database', 'data_source']).default('page'),
    },
    annotations: annotations('Restore from trash', { idempotentHint: true }),
    run: async ({ id, kind }, { notion }) =>
      shape(
        await notion.write<unknown>((n, auth) => {
          switch (kind) {
            case 'block':
              return n.blocks.update({ block_id: id, in_trash: false, auth });
            case 'database':
              return n.databases.update({ database_id: id, in_trash: false, auth });
            case 'data_source':
              return n.dataSources.update({ data_source_id: id, in_trash: false, auth });
            default:
              return n.pages.update({ page_id: id, in_trash: false, auth });
          }
        }),
      ),
  }),
];

import { extractNotionId, type GetAsyncTaskResponse, type ListCustomEmojisResponse } from '@notionhq/client';
import { z } from 'zod';
import { defineTool } from './registry.js';
import { annotations, idArg, notionId, pageSize, READ, startCursor } from './args.js';
import { shape } from '../notion/shape.js';

/**
 * An async task id, or the task's status_url (…/v1/async_tasks/<id>). A dashless Notion id is
 * dashed; anything else must be a plain token, so it cannot reach another endpoint's path.
 */
const taskId = idArg(
  'Task ID or status_url',
  (value) => {
    let raw = value.trim();
    if (/^https:\/\//i.test(raw)) {
      const m = /\/async_tasks\/([^/?#]+)\/?(?:[?#].*)?$/.exec(raw);
      raw = m?.[1] ?? '';
    }
    const id = /^[0-9a-f]{32}$/i.test(raw) ? (extractNotionId(raw) ?? raw) : raw;
    return /^[A-Za-z0-9_-]{1,100}$/.test(id) ? id : null;
  },
  'expected an async task ID or its status_url',
);

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
    name: 'get_async_task',
    description:
      'Status of a write made with allow_async: queued, running or retrying (poll again after poll_after_seconds), succeeded with its result, or failed with its error.',
    input: { task_id: taskId },
    annotations: annotations('Get async task', READ),
    run: async ({ task_id }, { notion }) => shape(await notion.get<GetAsyncTaskResponse>(`async_tasks/${task_id}`)),
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

import type { GetSelfResponse, GetUserResponse, ListUsersResponse } from '@notionhq/client';
import { defineTool } from './registry.js';
import { annotations, notionId, pageSize, READ, startCursor } from './args.js';
import { shape } from '../notion/shape.js';

export const usersTools = [
  defineTool({
    name: 'get_users',
    description: 'List the people and bots of the workspace (more: start_cursor = next_cursor).',
    input: { start_cursor: startCursor, page_size: pageSize },
    annotations: annotations('List users', READ),
    paging: 'list',
    run: async (query, { notion }) => shape(await notion.get<ListUsersResponse>('users', query)),
  }),
  defineTool({
    name: 'get_user',
    description: 'Retrieve one person or bot.',
    input: { user_id: notionId('user') },
    annotations: annotations('Get user', READ),
    run: async ({ user_id }, { notion }) => shape(await notion.get<GetUserResponse>(`users/${user_id}`)),
  }),
  defineTool({
    name: 'get_self',
    description: "This connection's bot user and its workspace.",
    input: {},
    annotations: annotations('Get connection user', READ),
    run: async (_args, { notion }) => shape(await notion.get<GetSelfResponse>('users/me')),
  }),
];

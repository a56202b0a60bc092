import { defineTool } from '../../mcp/tools.js';
import { annotations, notionId, pageSize, READ, startCursor } from '../args.js';
import { shape } from '../shape.js';

export const usersTools = [
  defineTool({
    name: 'get_users',
    description: 'List the people and bots of the workspace (more: start_cursor = next_cursor).',
    input: { start_cursor: startCursor, page_size: pageSize },
    annotations: annotations('List users', READ),
    run: async (args, { notion }) => shape(await notion.read((n, auth) => n.users.list({ ...args, auth }))),
  }),
  defineTool({
    name: 'get_user',
    description: 'Retrieve one person or bot.',
    input: { user_id: notionId('user') },
    annotations: annotations('Get user', READ),
    run: async ({ user_id }, { notion }) => shape(await notion.read((n, auth) => n.users.retrieve({ user_id, auth }))),
  }),
  defineTool({
    name: 'get_self',
    description: "This connection's bot user and its workspace.",
    input: {},
    annotations: annotations('Get connection user', READ),
    // GetSelfParameters is Record<string, never>, which rejects even `auth` in the SDK's types.
    run: async (_args, { notion }) => shape(await notion.read((n, auth) => n.users.me({ auth } as Parameters<typeof n.users.me>[0]))),
  }),
];

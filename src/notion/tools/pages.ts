import { z } from 'zod';
import { defineTool } from '../../mcp/tools.js';
import { notionId } from '../ids.js';
import { shape } from '../shape.js';

export const pageTools = [
  defineTool({
    name: 'get_page',
    description: "Retrieve a page's properties (not its content). Accepts a page ID or a notion.so URL.",
    input: {
      page_id: notionId('page'),
      filter_properties: z.array(z.string()).optional().describe('Property IDs to return; omit for all'),
    },
    annotations: { title: 'Get page', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    run: async (args, { notion }) => shape(await notion.read((n, auth) => n.pages.retrieve({ ...args, auth }))),
  }),
];

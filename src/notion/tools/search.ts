import { z } from 'zod';
import { defineTool } from '../../mcp/tools.js';
import { shape } from '../shape.js';

export const searchTools = [
  defineTool({
    name: 'search',
    description:
      'Search pages and data sources shared with this connection by title. Results keep `object` ("page" or "data_source"), `id`, `url` and `parent`. Paginate with start_cursor = next_cursor.',
    input: {
      query: z.string().optional().describe('Text to match in titles; omit to list everything shared'),
      filter: z
        .object({ property: z.literal('object'), value: z.enum(['page', 'data_source']) })
        .optional()
        .describe('Only pages or only data sources'),
      sort: z
        .object({ timestamp: z.literal('last_edited_time'), direction: z.enum(['ascending', 'descending']) })
        .optional(),
      start_cursor: z.string().optional(),
      page_size: z.number().int().min(1).max(100).optional(),
    },
    annotations: { title: 'Search Notion', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    run: async (args, { notion }) => shape(await notion.read((n, auth) => n.search({ ...args, auth }))),
  }),
];

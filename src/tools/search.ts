import { extractNotionId, type GetPageResponse } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from './registry.js';
import { annotations, notionId, pageSize, READ, startCursor } from './args.js';
import { getDatabase, getDataSource, isNotFound } from '../notion/resolve.js';
import type { NotionSession } from '../notion/session.js';
import { shape } from '../notion/shape.js';

const blockId = notionId('block');

/**
 * Works out what an id or URL points at. A block lookup answers for pages (child_page) and
 * databases (child_database) too, so one call tells the kind; only data sources, which are not
 * blocks, need a second lookup.
 */
async function fetchAnything(notion: NotionSession, raw: string, withContent: boolean): Promise<unknown> {
  const trimmed = raw.trim();
  const collection = /^collection:\/\/(.+)$/.exec(trimmed);
  // A URL with a #block fragment points at that block, not at the page.
  const id = collection ? extractNotionId(collection[1]!) : blockId.safeParse(trimmed).data;
  if (!id) throw new ToolError('invalid_arguments', 'id: expected a Notion URL, an ID (with or without dashes) or collection://<data source id>');
  const dataSource = async () => ({ kind: 'data_source', data_source: shape(await getDataSource(notion, id)) });
  if (collection) return dataSource();

  let block: { type?: string };
  try {
    block = await notion.get<{ type?: string }>(`blocks/${id}`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return dataSource();
  }
  if (block.type === 'child_page') {
    const page = shape(await notion.get<GetPageResponse>(`pages/${id}`));
    if (!withContent) return { kind: 'page', page };
    const md = await notion.get<{ markdown?: string; truncated?: boolean }>(`pages/${id}/markdown`);
    return { kind: 'page', page, markdown: md.markdown ?? '', ...(md.truncated ? { truncated: true } : {}) };
  }
  if (block.type === 'child_database') {
    return { kind: 'database', database: shape(await getDatabase(notion, id)) };
  }
  return { kind: 'block', block: shape(block) };
}

export const searchTools = [
  defineTool({
    name: 'search',
    description: 'Find pages and data sources shared with this connection by title. Page with start_cursor = next_cursor.',
    input: {
      query: z.string().optional().describe('Title text; omit to list all'),
      filter: z.object({ property: z.literal('object'), value: z.enum(['page', 'data_source']) }).optional(),
      sort: z.object({ timestamp: z.literal('last_edited_time'), direction: z.enum(['ascending', 'descending']) }).optional(),
      start_cursor: startCursor,
      page_size: pageSize,
    },
    annotations: annotations('Search Notion', READ),
    run: async (args, { notion }) => shape(await notion.read((n, auth) => n.search({ ...args, auth }))),
  }),
  defineTool({
    name: 'fetch',
    description: 'Say what a Notion URL or ID is (page, database, data source, block) and return it; pages come with Markdown content.',
    input: {
      id: z.string().min(1).describe('notion.so URL, ID, or collection://<data source id>'),
      include_content: z.boolean().optional().describe('Page body as Markdown (default true)'),
    },
    annotations: annotations('Fetch by URL or ID', READ),
    run: async (args, { notion }) => fetchAnything(notion, args.id, args.include_content !== false),
  }),
];

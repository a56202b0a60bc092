import { type CreateViewParameters, extractNotionId, type GetViewQueryResultsResponse, type UpdateViewParameters, type ViewQueryResponse } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from './registry.js';
import { annotations, idArg, notionId, OVERWRITE, pageSize, READ, startCursor } from './args.js';
import { dataSourceOfDatabase, getDataSource, isNotFound } from '../notion/resolve.js';
import type { NotionSession } from '../notion/session.js';
import { shape } from '../notion/shape.js';
import { confirmation } from './confirm.js';
import { filterArg, sortsArg } from './data-sources.js';
import { provenance } from './provenance.js';

type Obj = Record<string, unknown>;

const UUID = '[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}';
const VIEW_PARAM = new RegExp(`[?&]v=(${UUID})(?![0-9a-f])`, 'i');

/** A view ID from a UUID, a dashless ID or a database URL's `?v=` (a view's "Copy link"). */
export function toViewId(value: string): string | null {
  const fromQuery = VIEW_PARAM.exec(value.trim())?.[1];
  return extractNotionId(fromQuery ?? value);
}

const viewId = idArg('view ID or URL with ?v=', toViewId, 'expected a view ID (UUID, with or without dashes) or a Notion URL with ?v=');

const VIEW_TYPES = ['table', 'board', 'list', 'calendar', 'timeline', 'gallery', 'form', 'chart', 'map', 'dashboard'] as const;
const configurationArg = z.record(z.string(), z.unknown()).describe('Layout, e.g. {"type":"board","group_by":{…}}');

/**
 * A view query page as a model reads it: the row IDs, the query to page on, and the cursor. Notion
 * sends the rows as bare page references (no title, no authors, as list_views does views): they
 * carry nothing anyone wrote, so provenance has nothing to mark or withhold here; reading a row
 * (get_page, fetch) vets it.
 */
function shapeViewQuery(res: ViewQueryResponse | GetViewQueryResultsResponse, queryId: string): Obj {
  const out: Obj = { object: 'list', query_id: queryId };
  if ('total_count' in res) out.total_count = res.total_count;
  out.results = shape(res.results);
  out.has_more = res.has_more;
  if (res.next_cursor) out.next_cursor = res.next_cursor;
  if (res.request_status?.type === 'incomplete') out.incomplete = 'Notion stopped at its row limit';
  return out;
}

/**
 * The page as a model reads it. After the last page Notion's cached query is of no more use, so
 * it is deleted rather than left to expire; a failed delete does not fail the read.
 */
async function finish(notion: NotionSession, view_id: string, res: ViewQueryResponse | GetViewQueryResultsResponse, queryId: string): Promise<Obj> {
  const out = shapeViewQuery(res, queryId);
  if (res.has_more) return out;
  delete out.query_id;
  await notion.write((n, auth) => n.views.queries.delete({ view_id, query_id: queryId, auth })).catch(() => undefined);
  return out;
}

export const viewsTools = [
  defineTool({
    name: 'list_views',
    description: "List a database's views (IDs), or one data source's.",
    input: {
      database_id: notionId('database').optional(),
      data_source_id: notionId('data source').optional(),
      start_cursor: startCursor,
      page_size: pageSize,
    },
    annotations: annotations('List views', READ),
    run: async ({ database_id, data_source_id, ...page }, { notion }) => {
      if (!database_id && !data_source_id) throw new ToolError('invalid_arguments', 'Invalid arguments. database_id: give database_id or data_source_id');
      const target: Record<string, string> = data_source_id ? { data_source_id } : { database_id: database_id! };
      return shape(await notion.get('views', { ...target, ...page }));
    },
  }),
  defineTool({
    name: 'get_view',
    description: "Get a view's type, data source, filter, sorts and layout.",
    input: { view_id: viewId },
    annotations: annotations('Get view', READ),
    run: async ({ view_id }, ctx) => {
      const view = await ctx.notion.get(`views/${view_id}`);
      return (await provenance(ctx)).vetOne(view, shape(view), 'view');
    },
  }),
  defineTool({
    name: 'create_view',
    description:
      'Add a view to a database. Give database_id (plus data_source_id if it has several) or data_source_id; filter/sorts as in query_data_source.',
    input: {
      database_id: notionId('database').optional(),
      data_source_id: notionId('data source').optional(),
      name: z.string(),
      type: z.enum(VIEW_TYPES),
      filter: filterArg.optional(),
      sorts: sortsArg.optional(),
      configuration: configurationArg.optional(),
    },
    annotations: annotations('Create view'),
    run: async (args, { notion }) => {
      let { database_id, data_source_id } = args;
      if (!database_id && !data_source_id) throw new ToolError('invalid_arguments', 'Invalid arguments. database_id: give database_id or data_source_id');
      if (!data_source_id) data_source_id = await dataSourceOfDatabase(notion, database_id!, 'Pass its ID as data_source_id.');
      if (!database_id) {
        const ds = await getDataSource(notion, data_source_id);
        const parent = 'parent' in ds ? (ds.parent as { database_id?: string }) : undefined;
        if (!parent?.database_id) throw new ToolError('invalid_arguments', 'Invalid arguments. database_id: this data source has no database; give database_id');
        database_id = parent.database_id;
      }
      const body: Obj = { database_id, data_source_id, name: args.name, type: args.type };
      if (args.filter) body.filter = args.filter;
      if (args.sorts) body.sorts = args.sorts;
      if (args.configuration) body.configuration = args.configuration;
      const v = await notion.write((n, auth) => n.views.create({ ...(body as unknown as CreateViewParameters), auth }));
      return confirmation(v, { name: args.name, type: args.type });
    },
  }),
  defineTool({
    name: 'update_view',
    description: "Change a view's name, filter, sorts or layout; null clears filter or sorts.",
    input: {
      view_id: viewId,
      name: z.string().optional(),
      filter: filterArg.nullable().optional(),
      sorts: sortsArg.nullable().optional(),
      configuration: z.record(z.string(), z.unknown()).optional(),
    },
    annotations: annotations('Update view', OVERWRITE),
    run: async ({ view_id, ...args }, { notion }) => {
      const body: Obj = {};
      for (const [k, v] of Object.entries(args)) if (v !== undefined) body[k] = v;
      if (Object.keys(body).length === 0) throw new ToolError('invalid_arguments', 'Nothing to update: give name, filter, sorts or configuration.');
      const v = await notion.write((n, auth) => n.views.update({ ...(body as Partial<UpdateViewParameters>), view_id, auth }));
      return confirmation(v, { changed: Object.keys(body) });
    },
  }),
  defineTool({
    name: 'delete_view',
    description: "Delete a view (not its rows). A database's last view can't be deleted.",
    input: { view_id: viewId },
    annotations: annotations('Delete view', OVERWRITE),
    run: async ({ view_id }, { notion }) => shape(await notion.write((n, auth) => n.views.delete({ view_id, auth }))),
  }),
  defineTool({
    name: 'query_view',
    description:
      'Rows (page IDs) a view shows, in order. Next page: pass the returned query_id and start_cursor = next_cursor (within 15 min).',
    input: {
      view_id: viewId,
      query_id: notionId('query').optional(),
      start_cursor: startCursor,
      page_size: pageSize,
    },
    annotations: annotations('Query view', READ),
    run: async ({ view_id, query_id, start_cursor, page_size }, { notion }) => {
      if (!query_id) {
        if (start_cursor) throw new ToolError('invalid_arguments', 'Invalid arguments. query_id: start_cursor needs the query_id of the first call');
        const created = await notion.read((n, auth) => n.views.queries.create({ view_id, ...(page_size ? { page_size } : {}), auth }));
        return finish(notion, view_id, created, created.id);
      }
      try {
        const page = await notion.get<GetViewQueryResultsResponse>(`views/${view_id}/queries/${query_id}`, {
          start_cursor: start_cursor || undefined,
          page_size: page_size || undefined,
        });
        return finish(notion, view_id, page, query_id);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        throw new ToolError('query_expired', 'This view query has expired (they last 15 minutes). Call query_view again without query_id and start_cursor.', {
          view_id,
          query_id,
        });
      }
    },
  }),
];

import type { CreateDatabaseParameters, UpdateDatabaseParameters } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from './registry.js';
import { annotations, notionId, OVERWRITE, READ, toIcon } from './args.js';
import { confirmation } from './confirm.js';
import { fitBody } from './limits.js';
import { getDatabase, getDataSource, isNotFound, isWrongKind, soleDataSource } from '../notion/resolve.js';
import { shape } from '../notion/shape.js';
import { clearableString, iconInput, looseString, queryInput, runQuery, shapeRows, toCover, toRichText } from './data-sources.js';
import { provenance } from './provenance.js';

type Obj = Record<string, unknown>;

type DatabaseParent = CreateDatabaseParameters['parent'];
const pageId = notionId('page');
const PARENT_SHAPE = 'expected a page ID or URL, {"page_id":"…"} or {"workspace":true}';

/**
 * A page ID or URL, Notion's `{"type":"page_id","page_id":…}` or `{"workspace":true}`. The page ID
 * goes through `notionId` either way; the schema stays a short string-or-object.
 */
const parentArg = z
  .union([z.string(), z.record(z.string(), z.unknown())])
  .describe('Parent page ID/URL, or {"workspace":true}')
  .transform((v, ctx): DatabaseParent => {
    if (typeof v === 'object' && (v.workspace === true || v.type === 'workspace')) return { type: 'workspace', workspace: true };
    const id = pageId.safeParse(typeof v === 'string' ? v : v.page_id);
    if (id.success) return { type: 'page_id', page_id: id.data };
    ctx.addIssue({ code: 'custom', message: PARENT_SHAPE });
    return z.NEVER;
  });

const databaseId = notionId('database');

/** `initial_data_source` is `{properties}`; a bare properties map is accepted too. */
function initialDataSource(v: Obj): Obj {
  return 'properties' in v ? v : { properties: v };
}

export const databasesTools = [
  defineTool({
    name: 'create_database',
    description:
      'Create a database under a page; its schema goes in initial_data_source: {"properties":{"Name":{"title":{}},"Due":{"date":{}}}}.',
    input: {
      parent: parentArg,
      title: looseString(),
      initial_data_source: z.record(z.string(), z.unknown()).optional(),
      description: looseString(),
      is_inline: z.boolean().optional(),
      icon: iconInput(false),
      cover: looseString('Image URL'),
    },
    annotations: annotations('Create database'),
    run: async (args, { notion }) => {
      const params: Obj = { parent: args.parent };
      if (args.title !== undefined) params.title = toRichText(args.title);
      if (args.initial_data_source) params.initial_data_source = initialDataSource(args.initial_data_source);
      if (args.description !== undefined) params.description = toRichText(args.description);
      if (args.is_inline !== undefined) params.is_inline = args.is_inline;
      if (args.icon !== undefined) params.icon = toIcon(args.icon);
      if (args.cover !== undefined) params.cover = toCover(args.cover);
      const sent = fitBody(params) as unknown as CreateDatabaseParameters;
      const db = await notion.write((n, auth) => n.databases.create({ ...sent, auth }));
      return confirmation(db, { data_sources: 'data_sources' in db ? db.data_sources : [] });
    },
  }),
  defineTool({
    name: 'get_database',
    description: 'Get a database and its data_sources (schema: get_data_source). Also takes a data source ID.',
    input: { database_id: databaseId },
    annotations: annotations('Get database', READ),
    run: async ({ database_id }, ctx) => {
      const { notion } = ctx;
      try {
        const db = await getDatabase(notion, database_id);
        return (await provenance(ctx)).vetOne(db, shape(db), 'database');
      } catch (err) {
        if (!isNotFound(err)) throw err;
        let ds;
        try {
          ds = await getDataSource(notion, database_id);
        } catch (lookup) {
          throw isWrongKind(lookup) ? err : lookup;
        }
        return { resolved_as: 'data_source', ...((await provenance(ctx)).vetOne(ds, shape(ds), 'data source') as Obj) };
      }
    },
  }),
  defineTool({
    name: 'update_database',
    description: "Change a database's title, description, icon, cover or is_inline (schema: update_data_source).",
    input: {
      database_id: databaseId,
      title: looseString(),
      description: looseString(),
      icon: iconInput(true),
      cover: clearableString('Image URL'),
      is_inline: z.boolean().optional(),
    },
    annotations: annotations('Update database', OVERWRITE),
    run: async (args, { notion }) => {
      const body: Obj = {};
      if (args.title !== undefined) body.title = toRichText(args.title);
      if (args.description !== undefined) body.description = toRichText(args.description);
      if (args.icon !== undefined) body.icon = toIcon(args.icon);
      if (args.cover !== undefined) body.cover = args.cover === null ? null : toCover(args.cover);
      if (args.is_inline !== undefined) body.is_inline = args.is_inline;
      if (Object.keys(body).length === 0) {
        throw new ToolError('invalid_arguments', 'Nothing to update: give title, description, icon, cover or is_inline.');
      }
      const sent = fitBody(body) as Partial<UpdateDatabaseParameters>;
      const db = await notion.write((n, auth) => n.databases.update({ ...sent, database_id: args.database_id, auth }));
      return confirmation(db, { changed: Object.keys(body) });
    },
  }),
  defineTool({
    name: 'archive_database',
    description: 'Move a database to the trash.',
    input: { database_id: databaseId },
    annotations: annotations('Archive database', OVERWRITE),
    run: async ({ database_id }, ctx) => {
      const db = await ctx.notion.write((n, auth) => n.databases.update({ database_id, in_trash: true, auth }));
      return (await provenance(ctx)).vetEcho(db, shape(db), 'database');
    },
  }),
  defineTool({
    name: 'query_database',
    description:
      "List a database's rows via its data source (pass data_source_id if it has several). More: start_cursor = next_cursor.",
    input: {
      database_id: databaseId,
      ...queryInput,
      data_source_id: notionId('data source').optional(),
    },
    annotations: annotations('Query database', READ),
    paging: 'list',
    run: async ({ database_id, data_source_id, ...args }, ctx) => {
      const { notion } = ctx;
      // Rows as query_data_source vets them: marked, or in lockdown left out, by who wrote each.
      const rows = async (id: string) => {
        const res = await runQuery(notion, id, args);
        return (await provenance(ctx)).vetResults(res, shapeRows(res, id));
      };
      let target = data_source_id;
      if (!target) {
        try {
          target = soleDataSource(await getDatabase(notion, database_id), 'Pass its ID as data_source_id.');
        } catch (err) {
          if (!isNotFound(err)) throw err;
          // Not a database: it may be a data source ID (search returns those). Try that once.
          try {
            return await rows(database_id);
          } catch (second) {
            // A 400 here is about the filter or sorts, so only a 404 keeps the database's error.
            throw isNotFound(second) ? err : second;
          }
        }
      }
      return rows(target);
    },
  }),
];

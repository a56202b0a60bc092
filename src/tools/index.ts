import type { ToolDef, ToolGroup, ToolSet } from './registry.js';
import { batchTools } from './batch.js';
import { blocksTools } from './blocks.js';
import { commentsTools } from './comments.js';
import { dataSourcesTools } from './data-sources.js';
import { databasesTools } from './databases.js';
import { duplicateTools } from './duplicate.js';
import { filesTools } from './files.js';
import { mediaTools } from './media.js';
import { meetingNotesTools } from './meeting-notes.js';
import { pageTools } from './pages.js';
import { searchTools } from './search.js';
import { usersTools } from './users.js';
import { viewsTools } from './views.js';
import { workspaceTools } from './workspace.js';

const every = new Map<string, ToolDef>();
for (const t of [...searchTools, ...pageTools, ...batchTools, ...blocksTools, ...databasesTools, ...dataSourcesTools, ...viewsTools, ...commentsTools, ...usersTools, ...filesTools, ...mediaTools, ...meetingNotesTools, ...workspaceTools, ...duplicateTools]) {
  every.set(t.name, t);
}
const used = new Set<string>();
function tool(name: string): ToolDef {
  const t = every.get(name);
  if (!t || used.has(name)) throw new Error(`tool ${name} is missing or placed twice`);
  used.add(name);
  return t;
}
const group = (g: Omit<ToolGroup, 'ops'>, ops: Record<string, string>): ToolGroup => ({
  ...g,
  ops: Object.entries(ops).map(([name, brief]) => ({ tool: tool(name), brief })),
});

/**
 * The tools as tools/list shows them. Every conversation pays for this list, so the tools a task
 * usually needs are listed one by one, operations on a database's structure and the rare ones sit
 * behind two group tools, and the tools that others now cover stay callable by their names, unlisted.
 */
export const toolSet: ToolSet = {
  listed: [
    tool('search'),
    tool('fetch'),
    tool('get_page_markdown'),
    tool('update_page_markdown'),
    tool('create_page'),
    tool('update_page'),
    tool('save_pages'),
    tool('trash'),
    tool('get_block_children'),
    tool('append_block_children'),
    tool('update_block'),
    tool('get_data_source'),
    tool('query_data_source'),
    group(
      { group: 'database_admin', title: 'Database structure and views', description: 'Create or change databases, their data sources (schemas) and views.' },
      {
        create_database: 'under a page; initial_data_source: {"properties":{"Name":{"title":{}}}}',
        update_database: '',
        update_data_source: 'schema: properties {"P":{"number":{}}} adds, {"P":{"name":"Q"}} renames, {"P":null} deletes',
        create_data_source: 'another table',
        list_data_source_templates: 'for create_page template',
        list_views: '',
        get_view: '',
        query_view: 'row IDs in view order',
        create_view: '',
        update_view: 'null clears filter or sorts',
        delete_view: '',
      },
    ),
    group(
      { group: 'comments', title: 'Comments', description: 'Read and write comments on pages and blocks.' },
      {
        get_comments: 'open comments on a page or block (block_id), oldest first',
        create_comment: 'on a page or block (parent: ID/URL), or a reply (discussion_id); text as markdown or rich_text',
        get_comment: '',
        update_comment: 'replace its text',
        delete_comment: '',
      },
    ),
    group(
      { group: 'more', title: 'More Notion operations', description: 'Rarer operations: users, files, duplicates, meeting notes.' },
      {
        get_page_property_item: 'values past 25 items',
        get_users: 'people and bots',
        get_user: '',
        get_self: 'bot and workspace',
        list_custom_emojis: 'an id can be an icon',
        upload_file: 'https url or content ≤1 MiB; attach_to {page_id, property|as} or {block_id}',
        list_file_uploads: '',
        get_file: 'image ≤700 KiB inline, else fresh URL; as cover|icon',
        duplicate_page: 'copy with content and subpages',
        get_async_task: 'poll an allow_async write',
        create_meeting_notes: 'transcribe a recording',
        query_meeting_notes: '',
      },
    ),
  ],
  // Earlier names, still answered as before: fetch reads any object, trash trashes and restores any
  // kind, query_data_source takes a database ID, update_page moves a page.
  unlisted: ['get_page', 'get_block', 'get_database', 'archive_page', 'archive_database', 'delete_block', 'restore_from_trash', 'query_database', 'move_page'].map(tool),
  // The toolset (scope) of each tool, a group naming all its ops; every other tool is in `pages`.
  toolsets: {
    databases: ['get_data_source', 'query_data_source', 'database_admin', 'get_database', 'archive_database', 'query_database'],
    comments: ['comments'],
    files: ['upload_file', 'list_file_uploads', 'get_file'],
    users: ['get_users', 'get_user', 'get_self'],
  },
};

const missing = [...every.keys()].filter((name) => !used.has(name));
if (missing.length) throw new Error(`tools not in the tool set: ${missing.join(', ')}`);

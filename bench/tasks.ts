/**
 * `npm run bench:tasks`: realistic tasks run as scripted tool calls against this server and the
 * official @notionhq/notion-mcp-server 2.5.2, side by side, on the same fake workspace
 * (bench/lib/workspace.ts: 300 task rows, a Handbook of several hundred nested blocks, comment
 * threads, people and bots). Each task has one plan per server: the calls a competent model
 * would make with THAT server's tools. The workspace is rebuilt before every plan, and after it
 * the task's check looks at the workspace state and at the answer the plan extracted: a task
 * that did not happen fails the bench.
 *
 * Counted per task and server: tool calls, and tokens read (tools/list once per task plus every
 * result's text, o200k_base via gpt-tokenizer). Writes bench/results/tasks.json.
 * Flags: --only <task name>  --out tasks.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { startFakeNotion } from '../test/helpers/fake-notion.js';
import { post, rpcBody } from './lib/load.js';
import { baseHeaders, ROOT, startOfficial, startOurs, type Target } from './lib/targets.js';
import { BenchWorkspace, IDS, PEOPLE, PROJECT_NAMES, projectOwner, REPLACE_SENTENCE, HANDBOOK_TOP_BLOCKS, SECTIONS, TASK_COUNT, taskValues, THREADS, uuid } from './lib/workspace.js';

type Json = Record<string, any>;
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const ONLY = arg('only', '');
const OUT = arg('out', 'tasks.json');

/** One tool call: the parsed JSON of its text result; a tool error throws. */
type Call = (tool: string, args: Json) => Promise<any>;
/** A server's plan: its calls, then the answer it extracted (undefined for a write). Or why it cannot. */
type Plan = ((call: Call) => Promise<unknown>) | { infeasible: string };
interface Task {
  name: string;
  what: string;
  ours: Plan;
  official: Plan;
  /** Undefined when the task happened: the workspace state and the answer are right. */
  check(ws: BenchWorkspace, answer: unknown): string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading results: ours is compact ({prop: {type: value}} or a plain value), official is Notion's JSON
// ---------------------------------------------------------------------------------------------

const plain = (rt: unknown): string => (Array.isArray(rt) ? rt.map((t: Json) => t.plain_text ?? '').join('') : String(rt ?? ''));

/** A property value as text, from either server's row shape. */
function prop(row: Json, name: string): any {
  const v = row.properties?.[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object') return v;
  const inner = 'type' in v && v.type in v ? v[v.type] : Object.values(v)[0];
  if (Array.isArray(inner)) return inner.length && inner[0]?.plain_text !== undefined ? plain(inner) : inner.map((x: any) => (typeof x === 'object' ? x.name ?? x.id : x));
  if (inner && typeof inner === 'object') return inner.name ?? inner.start ?? inner;
  return inner;
}
/** Our columnar query result as one object per row, keyed by column. */
const columnar = (r: Json): Json[] => (r.rows ?? []).map((cells: unknown[]) => Object.fromEntries((r.columns as string[]).map((c, i) => [c, cells[i]])));
/** Every row of our query, following next_cursor. */
async function allColumnar(call: Call, args: Json): Promise<Json[]> {
  const out: Json[] = [];
  let cursor: string | undefined;
  do {
    const r = await call('query_data_source', cursor ? { ...args, start_cursor: cursor } : args);
    out.push(...columnar(r));
    cursor = r.next_cursor ?? undefined;
  } while (cursor);
  return out;
}
const rowTitle = (row: Json): string => (typeof row.title === 'string' ? row.title : String(prop(row, 'Name') ?? ''));
const rowsOf = (r: Json): Json[] => r.results ?? r.rows ?? [];

/** Every page of a list call, following next_cursor. */
async function all(call: Call, tool: string, args: Json): Promise<Json[]> {
  const out: Json[] = [];
  let cursor: string | undefined;
  do {
    const r = await call(tool, cursor ? { ...args, start_cursor: cursor } : args);
    out.push(...rowsOf(r));
    cursor = r.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/** Our get_page_markdown with its continuation. */
async function oursMarkdown(call: Call, pageId: string): Promise<string> {
  let md = '';
  let start: number | undefined;
  do {
    const r = await call('get_page_markdown', start === undefined ? { page_id: pageId } : { page_id: pageId, start });
    md += r.markdown ?? r.text ?? '';
    start = r.next_start ?? undefined;
  } while (start !== undefined);
  return md;
}

// ---------------------------------------------------------------------------------------------
// Expected answers, from the fixture
// ---------------------------------------------------------------------------------------------

const tasks = Array.from({ length: TASK_COUNT }, (_, k) => ({ i: k + 1, ...taskValues(k + 1) }));
const DECEMBER = tasks.filter((t) => t.due >= '2026-12-01' && t.due <= '2026-12-31').map((t) => t.name);
const BY_NAME = [...tasks].sort((a, b) => a.name.localeCompare(b.name));
const ROWS_150_200 = BY_NAME.slice(149, 200).map((t) => t.name);
const MIGRATION = tasks.filter((t) => t.name.toLowerCase().includes('migration')).map((t) => t.name);
const BLOCKED = tasks.filter((t) => t.status === 'Blocked').length;
const TO_FINISH = [tasks[11]!, tasks[41]!, tasks[101]!].map((t) => t.name);
const sameSet = (a: unknown, b: string[]) => Array.isArray(a) && a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
const dsTasks = IDS.tasks;
const NEW_ROW = { name: 'Rotate the signing keys', owner: PEOPLE[2]!, due: '2026-12-15', project: 3 };
const MANY = ['Write the Q1 roadmap', 'Book the offsite', 'Renew the TLS certificates', 'Archive old Slack channels', 'Update the on-call rota', 'Review the vendor contracts', 'Clean up feature flags', 'Plan the hack week', 'Survey developer tooling', 'Retire the legacy cron jobs'];
const CHECKLIST = ['Tag the release', 'Update the changelog', 'Announce in #eng'];
const NEW_SENTENCE = 'Deploys happen every weekday before 3 p.m., never on Fridays.';
const IMAGE = 'https://images.example.com/whiteboard-2026-11-30.png';
const REPLY = 'Done: Node 18 is gone from the matrix.';
const ROTA = [
  ['Week', 'Primary', 'Secondary'],
  ['W1', 'Ada Lovelace', 'Grace Hopper'],
  ['W2', 'Alan Turing', 'Barbara Liskov'],
  ['W3', 'Linus Torvalds', 'Dennis Ritchie'],
];

// Notion property values, as both servers' writes take them.
const newRowProperties = {
  Name: { title: [{ text: { content: NEW_ROW.name } }] },
  Status: { status: { name: 'In progress' } },
  Priority: { select: { name: 'P1' } },
  Tags: { multi_select: [{ name: 'backend' }, { name: 'infra' }] },
  Assignee: { people: [{ id: NEW_ROW.owner.id }] },
  Due: { date: { start: NEW_ROW.due } },
  Estimate: { number: 5 },
  Project: { relation: [{ id: uuid(`project:${NEW_ROW.project}`) }] },
};
const titleFilter = (names: string[]) => ({ or: names.map((n) => ({ property: 'Name', title: { equals: n } })) });
const decemberFilter = { and: [{ property: 'Due', date: { on_or_after: '2026-12-01' } }, { property: 'Due', date: { on_or_before: '2026-12-31' } }] };
const rt = (s: string) => [{ type: 'text', text: { content: s } }];
const imageBlock = { object: 'block', type: 'image', image: { type: 'external', external: { url: IMAGE } } };
const tableBlock = {
  object: 'block',
  type: 'table',
  table: { table_width: 3, has_column_header: true, has_row_header: false, children: ROTA.map((cells) => ({ type: 'table_row', table_row: { cells: cells.map(rt) } })) },
};

/** The official server's markdown read: one call, Notion's JSON. */
const officialMarkdown = async (call: Call, id: string): Promise<string> => (await call('API-retrieve-page-markdown', { page_id: id })).markdown;

const TASKS: Task[] = [
  {
    name: 'read-long-page',
    what: 'Read the whole Handbook (several hundred blocks, three levels)',
    ours: (call) => oursMarkdown(call, IDS.handbook),
    official: (call) => officialMarkdown(call, IDS.handbook),
    check: (ws, md) => (typeof md === 'string' && md.includes(ws.markdown(IDS.handbook).split('\n').at(-2)!) && SECTIONS.every((s) => md.includes(`## ${s}`)) && md.includes('Detail for glossary example 3.1.') ? undefined : 'the page text is incomplete'),
  },
  {
    name: 'headings-only',
    what: 'List the Handbook’s section headings',
    ours: async (call) => (await call('get_page_markdown', { page_id: IDS.handbook, outline: true })).outline.filter((h: Json) => h.level === 2).map((h: Json) => h.text),
    official: async (call) => (await all(call, 'API-get-block-children', { block_id: IDS.handbook })).filter((b) => b.type === 'heading_2').map((b) => plain(b.heading_2.rich_text)),
    check: (_ws, a) => (Array.isArray(a) && a.map((h) => String(h).replace(/^#+\s*/, '')).join('|') === SECTIONS.join('|') ? undefined : `headings: ${JSON.stringify(a)}`),
  },
  {
    name: 'rows-due-this-month',
    what: 'Tasks due in December 2026',
    ours: async (call) => (await allColumnar(call, { data_source_id: dsTasks, where: { Due: { between: ['2026-12-01', '2026-12-31'] } } })).map((r) => r.Name),
    official: async (call) => (await all(call, 'API-query-data-source', { data_source_id: dsTasks, filter: decemberFilter })).map(rowTitle),
    check: (_ws, a) => (sameSet(a, DECEMBER) ? undefined : `got ${(a as unknown[])?.length} rows, want ${DECEMBER.length}`),
  },
  {
    name: 'rows-150-200',
    what: 'Rows 150–200 of Tasks sorted by name (51 rows, titles only)',
    ours: async (call) => columnar(await call('query_data_source', { data_source_id: dsTasks, order_by: ['Name'], offset: 149, limit: 51, properties: ['Name'] })).map((r) => r.Name),
    official: async (call) => {
      const args = { data_source_id: dsTasks, sorts: [{ property: 'Name', direction: 'ascending' }], filter_properties: ['title'], page_size: 100 };
      const first = await call('API-query-data-source', args);
      const second = await call('API-query-data-source', { ...args, start_cursor: first.next_cursor });
      return rowsOf(second).slice(49, 100).map(rowTitle);
    },
    check: (_ws, a) => (Array.isArray(a) && a.join('\n') === ROWS_150_200.join('\n') ? undefined : `rows: ${JSON.stringify(a).slice(0, 200)}`),
  },
  {
    name: 'find-by-title-word',
    what: 'Tasks whose title mentions "migration"',
    ours: async (call) => (await allColumnar(call, { data_source_id: dsTasks, where: { Name: 'migration' } })).map((r) => r.Name),
    official: async (call) => (await all(call, 'API-query-data-source', { data_source_id: dsTasks, filter: { property: 'Name', title: { contains: 'migration' } } })).map(rowTitle),
    check: (_ws, a) => (sameSet(a, MIGRATION) ? undefined : `got ${JSON.stringify(a).slice(0, 200)}`),
  },
  {
    name: 'count-status',
    what: 'How many tasks are Blocked',
    ours: async (call) => (await call('query_data_source', { data_source_id: dsTasks, where: { Status: 'Blocked' }, count: true })).count,
    official: async (call) => (await all(call, 'API-query-data-source', { data_source_id: dsTasks, filter: { property: 'Status', status: { equals: 'Blocked' } }, filter_properties: ['title'] })).length,
    check: (_ws, a) => (a === BLOCKED ? undefined : `counted ${String(a)}, want ${BLOCKED}`),
  },
  {
    name: 'project-owner',
    what: 'Who owns the project Kepler (people property → name and email)',
    ours: async (call) => {
      const [row = {}] = rowsOf(await call('query_data_source', { data_source_id: IDS.projects, where: { Name: { equals: 'Kepler' } }, format: 'rows' }));
      // Our people values carry name and email: no user lookup.
      const [u] = row.properties.Owner.people;
      return `${u.name} <${u.email}>`;
    },
    official: async (call) => {
      const [row = {}] = rowsOf(await call('API-query-data-source', { data_source_id: IDS.projects, filter: { property: 'Name', title: { equals: 'Kepler' } } }));
      const u = row.properties.Owner.people[0];
      return `${u.name} <${u.person.email}>`;
    },
    check: (_ws, a) => {
      const o = projectOwner(PROJECT_NAMES.indexOf('Kepler'));
      return a === `${o.name} <${o.email}>` ? undefined : `owner ${String(a)}`;
    },
  },
  {
    name: 'list-people',
    what: 'The people (not bots) of the workspace with their emails',
    // get_users is an op of the `more` group in tools/list (one page: the workspace has fewer than 100 users).
    ours: async (call) => rowsOf(await call('more', { op: 'get_users', args: {} })).filter((u) => u.type === 'person').map((u) => u.person?.email ?? u.email),
    official: async (call) => (await all(call, 'API-get-users', {})).filter((u) => u.type === 'person').map((u) => u.person.email),
    check: (_ws, a) => (sameSet(a, PEOPLE.map((p) => p.email)) ? undefined : `got ${JSON.stringify(a)}`),
  },
  {
    name: 'add-row',
    what: 'Add a task with status, priority, tags, assignee, due date, estimate and project',
    ours: (call) => call('create_page', { parent: dsTasks, properties: newRowProperties }),
    official: (call) => call('API-post-page', { parent: { data_source_id: dsTasks }, properties: newRowProperties }),
    check: (ws) => {
      const row = ws.rows(dsTasks).find((r) => ws.titleOf(r) === NEW_ROW.name);
      if (!row) return 'no new row';
      const p = row.properties;
      const ok = p.Status.status?.name === 'In progress' && p.Priority.select?.name === 'P1' && p.Tags.multi_select.map((o: Json) => o.name).join() === 'backend,infra' && p.Assignee.people[0]?.id === NEW_ROW.owner.id && p.Due.date?.start === NEW_ROW.due && p.Estimate.number === 5 && p.Project.relation[0]?.id === uuid(`project:${NEW_ROW.project}`);
      return ok ? undefined : `wrong properties: ${JSON.stringify(p).slice(0, 300)}`;
    },
  },
  {
    name: 'mark-3-done',
    what: 'Mark three named tasks Done',
    ours: async (call) => {
      const rows = columnar(await call('query_data_source', { data_source_id: dsTasks, where: { or: TO_FINISH.map((n) => ({ Name: { equals: n } })) }, properties: ['Name'] }));
      await call('save_pages', { items: rows.map((r) => ({ page_id: r.id, properties: { Status: { status: { name: 'Done' } } } })) });
    },
    official: async (call) => {
      for (const r of rowsOf(await call('API-query-data-source', { data_source_id: dsTasks, filter: titleFilter(TO_FINISH), filter_properties: ['title'] }))) await call('API-patch-page', { page_id: r.id, properties: { Status: { status: { name: 'Done' } } } });
    },
    check: (ws) => (TO_FINISH.every((n) => ws.pageByTitle(n)?.properties.Status.status.name === 'Done') ? undefined : 'not all three are Done'),
  },
  {
    name: 'create-many',
    what: 'Add ten tasks from a list',
    ours: (call) => call('save_pages', { parent: dsTasks, items: MANY.map((n) => ({ title: n, properties: { Status: { status: { name: 'Not started' } } } })) }),
    official: async (call) => {
      for (const n of MANY) await call('API-post-page', { parent: { data_source_id: dsTasks }, properties: { Name: { title: [{ text: { content: n } }] }, Status: { status: { name: 'Not started' } } } });
    },
    check: (ws) => (MANY.every((n) => ws.rows(dsTasks).some((r) => ws.titleOf(r) === n && r.properties.Status.status.name === 'Not started')) ? undefined : 'not all ten rows exist'),
  },
  {
    name: 'rename-property',
    what: 'Rename the Estimate property to Story points',
    ours: (call) => call('database_admin', { op: 'update_data_source', args: { data_source_id: dsTasks, properties: { Estimate: { name: 'Story points' } } } }),
    official: (call) => call('API-update-a-data-source', { data_source_id: dsTasks, properties: { Estimate: { name: 'Story points' } } }),
    check: (ws) => {
      const s = ws.dataSources.get(dsTasks)!.properties;
      return s['Story points']?.type === 'number' && !s.Estimate && ws.rows(dsTasks)[0]!.properties['Story points'] ? undefined : 'not renamed';
    },
  },
  {
    name: 'checklist-under-heading',
    what: 'Add a three-item checklist under the "Release checklist" heading',
    ours: (call) => call('update_page_markdown', { page_id: IDS.handbook, after: '## Release checklist', markdown: CHECKLIST.map((c) => `- [ ] ${c}`).join('\n') }),
    official: (call) =>
      call('API-update-page-markdown', { page_id: IDS.handbook, type: 'update_content', update_content: { content_updates: [{ old_str: '## Release checklist', new_str: `## Release checklist\n${CHECKLIST.map((c) => `- [ ] ${c}`).join('\n')}` }] } }),
    check: (ws) => {
      const top = ws.kids({ id: IDS.handbook });
      const h = top.findIndex((b) => b.type === 'heading_2' && plain(b.heading_2.rich_text) === 'Release checklist');
      const next = top.slice(h + 1, h + 4);
      return h >= 0 && next.every((b, k) => b.type === 'to_do' && !b.to_do.checked && plain(b.to_do.rich_text) === CHECKLIST[k]) && plain(top[h + 4]?.paragraph?.rich_text).startsWith('Release checklist:') ? undefined : 'checklist not right under the heading';
    },
  },
  {
    name: 'replace-sentence',
    what: 'Replace one sentence in the Deployment section',
    ours: (call) => call('update_page_markdown', { page_id: IDS.handbook, edits: [{ old_str: REPLACE_SENTENCE, new_str: NEW_SENTENCE }] }),
    official: (call) => call('API-update-page-markdown', { page_id: IDS.handbook, type: 'update_content', update_content: { content_updates: [{ old_str: REPLACE_SENTENCE, new_str: NEW_SENTENCE }] } }),
    check: (ws) => {
      const md = ws.markdown(IDS.handbook);
      return md.includes(`\n${NEW_SENTENCE}\n`) && !md.includes(REPLACE_SENTENCE) && ws.kids({ id: IDS.handbook }).length === HANDBOOK_TOP_BLOCKS ? undefined : 'sentence not replaced in place';
    },
  },
  {
    name: 'reply-in-thread',
    what: 'Reply in the comment thread that asks about Node 18',
    ours: async (call) => {
      const comments = await all(call, 'comments', { op: 'get_comments', args: { block_id: IDS.handbook } });
      const first = comments.find((c) => String(c.text ?? c.markdown ?? plain(c.rich_text)).includes('Node 18'))!;
      await call('comments', { op: 'create_comment', args: { discussion_id: first.discussion_id, markdown: REPLY } });
    },
    official: { infeasible: 'API-create-a-comment takes only parent.page_id and rich_text (no discussion_id), and 2.5.2 sends it without Notion-Version, which Notion refuses (400 missing_version)' },
    check: (ws) => {
      const last = ws.comments.at(-1)!;
      return plain(last.rich_text) === REPLY && last.discussion_id === uuid('discussion:0') && ws.comments.length === THREADS.flat().length + 1 ? undefined : 'no reply in the thread';
    },
  },
  {
    name: 'page-with-table',
    what: 'Create an on-call rota page under Engineering with a 3×4 table',
    ours: (call) =>
      call('create_page', {
        parent: IDS.root,
        title: 'On-call rota Q1',
        markdown: `Who is on call in January.\n<table header-row="true">\n${ROTA.map((r) => `\t<tr>\n${r.map((c) => `\t\t<td>${c}</td>`).join('\n')}\n\t</tr>`).join('\n')}\n</table>`,
      }),
    official: (call) =>
      call('API-post-page', {
        parent: { page_id: IDS.root },
        properties: { title: { title: [{ text: { content: 'On-call rota Q1' } }] } },
        children: [{ object: 'block', type: 'paragraph', paragraph: { rich_text: rt('Who is on call in January.') } }, tableBlock],
      }),
    check: (ws) => {
      const page = ws.pageByTitle('On-call rota Q1');
      if (!page || page.parent.page_id !== IDS.root) return 'no page under Engineering';
      const table = ws.kids({ id: page.id }).find((b) => b.type === 'table');
      const rows = table ? ws.kids(table).map((r) => r.table_row.cells.map(plain)) : [];
      return JSON.stringify(rows) === JSON.stringify(ROTA) ? undefined : `table ${JSON.stringify(rows)}`;
    },
  },
  {
    name: 'image-onto-page',
    what: 'Add an image (by URL) at the end of the meeting notes',
    ours: (call) => call('append_block_children', { block_id: IDS.meeting, children: [imageBlock] }),
    official: (call) => call('API-patch-block-children', { block_id: IDS.meeting, children: [imageBlock] }),
    check: (ws) => (ws.kids({ id: IDS.meeting }).at(-1)?.image?.external?.url === IMAGE ? undefined : 'no image at the end'),
  },
  {
    name: 'move-page',
    what: 'Move "Old retro" under "Archive"',
    ours: (call) => call('update_page', { page_id: IDS.retro, parent: IDS.archive }),
    official: (call) => call('API-move-page', { page_id: IDS.retro, parent: { type: 'page_id', page_id: IDS.archive } }),
    check: (ws) => (ws.pages.get(IDS.retro)!.parent.page_id === IDS.archive ? undefined : 'not moved'),
  },
  {
    name: 'trash-two-pages',
    what: 'Trash "Scratch" and "Draft: Q1 plan"',
    ours: (call) => call('trash', { ids: [IDS.scratch, IDS.draft], kind: 'page' }),
    official: async (call) => {
      for (const id of [IDS.scratch, IDS.draft]) await call('API-patch-page', { page_id: id, in_trash: true });
    },
    check: (ws) => (ws.pages.get(IDS.scratch)!.in_trash && ws.pages.get(IDS.draft)!.in_trash && !ws.pages.get(IDS.archive)!.in_trash ? undefined : 'not both trashed'),
  },
];

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

interface Measure {
  feasible: boolean;
  calls: number;
  tokens: number;
  listTokens: number;
  resultTokens: number;
  /** Tokens of the arguments the plan sent (what the model writes). */
  argTokens: number;
  note?: string;
}

const tokensOf = (s: string) => countTokens(s);

async function runPlan(target: Target, headers: Record<string, string>, agent: Agent, plan: Plan, listTokens: number): Promise<{ m: Measure; answer: unknown }> {
  if ('infeasible' in plan) return { m: { feasible: false, calls: 0, tokens: 0, listTokens: 0, resultTokens: 0, argTokens: 0, note: plan.infeasible }, answer: undefined };
  let calls = 0;
  let resultTokens = 0;
  let argTokens = 0;
  const call: Call = async (tool, args) => {
    calls++;
    argTokens += tokensOf(JSON.stringify(args));
    const r = await post(agent, target.url, { ...baseHeaders, ...headers }, JSON.stringify({ jsonrpc: '2.0', id: calls, method: 'tools/call', params: { name: tool, arguments: args } }));
    const msg = rpcBody(r.text);
    if (r.status !== 200 || !msg.result) throw new Error(`${tool}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    const text = (msg.result.content as { type: string; text?: string }[]).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
    resultTokens += tokensOf(text);
    let data: any;
    try {
      data = JSON.parse(text);
    } catch {
      data = { text };
    }
    if (msg.result.isError || data?.object === 'error' || data?.status >= 400) throw new Error(`${tool} ${JSON.stringify(args).slice(0, 200)} failed: ${text.slice(0, 400)}`);
    return data;
  };
  const answer = await plan(call);
  return { m: { feasible: true, calls, tokens: listTokens + resultTokens, listTokens, resultTokens, argTokens }, answer };
}

async function main(): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const fake = await startFakeNotion();
  const ws = new BenchWorkspace(fake);
  fake.setHandler(ws.handler);
  const results: Record<string, Record<string, Measure>> = {};
  const failures: string[] = [];
  const targets: Target[] = [];
  const chosen = TASKS.filter((t) => !ONLY || t.name === ONLY);
  try {
    for (const start of [startOurs, startOfficial]) targets.push(await start(fake));
    for (const target of targets) {
      const agent = new Agent({ keepAlive: true });
      const [client] = await target.clients(1);
      const list = rpcBody((await post(agent, target.url, { ...baseHeaders, ...client!.headers }, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'tools/list' }))).text).result;
      const listTokens = tokensOf(JSON.stringify(list.tools));
      log(`${target.name}: ${list.tools.length} tools, tools/list ${listTokens} tokens`);
      for (const task of chosen) {
        ws.reset();
        const side = target.name === 'ours' ? task.ours : task.official;
        let m: Measure;
        try {
          const run = await runPlan(target, client!.headers, agent, side, listTokens);
          m = run.m;
          const wrong = m.feasible ? task.check(ws, run.answer) : undefined;
          if (wrong) throw new Error(`did not happen: ${wrong}`);
        } catch (err) {
          failures.push(`${task.name} on ${target.name}: ${(err as Error).message}`);
          m = { feasible: true, calls: NaN, tokens: NaN, listTokens, resultTokens: NaN, argTokens: NaN, note: `FAILED: ${(err as Error).message.slice(0, 300)}` };
        }
        (results[task.name] ??= {})[target.name] = m;
        log(`  ${task.name}: ${m.feasible ? `${m.calls} calls, ${m.tokens} tokens` : 'infeasible'}${m.note?.startsWith('FAILED') ? ` ${m.note}` : ''}`);
      }
      agent.destroy();
    }
  } finally {
    for (const t of targets) await t.stop();
    await fake.close();
  }

  // Totals over the tasks both servers can do; ours alone over all it can do.
  const both = chosen.filter((t) => results[t.name]!.ours!.feasible && results[t.name]!.official!.feasible);
  const sum = (who: string, key: 'calls' | 'tokens' | 'resultTokens', ts: Task[]) => ts.reduce((n, t) => n + results[t.name]![who]![key], 0);
  const totals = {
    tasks: chosen.length,
    feasible: { ours: chosen.filter((t) => results[t.name]!.ours!.feasible).length, official: chosen.filter((t) => results[t.name]!.official!.feasible).length },
    both: both.length,
    ours: { calls: sum('ours', 'calls', both), tokens: sum('ours', 'tokens', both), resultTokens: sum('ours', 'resultTokens', both) },
    official: { calls: sum('official', 'calls', both), tokens: sum('official', 'tokens', both), resultTokens: sum('official', 'resultTokens', both) },
    ratios: {
      tokens: sum('ours', 'tokens', both) / sum('official', 'tokens', both),
      calls: sum('ours', 'calls', both) / sum('official', 'calls', both),
      resultTokens: sum('ours', 'resultTokens', both) / sum('official', 'resultTokens', both),
    },
  };
  const fmt = (n: number) => (Number.isNaN(n) ? 'FAILED' : n.toLocaleString('en-US'));
  const cell = (m: Measure, key: 'calls' | 'tokens') => (m.feasible ? fmt(m[key]) : 'infeasible');
  const lines = [
    '| task | ours calls | official calls | ours tokens | official tokens | tokens ours/official |',
    '|---|---:|---:|---:|---:|---:|',
    ...chosen.map((t) => {
      const { ours, official } = results[t.name] as Record<'ours' | 'official', Measure>;
      const ratio = ours.feasible && official.feasible ? (ours.tokens / official.tokens).toFixed(2) : '-';
      return `| ${t.name} | ${cell(ours, 'calls')} | ${cell(official, 'calls')} | ${cell(ours, 'tokens')} | ${cell(official, 'tokens')} | ${ratio} |`;
    }),
    `| **total (${both.length} tasks both can do)** | ${fmt(totals.ours.calls)} | ${fmt(totals.official.calls)} | ${fmt(totals.ours.tokens)} | ${fmt(totals.official.tokens)} | ${totals.ratios.tokens.toFixed(2)} |`,
    '',
    `feasible: ours ${totals.feasible.ours}/${chosen.length}, official ${totals.feasible.official}/${chosen.length}; ratios ours/official: tokens ${totals.ratios.tokens.toFixed(3)}, calls ${totals.ratios.calls.toFixed(3)}`,
    `results alone (without tools/list): ours ${fmt(totals.ours.resultTokens)}, official ${fmt(totals.official.resultTokens)} tokens, ${totals.ratios.resultTokens.toFixed(3)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const what = Object.fromEntries(chosen.map((t) => [t.name, t.what]));
  writeFileSync(join(ROOT, 'bench/results', OUT), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, tokenizer: 'o200k_base (gpt-tokenizer 4)', what, results, totals, failures }, null, 2)}\n`);
  if (failures.length) throw new Error(`${failures.length} task runs failed:\n${failures.join('\n')}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

/**
 * A workspace of realistic size for the task bench (bench/tasks.ts), served by the fake Notion as
 * a test handler (`fake.setHandler(ws.handler)`), so the fake's own routes stay untouched:
 * users (people and bots), a 300-row Tasks data source related to a 12-row Projects one, a
 * Handbook page of several hundred blocks nested three levels deep, smaller pages, and comment
 * threads. Shapes follow Notion's API reference (2026-03-11). `reset()` rebuilds the same state,
 * so every server starts every task from the same workspace.
 *
 * It answers data source queries itself (page_size ≤ 100, cursors, a filter and sorts evaluator,
 * filter_properties): to be unified with the fake Notion's own query route later.
 */
import { createHash } from 'node:crypto';
import type { FakeHandler, FakeNotion, FakeResponse, RecordedRequest } from '../../test/helpers/fake-notion.js';
import { QueryError, runFakeQuery } from '../../test/helpers/fake-query.js';

type Json = Record<string, any>;

export function uuid(seed: string): string {
  const h = createHash('sha256').update(`bench-workspace:${seed}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16]!, 16) % 4]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const TIME = '2026-11-20T10:00:00.000Z';
const dashless = (id: string) => id.replace(/-/g, '');
const normalize = (raw: string): string | undefined => {
  const hex = raw.replace(/-/g, '').toLowerCase();
  return /^[0-9a-f]{32}$/.test(hex) ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : undefined;
};

function richText(content: string, link: string | null = null): Json {
  return {
    type: 'text',
    text: { content, link: link ? { url: link } : null },
    annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' },
    plain_text: content,
    href: link,
  };
}
const plain = (rt: unknown): string => (Array.isArray(rt) ? rt.map((t: Json) => t.plain_text ?? t.text?.content ?? '').join('') : '');
/** Rich text as a request sends it (often only `text.content`) in the shape Notion answers with. */
const fullRichText = (rt: unknown): Json[] => (Array.isArray(rt) ? rt.map((t: Json) => richText(t.text?.content ?? t.plain_text ?? '', t.text?.link?.url ?? null)) : []);

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

export const PEOPLE = [
  ['Ada Lovelace', 'ada@acme.example'],
  ['Grace Hopper', 'grace@acme.example'],
  ['Alan Turing', 'alan@acme.example'],
  ['Katherine Johnson', 'katherine@acme.example'],
  ['Linus Torvalds', 'linus@acme.example'],
  ['Margaret Hamilton', 'margaret@acme.example'],
  ['Dennis Ritchie', 'dennis@acme.example'],
  ['Barbara Liskov', 'barbara@acme.example'],
].map(([name, email]) => ({ id: uuid(`user:${name}`), name: name!, email: email! }));
const BOTS = ['Notion MCP', 'GitHub sync'].map((name) => ({ id: uuid(`bot:${name}`), name }));

export const IDS = {
  root: uuid('page:Engineering'),
  handbook: uuid('page:Handbook'),
  archive: uuid('page:Archive'),
  meeting: uuid('page:Meeting notes 2026-11-30'),
  draft: uuid('page:Draft: Q1 plan'),
  retro: uuid('page:Old retro'),
  scratch: uuid('page:Scratch'),
  tasksDb: uuid('database:Tasks'),
  tasks: uuid('data_source:Tasks'),
  projectsDb: uuid('database:Projects'),
  projects: uuid('data_source:Projects'),
};
export const SMALL_PAGES: [string, string][] = [
  [IDS.archive, 'Archive'],
  [IDS.meeting, 'Meeting notes 2026-11-30'],
  [IDS.draft, 'Draft: Q1 plan'],
  [IDS.retro, 'Old retro'],
  [IDS.scratch, 'Scratch'],
];

export const STATUSES = ['Not started', 'In progress', 'Blocked', 'Done'] as const;
const STATUS_COLORS = ['default', 'blue', 'red', 'green'];
const PRIORITIES = ['P0', 'P1', 'P2', 'P3'];
const TAGS = ['frontend', 'backend', 'infra', 'docs', 'design', 'qa'];
const COLORS = ['gray', 'brown', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'red'];
const VERBS = ['Fix', 'Add', 'Refactor', 'Document', 'Test', 'Review', 'Design', 'Plan', 'Migrate', 'Remove'];
const NOUNS = ['login flow', 'billing page', 'search index', 'CI pipeline', 'API rate limits', 'onboarding email', 'dark mode', 'audit log', 'database migration', 'cache layer', 'export to CSV', 'mobile layout', 'error pages', 'webhooks'];
export const PROJECT_NAMES = ['Atlas', 'Beacon', 'Comet', 'Delta', 'Echo', 'Falcon', 'Gemini', 'Helix', 'Ion', 'Juno', 'Kepler', 'Lumen'];
export const TASK_COUNT = 300;

/** The deterministic values of task row `i` (1-based), which the bench also uses to check answers. */
export function taskValues(i: number) {
  const day = 1 + ((i * 7) % 120); // 120 days from 2026-10-01
  const due = new Date(Date.UTC(2026, 9, 1) + (day - 1) * 86_400_000).toISOString().slice(0, 10);
  return {
    name: `T-${String(i).padStart(3, '0')} ${VERBS[i % VERBS.length]} ${NOUNS[(i * 3) % NOUNS.length]}`,
    status: STATUSES[(i * 5) % 4]!,
    priority: PRIORITIES[i % 4]!,
    tags: [TAGS[i % 6]!, ...(i % 3 === 0 ? [TAGS[(i + 2) % 6]!] : [])],
    assignee: PEOPLE[i % PEOPLE.length]!,
    due,
    reviewed: i % 4 === 0,
    estimate: 1 + (i % 8),
    project: i % PROJECT_NAMES.length,
  };
}

const opt = (name: string, i: number, colors = COLORS) => ({ id: uuid(`option:${name}`).slice(0, 8), name, color: colors[i % colors.length] });

function tasksSchema(): Json {
  return {
    Name: { id: 'title', name: 'Name', description: null, type: 'title', title: {} },
    Status: {
      id: 'st%3Aa',
      name: 'Status',
      description: null,
      type: 'status',
      status: {
        options: STATUSES.map((s, i) => opt(s, i, STATUS_COLORS)),
        groups: [
          { id: 'grp1', name: 'To-do', color: 'gray', option_ids: [opt('Not started', 0).id] },
          { id: 'grp2', name: 'In progress', color: 'blue', option_ids: [opt('In progress', 1).id, opt('Blocked', 2).id] },
          { id: 'grp3', name: 'Complete', color: 'green', option_ids: [opt('Done', 3).id] },
        ],
      },
    },
    Priority: { id: 'pr%3Ab', name: 'Priority', description: null, type: 'select', select: { options: PRIORITIES.map((p, i) => opt(p, i)) } },
    Tags: { id: 'tg%3Ac', name: 'Tags', description: null, type: 'multi_select', multi_select: { options: TAGS.map((t, i) => opt(t, i)) } },
    Assignee: { id: 'as%3Ad', name: 'Assignee', description: null, type: 'people', people: {} },
    Due: { id: 'du%3Ae', name: 'Due', description: null, type: 'date', date: {} },
    Reviewed: { id: 'rv%3Af', name: 'Reviewed', description: null, type: 'checkbox', checkbox: {} },
    Estimate: { id: 'es%3Ag', name: 'Estimate', description: null, type: 'number', number: { format: 'number' } },
    Project: {
      id: 'pj%3Ah',
      name: 'Project',
      description: null,
      type: 'relation',
      relation: { data_source_id: IDS.projects, database_id: IDS.projectsDb, type: 'dual_property', dual_property: { synced_property_name: 'Tasks', synced_property_id: 'tk%3Ai' } },
    },
  };
}

function projectsSchema(): Json {
  return {
    Name: { id: 'title', name: 'Name', description: null, type: 'title', title: {} },
    Owner: { id: 'ow%3Aa', name: 'Owner', description: null, type: 'people', people: {} },
    Status: { id: 'st%3Ab', name: 'Status', description: null, type: 'status', status: { options: STATUSES.map((s, i) => opt(s, i, STATUS_COLORS)), groups: [] } },
    Launch: { id: 'la%3Ac', name: 'Launch', description: null, type: 'date', date: {} },
  };
}

const personUser = (u: { id: string; name: string; email: string }) => ({ object: 'user', id: u.id, name: u.name, avatar_url: null, type: 'person', person: { email: u.email } });
const botUser = (b: { id: string; name: string }) => ({ object: 'user', id: b.id, name: b.name, avatar_url: null, type: 'bot', bot: {} });
const userById = (id: string) => PEOPLE.find((p) => p.id === id);

function pageObject(id: string, parent: Json, properties: Json): Json {
  const title = plain(Object.values(properties).find((p: Json) => p.type === 'title')?.title);
  return {
    object: 'page',
    id,
    created_time: TIME,
    last_edited_time: TIME,
    created_by: { object: 'user', id: PEOPLE[0]!.id },
    last_edited_by: { object: 'user', id: PEOPLE[0]!.id },
    cover: null,
    icon: null,
    parent,
    in_trash: false,
    is_archived: false,
    is_locked: false,
    properties,
    url: `https://www.notion.so/${title.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}-${dashless(id)}`,
    public_url: null,
  };
}

const dsParent = (ds: string, db: string) => ({ type: 'data_source_id', data_source_id: ds, database_id: db });
const titleProp = (t: string) => ({ id: 'title', type: 'title', title: [richText(t)] });

function taskRow(i: number): Json {
  const v = taskValues(i);
  const s = tasksSchema();
  const option = (key: string, name: string) => s[key][s[key].type].options.find((o: Json) => o.name === name);
  return pageObject(uuid(`task:${i}`), dsParent(IDS.tasks, IDS.tasksDb), {
    Name: titleProp(v.name),
    Status: { id: s.Status.id, type: 'status', status: option('Status', v.status) },
    Priority: { id: s.Priority.id, type: 'select', select: option('Priority', v.priority) },
    Tags: { id: s.Tags.id, type: 'multi_select', multi_select: v.tags.map((t) => option('Tags', t)) },
    Assignee: { id: s.Assignee.id, type: 'people', people: [personUser(v.assignee)] },
    Due: { id: s.Due.id, type: 'date', date: { start: v.due, end: null, time_zone: null } },
    Reviewed: { id: s.Reviewed.id, type: 'checkbox', checkbox: v.reviewed },
    Estimate: { id: s.Estimate.id, type: 'number', number: v.estimate },
    Project: { id: s.Project.id, type: 'relation', relation: [{ id: uuid(`project:${v.project}`) }], has_more: false },
  });
}

export const projectOwner = (p: number) => PEOPLE[(p * 3) % PEOPLE.length]!;

function projectRow(p: number): Json {
  const s = projectsSchema();
  return pageObject(uuid(`project:${p}`), dsParent(IDS.projects, IDS.projectsDb), {
    Name: titleProp(PROJECT_NAMES[p]!),
    Owner: { id: s.Owner.id, type: 'people', people: [personUser(projectOwner(p))] },
    Status: { id: s.Status.id, type: 'status', status: s.Status.status.options[p % 4] },
    Launch: { id: s.Launch.id, type: 'date', date: { start: `2027-0${1 + (p % 9)}-15`, end: null, time_zone: null } },
    Tasks: { id: 'tk%3Ai', type: 'relation', relation: [], has_more: false },
  });
}

// --- The Handbook: 12 sections, each heading + prose + nested lists + to-dos + a toggle, and a table, code, callout, image.
export const SECTIONS = ['Welcome', 'How we work', 'Code review', 'Testing', 'Release checklist', 'Deployment', 'On-call', 'Incidents', 'Security', 'Data', 'Tooling', 'Glossary'];
/** Top-level blocks of the Handbook: a callout, 14 per section, then the table, code and image. */
export const HANDBOOK_TOP_BLOCKS = 1 + SECTIONS.length * 14 + 3;
export const REPLACE_SENTENCE = 'Deploys happen every Tuesday and Thursday before noon.';
const SENTENCES = [
  'We keep changes small so that every review takes minutes, not hours.',
  'Ask early when something is unclear; a question costs less than a rewrite.',
  'Write down decisions where the next person will look for them.',
  'Automate anything you do by hand more than twice.',
  'Prefer boring technology that the whole team can operate at 3 a.m.',
];

interface BlockSpec {
  type: string;
  text?: string;
  extra?: Json;
  children?: BlockSpec[];
}

function handbookSpecs(): BlockSpec[] {
  const out: BlockSpec[] = [{ type: 'callout', text: 'This handbook is the source of truth for how the engineering team works.', extra: { icon: { type: 'emoji', emoji: '💡' }, color: 'gray_background' } }];
  SECTIONS.forEach((title, s) => {
    out.push({ type: 'heading_2', text: title });
    for (let p = 0; p < 3; p++) {
      const text = s === 5 && p === 1 ? REPLACE_SENTENCE : `${title}: ${SENTENCES[(s + p) % SENTENCES.length]} ${SENTENCES[(s + p + 2) % SENTENCES.length]}`;
      out.push({ type: 'paragraph', text });
    }
    out.push({ type: 'heading_3', text: `In practice: ${title}` });
    for (let b = 0; b < 3; b++) {
      out.push({
        type: 'bulleted_list_item',
        text: `${title} rule ${b + 1}: ${SENTENCES[(s + b) % SENTENCES.length]}`,
        children: [
          { type: 'bulleted_list_item', text: `Example ${b + 1}.1 for ${title.toLowerCase()}`, children: [{ type: 'paragraph', text: `Detail for ${title.toLowerCase()} example ${b + 1}.1.` }] },
          { type: 'bulleted_list_item', text: `Example ${b + 1}.2 for ${title.toLowerCase()}` },
        ],
      });
    }
    for (let n = 0; n < 2; n++) out.push({ type: 'numbered_list_item', text: `Step ${n + 1} of ${title.toLowerCase()}` });
    for (let t = 0; t < 2; t++) out.push({ type: 'to_do', text: `Review the ${title.toLowerCase()} page (${t + 1})`, extra: { checked: t === 0 } });
    out.push({
      type: 'toggle',
      text: `FAQ: ${title}`,
      children: [
        { type: 'paragraph', text: `Who owns ${title.toLowerCase()}? The team lead of the quarter.` },
        { type: 'bulleted_list_item', text: 'Escalation', children: [{ type: 'paragraph', text: 'Page the on-call engineer.' }] },
      ],
    });
    if (s === 6) {
      out.push({
        type: 'table',
        extra: { table_width: 3, has_column_header: true, has_row_header: false },
        children: [['Week', 'Primary', 'Secondary'], ...Array.from({ length: 6 }, (_, w) => [`W${w + 1}`, PEOPLE[w]!.name, PEOPLE[w + 1]!.name])].map((cells) => ({
          type: 'table_row',
          extra: { cells: cells.map((c) => [richText(c)]) },
        })),
      });
    }
    if (s === 5) out.push({ type: 'code', text: 'npm ci && npm run build && npm run deploy -- --env production', extra: { language: 'shell', caption: [] } });
    if (s === 0) out.push({ type: 'image', extra: { type: 'external', external: { url: 'https://images.example.com/team-photo.png' }, caption: [] } });
    out.push({ type: 'divider' });
  });
  return out;
}

export interface Block extends Json {
  id: string;
  type: string;
}

export interface Comment extends Json {
  id: string;
  discussion_id: string;
}

export const THREADS = [
  ['Can we drop Node 18 from the test matrix?', 'Yes, it is end-of-life.', 'Agreed, let us do it after the release.'],
  ['The deploy steps are out of date.', 'I will update them this week.'],
  ['Who approves access to production data?', 'The data owner, see the Data section.', 'And security signs off.', 'Thanks!'],
];

// ---------------------------------------------------------------------------------------------
// Markdown (Notion-flavoured, tab-indented children)
// ---------------------------------------------------------------------------------------------

const indent = (s: string) => s.split('\n').map((l) => `\t${l}`).join('\n');

function blockMarkdown(b: Block, kids: (b: Block) => Block[]): string {
  const t = plain(b[b.type]?.rich_text);
  const children = kids(b).map((c) => blockMarkdown(c, kids));
  const nested = children.length ? `\n${children.map(indent).join('\n')}` : '';
  switch (b.type) {
    case 'heading_1':
      return `# ${t}${nested}`;
    case 'heading_2':
      return `## ${t}${nested}`;
    case 'heading_3':
      return `### ${t}${nested}`;
    case 'bulleted_list_item':
      return `- ${t}${nested}`;
    case 'numbered_list_item':
      return `1. ${t}${nested}`;
    case 'to_do':
      return `- [${b.to_do.checked ? 'x' : ' '}] ${t}${nested}`;
    case 'quote':
      return `> ${t}${nested}`;
    case 'toggle':
      return `<details>\n<summary>${t}</summary>${nested}\n</details>`;
    case 'callout':
      return `<callout icon="${b.callout.icon?.emoji ?? ''}">\n\t${t}${nested}\n</callout>`;
    case 'code':
      return `\`\`\`${b.code.language}\n${t}\n\`\`\``;
    case 'image':
      return `![](${b.image.external?.url ?? b.image.file?.url ?? ''})`;
    case 'divider':
      return '---';
    case 'table':
      return `<table header-row="${b.table.has_column_header}">\n${kids(b)
        .map((r) => `\t<tr>\n${(r.table_row.cells as Json[][]).map((c) => `\t\t<td>${plain(c)}</td>`).join('\n')}\n\t</tr>`)
        .join('\n')}\n</table>`;
    case 'child_page':
      return `<page url="https://www.notion.so/${dashless(b.id)}">${b.child_page.title}</page>`;
    default:
      return t;
  }
}

/** Markdown as a write sends it, parsed into block specs: headings, lists, to-dos, quotes, images, code, pipe and <table> tables, paragraphs. */
function parseMarkdown(md: string): BlockSpec[] {
  const lines = md.replace(/\r/g, '').split('\n');
  const root: BlockSpec[] = [];
  const stack: { depth: number; spec: BlockSpec }[] = [];
  const push = (depth: number, spec: BlockSpec) => {
    while (stack.length && stack.at(-1)!.depth >= depth) stack.pop();
    const parent = stack.at(-1)?.spec;
    if (parent) (parent.children ??= []).push(spec);
    else root.push(spec);
    stack.push({ depth, spec });
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const depth = /^\t*/.exec(raw)![0].length;
    const line = raw.trim();
    if (!line) continue;
    let m: RegExpExecArray | null;
    if (line.startsWith('```')) {
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i]!.trim().startsWith('```'); i++) body.push(lines[i]!.replace(/^\t*/, ''));
      push(depth, { type: 'code', text: body.join('\n'), extra: { language: line.slice(3) || 'plain text', caption: [] } });
    } else if (line.startsWith('|') || line.startsWith('<table')) {
      const rows: string[][] = [];
      if (line.startsWith('|')) {
        for (; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
          const cells = lines[i]!.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
          if (!cells.every((c) => /^:?-+:?$/.test(c))) rows.push(cells);
        }
        i--;
      } else {
        let html = '';
        for (; i < lines.length; i++) {
          html += `${lines[i]}\n`;
          if (lines[i]!.includes('</table>')) break;
        }
        for (const tr of html.match(/<tr>[\s\S]*?<\/tr>/g) ?? []) rows.push([...tr.matchAll(/<t[dh]>([\s\S]*?)<\/t[dh]>/g)].map((x) => x[1]!.trim()));
      }
      push(depth, {
        type: 'table',
        extra: { table_width: rows[0]?.length ?? 0, has_column_header: true, has_row_header: false },
        children: rows.map((cells) => ({ type: 'table_row', extra: { cells: cells.map((c) => [richText(c)]) } })),
      });
    } else if ((m = /^(#{1,3}) (.*)$/.exec(line))) push(depth, { type: `heading_${m[1]!.length}`, text: m[2]! });
    else if ((m = /^[-*] \[( |x)\] (.*)$/.exec(line))) push(depth, { type: 'to_do', text: m[2]!, extra: { checked: m[1] === 'x' } });
    else if ((m = /^[-*] (.*)$/.exec(line))) push(depth, { type: 'bulleted_list_item', text: m[1]! });
    else if ((m = /^\d+\. (.*)$/.exec(line))) push(depth, { type: 'numbered_list_item', text: m[1]! });
    else if ((m = /^> (.*)$/.exec(line))) push(depth, { type: 'quote', text: m[1]! });
    else if ((m = /^!\[[^\]]*\]\(([^)]+)\)$/.exec(line))) push(depth, { type: 'image', extra: { type: 'external', external: { url: m[1]! }, caption: [] } });
    else if (line === '---') push(depth, { type: 'divider' });
    else push(depth, { type: 'paragraph', text: line });
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

const notionError = (status: number, code: string, message: string): FakeResponse => ({ status, body: { object: 'error', status, code, message } });
const invalid = (message: string) => notionError(400, 'validation_error', message);
const notFound = (id: string) => notionError(404, 'object_not_found', `Could not find object with ID: ${id}. Make sure the relevant pages and databases are shared with your integration.`);
const ok = (body: unknown): FakeResponse => ({ status: 200, body });
const list = (results: unknown[], next: string | null, type: string) => ok({ object: 'list', results, next_cursor: next, has_more: next !== null, type, [type]: {} });

export class BenchWorkspace {
  pages = new Map<string, Json>();
  blocks = new Map<string, Block>();
  /** Parent (page or block) ID → its child block IDs, in order. */
  children = new Map<string, string[]>();
  comments: Comment[] = [];
  dataSources = new Map<string, Json>();
  private seq = 0;
  readonly handler: FakeHandler;

  constructor(private readonly fake: FakeNotion) {
    this.reset();
    this.handler = (req) => this.answer(req);
  }

  reset(): void {
    this.pages.clear();
    this.blocks.clear();
    this.children.clear();
    this.comments = [];
    this.dataSources.clear();
    this.seq = 0;
    const ds = (id: string, db: string, title: string, properties: Json) => ({
      object: 'data_source',
      id,
      title: [richText(title)],
      description: [],
      parent: { type: 'database_id', database_id: db },
      database_parent: { type: 'page_id', page_id: IDS.root },
      is_inline: false,
      in_trash: false,
      created_time: TIME,
      last_edited_time: TIME,
      created_by: { object: 'user', id: PEOPLE[0]!.id },
      last_edited_by: { object: 'user', id: PEOPLE[0]!.id },
      properties,
      icon: null,
      cover: null,
      url: `https://www.notion.so/${dashless(db)}`,
      public_url: null,
    });
    this.dataSources.set(IDS.tasks, ds(IDS.tasks, IDS.tasksDb, 'Tasks', tasksSchema()));
    this.dataSources.set(IDS.projects, ds(IDS.projects, IDS.projectsDb, 'Projects', projectsSchema()));
    const workspace = { type: 'workspace', workspace: true };
    this.pages.set(IDS.root, pageObject(IDS.root, workspace, { title: titleProp('Engineering') }));
    this.pages.set(IDS.handbook, pageObject(IDS.handbook, { type: 'page_id', page_id: IDS.root }, { title: titleProp('Handbook') }));
    for (const [id, title] of SMALL_PAGES) {
      this.pages.set(id, pageObject(id, { type: 'page_id', page_id: IDS.root }, { title: titleProp(title) }));
      this.addBlocks(id, [{ type: 'paragraph', text: `Notes for ${title}.` }, { type: 'bulleted_list_item', text: 'First point' }, { type: 'bulleted_list_item', text: 'Second point' }]);
    }
    for (let p = 0; p < PROJECT_NAMES.length; p++) this.pages.set(uuid(`project:${p}`), projectRow(p));
    for (let i = 1; i <= TASK_COUNT; i++) this.pages.set(uuid(`task:${i}`), taskRow(i));
    this.addBlocks(IDS.handbook, handbookSpecs());
    THREADS.forEach((thread, t) => {
      const discussion = uuid(`discussion:${t}`);
      thread.forEach((text, c) => this.comments.push(this.comment(uuid(`comment:${t}:${c}`), IDS.handbook, discussion, [richText(text)], PEOPLE[(t + c) % PEOPLE.length]!.id)));
    });
  }

  private comment(id: string, pageId: string, discussion: string, rich: Json[], author: string): Comment {
    return {
      object: 'comment',
      id,
      parent: { type: 'page_id', page_id: pageId },
      discussion_id: discussion,
      created_time: TIME,
      last_edited_time: TIME,
      created_by: { object: 'user', id: author },
      rich_text: rich,
      display_name: { type: 'user', resolved_name: userById(author)?.name ?? 'Notion MCP' },
    };
  }

  /** Kids of a page or block, in order. */
  kids = (parent: { id: string }): Block[] => (this.children.get(parent.id) ?? []).map((id) => this.blocks.get(id)!).filter((b) => !b.in_trash);

  private newBlock(parentId: string, spec: Json): Block {
    const id = uuid(`block:${this.seq++}:${parentId}`);
    const isPage = this.pages.has(parentId);
    // A request's block ({type, [type]: {...}, children?}) or a fixture spec.
    const type: string = spec.type;
    const body: Json = 'text' in spec || 'extra' in spec || !(type in spec) ? { ...(spec.text !== undefined ? { rich_text: [richText(spec.text)] } : {}), ...(spec.extra ?? {}) } : { ...spec[type] };
    if (body.rich_text) body.rich_text = fullRichText(body.rich_text);
    if (type === 'table_row') body.cells = (body.cells as unknown[][]).map(fullRichText);
    if (type === 'to_do') body.checked ??= false;
    if (type === 'code') body.language ??= 'plain text';
    if (['paragraph', 'heading_2', 'heading_3', 'heading_1', 'bulleted_list_item', 'numbered_list_item', 'to_do', 'toggle', 'quote', 'callout'].includes(type)) body.color ??= 'default';
    const kids: Json[] = spec.children ?? body.children ?? [];
    delete body.children;
    const block: Block = {
      object: 'block',
      id,
      parent: isPage ? { type: 'page_id', page_id: parentId } : { type: 'block_id', block_id: parentId },
      created_time: TIME,
      last_edited_time: TIME,
      created_by: { object: 'user', id: PEOPLE[0]!.id },
      last_edited_by: { object: 'user', id: PEOPLE[0]!.id },
      has_children: kids.length > 0,
      archived: false,
      in_trash: false,
      type,
      [type]: body,
    };
    this.blocks.set(id, block);
    for (const k of kids) this.insert(id, this.newBlock(id, k));
    return block;
  }

  private insert(parentId: string, block: Block, at?: number): void {
    const ids = this.children.get(parentId) ?? [];
    ids.splice(at ?? ids.length, 0, block.id);
    this.children.set(parentId, ids);
    const parent = this.blocks.get(parentId);
    if (parent) parent.has_children = true;
  }

  addBlocks(parentId: string, specs: (BlockSpec | Json)[], at?: number): Block[] {
    return specs.map((s, k) => {
      const b = this.newBlock(parentId, s);
      this.insert(parentId, b, at === undefined ? undefined : at + k);
      return b;
    });
  }

  markdown(pageId: string): string {
    return this.kids({ id: pageId }).map((b) => blockMarkdown(b, this.kids)).join('\n');
  }

  /** Rows of a data source, not trashed. */
  rows(dsId: string): Json[] {
    return [...this.pages.values()].filter((p) => p.parent.data_source_id === dsId && !p.in_trash);
  }

  titleOf(page: Json): string {
    return plain(Object.values(page.properties as Json).find((p: Json) => p.type === 'title')?.title);
  }

  pageByTitle(title: string): Json | undefined {
    return [...this.pages.values()].find((p) => this.titleOf(p) === title);
  }

  // -------------------------------------------------------------------------------------------
  // HTTP
  // -------------------------------------------------------------------------------------------

  private answer(req: RecordedRequest): FakeResponse | undefined {
    if (req.path.startsWith('/v1/oauth/')) return undefined;
    if (!req.headers['notion-version']) {
      return notionError(400, 'missing_version', 'Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.');
    }
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !this.fake.tokens.has(token)) return notionError(401, 'unauthorized', 'API token is invalid.');
    const body: Json = typeof req.body === 'object' && req.body !== null ? (req.body as Json) : {};
    const seg = req.path.split('/').slice(2).map((s) => decodeURIComponent(s));
    const id = seg[1] === undefined ? undefined : normalize(seg[1]);
    if (seg[1] !== undefined && seg[1] !== 'me' && id === undefined) return invalid(`path failed validation: path.id should be a valid uuid, instead was \`"${seg[1]}"\`.`);
    const route = `${req.method} /${seg[0]}${seg.length > 1 ? '/:id' : ''}${seg.slice(2).map((s) => `/${s}`).join('')}`;
    switch (route) {
      case 'GET /users':
        return this.paged([...PEOPLE.map(personUser), ...BOTS.map(botUser)], req.query, 'user');
      case 'GET /users/:id':
        if (seg[1] === 'me') return ok({ ...botUser(BOTS[0]!), bot: { owner: { type: 'workspace', workspace: true }, workspace_name: 'Acme' } });
        return ((u) => (u ? ok(u) : notFound(id!)))([...PEOPLE.map(personUser), ...BOTS.map(botUser)].find((u) => u.id === id));
      case 'POST /search':
        return this.search(body);
      case 'GET /pages/:id':
        return this.pages.has(id!) ? ok(this.pages.get(id!)) : notFound(id!);
      case 'PATCH /pages/:id':
        return this.updatePage(id!, body);
      case 'POST /pages':
        return this.createPage(body);
      case 'POST /pages/:id/move':
        return this.movePage(id!, body);
      case 'GET /pages/:id/markdown':
        return this.pages.has(id!) ? ok({ object: 'page_markdown', id, markdown: this.markdown(id!), truncated: false, unknown_block_ids: [] }) : notFound(id!);
      case 'PATCH /pages/:id/markdown':
        return this.updateMarkdown(id!, body);
      case 'GET /blocks/:id':
        return this.blocks.has(id!) ? ok(this.blocks.get(id!)) : this.pages.has(id!) ? ok({ object: 'block', id, type: 'child_page', child_page: { title: this.titleOf(this.pages.get(id!)!) }, has_children: true, in_trash: false }) : notFound(id!);
      case 'GET /blocks/:id/children':
        return this.blocks.has(id!) || this.pages.has(id!) ? this.paged(this.kids({ id: id! }), req.query, 'block') : notFound(id!);
      case 'PATCH /blocks/:id/children':
        return this.append(id!, body);
      case 'PATCH /blocks/:id':
        return this.updateBlock(id!, body);
      case 'DELETE /blocks/:id':
        return this.updateBlock(id!, { in_trash: true });
      case 'GET /databases/:id':
        return this.database(id!);
      case 'GET /data_sources/:id':
        return this.dataSources.has(id!) ? ok(this.dataSources.get(id!)) : notFound(id!);
      case 'PATCH /data_sources/:id':
        return this.updateDataSource(id!, body);
      case 'POST /data_sources/:id/query':
        return this.query(id!, body, req.query);
      case 'GET /comments':
        return this.paged(this.comments.filter((c) => c.parent.page_id === normalize(req.query.block_id ?? '')), req.query, 'comment');
      case 'POST /comments':
        return this.createComment(body);
      default:
        return notionError(418, 'unexpected', `the bench workspace has no route for ${req.method} ${req.path}`);
    }
  }

  /** Notion's paging: page_size ≤ 100 (query or body), start_cursor = the next item's ID. */
  private paged(items: Json[], q: Json, type: string): FakeResponse {
    const size = q.page_size === undefined ? 100 : Number(q.page_size);
    if (!Number.isInteger(size) || size < 1 || size > 100) return invalid(`page_size should be an integer between 1 and 100, instead was \`${JSON.stringify(q.page_size)}\`.`);
    let start = 0;
    if (q.start_cursor !== undefined) {
      start = items.findIndex((i) => i.id === q.start_cursor);
      if (start < 0) return invalid(`start_cursor should be a valid cursor, instead was \`${JSON.stringify(q.start_cursor)}\`.`);
    }
    const next = items[start + size];
    return list(items.slice(start, start + size), next ? next.id : null, type === 'page' ? 'page_or_data_source' : type);
  }

  private search(body: Json): FakeResponse {
    const q = String(body.query ?? '').toLowerCase();
    const items: Json[] = [
      ...[...this.pages.values()].filter((p) => !p.in_trash && this.titleOf(p).toLowerCase().includes(q)),
      ...[...this.dataSources.values()].filter((d) => plain(d.title).toLowerCase().includes(q)),
    ].filter((i) => body.filter?.value === undefined || i.object === body.filter.value);
    return this.paged(items, body, 'page');
  }

  private database(id: string): FakeResponse {
    const ds = [...this.dataSources.values()].find((d) => d.parent.database_id === id);
    if (!ds) return notFound(id);
    return ok({ object: 'database', id, title: ds.title, description: [], parent: ds.database_parent, is_inline: false, in_trash: false, is_locked: false, created_time: TIME, last_edited_time: TIME, data_sources: [{ id: ds.id, name: plain(ds.title) }], icon: null, cover: null, url: ds.url, public_url: null });
  }

  /** Property values as a write sends them, in the shape Notion stores and answers with. */
  private propertyValues(schema: Json, props: Json): Json | FakeResponse {
    const out: Json = {};
    for (const [key, value] of Object.entries(props ?? {})) {
      const def = schema[key] ?? Object.values(schema).find((d: Json) => d.id === key);
      if (!def) return invalid(`${key} is not a property that exists.`);
      const v = value as Json;
      const options = def[def.type]?.options as Json[] | undefined;
      const option = (o: Json | null) => (o === null ? null : options?.find((x) => x.name === o.name || x.id === o.id) ?? { id: uuid(`option:${o.name}`).slice(0, 8), name: o.name, color: 'default' });
      let stored: unknown;
      switch (def.type) {
        case 'title':
        case 'rich_text':
          stored = fullRichText(v[def.type]);
          break;
        case 'status':
        case 'select': {
          const o = option(v[def.type]);
          if (def.type === 'status' && o && !options?.some((x) => x.name === o.name)) return invalid(`Invalid status option "${o.name}".`);
          stored = o;
          break;
        }
        case 'multi_select':
          stored = (v.multi_select as Json[]).map(option);
          break;
        case 'people':
          stored = (v.people as Json[]).map((p) => {
            const u = userById(p.id);
            return u ? personUser(u) : { object: 'user', id: p.id };
          });
          break;
        case 'date':
          stored = v.date === null ? null : { start: v.date.start, end: v.date.end ?? null, time_zone: v.date.time_zone ?? null };
          break;
        case 'relation':
          stored = (v.relation as Json[]).map((r) => ({ id: normalize(r.id) ?? r.id }));
          break;
        default:
          stored = v[def.type];
      }
      out[def.name] = { id: def.id, type: def.type, [def.type]: stored, ...(def.type === 'relation' ? { has_more: false } : {}) };
    }
    return out;
  }

  private parentOf(body: Json): Json | FakeResponse {
    const p = body.parent ?? {};
    if (p.data_source_id) {
      const ds = this.dataSources.get(normalize(p.data_source_id) ?? '');
      return ds ? dsParent(ds.id, ds.parent.database_id) : notFound(p.data_source_id);
    }
    if (p.database_id) {
      const ds = [...this.dataSources.values()].find((d) => d.parent.database_id === normalize(p.database_id));
      return ds ? dsParent(ds.id, ds.parent.database_id) : notFound(p.database_id);
    }
    if (p.page_id) return this.pages.has(normalize(p.page_id) ?? '') ? { type: 'page_id', page_id: normalize(p.page_id) } : notFound(p.page_id);
    return invalid('body failed validation: body.parent should be defined, instead was `undefined`.');
  }

  private createPage(body: Json): FakeResponse {
    const parent = this.parentOf(body);
    if ('status' in parent) return parent as FakeResponse;
    const schema = parent.data_source_id ? this.dataSources.get(parent.data_source_id)!.properties : { title: { id: 'title', name: 'title', type: 'title' } };
    const props = this.propertyValues(schema, body.properties ?? {});
    if ('status' in props && typeof props.status === 'number') return props as FakeResponse;
    if (body.markdown !== undefined && body.children !== undefined) return invalid('body failed validation: markdown and children are mutually exclusive.');
    const id = uuid(`created:${this.seq++}`);
    const page = pageObject(id, parent, props as Json);
    if (body.icon) page.icon = body.icon;
    this.pages.set(id, page);
    if (body.children) this.addBlocks(id, body.children);
    if (typeof body.markdown === 'string') this.addBlocks(id, parseMarkdown(body.markdown));
    return ok(page);
  }

  private updatePage(id: string, body: Json): FakeResponse {
    const page = this.pages.get(id);
    if (!page) return notFound(id);
    if (body.properties) {
      const schema = page.parent.data_source_id ? this.dataSources.get(page.parent.data_source_id)!.properties : { title: { id: 'title', name: 'title', type: 'title' } };
      const props = this.propertyValues(schema, body.properties);
      if (typeof props.status === 'number') return props as FakeResponse;
      Object.assign(page.properties, props);
    }
    if (body.in_trash !== undefined || body.archived !== undefined) page.in_trash = page.is_archived = Boolean(body.in_trash ?? body.archived);
    if (body.icon !== undefined) page.icon = body.icon;
    page.last_edited_time = '2026-12-02T12:00:00.000Z';
    return ok(page);
  }

  private movePage(id: string, body: Json): FakeResponse {
    const page = this.pages.get(id);
    if (!page) return notFound(id);
    const parent = this.parentOf(body);
    if ('status' in parent) return parent as FakeResponse;
    page.parent = parent;
    return ok(page);
  }

  private append(parentId: string, body: Json): FakeResponse {
    if (!this.blocks.has(parentId) && !this.pages.has(parentId)) return notFound(parentId);
    if (!Array.isArray(body.children) || body.children.length > 100) return invalid('body.children should be an array of at most 100 blocks.');
    const siblings = this.children.get(parentId) ?? [];
    const after = body.after ?? body.position?.after_block?.id;
    let at: number | undefined;
    if (after) {
      at = siblings.indexOf(normalize(after) ?? '') + 1;
      if (at === 0) return invalid(`after block ${after} is not a child of ${parentId}.`);
    } else if (body.position?.type === 'start') at = 0;
    const added = this.addBlocks(parentId, body.children, at);
    return list(added, null, 'block');
  }

  private updateBlock(id: string, body: Json): FakeResponse {
    const block = this.blocks.get(id);
    if (!block) return this.pages.has(id) ? this.updatePage(id, body) : notFound(id);
    if (body.in_trash !== undefined || body.archived !== undefined) block.in_trash = block.archived = Boolean(body.in_trash ?? body.archived);
    if (body[block.type]) {
      const patch = { ...body[block.type] };
      if (patch.rich_text) patch.rich_text = fullRichText(patch.rich_text);
      Object.assign(block[block.type], patch);
    }
    return ok(block);
  }

  /** update_content (search and replace over the page's Markdown, re-parsing only the top-level blocks it touches) and replace_content. */
  private updateMarkdown(pageId: string, body: Json): FakeResponse {
    if (!this.pages.has(pageId)) return notFound(pageId);
    if (body.type === 'replace_content') {
      for (const b of this.kids({ id: pageId })) b.in_trash = true;
      this.addBlocks(pageId, parseMarkdown(String(body.replace_content?.new_str ?? '')));
    } else if (body.type === 'update_content') {
      const updates = body.update_content?.content_updates;
      if (!Array.isArray(updates) || updates.length === 0 || updates.length > 100) return invalid('update_content.content_updates should be an array of 1 to 100 edits.');
      for (const u of updates as Json[]) {
        const top = this.kids({ id: pageId });
        const chunks = top.map((b) => blockMarkdown(b, this.kids));
        const full = chunks.join('\n');
        const at = full.indexOf(u.old_str);
        if (!u.old_str || at < 0) return invalid(`update_content: old_str was not found in the page: ${JSON.stringify(String(u.old_str).slice(0, 80))}`);
        if (!u.replace_all_matches && full.indexOf(u.old_str, at + 1) >= 0) return invalid('update_content: old_str matches more than once; give more context or replace_all_matches.');
        // The top-level blocks the match touches.
        let offset = 0;
        let first = -1;
        let last = -1;
        chunks.forEach((c, k) => {
          const end = offset + c.length;
          if (first < 0 && end >= at) first = k;
          if (offset <= at + u.old_str.length) last = k;
          offset = end + 1;
        });
        const startOffset = chunks.slice(0, first).reduce((n, c) => n + c.length + 1, 0);
        const text = chunks.slice(first, last + 1).join('\n');
        const replaced = u.replace_all_matches ? text.split(u.old_str).join(u.new_str) : text.slice(0, at - startOffset) + u.new_str + text.slice(at - startOffset + u.old_str.length);
        const kept = new Map(top.slice(first, last + 1).map((b, k) => [chunks[first + k]!, b]));
        const siblings = this.children.get(pageId)!;
        const touched = top.slice(first, last + 1);
        const index = siblings.indexOf(touched[0]!.id);
        for (const b of touched) siblings.splice(siblings.indexOf(b.id), 1);
        // Unchanged blocks keep their ID and children; the rest are parsed anew.
        const pieces = replaced.split('\n');
        let k = index;
        let pending: string[] = [];
        const flush = () => {
          if (!pending.length) return;
          k += this.addBlocks(pageId, parseMarkdown(pending.join('\n')), k).length;
          pending = [];
        };
        for (let i = 0; i < pieces.length; i++) {
          const hit = [...kept.keys()].find((c) => pieces.slice(i, i + c.split('\n').length).join('\n') === c);
          if (hit !== undefined) {
            flush();
            siblings.splice(k++, 0, kept.get(hit)!.id);
            kept.delete(hit);
            i += hit.split('\n').length - 1;
          } else pending.push(pieces[i]!);
        }
        flush();
      }
    } else return invalid('body.type should be replace_content or update_content.');
    return ok({ object: 'page_markdown', id: pageId, markdown: this.markdown(pageId), truncated: false, unknown_block_ids: [] });
  }

  private updateDataSource(id: string, body: Json): FakeResponse {
    const ds = this.dataSources.get(id);
    if (!ds) return notFound(id);
    for (const [key, change] of Object.entries((body.properties ?? {}) as Json)) {
      const def = ds.properties[key] ?? (Object.values(ds.properties) as Json[]).find((d) => d.id === key);
      if (change === null) {
        if (def) delete ds.properties[def.name];
        continue;
      }
      if (!def) {
        const type = Object.keys(change).find((k) => k !== 'name')!;
        ds.properties[key] = { id: uuid(`prop:${key}`).slice(0, 6), name: key, description: null, type, [type]: change[type] };
        continue;
      }
      if (typeof change.name === 'string' && change.name !== def.name) {
        const old = def.name;
        delete ds.properties[old];
        def.name = change.name;
        ds.properties[change.name] = def;
        for (const row of this.rows(id)) {
          row.properties[change.name] = row.properties[old];
          delete row.properties[old];
        }
      }
    }
    if (body.title) ds.title = fullRichText(body.title);
    return ok(ds);
  }

  private createComment(body: Json): FakeResponse {
    const rich = body.rich_text ? fullRichText(body.rich_text) : typeof body.markdown === 'string' ? [richText(body.markdown)] : undefined;
    if (!rich) return invalid('body.rich_text or body.markdown should be defined.');
    let pageId: string | undefined;
    let discussion: string;
    if (body.discussion_id) {
      discussion = normalize(body.discussion_id) ?? '';
      pageId = this.comments.find((c) => c.discussion_id === discussion)?.parent.page_id;
      if (!pageId) return notFound(body.discussion_id);
    } else {
      pageId = normalize(body.parent?.page_id ?? '');
      if (!pageId || !this.pages.has(pageId)) return notFound(String(body.parent?.page_id));
      discussion = uuid(`discussion:new:${this.seq++}`);
    }
    const c = this.comment(uuid(`comment:new:${this.seq++}`), pageId, discussion, rich, BOTS[0]!.id);
    this.comments.push(c);
    return ok(c);
  }

  // --- data source queries ---------------------------------------------------------------

  private query(id: string, body: Json, q: Json): FakeResponse {
    const ds = this.dataSources.get(id);
    if (!ds) return notFound(id);
    // The tests' evaluator, so the bench answers queries exactly as the tool tests' fake does.
    try {
      return ok(runFakeQuery({ schema: ds, rows: this.rows(id) }, body, q as Record<string, string>));
    } catch (err) {
      if (err instanceof QueryError) return invalid(err.message);
      throw err;
    }
  }
}


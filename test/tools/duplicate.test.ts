import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { block, blockIdAt, list, paragraph, text } from '../fixtures/blocks.js';
import { database, dataSource, DB_ID, DS_ID, PROJECTS_DS_ID } from '../fixtures/databases.js';
import { childPage, IDS, notFound, rowPage } from '../fixtures/pages.js';
import type { RecordedRequest } from '../helpers/fake-notion.js';
import { type ToolStack, routes, startToolStack } from '../helpers/tools.js';

type Obj = Record<string, any>;

const ROOT = IDS.page;
const CHILD = 'c0c0c0c0-1111-4222-8333-444455556666';
const SYNCED_ORIGINAL = 'd1d1d1d1-1111-4222-8333-444455556666';
const id = (n: number) => blockIdAt(n);
const under = (parent: string) => ({ parent: { type: 'block_id', block_id: parent } });
const hostedFile = { type: 'file', file: { url: 'https://prod-files-secure.s3.us-west-2.amazonaws.com/x/a.png?X-Amz-Signature=abc', expiry_time: '2026-03-21T17:42:00.000Z' } };
/** Rich text as the copy sends it: the item's type, body and annotations, without plain_text and href. */
const sent = (item: Obj) => ({ type: item.type, [item.type]: item[item.type], annotations: item.annotations });

/**
 * The page to copy, as Notion lists it: nested blocks three levels deep, a column list and a table
 * (created with their children), blocks the API cannot create, a child page, a child database and
 * 120 paragraphs, so the top level takes more than one append.
 */
function sourceTree(): Map<string, Obj[]> {
  const many = Array.from({ length: 120 }, (_, i) => paragraph(id(100 + i), `Line ${i}`));
  return new Map<string, Obj[]>([
    [
      ROOT,
      [
        block(id(1), 'heading_1', { rich_text: [text('Plan')], is_toggleable: false, color: 'default' }),
        paragraph(id(2), 'Ship it'),
        block(id(3), 'toggle', { rich_text: [text('Details')], color: 'default' }, { has_children: true }),
        block(id(4), 'image', { caption: [], ...hostedFile }),
        block(id(5), 'image', { caption: [text('Diagram')], type: 'external', external: { url: 'https://example.com/d.png' } }),
        block(id(6), 'link_preview', { url: 'https://github.com/makenotion/notion-sdk-js/pull/1' }),
        block(id(7), 'synced_block', { synced_from: { type: 'block_id', block_id: SYNCED_ORIGINAL } }, { has_children: true }),
        block(CHILD, 'child_page', { title: 'Notes' }),
        block(DB_ID, 'child_database', { title: 'Tasks' }),
        block(id(10), 'column_list', {}, { has_children: true }),
        block(id(11), 'table', { table_width: 2, has_column_header: true, has_row_header: false }, { has_children: true }),
        ...many,
      ],
    ],
    [id(3), [paragraph(id(20), 'Inside', under(id(3))), block(id(21), 'bulleted_list_item', { rich_text: [text('Point')], color: 'default' }, { has_children: true, ...under(id(3)) })]],
    [id(21), [paragraph(id(22), 'Deep', under(id(21)))]],
    [id(10), [block(id(30), 'column', { width_ratio: 0.5 }, { has_children: true }), block(id(31), 'column', { width_ratio: 0.5 }, { has_children: true })]],
    [id(30), [paragraph(id(32), 'Left'), block(id(33), 'toggle', { rich_text: [text('More')], color: 'default' }, { has_children: true })]],
    [id(33), [paragraph(id(34), 'Under the left toggle')]],
    [id(31), [paragraph(id(35), 'Right')]],
    [id(11), [block(id(40), 'table_row', { cells: [[text('a')], [text('b')]] }), block(id(41), 'table_row', { cells: [[text('1')], [text('2')]] })]],
    [CHILD, [paragraph(id(50), 'Child text')]],
  ]);
}

/**
 * A small stateful Notion: the source pages and blocks, and what the copy creates (so the new
 * blocks' children can be listed). Lists come in pages of `page_size`, continued by cursor.
 */
function fakeNotion(opts: { root?: Obj; tree?: Map<string, Obj[]> } = {}) {
  const children = opts.tree ?? sourceTree();
  const pages = new Map<string, Obj>([
    [ROOT, childPage({ icon: { type: 'emoji', emoji: '🚀' }, cover: hostedFile, properties: { title: { id: 'title', type: 'title', title: [text('Launch '), text('plan', { bold: true })] } }, ...opts.root })],
    [CHILD, childPage({ id: CHILD, icon: null, parent: { type: 'page_id', page_id: ROOT }, properties: { title: { id: 'title', type: 'title', title: [text('Notes')] } } })],
  ]);
  let made = 0;
  const newId = () => `e0000000-0000-4000-8000-${String(++made).padStart(12, '0')}`;
  const create = (parent: string, requests: Obj[]): Obj[] =>
    requests.map((r) => {
      const { children: inner, ...body } = r[r.type];
      const created = block(newId(), r.type, body, { has_children: !!inner, ...under(parent) });
      children.set(created.id as string, inner ? create(created.id as string, inner) : []);
      return created;
    });
  return (req: RecordedRequest): { status?: number; body: unknown } => {
    const path = req.path.replace(/^\/v1\//, '');
    let m: RegExpMatchArray | null;
    if (req.method === 'GET' && (m = path.match(/^pages\/(.+)$/))) return pages.has(m[1]!) ? { body: pages.get(m[1]!) } : { status: 404, body: notFound('page', m[1]!) };
    if (req.method === 'GET' && (m = path.match(/^blocks\/(.+)\/children$/))) {
      const all = children.get(m[1]!) ?? [];
      const from = req.query.start_cursor ? all.findIndex((b) => b.id === req.query.start_cursor) : 0;
      const size = Number(req.query.page_size ?? 100);
      const next = all[from + size];
      return { body: list('block', all.slice(from, from + size), next ? next.id : null) };
    }
    if (req.method === 'GET' && path === `databases/${DB_ID}`) return { body: database };
    if (req.method === 'GET' && path === `data_sources/${DS_ID}`) return { body: dataSource };
    if (req.method === 'POST' && path === 'pages') {
      const page = childPage({ id: newId(), parent: { type: 'page_id', ...(req.body as Obj).parent } });
      page.url = `https://www.notion.so/Copy-${page.id.replace(/-/g, '')}`;
      pages.set(page.id, page);
      children.set(page.id, []);
      return { body: page };
    }
    if (req.method === 'POST' && path === 'databases') return { body: { ...database, id: newId(), data_sources: [{ id: newId(), name: 'Tasks' }] } };
    if (req.method === 'PATCH' && (m = path.match(/^blocks\/(.+)\/children$/))) {
      const added = create(m[1]!, (req.body as Obj).children);
      children.get(m[1]!)?.push(...added);
      return { body: list('block', added) };
    }
    return { status: 418, body: { object: 'error', status: 418, code: 'unexpected', message: `no route for ${req.method} ${req.path}` } };
  };
}

const writes = (reqs: RecordedRequest[]) => reqs.filter((r) => r.method !== 'GET');
const appendsTo = (reqs: RecordedRequest[], parent: string) => reqs.filter((r) => r.method === 'PATCH' && r.path === `/v1/blocks/${parent}/children`);

describe('duplicate_page', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  const SKIPPED = [
    { id: ROOT, type: 'cover', reason: expect.stringContaining('uploaded to Notion') },
    { id: id(4), type: 'image', reason: expect.stringContaining('uploaded to Notion') },
    { id: id(6), type: 'link_preview', reason: 'Notion cannot create this block type through the API' },
    { id: id(7), type: 'synced_block', reason: 'a synced copy of a block elsewhere' },
  ];

  it('dry_run reads the whole tree, writes nothing, and counts blocks by type, pages, databases, skips and calls', async () => {
    ts.answer(fakeNotion());
    const res = await ts.call('more', { op: 'duplicate_page', args: { page_id: ROOT, dry_run: true } });
    expect(res.isError).toBe(false);
    const reqs = ts.upstream(ts.apiRequests().length);
    expect(writes(reqs)).toEqual([]);
    expect(res.data).toEqual({
      dry_run: true,
      title: 'Launch plan (copy)',
      blocks: { heading_1: 1, paragraph: 127, toggle: 2, bulleted_list_item: 1, image: 1, column_list: 1, column: 2, table: 1, table_row: 2 },
      pages: [{ id: CHILD, title: 'Notes' }],
      databases: [{ id: DB_ID, title: 'Tasks' }],
      skipped: SKIPPED,
      // Root page, child page and database; appends: root 1 + 2 (122 blocks), toggle, bullet, left toggle, child page;
      // two reads to learn the new column list's and left column's block IDs.
      notion_calls: 12,
      note: 'Databases are copied with their schema, without rows.',
    });
    // The top level is read in pages of 100.
    expect(reqs.filter((r) => r.path === `/v1/blocks/${ROOT}/children`).map((r) => r.query)).toEqual([{ page_size: '100' }, { page_size: '100', start_cursor: id(189) }]);
  });

  it('copies level by level with the IDs Notion returns, in appends of at most 100, with child pages and databases in place', async () => {
    const progress: [number, number | undefined][] = [];
    ts.answer(fakeNotion());
    const res = await ts.result('duplicate_page', { page_id: ROOT }, { progress: (done, total) => progress.push([done, total]) });
    const data = JSON.parse(res.content[0].text);
    const reqs = ts.upstream(ts.apiRequests().length);
    const w = writes(reqs);

    // The copy: under the original's parent, its title with " (copy)", the emoji icon (the hosted cover is skipped).
    expect(w[0]).toMatchObject({ method: 'POST', path: '/v1/pages' });
    expect(w[0]!.body).toEqual({
      parent: { page_id: IDS.parentPage },
      properties: { title: { title: [sent(text('Launch ')), sent(text('plan', { bold: true })), { type: 'text', text: { content: ' (copy)' } }] } },
      icon: { type: 'emoji', emoji: '🚀' },
    });
    const copy = data.id as string;
    expect(data).toEqual({
      id: copy,
      url: `https://www.notion.so/Copy-${copy.replace(/-/g, '')}`,
      copied: { blocks: 138, pages: 2, databases: 1 },
      skipped: SKIPPED,
      note: 'Databases are copied with their schema, without rows.',
    });

    // The top level before the child page: plain bodies, no children yet, rich text as Notion takes it.
    const top = appendsTo(reqs, copy);
    expect(top[0]!.body).toEqual({
      children: [
        { type: 'heading_1', heading_1: { rich_text: [sent(text('Plan'))], is_toggleable: false, color: 'default' } },
        { type: 'paragraph', paragraph: { rich_text: [sent(text('Ship it'))], color: 'default' } },
        { type: 'toggle', toggle: { rich_text: [sent(text('Details'))], color: 'default' } },
        { type: 'image', image: { caption: [sent(text('Diagram'))], type: 'external', external: { url: 'https://example.com/d.png' } } },
      ],
    });
    // Then the child page, then the database, where they stood; then the rest in appends of at most 100.
    const order = w.map((r) => `${r.method} ${r.path === `/v1/blocks/${copy}/children` ? 'copy' : r.path}`);
    expect(order.slice(0, 7)).toEqual(['POST /v1/pages', 'PATCH copy', 'POST /v1/pages', expect.stringMatching(/^PATCH \/v1\/blocks\/e.*\/children$/), 'POST /v1/databases', 'PATCH copy', 'PATCH copy']);
    expect(top.map((r) => (r.body as Obj).children.length)).toEqual([4, 100, 22]);
    for (const r of w) if (r.method === 'PATCH') expect((r.body as Obj).children.length).toBeLessThanOrEqual(100);

    // The child page: a page of the copy with its own title, and its content.
    const child = w[2]!;
    expect(child.body).toEqual({ parent: { page_id: copy }, properties: { title: { title: [sent(text('Notes'))] } } });
    // The database: the same schema under the copy (a one-way relation, options by name), no rows.
    const db = w.find((r) => r.path === '/v1/databases')!.body as Obj;
    expect(db).toMatchObject({ parent: { type: 'page_id', page_id: copy }, title: [sent(text('Tasks'))], is_inline: false, icon: { type: 'emoji', emoji: '✅' } });
    expect(db.initial_data_source.properties).toMatchObject({
      Name: { title: {} },
      Status: { status: { options: [{ name: 'Not started', color: 'default' }, { name: 'In progress', color: 'blue' }, { name: 'Done', color: 'green' }] } },
      Estimate: { number: { format: 'number' } },
      Project: { relation: { data_source_id: PROJECTS_DS_ID, single_property: {} } },
      'Project lead': { rollup: { function: 'show_original', relation_property_name: 'Project', rollup_property_name: 'Lead' } },
      Overdue: { formula: { expression: 'prop("Due") < now()' } },
      ID: { unique_id: { prefix: 'TASK' } },
    });

    // A column list and a table go with their children (two levels at most) in the same request.
    const second = (top[1]!.body as Obj).children as Obj[];
    expect(second[0]).toEqual({
      type: 'column_list',
      column_list: {
        children: [
          { type: 'column', column: { width_ratio: 0.5, children: [{ type: 'paragraph', paragraph: { rich_text: [sent(text('Left'))], color: 'default' } }, { type: 'toggle', toggle: { rich_text: [sent(text('More'))], color: 'default' } }] } },
          { type: 'column', column: { width_ratio: 0.5, children: [{ type: 'paragraph', paragraph: { rich_text: [sent(text('Right'))], color: 'default' } }] } },
        ],
      },
    });
    expect(second[1]).toEqual({
      type: 'table',
      table: {
        table_width: 2,
        has_column_header: true,
        has_row_header: false,
        children: [
          { type: 'table_row', table_row: { cells: [[sent(text('a'))], [sent(text('b'))]] } },
          { type: 'table_row', table_row: { cells: [[sent(text('1'))], [sent(text('2'))]] } },
        ],
      },
    });

    // Children go under the new IDs Notion answered: the toggle's, then the bullet's (a third level),
    // and the left column's toggle, whose new ID is learned by listing the new column list and column.
    const nested = w.filter((r) => r.method === 'PATCH' && !r.path.includes(copy));
    const bodies = nested.map((r) => JSON.stringify((r.body as Obj).children));
    expect(bodies).toEqual([
      JSON.stringify([{ type: 'paragraph', paragraph: { rich_text: [sent(text('Child text'))], color: 'default' } }]),
      JSON.stringify([{ type: 'paragraph', paragraph: { rich_text: [sent(text('Inside'))], color: 'default' } }, { type: 'bulleted_list_item', bulleted_list_item: { rich_text: [sent(text('Point'))], color: 'default' } }]),
      JSON.stringify([{ type: 'paragraph', paragraph: { rich_text: [sent(text('Under the left toggle'))], color: 'default' } }]),
      JSON.stringify([{ type: 'paragraph', paragraph: { rich_text: [sent(text('Deep'))], color: 'default' } }]),
    ]);
    // Each nested append targets a block the copy created (IDs the fake handed out), never an original.
    for (const r of nested) expect(r.path).toMatch(/^\/v1\/blocks\/e0000000-/);
    // The dry run's count is the calls the copy made after reading (the two GETs learn new IDs).
    const readPhase = reqs.findIndex((r) => r.method !== 'GET');
    expect(reqs.length - readPhase).toBe(12);
    expect(reqs.slice(readPhase).filter((r) => r.method === 'GET').map((r) => r.path)).toEqual([expect.stringMatching(/^\/v1\/blocks\/e0000000-.*\/children$/), expect.stringMatching(/^\/v1\/blocks\/e0000000-.*\/children$/)]);

    // Progress: blocks copied so far out of the blocks to copy, up to all of them.
    expect(progress.every(([, total]) => total === 138)).toBe(true);
    expect(progress.map(([done]) => done)).toEqual([...progress.map(([done]) => done)].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual([138, 138]);
  });

  it('stops between writes when the call is cancelled, and says which partial copy to trash', async () => {
    ts.answer(fakeNotion());
    const abort = new AbortController();
    const res = await ts.result('duplicate_page', { page_id: ROOT }, { signal: abort.signal, progress: () => abort.abort() });
    const data = JSON.parse(res.content[0].text);
    const w = writes(ts.apiRequests());
    // The page and its first append were made; nothing after the cancellation.
    expect(w.map((r) => r.method)).toEqual(['POST', 'PATCH']);
    expect(data).toEqual({ id: data.id, url: expect.stringContaining(data.id.replace(/-/g, '')), copied: { blocks: 4, pages: 1, databases: 0 }, skipped: SKIPPED, stopped: expect.stringContaining('incomplete') });
  });

  it('copies a database row with its writable values into its own data source, and only the title elsewhere', async () => {
    const row = rowPage({ properties: { ...rowPage().properties, Files: { id: 'f', type: 'files', files: [{ name: 'a.png', ...hostedFile }, { name: 'spec', type: 'external', external: { url: 'https://example.com/spec.pdf' } }] } } });
    const created = childPage({ id: IDS.related });
    ts.answer(routes({ [`GET /v1/pages/${IDS.row}`]: { body: row }, [`GET /v1/blocks/${IDS.row}/children`]: { body: list('block', []) }, 'POST /v1/pages': { body: created } }));
    const res = await ts.call('duplicate_page', { page_id: IDS.row, title: 'Ship it again' });
    expect(res.isError).toBe(false);
    const [, , post] = ts.upstream(3);
    expect(post!.body).toEqual({
      parent: { data_source_id: IDS.dataSource },
      properties: {
        title: { title: [{ type: 'text', text: { content: 'Ship it again' } }] },
        Status: { status: { name: 'In progress' } },
        Tags: { multi_select: [{ name: 'Backend' }, { name: 'Urgent' }] },
        Due: { date: { start: '2026-04-30', end: null, time_zone: null } },
        Done: { checkbox: false },
        Estimate: { number: 3 },
        Owner: { people: [{ id: IDS.user }] },
        Files: { files: [{ name: 'spec', type: 'external', external: { url: 'https://example.com/spec.pdf' } }] },
      },
      cover: { type: 'external', external: { url: 'https://images.example.com/cover.png' } },
    });
    expect(res.data.skipped).toEqual([{ id: IDS.row, type: 'files', property: 'Files', reason: expect.stringContaining('uploaded to Notion') }]);
    expect(res.data.copied).toEqual({ blocks: 0, pages: 1, databases: 0 });

    ts.answer(routes({ [`GET /v1/pages/${IDS.row}`]: { body: row }, [`GET /v1/blocks/${IDS.row}/children`]: { body: list('block', []) }, 'POST /v1/pages': { body: created } }));
    await ts.call('duplicate_page', { page_id: IDS.row, parent: IDS.parentPage });
    expect(ts.upstream(3)[2]!.body).toEqual({
      parent: { page_id: IDS.parentPage },
      properties: { title: { title: [sent(text('Ship the connector')), { type: 'text', text: { content: ' (copy)' } }] } },
      cover: { type: 'external', external: { url: 'https://images.example.com/cover.png' } },
    });
  });

  it('says which partial copy is left when Notion refuses a write part way', async () => {
    const fake = fakeNotion();
    ts.answer((req) => (req.method === 'POST' && req.path === '/v1/databases' ? { status: 400, body: { object: 'error', status: 400, code: 'validation_error', message: 'body failed validation.' } } : fake(req)));
    const res = await ts.call('duplicate_page', { page_id: ROOT });
    expect(res.isError).toBe(true);
    const copy = writes(ts.apiRequests())[0]!;
    expect(copy.path).toBe('/v1/pages');
    expect(res.data.error).toMatchObject({ code: 'validation_error', status: 400, partial_copy: { id: expect.stringMatching(/^e0000000-/) }, copied: { blocks: 5, pages: 2, databases: 0 } });
    expect(res.data.error.message).toContain(`${res.data.error.partial_copy.url} is incomplete`);
    // Nothing is written after the refusal.
    expect(writes(ts.apiRequests()).at(-1)!.path).toBe('/v1/databases');
  });

  it('puts the copy of a page inside a block under the page that holds it, mentions named by ID', async () => {
    const toggle = '7a7a7a7a-1111-4222-8333-444455556666';
    const mention = (kind: string, target: Obj, plainText: string) => ({
      type: 'mention',
      mention: { type: kind, [kind]: target },
      annotations: text('').annotations,
      plain_text: plainText,
      href: null,
    });
    const para = block(id(60), 'paragraph', {
      rich_text: [text('Ask '), mention('user', { object: 'user', id: IDS.user, name: 'Ada Lovelace', avatar_url: null, type: 'person', person: { email: 'ada@example.com' } }, '@Ada Lovelace'), mention('page', { id: IDS.related }, 'Spec')],
      color: 'default',
    });
    ts.answer(
      routes({
        [`GET /v1/pages/${ROOT}`]: { body: childPage({ icon: null, parent: { type: 'block_id', block_id: toggle } }) },
        [`GET /v1/blocks/${ROOT}/children`]: { body: list('block', [para]) },
        [`GET /v1/blocks/${toggle}`]: { body: block(toggle, 'toggle', { rich_text: [], color: 'default' }, { has_children: true, parent: { type: 'page_id', page_id: IDS.parentPage } }) },
        'POST /v1/pages': { body: childPage({ id: IDS.related }) },
        [`PATCH /v1/blocks/${IDS.related}/children`]: { body: list('block', [paragraph(id(61), 'x')]) },
      }),
    );
    const res = await ts.call('duplicate_page', { page_id: ROOT });
    expect(res.isError).toBe(false);
    const reqs = ts.upstream(5);
    expect((reqs[3]!.body as Obj).parent).toEqual({ page_id: IDS.parentPage });
    expect(reqs[4]!.body).toEqual({
      children: [
        {
          type: 'paragraph',
          paragraph: {
            rich_text: [sent(text('Ask ')), { type: 'mention', mention: { type: 'user', user: { id: IDS.user } }, annotations: text('').annotations }, { type: 'mention', mention: { type: 'page', page: { id: IDS.related } }, annotations: text('').annotations }],
            color: 'default',
          },
        },
      ],
    });
  });

  it('creates a child page held in a column under the copy, and keeps its column with an empty paragraph', async () => {
    const tree = new Map<string, Obj[]>([
      [ROOT, [block(id(70), 'column_list', {}, { has_children: true })]],
      [id(70), [block(id(71), 'column', {}, { has_children: true }), block(id(72), 'column', {}, { has_children: true })]],
      [id(71), [block(CHILD, 'child_page', { title: 'Notes' })]],
      [id(72), [paragraph(id(73), 'Right')]],
      [CHILD, [paragraph(id(50), 'Child text')]],
    ]);
    ts.answer(fakeNotion({ tree }));
    const res = await ts.call('duplicate_page', { page_id: ROOT });
    expect(res.data.copied).toEqual({ blocks: 5, pages: 2, databases: 0 });
    const after = ts.apiRequests().slice(ts.apiRequests().findIndex((r) => r.method !== 'GET'));
    expect(after.map((r) => r.method)).toEqual(['POST', 'PATCH', 'GET', 'POST', 'PATCH']);
    expect((after[1]!.body as Obj).children[0].column_list.children).toEqual([
      { type: 'column', column: { children: [{ type: 'paragraph', paragraph: { rich_text: [] } }] } },
      { type: 'column', column: { children: [{ type: 'paragraph', paragraph: { rich_text: [sent(text('Right'))], color: 'default' } }] } },
    ]);
    expect(after[3]!.body).toMatchObject({ parent: { page_id: res.data.id } });
  });

  it('reports a page it cannot read as Notion does, writing nothing', async () => {
    ts.answer(routes({ [`GET /v1/pages/${ROOT}`]: { status: 404, body: notFound('page', ROOT) } }));
    const res = await ts.call('duplicate_page', { page_id: ROOT });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('object_not_found');
    ts.oneCall('GET', `/v1/pages/${ROOT}`);
  });
});

describe('moving several pages at once', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  it('save_pages moves three pages in one call, one move request each', async () => {
    const moved = [IDS.page, IDS.row, IDS.related];
    ts.answer((req) => (req.method === 'POST' && req.path.endsWith('/move') ? { body: childPage({ id: req.path.split('/')[3] }) } : undefined));
    const res = await ts.call('save_pages', { items: moved.map((page_id) => ({ page_id, parent: IDS.parentPage })) });
    expect(res.isError).toBe(false);
    const reqs = ts.upstream(3);
    expect(reqs.map((r) => [r.method, r.path, r.body])).toEqual(moved.map((p) => ['POST', `/v1/pages/${p}/move`, { parent: { page_id: IDS.parentPage } }]));
    expect(res.data.saved.map((s: Obj) => [s.index, s.action, s.id])).toEqual(moved.map((p, i) => [i, 'updated', p]));
  });
});

/**
 * What one tool call through the real /mcp puts in its connection's activity log: the tool (a
 * group call's op), read or write from the tool's readOnlyHint, the outcome, and the objects by
 * ID (titles only from results), trashed ones marked so they can be restored. Never content,
 * queries, URLs or other argument values.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { credentialRef } from '../../src/oauth/grants.js';
import type { ActivityEntry } from '../../src/store/types.js';
import { block, BLOCK_ID, paragraph } from '../fixtures/blocks.js';
import { childPage, IDS, pageUrl } from '../fixtures/pages.js';
import { routes, startToolStack, type ToolStack } from '../helpers/tools.js';

let t: ToolStack;
let grantId: string;
let readOnlyGrantId: string;

beforeAll(async () => {
  t = await startToolStack();
  grantId = (await t.stack.app.store.getToken(credentialRef(t.token)))!.grant.id;
  readOnlyGrantId = (await t.stack.app.store.getToken(credentialRef(t.readOnlyToken)))!.grant.id;
});
afterAll(() => t?.close());

/** The newest entry of a grant once the buffered ones are written. */
async function last(grant = grantId): Promise<ActivityEntry> {
  await t.stack.app.activity.flush();
  return (await t.stack.app.store.listActivity(grant, 1))[0]!;
}

describe('activity entries', () => {
  beforeEach(() => t.answer(() => undefined));

  it('a read by URL names the page by ID with the title its result gave, and keeps nothing else of the arguments', async () => {
    t.answer(routes({ [`GET /v1/pages/${IDS.page}`]: { body: childPage() } }));
    expect((await t.call('get_page', { page_id: `${pageUrl('Meeting notes', IDS.page)}?pvs=4` })).isError).toBe(false);
    const e = await last();
    expect(e).toMatchObject({ grantId, tool: 'get_page', write: false, outcome: 'ok', objects: [{ id: IDS.page, title: 'Meeting notes' }] });
    expect(JSON.stringify(e)).not.toMatch(/pvs|notion\.so/);
  });

  it('the same read repeated back to back is one entry with its count; a write or another read starts a new one', async () => {
    t.answer(routes({ [`GET /v1/pages/${IDS.page}`]: { body: childPage() }, [`PATCH /v1/pages/${IDS.page}`]: { body: childPage() } }));
    await t.stack.app.activity.flush();
    for (let i = 0; i < 3; i++) await t.call('get_page', { page_id: IDS.page });
    await t.call('update_page', { page_id: IDS.page, is_locked: true });
    await t.call('get_page', { page_id: IDS.page });
    await t.call('get_page', { page_id: IDS.parentPage });
    await t.stack.app.activity.flush();
    const [other, after, write, repeated] = await t.stack.app.store.listActivity(grantId, 4);
    expect(repeated).toMatchObject({ tool: 'get_page', count: 3, objects: [{ id: IDS.page }] });
    expect(repeated!.lastAt).toBeGreaterThanOrEqual(repeated!.at);
    expect(write).toMatchObject({ tool: 'update_page', write: true });
    expect(write!.count).toBeUndefined();
    expect(after).toMatchObject({ tool: 'get_page', objects: [{ id: IDS.page }] });
    expect(after!.count).toBeUndefined();
    // Another page (the fake has no route for it, so the call fails): its own entry.
    expect(other).toMatchObject({ tool: 'get_page', objects: [{ id: IDS.parentPage }] });
    expect(other!.outcome).not.toBe('ok');
  });

  it('update_page with in_trash marks the page trashed (restorable), and never records property values', async () => {
    t.answer(routes({ [`PATCH /v1/pages/${IDS.page}`]: { body: childPage({ in_trash: true }) } }));
    const res = await t.call('update_page', { page_id: IDS.page, in_trash: true, properties: { Notes: { rich_text: [{ text: { content: 'Salary review for Ada' } }] } } });
    expect(res.isError).toBe(false);
    const e = await last();
    expect(e).toMatchObject({ tool: 'update_page', write: true, outcome: 'ok', objects: [{ id: IDS.page, trashed: 'page' }] });
    expect(JSON.stringify(e)).not.toContain('Salary');
  });

  it('update_block with in_trash, delete_block and trash mark their objects with the kind a restore needs', async () => {
    // Trashing a block reads it first (is it a child page?), then trashes it.
    t.answer(
      routes({
        [`GET /v1/blocks/${BLOCK_ID}`]: { body: block(BLOCK_ID, 'paragraph', { rich_text: [] }) },
        [`PATCH /v1/blocks/${BLOCK_ID}`]: { body: block(BLOCK_ID, 'paragraph', { rich_text: [] }, { in_trash: true }) },
      }),
    );
    await t.call('update_block', { block_id: BLOCK_ID, in_trash: true });
    expect((await last()).objects).toEqual([{ id: BLOCK_ID, trashed: 'block' }]);

    t.answer(
      routes({
        [`GET /v1/blocks/${BLOCK_ID}`]: { body: paragraph(BLOCK_ID, 'gone') },
        [`DELETE /v1/blocks/${BLOCK_ID}`]: { body: paragraph(BLOCK_ID, 'gone', { in_trash: true }) },
      }),
    );
    await t.call('delete_block', { block_id: BLOCK_ID });
    expect(await last()).toMatchObject({ tool: 'delete_block', write: true, objects: [{ id: BLOCK_ID, trashed: 'block' }] });

    t.answer(routes({ [`PATCH /v1/databases/${IDS.database}`]: { body: { object: 'database', id: IDS.database, in_trash: true } } }));
    await t.call('trash', { ids: [IDS.database], kind: 'database' });
    expect((await last()).objects).toEqual([{ id: IDS.database, trashed: 'database' }]);

    // A restore is a write, but there is nothing to undo.
    t.answer(routes({ [`PATCH /v1/databases/${IDS.database}`]: { body: { object: 'database', id: IDS.database, in_trash: false } } }));
    await t.call('trash', { ids: [IDS.database], kind: 'database', restore: true });
    expect(await last()).toMatchObject({ tool: 'trash', write: true, objects: [{ id: IDS.database }] });
    expect((await last()).objects[0]!.trashed).toBeUndefined();
  });

  it('a group call records its op; a refused call records the error code, and nothing is marked trashed', async () => {
    await t.call('summarize_my_secret_plan', {});
    expect(await last()).toMatchObject({ tool: '(unknown)', write: false, outcome: 'unknown_tool', objects: [] });

    await t.call('comments', { op: 'get_comment', args: { comment_id: 'not an id' } });
    expect(await last()).toMatchObject({ tool: 'get_comment', write: false, outcome: 'invalid_arguments', objects: [] });

    t.answer(routes({ [`PATCH /v1/pages/${IDS.page}`]: { status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: `Could not find page with ID: ${IDS.page}.` } } }));
    await t.call('archive_page', { page_id: IDS.page });
    expect(await last()).toMatchObject({ tool: 'archive_page', write: true, outcome: 'object_not_found', objects: [{ id: IDS.page }] });
    expect((await last()).objects[0]!.trashed).toBeUndefined();

    // A read-only connection trying a write: recorded on its own grant, as a refused write.
    await t.call('trash', { ids: [IDS.page] }, t.readOnlyToken);
    expect(await last(readOnlyGrantId)).toMatchObject({ tool: 'trash', write: true, outcome: 'read_only_connection', objects: [] });
  });

  it('a search records neither its query nor its results', async () => {
    t.answer(routes({ 'POST /v1/search': { body: { object: 'list', results: [childPage()], next_cursor: null, has_more: false, type: 'page_or_data_source', page_or_data_source: {} } } }));
    expect((await t.call('search', { query: 'quarterly layoffs' })).isError).toBe(false);
    const e = await last();
    expect(e).toMatchObject({ tool: 'search', write: false, outcome: 'ok', objects: [] });
    expect(JSON.stringify(e)).not.toContain('layoffs');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes, startToolStack, type ToolStack } from '../helpers/tools.js';
import { mcpPost } from '../helpers/oauth-client.js';
import { VIEW_ID, view } from '../fixtures/databases.js';

const PAGE_ID = '2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d';

/** The group tools of tools/list: `{op, args}` runs the op, with the op's own checks. */
describe('group tools', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  const list = async (token: string) => {
    const res = await mcpPost(ts.stack.baseUrl, token, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const tools = ((await res.json()) as { result: { tools: { name: string; description: string }[] } }).result.tools;
    return new Map(tools.map((t) => [t.name, t.description]));
  };

  it('runs an op with args as an object, as JSON text, or next to op, with the same Notion call', async () => {
    for (const args of [{ op: 'get_view', args: { view_id: VIEW_ID } }, { op: 'get_view', args: JSON.stringify({ view_id: VIEW_ID }) }, { op: 'get_view', view_id: VIEW_ID }]) {
      ts.answer(routes({ [`GET /v1/views/${VIEW_ID}`]: { body: view } }));
      const res = await ts.call('database_admin', args);
      expect(res.isError).toBe(false);
      ts.oneCall('GET', `/v1/views/${VIEW_ID}`, {});
      expect(res.data).toMatchObject({ object: 'view', id: VIEW_ID, name: 'High priority' });
    }
  });

  it("refuses an unknown op, an op of another group, and bad args with the op's own validation, without calling Notion", async () => {
    ts.answer(() => ({ body: {} }));
    const unknown = await ts.call('database_admin', { op: 'drop_everything', args: {} });
    expect(unknown.isError).toBe(true);
    expect(unknown.data.error.code).toBe('invalid_arguments');
    expect(unknown.data.error.message).toContain('create_database, update_database');
    const elsewhere = await ts.call('comments', { op: 'get_view', args: { view_id: VIEW_ID } });
    expect(elsewhere.data.error.code).toBe('invalid_arguments');
    const bad = await ts.call('database_admin', { op: 'get_view', args: { view_id: 'not an id' } });
    expect(bad.data.error.code).toBe('invalid_arguments');
    expect(bad.data.error.message).toMatch(/view_id/);
    expect(ts.apiRequests()).toHaveLength(0);
  });

  it('lists only the read ops to a read-only connection, and refuses a write op there without calling Notion', async () => {
    const rw = await list(ts.token);
    const ro = await list(ts.readOnlyToken);
    expect(rw.get('comments')).toContain('- create_comment {');
    expect(ro.get('comments')).not.toContain('create_comment');
    expect(ro.get('comments')).toContain('- get_comments {block_id, paged}');
    expect(ro.has('trash')).toBe(false);
    ts.answer(() => ({ body: { object: 'comment', id: 'c' } }));
    const refused = await ts.call('comments', { op: 'create_comment', args: { parent: PAGE_ID, markdown: 'Hi' } }, ts.readOnlyToken);
    expect(refused.isError).toBe(true);
    expect(refused.data.error.code).toBe('read_only_connection');
    expect(ts.apiRequests()).toHaveLength(0);
    ts.answer(() => ({ body: { object: 'list', results: [], has_more: false, next_cursor: null } }));
    const read = await ts.call('comments', { op: 'get_comments', args: { block_id: PAGE_ID } }, ts.readOnlyToken);
    expect(read.isError).toBe(false);
    ts.oneCall('GET', '/v1/comments', { block_id: PAGE_ID }, { token: ts.readOnlyNotionToken });
  });

  it('keeps the earlier tool names working, unlisted', async () => {
    const rw = await list(ts.token);
    expect(rw.has('archive_page')).toBe(false);
    ts.answer(() => ({ body: { object: 'page', id: PAGE_ID, in_trash: true } }));
    const res = await ts.call('archive_page', { page_id: PAGE_ID });
    expect(res.isError).toBe(false);
    const req = ts.oneCall('PATCH', `/v1/pages/${PAGE_ID}`, {});
    expect(req.body).toEqual({ in_trash: true });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPE_READ, SCOPE_WRITE } from '../../src/oauth/scopes.js';
import { toolSet } from '../../src/tools/index.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { block, BLOCK_ID, paragraph } from '../fixtures/blocks.js';
import { childPage, IDS, pageMarkdown } from '../fixtures/pages.js';
import type { RecordedRequest } from '../helpers/fake-notion.js';
import { routes, startToolStack, type ToolStack } from '../helpers/tools.js';

/**
 * Nothing is destroyed by accident: no tool trashes a child page or database, or removes content
 * the model did not name, unless an explicit flag says so, and the tool text says to ask the user
 * first. Without the flag: a tool error that says so and no write reaches Notion (or, where
 * Notion itself guards, the flag is not sent). With it: exactly the write asked for.
 */

const PAGE_BLOCK = '9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f';
const DB_BLOCK = '8b0c1d2e-3f4a-4b5c-9d6e-7f8091a2b3c4';
const childPageBlock = block(PAGE_BLOCK, 'child_page', { title: 'Q3 plan' }, { has_children: true });
const childDatabaseBlock = block(DB_BLOCK, 'child_database', { title: 'Tasks' });
const gone = (b: Record<string, unknown>) => ({ ...b, in_trash: true });

const writes = (reqs: RecordedRequest[]) => reqs.filter((r) => r.method !== 'GET');
const line = (r: RecordedRequest) => `${r.method} ${r.path}`;

describe('nothing destroyed by accident', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  /** The call fails with `confirmation_required`, telling the model to ask the user, and nothing was written. */
  async function expectRefused(name: string, args: Record<string, unknown>, what: RegExp) {
    const res = await ts.call(name, args);
    expect(res.isError, name).toBe(true);
    expect(res.data.error.code).toBe('confirmation_required');
    expect(res.data.error.message).toMatch(what);
    expect(res.data.error.message).toMatch(/Ask the user first; only if they agree, call again with allow_deleting_content: true/);
    expect(writes(ts.apiRequests())).toEqual([]);
  }

  describe('trashing a child page or database by its block', () => {
    for (const [kind, b, id, what] of [
      ['page', childPageBlock, PAGE_BLOCK, /is the page "Q3 plan": trashing it trashes the page and everything in it/],
      ['database', childDatabaseBlock, DB_BLOCK, /is the database "Tasks": trashing it trashes the database and everything in it/],
    ] as const) {
      it(`delete_block refuses a child ${kind} without allow_deleting_content, and with it sends exactly the DELETE`, async () => {
        ts.answer(routes({ [`GET /v1/blocks/${id}`]: { body: b } }));
        await expectRefused('delete_block', { block_id: id }, what);
        expect(ts.upstream(1).map(line)).toEqual([`GET /v1/blocks/${id}`]);

        ts.answer(routes({ [`DELETE /v1/blocks/${id}`]: { body: gone(b) } }));
        const res = await ts.call('delete_block', { block_id: id, allow_deleting_content: true });
        expect(res.isError).toBe(false);
        expect(ts.oneCall('DELETE', `/v1/blocks/${id}`).body).toBeUndefined();
      });

      it(`update_block refuses to trash a child ${kind} (in_trash or legacy archived) without allow_deleting_content`, async () => {
        ts.answer(routes({ [`GET /v1/blocks/${id}`]: { body: b } }));
        await expectRefused('update_block', { block_id: id, in_trash: true }, what);
        await expectRefused('update_block', { block_id: id, content: { archived: true } }, what);
        expect(ts.upstream(2).map(line)).toEqual([`GET /v1/blocks/${id}`, `GET /v1/blocks/${id}`]);

        ts.answer(routes({ [`PATCH /v1/blocks/${id}`]: { body: gone(b) } }));
        const res = await ts.call('update_block', { block_id: id, in_trash: true, allow_deleting_content: true });
        expect(res.isError).toBe(false);
        expect(ts.oneCall('PATCH', `/v1/blocks/${id}`).body).toEqual({ in_trash: true });
      });
    }

    it('restores a child page, and edits and trashes other blocks as before: only a trash reads the block first', async () => {
      ts.answer(routes({ [`PATCH /v1/blocks/${PAGE_BLOCK}`]: { body: childPageBlock } }));
      expect((await ts.call('update_block', { block_id: PAGE_BLOCK, in_trash: false })).isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${PAGE_BLOCK}`).body).toEqual({ in_trash: false });

      const text = { paragraph: { rich_text: [{ text: { content: 'new' } }] } };
      ts.answer(routes({ [`PATCH /v1/blocks/${BLOCK_ID}`]: { body: paragraph(BLOCK_ID, 'new') } }));
      expect((await ts.call('update_block', { block_id: BLOCK_ID, content: text })).isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${BLOCK_ID}`).body).toEqual(text);

      ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: paragraph(BLOCK_ID, 'old') }, [`DELETE /v1/blocks/${BLOCK_ID}`]: { body: gone(paragraph(BLOCK_ID, 'old')) } }));
      expect((await ts.call('delete_block', { block_id: BLOCK_ID })).isError).toBe(false);
      expect(ts.upstream(2).map(line)).toEqual([`GET /v1/blocks/${BLOCK_ID}`, `DELETE /v1/blocks/${BLOCK_ID}`]);
    });
  });

  describe("update_page_markdown: Notion keeps child pages unless allow_deleting_content is sent, and it is sent only when given", () => {
    const PATH = `/v1/pages/${IDS.page}/markdown`;
    /** Notion refuses a replace that would delete a child page when the flag is missing. */
    const guarded = (req: RecordedRequest) => {
      if (req.method === 'GET') return { body: pageMarkdown('# Plan\n\nOld text\n\n<page url="https://www.notion.so/0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d">Notes</page>') };
      const body = req.body as Record<string, { allow_deleting_content?: boolean }>;
      if (body[String(body.type)]?.allow_deleting_content === true) return { body: pageMarkdown('# Plan\n\nNew text') };
      return { status: 400, body: { object: 'error', status: 400, code: 'validation_error', message: 'This change would delete 1 child page. Set allow_deleting_content to true to delete it.' } };
    };

    it('replace all: without the flag, none is sent and Notion’s refusal is a tool error; with it, exactly true is sent', async () => {
      ts.answer(guarded);
      const refused = await ts.call('update_page_markdown', { page_id: IDS.page, markdown: '# Plan\n\nNew text' });
      expect(refused.isError).toBe(true);
      expect(refused.data.error.code).toBe('validation_error');
      expect(ts.oneCall('PATCH', PATH).body).toEqual({ type: 'replace_content', replace_content: { new_str: '# Plan\n\nNew text' } });

      ts.answer(guarded);
      const done = await ts.call('update_page_markdown', { page_id: IDS.page, markdown: '# Plan\n\nNew text', allow_deleting_content: true });
      expect(done.isError).toBe(false);
      expect(ts.oneCall('PATCH', PATH).body).toEqual({ type: 'replace_content', replace_content: { new_str: '# Plan\n\nNew text', allow_deleting_content: true } });
    });

    it('edits: the flag is sent only when given', async () => {
      const edit = { old_str: 'Old text\n\n<page url="https://www.notion.so/0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d">Notes</page>', new_str: 'New text' };
      ts.answer(guarded);
      expect((await ts.call('update_page_markdown', { page_id: IDS.page, edits: [edit] })).isError).toBe(true);
      expect(ts.oneCall('PATCH', PATH).body).toEqual({ type: 'update_content', update_content: { content_updates: [edit] } });

      ts.answer(guarded);
      expect((await ts.call('update_page_markdown', { page_id: IDS.page, edits: [edit], allow_deleting_content: true })).isError).toBe(false);
      expect(ts.oneCall('PATCH', PATH).body).toEqual({ type: 'update_content', update_content: { content_updates: [edit], allow_deleting_content: true } });
    });

    it('an insert keeps the text it is anchored on, and sends no flag', async () => {
      ts.answer(guarded);
      await ts.call('update_page_markdown', { page_id: IDS.page, markdown: 'Added', position: 'end' });
      const [, patch] = ts.upstream(2);
      const [update] = (patch!.body as { update_content: { content_updates: { old_str: string; new_str: string }[] } }).update_content.content_updates;
      expect(update!.new_str).toBe(`${update!.old_str}\n\nAdded`);
      expect(patch!.body).not.toHaveProperty('update_content.allow_deleting_content');
    });
  });

  describe('update_page and save_pages: a body is erased or a page trashed only by an explicit erase_content or in_trash', () => {
    const PATH = `/v1/pages/${IDS.page}`;
    const title = { title: { title: [{ text: { content: 'Plan' } }] } };

    it('update_page sends erase_content and in_trash only when given', async () => {
      ts.answer(routes({ [`PATCH ${PATH}`]: { body: childPage() } }));
      await ts.call('update_page', { page_id: IDS.page, properties: title });
      expect(ts.oneCall('PATCH', PATH).body).toEqual({ properties: title });

      ts.answer(routes({ [`PATCH ${PATH}`]: { body: childPage() } }));
      await ts.call('update_page', { page_id: IDS.page, erase_content: true });
      expect(ts.oneCall('PATCH', PATH).body).toEqual({ erase_content: true });
    });

    it('save_pages runs each item as update_page: nothing erased or trashed unless the item says so', async () => {
      ts.answer(routes({ [`PATCH ${PATH}`]: { body: childPage() } }));
      const res = await ts.call('save_pages', { items: [{ page_id: IDS.page, properties: title }, { page_id: IDS.page, erase_content: true }, { page_id: IDS.page, in_trash: true }] });
      expect(res.isError).toBe(false);
      expect(ts.upstream(3).map((r) => r.body)).toEqual([{ properties: title }, { erase_content: true }, { in_trash: true }]);
    });
  });

  it('tells the model to ask the user first in every listed tool that can delete or trash content', () => {
    const registry = new ToolRegistry(toolSet);
    const listed = registry.definitions({ scopes: new Set([SCOPE_READ, SCOPE_WRITE]) } as never).tools;
    for (const name of ['update_page_markdown', 'update_page', 'update_block', 'trash']) {
      expect(listed.find((t) => t.name === name)?.description, name).toMatch(/ask the user first/);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTION_FILE } from '../../src/notion/shape.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { blocksTools } from '../../src/tools/blocks.js';
import { commentsTools } from '../../src/tools/comments.js';
import { usersTools } from '../../src/tools/users.js';
import {
  AFTER_BLOCK_ID,
  BLOCK_ID,
  block,
  blockChildrenFixture,
  blockIdAt,
  blockUrl,
  list,
  PAGE_ID,
  PAGE_URL,
  paragraph,
  text,
  withRequestId,
} from '../fixtures/blocks.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';

const dashless = (id: string) => id.replace(/-/g, '');
const para = (content: string) => ({ type: 'paragraph', paragraph: { rich_text: [{ type: 'text', text: { content } }] } });

describe('block tools', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  /** The fake answers every API call with `body`. */
  const answerWith = (body: unknown) => ts.answer(() => ({ body }));

  describe('get_block', () => {
    it('GETs the block and returns it shaped: object, id, parent, Markdown text, no nulls or timestamps', async () => {
      answerWith(
        withRequestId(
          block(BLOCK_ID, 'paragraph', {
            rich_text: [text('Ship the '), text('beta', { bold: true }), text(' now', {}, 'https://example.com')],
            color: 'default',
          }),
        ),
      );
      const res = await ts.call('get_block', { block_id: BLOCK_ID });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('GET', `/v1/blocks/${BLOCK_ID}`).body).toBeUndefined();
      expect(res.data).toEqual({
        object: 'block',
        id: BLOCK_ID,
        type: 'paragraph',
        parent: { page_id: PAGE_ID },
        paragraph: { text: 'Ship the **beta**[ now](https://example.com)' },
      });
    });

    it('takes a dashless id, a page URL or a URL with a #block fragment, and sends Notion the dashed UUID', async () => {
      answerWith(paragraph(BLOCK_ID, 'x'));
      for (const [input, expected] of [
        [dashless(BLOCK_ID), BLOCK_ID],
        [BLOCK_ID.toUpperCase(), BLOCK_ID],
        [blockUrl(BLOCK_ID), BLOCK_ID],
        [`${PAGE_URL}#block-${dashless(BLOCK_ID)}`, BLOCK_ID],
        [`${PAGE_URL}?pvs=4#${dashless(BLOCK_ID)}`, BLOCK_ID],
        [PAGE_URL, PAGE_ID],
      ] as const) {
        ts.answer(() => ({ body: paragraph(expected, 'x') }));
        const res = await ts.call('get_block', { block_id: input });
        expect(res.isError, input).toBe(false);
        ts.oneCall('GET', `/v1/blocks/${expected}`);
      }
    });

    it('names the field when the id is not an id', async () => {
      answerWith({});
      const res = await ts.call('get_block', { block_id: 'not-an-id' });
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('invalid_arguments');
      expect(res.data.error.message).toMatch(/^Invalid arguments\. block_id: /);
      ts.upstream(0);
    });

    it("keeps Notion's error code and adds the sharing hint on 404", async () => {
      ts.answer(() => ({
        status: 404,
        body: { object: 'error', status: 404, code: 'object_not_found', message: `Could not find block with ID: ${BLOCK_ID}.` },
      }));
      const res = await ts.call('get_block', { block_id: BLOCK_ID });
      expect(res.isError).toBe(true);
      expect(res.data.error).toMatchObject({ code: 'object_not_found', status: 404 });
      expect(res.data.error.hint).toMatch(/shared with this connector/);
      expect(ts.apiRequests()).toHaveLength(1);
    });

    it('works on a read-only connection', async () => {
      answerWith(paragraph(BLOCK_ID, 'read me'));
      const res = await ts.call('get_block', { block_id: BLOCK_ID }, ts.readOnlyToken);
      expect(res.isError).toBe(false);
      expect(res.data.paragraph).toEqual({ text: 'read me' });
      ts.oneCall('GET', `/v1/blocks/${BLOCK_ID}`, {}, { token: ts.readOnlyNotionToken });
    });
  });

  describe('get_block_children', () => {
    it("gives a table's rows as Markdown cells, empty cells kept in place", async () => {
      const TABLE_ID = blockIdAt(200);
      const row = (i: number, cells: unknown[][]) => block(blockIdAt(201 + i), 'table_row', { cells }, { parent: { type: 'block_id', block_id: TABLE_ID } });
      answerWith(list('block', [row(0, [[text('Name')], [text('Due')]]), row(1, [[text('Ship', { bold: true }), text(' it', {}, 'https://example.com')], []])]));
      const res = await ts.call('get_block_children', { block_id: TABLE_ID });
      expect(res.isError).toBe(false);
      ts.oneCall('GET', `/v1/blocks/${TABLE_ID}/children`);
      expect(res.data.results.map((r: { table_row: unknown }) => r.table_row)).toEqual([{ cells: ['Name', 'Due'] }, { cells: ['**Ship**[ it](https://example.com)', ''] }]);
      expect(JSON.stringify(res.data)).not.toContain('plain_text');
    });

    it('lists 100 mixed blocks of a page URL with cursor and page size, shaped for reading', async () => {
      const cursor = blockIdAt(100);
      answerWith(blockChildrenFixture(100, true));
      const res = await ts.call('get_block_children', { block_id: PAGE_URL, start_cursor: blockIdAt(0), page_size: 100 });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('GET', `/v1/blocks/${PAGE_ID}/children`, { start_cursor: blockIdAt(0), page_size: '100' }).body).toBeUndefined();

      expect(res.data.object).toBe('list');
      expect(res.data.has_more).toBe(true);
      expect(res.data.next_cursor).toBe(cursor);
      expect(res.data.results).toHaveLength(100);
      // All children share one parent, so it is stated once on the list.
      expect(res.data.parent).toEqual({ page_id: PAGE_ID });
      const [h1, rich, , , todo, toggle, code, , callout, divider, image] = res.data.results;
      expect(h1).toEqual({ object: 'block', id: blockIdAt(0), type: 'heading_1', heading_1: { text: 'Section 0' } });
      expect(rich.paragraph.text).toBe('Ship the **beta** by Friday, see [the brief](https://example.com/brief) and ask @Ada Lovelace.');
      expect(todo.to_do).toEqual({ text: 'Task 4', checked: true });
      expect(toggle.has_children).toBe(true);
      expect(code.code).toEqual({ text: 'const answer = 42;\nconsole.log(answer);', language: 'typescript' });
      expect(callout.callout).toEqual({ text: 'Heads up: the API changed on 2026-03-11.', icon: '💡', color: 'gray_background' });
      expect(divider).toEqual({ object: 'block', id: blockIdAt(9), type: 'divider' });
      // Notion's pre-signed link stays out of results: get_file reads the file with a fresh one.
      expect(image.image.url).toBe(NOTION_FILE);
      expect(JSON.stringify(res.data)).not.toMatch(/amazonaws|X-Amz-/);

      const raw = JSON.stringify(res.data);
      expect(raw).not.toContain('null');
      for (const noise of ['request_id', 'created_time', 'last_edited_by', 'annotations', 'plain_text', '"in_trash"', '"default"']) {
        expect(raw).not.toContain(noise);
      }
    });

    it('sends no query parameters it was not given, and refuses a page_size over 100 by name', async () => {
      answerWith(list('block', []));
      const res = await ts.call('get_block_children', { block_id: dashless(BLOCK_ID) });
      expect(res.isError).toBe(false);
      expect(res.data).toEqual({ object: 'list', results: [], has_more: false });
      ts.oneCall('GET', `/v1/blocks/${BLOCK_ID}/children`);

      answerWith(list('block', []));
      const bad = await ts.call('get_block_children', { block_id: BLOCK_ID, page_size: 500 });
      expect(bad.isError).toBe(true);
      expect(bad.data.error.message).toMatch(/page_size/);
      ts.upstream(0);
    });

    it('works on a read-only connection', async () => {
      answerWith(blockChildrenFixture(3));
      const res = await ts.call('get_block_children', { block_id: PAGE_ID }, ts.readOnlyToken);
      expect(res.isError).toBe(false);
      expect(res.data.results).toHaveLength(3);
      ts.oneCall('GET', `/v1/blocks/${PAGE_ID}/children`, {}, { token: ts.readOnlyNotionToken });
    });
  });

  describe('append_block_children', () => {
    const appended = (n: number) => withRequestId(list('block', [paragraph(blockIdAt(500), 'First'), paragraph(blockIdAt(501), 'Second')].slice(0, n)));

    it('PATCHes the children as given, without a position by default, and returns the IDs of the new blocks', async () => {
      answerWith(appended(2));
      const children = [para('First'), para('Second')];
      const res = await ts.call('append_block_children', { block_id: PAGE_URL, children });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${PAGE_ID}/children`).body).toEqual({ children });
      // The new blocks' IDs and types, not their content again.
      expect(res.data).toEqual({
        block_id: PAGE_ID,
        added: [
          { id: blockIdAt(500), type: 'paragraph' },
          { id: blockIdAt(501), type: 'paragraph' },
        ],
      });
    });

    it('accepts children as a JSON string', async () => {
      answerWith(appended(1));
      const children = [para('First')];
      const res = await ts.call('append_block_children', { block_id: BLOCK_ID, children: JSON.stringify(children) });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${BLOCK_ID}/children`).body).toEqual({ children });
    });

    it('sends position start / end, and after_block with a normalised id (object, JSON string or URL)', async () => {
      const children = [para('First')];
      const cases: [unknown, unknown][] = [
        ['start', { type: 'start' }],
        [{ type: 'end' }, { type: 'end' }],
        [{ type: 'after_block', after_block: { id: dashless(AFTER_BLOCK_ID) } }, { type: 'after_block', after_block: { id: AFTER_BLOCK_ID } }],
        [JSON.stringify({ type: 'after_block', after_block: { id: blockUrl(AFTER_BLOCK_ID) } }), { type: 'after_block', after_block: { id: AFTER_BLOCK_ID } }],
      ];
      for (const [position, expected] of cases) {
        answerWith(appended(1));
        const res = await ts.call('append_block_children', { block_id: PAGE_ID, children, position });
        expect(res.isError, JSON.stringify(position)).toBe(false);
        expect(ts.oneCall('PATCH', `/v1/blocks/${PAGE_ID}/children`).body).toEqual({ children, position: expected });
      }
    });

    it('turns the legacy `after` block id into position after_block (never sends `after`)', async () => {
      answerWith(appended(1));
      const children = [para('First')];
      const res = await ts.call('append_block_children', { block_id: PAGE_ID, children, after: dashless(AFTER_BLOCK_ID) });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${PAGE_ID}/children`).body).toEqual({ children, position: { type: 'after_block', after_block: { id: AFTER_BLOCK_ID } } });
    });

    it('refuses more than 100 children with a clear error before calling Notion', async () => {
      answerWith(appended(1));
      const res = await ts.call('append_block_children', { block_id: PAGE_ID, children: Array.from({ length: 101 }, (_, i) => para(`p${i}`)) });
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('invalid_arguments');
      expect(res.data.error.message).toMatch(/children: at most 100 blocks per call/);
      ts.upstream(0);
    });

    it('refuses more than 1,000 blocks counting nested children', async () => {
      answerWith(appended(1));
      const toggle = { type: 'toggle', toggle: { rich_text: [], children: Array.from({ length: 99 }, (_, i) => para(`n${i}`)) } };
      const res = await ts.call('append_block_children', { block_id: PAGE_ID, children: Array.from({ length: 11 }, () => toggle) });
      expect(res.isError).toBe(true);
      expect(res.data.error.message).toMatch(/children: 1100 blocks .* at most 1000/);
      ts.upstream(0);
    });

    it('names the field for a bad position or bad children', async () => {
      answerWith(appended(1));
      const badPos = await ts.call('append_block_children', { block_id: PAGE_ID, children: [para('x')], position: { type: 'after_block' } });
      expect(badPos.isError).toBe(true);
      expect(badPos.data.error.message).toMatch(/^position\.after_block\.id: /);
      const badType = await ts.call('append_block_children', { block_id: PAGE_ID, children: [para('x')], position: { type: 'middle' } });
      expect(badType.data.error.message).toMatch(/^position: /);
      const badChildren = await ts.call('append_block_children', { block_id: PAGE_ID, children: 'Hello world' });
      expect(badChildren.isError).toBe(true);
      expect(badChildren.data.error.message).toMatch(/children: /);
      const missing = await ts.call('append_block_children', { block_id: PAGE_ID });
      expect(missing.data.error.message).toMatch(/children: /);
      ts.upstream(0);
    });

    it('is refused on a read-only connection without calling Notion', async () => {
      answerWith(appended(1));
      const res = await ts.call('append_block_children', { block_id: PAGE_ID, children: [para('x')] }, ts.readOnlyToken);
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('read_only_connection');
      ts.upstream(0);
    });
  });

  describe('update_block', () => {
    it('PATCHes the per-type body given as content (legacy shape) and confirms what changed', async () => {
      answerWith(withRequestId(block(BLOCK_ID, 'to_do', { rich_text: [text('Call Ada')], checked: true, color: 'default' })));
      const res = await ts.call('update_block', { block_id: blockUrl(BLOCK_ID), content: { to_do: { checked: true } } });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${BLOCK_ID}`).body).toEqual({ to_do: { checked: true } });
      expect(res.data).toEqual({ id: BLOCK_ID, type: 'to_do', changed: ['to_do'] });
    });

    it('accepts content as a JSON string', async () => {
      answerWith(paragraph(BLOCK_ID, 'New text'));
      const content = { paragraph: { rich_text: [{ text: { content: 'New text' } }] } };
      const res = await ts.call('update_block', { block_id: BLOCK_ID, content: JSON.stringify(content) });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${BLOCK_ID}`).body).toEqual(content);
      expect(res.data).toEqual({ id: BLOCK_ID, type: 'paragraph', changed: ['paragraph'] });
    });

    it('sends in_trash, and maps a legacy content.archived to in_trash', async () => {
      answerWith(paragraph(BLOCK_ID, 'Back', { in_trash: false }));
      expect((await ts.call('update_block', { block_id: BLOCK_ID, in_trash: false })).isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${BLOCK_ID}`).body).toEqual({ in_trash: false });

      // Trashing reads the block first: a child page or database is refused (non-destructive.test.ts).
      answerWith(paragraph(BLOCK_ID, 'Gone', { in_trash: true }));
      const res = await ts.call('update_block', { block_id: BLOCK_ID, content: { archived: true } });
      const [get, patch] = ts.upstream(2);
      expect(`${get!.method} ${get!.path}`).toBe(`GET /v1/blocks/${BLOCK_ID}`);
      expect(`${patch!.method} ${patch!.path}`).toBe(`PATCH /v1/blocks/${BLOCK_ID}`);
      expect(patch!.body).toEqual({ in_trash: true });
      expect(res.data.changed).toEqual(['in_trash']);
    });

    it('refuses content that is not wrapped in a block type, or an empty update, before calling Notion', async () => {
      answerWith(paragraph(BLOCK_ID, 'x'));
      const unwrapped = await ts.call('update_block', { block_id: BLOCK_ID, content: { rich_text: [{ text: { content: 'x' } }] } });
      expect(unwrapped.isError).toBe(true);
      expect(unwrapped.data.error.code).toBe('invalid_arguments');
      expect(unwrapped.data.error.message).toMatch(/^content\.rich_text: not a block type/);
      const empty = await ts.call('update_block', { block_id: BLOCK_ID });
      expect(empty.data.error.message).toMatch(/nothing to update/);
      const badTrash = await ts.call('update_block', { block_id: BLOCK_ID, in_trash: 'yes' });
      expect(badTrash.data.error.message).toMatch(/in_trash: /);
      ts.upstream(0);
    });

    it('is refused on a read-only connection without calling Notion', async () => {
      answerWith(paragraph(BLOCK_ID, 'x'));
      const res = await ts.call('update_block', { block_id: BLOCK_ID, content: { to_do: { checked: true } } }, ts.readOnlyToken);
      expect(res.data.error.code).toBe('read_only_connection');
      ts.upstream(0);
    });
  });

  describe('delete_block', () => {
    it('reads the block, sends DELETE without a body and shows the block as trashed', async () => {
      answerWith(withRequestId(paragraph(BLOCK_ID, 'Old note', { in_trash: true })));
      const res = await ts.call('delete_block', { block_id: dashless(BLOCK_ID) });
      expect(res.isError).toBe(false);
      const [get, del] = ts.upstream(2);
      expect(`${get!.method} ${get!.path}`).toBe(`GET /v1/blocks/${BLOCK_ID}`);
      expect(`${del!.method} ${del!.path}`).toBe(`DELETE /v1/blocks/${BLOCK_ID}`);
      expect(del!.body).toBeUndefined();
      expect(res.data).toEqual({ object: 'block', id: BLOCK_ID, type: 'paragraph', parent: { page_id: PAGE_ID }, in_trash: true, paragraph: { text: 'Old note' } });
    });

    it('is refused on a read-only connection without calling Notion', async () => {
      answerWith(paragraph(BLOCK_ID, 'x'));
      const res = await ts.call('delete_block', { block_id: BLOCK_ID }, ts.readOnlyToken);
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('read_only_connection');
      ts.upstream(0);
    });
  });
});

describe('block, comment and user tool definitions', () => {
  const registry = new ToolRegistry([...blocksTools, ...commentsTools, ...usersTools]);
  const byName = new Map(registry.definitions({ scopes: new Set(['notion:read', 'notion:write']) } as never).tools.map((t) => [t.name as string, t]));

  it('fit the 7,000-byte share of the tools/list budget', () => {
    expect(registry.size).toBe(13);
    expect(JSON.stringify(registry.definitions({ scopes: new Set(['notion:read', 'notion:write']) } as never).tools).length).toBeLessThanOrEqual(7000);
  });

  it('keep the legacy tool and parameter names', () => {
    const params = (name: string) => Object.keys(((byName.get(name)?.inputSchema as { properties?: object }).properties ?? {}) as object);
    expect(params('get_block')).toEqual(['block_id']);
    expect(params('get_block_children')).toEqual(['block_id', 'start_cursor', 'page_size']);
    expect(params('append_block_children')).toEqual(expect.arrayContaining(['block_id', 'children', 'position']));
    expect(params('update_block')).toEqual(expect.arrayContaining(['block_id', 'content']));
    expect(params('delete_block')).toEqual(['block_id', 'allow_deleting_content']);
    expect(params('get_users')).toEqual(['start_cursor', 'page_size']);
    expect(params('get_user')).toEqual(['user_id']);
    expect(params('get_self')).toEqual([]);
    expect(params('create_comment')).toEqual(expect.arrayContaining(['parent', 'rich_text', 'discussion_id']));
    expect(params('get_comments')).toEqual(['block_id', 'start_cursor', 'page_size']);
  });

  it('carry honest annotations', () => {
    const hints = (name: string) => {
      const a = byName.get(name)?.annotations as unknown as Record<string, unknown>;
      expect(typeof a.title).toBe('string');
      expect(a.openWorldHint).toBe(true);
      return [a.readOnlyHint, a.destructiveHint, a.idempotentHint];
    };
    for (const name of ['get_block', 'get_block_children', 'get_users', 'get_user', 'get_self', 'get_comments', 'get_comment']) {
      expect(hints(name), name).toEqual([true, false, true]);
    }
    expect(hints('append_block_children')).toEqual([false, false, false]);
    expect(hints('create_comment')).toEqual([false, false, false]);
    for (const name of ['update_block', 'delete_block', 'update_comment', 'delete_comment']) {
      expect(hints(name), name).toEqual([false, true, true]);
    }
  });
});

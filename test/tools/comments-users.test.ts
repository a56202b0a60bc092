import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BLOCK_ID,
  BOT_ID,
  blockUrl,
  botUser,
  COMMENT_ID,
  comment,
  commentsFixture,
  DISCUSSION_ID,
  list,
  PAGE_ID,
  PAGE_URL,
  PERSON_ID,
  personUser,
  usersFixture,
  WORKSPACE_ID,
  withRequestId,
} from '../fixtures/blocks.js';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';

const dashless = (id: string) => id.replace(/-/g, '');
const rt = (content: string) => [{ text: { content } }];

describe('comment and user tools', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  const answerWith = (body: unknown) => ts.answer(() => ({ body }));
  const created = () => withRequestId(comment(COMMENT_ID, 'Looks good'));
  const shapedComment = {
    object: 'comment',
    id: COMMENT_ID,
    parent: { page_id: PAGE_ID },
    discussion_id: DISCUSSION_ID,
    created_time: '2026-02-03T10:15:00.000Z',
    last_edited_time: '2026-03-21T16:42:00.000Z',
    created_by: BOT_ID,
    text: 'Looks good',
    display_name: { type: 'integration', resolved_name: 'Claude' },
  };

  describe('create_comment', () => {
    it('POSTs the legacy parent + rich_text with a dashed page id, and confirms with its id and thread', async () => {
      answerWith(created());
      const rich_text = [{ type: 'text', text: { content: 'Looks ' } }, { type: 'text', text: { content: 'good' }, annotations: { bold: true } }];
      const res = await ts.call('create_comment', { parent: { page_id: dashless(PAGE_ID) }, rich_text });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('POST', '/v1/comments').body).toEqual({ parent: { page_id: PAGE_ID }, rich_text });
      expect(res.data).toEqual({ id: shapedComment.id, discussion_id: shapedComment.discussion_id });
    });

    it('takes rich_text as a plain string, split at 2,000 characters', async () => {
      answerWith(created());
      await ts.call('create_comment', { parent: { page_id: PAGE_ID }, rich_text: 'Looks good' });
      expect(ts.oneCall('POST', '/v1/comments').body).toEqual({ parent: { page_id: PAGE_ID }, rich_text: rt('Looks good') });

      answerWith(created());
      const long = 'a'.repeat(2000) + 'b'.repeat(2000) + 'c'.repeat(500);
      await ts.call('create_comment', { parent: { page_id: PAGE_ID }, rich_text: long });
      expect(ts.oneCall('POST', '/v1/comments').body).toEqual({
        parent: { page_id: PAGE_ID },
        rich_text: [...rt('a'.repeat(2000)), ...rt('b'.repeat(2000)), ...rt('c'.repeat(500))],
      });

      // An emoji across the 2,000-unit boundary moves whole into the next item.
      answerWith(created());
      const emoji = `${'a'.repeat(1999)}😀b`;
      await ts.call('create_comment', { parent: { page_id: PAGE_ID }, rich_text: emoji });
      expect(ts.oneCall('POST', '/v1/comments').body).toEqual({ parent: { page_id: PAGE_ID }, rich_text: [...rt('a'.repeat(1999)), ...rt('😀b')] });
    });

    it('takes markdown instead of rich_text, and a page id, page URL or block URL string as parent', async () => {
      for (const [parent, expected] of [
        [PAGE_ID, { page_id: PAGE_ID }],
        [PAGE_URL, { page_id: PAGE_ID }],
        [dashless(PAGE_ID), { page_id: PAGE_ID }],
        [blockUrl(BLOCK_ID), { block_id: BLOCK_ID }],
        [{ block_id: dashless(BLOCK_ID) }, { block_id: BLOCK_ID }],
        [{ type: 'page_id', page_id: PAGE_URL }, { page_id: PAGE_ID }],
        [{ page_id: blockUrl(BLOCK_ID) }, { page_id: PAGE_ID }],
        [{ block_id: blockUrl(BLOCK_ID) }, { block_id: BLOCK_ID }],
        [JSON.stringify({ page_id: PAGE_ID }), { page_id: PAGE_ID }],
      ] as const) {
        answerWith(created());
        const res = await ts.call('create_comment', { parent, markdown: 'Ship it **today**' });
        expect(res.isError, JSON.stringify(parent)).toBe(false);
        expect(ts.oneCall('POST', '/v1/comments').body).toEqual({ parent: expected, markdown: 'Ship it **today**' });
      }
    });

    it('replies in a thread with discussion_id only, dropping a parent sent along', async () => {
      answerWith(created());
      const res = await ts.call('create_comment', { parent: { page_id: PAGE_ID }, discussion_id: dashless(DISCUSSION_ID), rich_text: 'Agreed' });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('POST', '/v1/comments').body).toEqual({ discussion_id: DISCUSSION_ID, rich_text: rt('Agreed') });

      answerWith(created());
      await ts.call('create_comment', { discussion_id: `${PAGE_URL}?d=${dashless(DISCUSSION_ID)}`, markdown: 'Agreed' });
      expect(ts.oneCall('POST', '/v1/comments').body).toEqual({ discussion_id: DISCUSSION_ID, markdown: 'Agreed' });
    });

    it('names the field for missing or conflicting arguments, before calling Notion', async () => {
      answerWith(created());
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ rich_text: 'x' }, /^parent: required/],
        [{ parent: PAGE_ID }, /^rich_text: required/],
        [{ parent: PAGE_ID, rich_text: 'x', markdown: 'x' }, /^rich_text: give rich_text or markdown, not both/],
        [{ parent: { database_id: PAGE_ID }, rich_text: 'x' }, /^parent: expected a page ID/],
        [{ parent: 'nope', rich_text: 'x' }, /^parent: expected a page ID/],
        [{ parent: PAGE_ID, rich_text: 42 }, /^Invalid arguments\. rich_text: /],
        [{ parent: PAGE_ID, rich_text: '  ' }, /^rich_text: empty/],
        [{ parent: PAGE_ID, rich_text: [] }, /^rich_text: empty/],
        [{ parent: PAGE_ID, markdown: '' }, /^markdown: empty/],
        [{ discussion_id: 'nope', rich_text: 'x' }, /^Invalid arguments\. discussion_id: /],
      ];
      for (const [args, message] of cases) {
        const res = await ts.call('create_comment', args);
        expect(res.isError, JSON.stringify(args)).toBe(true);
        expect(res.data.error.code).toBe('invalid_arguments');
        expect(res.data.error.message).toMatch(message);
      }
      ts.upstream(0);
    });

    it('is refused on a read-only connection without calling Notion', async () => {
      answerWith(created());
      const res = await ts.call('create_comment', { parent: PAGE_ID, rich_text: 'x' }, ts.readOnlyToken);
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('read_only_connection');
      ts.upstream(0);
    });
  });

  describe('get_comments', () => {
    it('GETs /v1/comments with block_id, cursor and page size as query, and returns the thread shaped', async () => {
      answerWith(commentsFixture());
      const res = await ts.call('get_comments', { block_id: PAGE_URL, start_cursor: 'abc', page_size: 50 });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('GET', '/v1/comments', { block_id: PAGE_ID, start_cursor: 'abc', page_size: '50' }).body).toBeUndefined();
      expect(res.data.object).toBe('list');
      expect(res.data.has_more).toBe(false);
      expect(res.data.results).toHaveLength(2);
      expect(res.data.parent).toEqual({ page_id: PAGE_ID }); // shared by the thread, stated once
      expect(res.data.results[0]).toEqual({
        object: 'comment',
        id: COMMENT_ID,
        discussion_id: DISCUSSION_ID,
        created_time: '2026-02-03T10:15:00.000Z',
        last_edited_time: '2026-03-21T16:42:00.000Z',
        created_by: PERSON_ID,
        text: 'Can we move the launch to Monday?',
        display_name: { type: 'user', resolved_name: 'Ada Lovelace' },
      });
      expect(res.data.results[1].attachments[0].file.url).toMatch(/screenshot\.png$/);
      const raw = JSON.stringify(res.data);
      expect(raw).not.toContain('null');
      expect(raw).not.toContain('request_id');
      expect(raw).not.toContain('plain_text');
    });

    it('uses a #block fragment as the block, and works on a read-only connection', async () => {
      answerWith(list('comment', []));
      const res = await ts.call('get_comments', { block_id: blockUrl(BLOCK_ID) }, ts.readOnlyToken);
      expect(res.isError).toBe(false);
      expect(res.data).toEqual({ object: 'list', results: [], has_more: false });
      ts.oneCall('GET', '/v1/comments', { block_id: BLOCK_ID }, { token: ts.readOnlyNotionToken });
    });

    it('names block_id when it is missing', async () => {
      answerWith(list('comment', []));
      const res = await ts.call('get_comments', {});
      expect(res.isError).toBe(true);
      expect(res.data.error.message).toMatch(/block_id: /);
      ts.upstream(0);
    });
  });

  describe('get_comment, update_comment, delete_comment', () => {
    it('get_comment GETs one comment by a dashless id', async () => {
      answerWith(created());
      const res = await ts.call('get_comment', { comment_id: dashless(COMMENT_ID) });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('GET', `/v1/comments/${COMMENT_ID}`).body).toBeUndefined();
      expect(res.data).toEqual(shapedComment);
    });

    it('get_comment works on a read-only connection', async () => {
      answerWith(created());
      expect((await ts.call('get_comment', { comment_id: COMMENT_ID }, ts.readOnlyToken)).isError).toBe(false);
      ts.oneCall('GET', `/v1/comments/${COMMENT_ID}`, {}, { token: ts.readOnlyNotionToken });
    });

    it('update_comment PATCHes rich_text (string or array) or markdown', async () => {
      answerWith(created());
      const res = await ts.call('update_comment', { comment_id: COMMENT_ID, rich_text: 'Looks good' });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/comments/${COMMENT_ID}`).body).toEqual({ rich_text: rt('Looks good') });
      expect(res.data).toEqual({ id: shapedComment.id, updated: true });

      answerWith(created());
      await ts.call('update_comment', { comment_id: COMMENT_ID, rich_text: JSON.stringify(rt('Looks good')) });
      expect(ts.oneCall('PATCH', `/v1/comments/${COMMENT_ID}`).body).toEqual({ rich_text: rt('Looks good') });

      answerWith(created());
      await ts.call('update_comment', { comment_id: COMMENT_ID, markdown: 'Looks *good*' });
      expect(ts.oneCall('PATCH', `/v1/comments/${COMMENT_ID}`).body).toEqual({ markdown: 'Looks *good*' });
    });

    it('update_comment needs new text, and is refused on a read-only connection', async () => {
      answerWith(created());
      const empty = await ts.call('update_comment', { comment_id: COMMENT_ID });
      expect(empty.data.error.message).toMatch(/^rich_text: required/);
      const ro = await ts.call('update_comment', { comment_id: COMMENT_ID, markdown: 'x' }, ts.readOnlyToken);
      expect(ro.data.error.code).toBe('read_only_connection');
      ts.upstream(0);
    });

    it('delete_comment sends DELETE without a body', async () => {
      answerWith(withRequestId({ object: 'comment', id: COMMENT_ID }));
      const res = await ts.call('delete_comment', { comment_id: COMMENT_ID });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('DELETE', `/v1/comments/${COMMENT_ID}`).body).toBeUndefined();
      expect(res.data).toEqual({ object: 'comment', id: COMMENT_ID });
    });

    it('delete_comment is refused on a read-only connection', async () => {
      answerWith({ object: 'comment', id: COMMENT_ID });
      const res = await ts.call('delete_comment', { comment_id: COMMENT_ID }, ts.readOnlyToken);
      expect(res.data.error.code).toBe('read_only_connection');
      ts.upstream(0);
    });
  });

  describe('users', () => {
    it('get_users lists people and bots, shaped (email kept, null avatar gone)', async () => {
      answerWith(usersFixture());
      const res = await ts.call('get_users', { page_size: 2, start_cursor: 'c1' });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('GET', '/v1/users', { page_size: '2', start_cursor: 'c1' }).body).toBeUndefined();
      expect(res.data).toEqual({
        object: 'list',
        results: [
          {
            object: 'user',
            id: PERSON_ID,
            name: 'Ada Lovelace',
            type: 'person',
            avatar_url: 'https://s3-us-west-2.amazonaws.com/public.notion-static.com/ada.png',
            email: 'ada@example.com',
          },
          { object: 'user', id: BOT_ID, name: 'Claude', type: 'bot', workspace_name: 'Acme Inc.' },
        ],
        has_more: true,
        next_cursor: 'a1b2c3d4-0000-4000-8000-000000000001',
      });
    });

    it('get_users works on a read-only connection, with no query when none is given', async () => {
      answerWith(usersFixture());
      expect((await ts.call('get_users', {}, ts.readOnlyToken)).isError).toBe(false);
      ts.oneCall('GET', '/v1/users', {}, { token: ts.readOnlyNotionToken });
    });

    it('get_user GETs one user by a dashless id or URL', async () => {
      answerWith(withRequestId(personUser()));
      const res = await ts.call('get_user', { user_id: dashless(PERSON_ID) });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('GET', `/v1/users/${PERSON_ID}`).body).toBeUndefined();
      expect(res.data).toMatchObject({ object: 'user', id: PERSON_ID, name: 'Ada Lovelace', email: 'ada@example.com' });

      answerWith(personUser());
      await ts.call('get_user', { user_id: `https://www.notion.so/${dashless(PERSON_ID)}` });
      ts.oneCall('GET', `/v1/users/${PERSON_ID}`);
    });

    it('get_user passes a 404 on as a tool error with the code', async () => {
      ts.answer(() => ({ status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: 'Could not find user.' } }));
      const res = await ts.call('get_user', { user_id: PERSON_ID });
      expect(res.isError).toBe(true);
      expect(res.data.error).toMatchObject({ code: 'object_not_found', message: 'Could not find user.' });
      const bad = await ts.call('get_user', {});
      expect(bad.data.error.message).toMatch(/user_id: /);
    });

    it('get_self GETs /v1/users/me and returns the bot with its workspace', async () => {
      answerWith(withRequestId(botUser()));
      const res = await ts.call('get_self', {});
      expect(res.isError).toBe(false);
      expect(ts.oneCall('GET', '/v1/users/me').body).toBeUndefined();
      expect(res.data).toEqual({ object: 'user', id: BOT_ID, name: 'Claude', type: 'bot', workspace_name: 'Acme Inc.' });
      expect(JSON.stringify(res.data)).not.toContain(WORKSPACE_ID);
    });

    it("get_self on a read-only connection reaches the fake's own /v1/users/me for this workspace", async () => {
      ts.stack.fake.reset();
      const res = await ts.call('get_self', {}, ts.readOnlyToken);
      expect(res.isError).toBe(false);
      const ws = fakeWorkspace('A');
      expect(res.data).toMatchObject({ object: 'user', id: ws.botId, type: 'bot', workspace_name: ws.name });
      ts.oneCall('GET', '/v1/users/me', {}, { token: ts.readOnlyNotionToken });
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolRegistry } from '../../src/tools/registry.js';
import { pageTools } from '../../src/tools/pages.js';
import {
  childPage,
  database,
  IDS,
  MEETING_MD,
  notFound,
  numberPropertyItem,
  pageMarkdown,
  pageUrl,
  relationPropertyItem,
  rowPage,
  titlePropertyItem,
} from '../fixtures/pages.js';
import type { RecordedRequest } from '../helpers/fake-notion.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';

const dashless = (id: string) => id.replace(/-/g, '');
const titleProp = (content: string) => ({ title: [{ text: { content } }] });

/** Fails on any null, request_id or default noise left in shaped output. */
function expectClean(data: unknown): void {
  const json = JSON.stringify(data);
  expect(json).not.toContain('null');
  expect(json).not.toContain('request_id');
  expect(json).not.toContain('"plain_text"');
  expect(json).not.toContain('"in_trash":false');
}

describe('page tools', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  const expectCall = (req: RecordedRequest | undefined, method: string, path: string, body?: unknown) => {
    expect(req?.method).toBe(method);
    expect(req?.path).toBe(path);
    expect(req?.headers['notion-version']).toBe('2026-03-11');
    expect(req?.headers.authorization).toBe(`Bearer ${ts.notionToken}`);
    if (body !== undefined) expect(req?.body).toEqual(body);
  };

  describe('create_page', () => {
    it('creates a page under a page with a title and a Markdown body, in one call', async () => {
      ts.answer(() => ({ body: childPage() }));
      const res = await ts.call('create_page', { parent: { page_id: IDS.parentPage }, title: 'Meeting notes', markdown: MEETING_MD, icon: '📝' });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(1);
      expectCall(calls[0], 'POST', '/v1/pages', {
        parent: { page_id: IDS.parentPage },
        properties: { title: titleProp('Meeting notes') },
        markdown: MEETING_MD,
        icon: { type: 'emoji', emoji: '📝' },
      });
      expect(calls[0]?.query).toEqual({});
      // A confirmation: the id, the url and where the page went, not the page again.
      expect(res.data).toEqual({ id: IDS.page, url: pageUrl('Meeting notes', IDS.page), parent: { page_id: IDS.parentPage } });
      expectClean(res.data);
    });

    it('takes a parent given as a notion.so URL or dashless id as a page parent', async () => {
      ts.answer(() => ({ body: childPage() }));
      for (const parent of [pageUrl('Projects', IDS.parentPage), dashless(IDS.parentPage), `{"page_id":"${dashless(IDS.parentPage)}"}`]) {
        const res = await ts.call('create_page', { parent, title: 'Meeting notes' });
        expect(res.isError).toBe(false);
      }
      const calls = ts.upstream(3);
      for (const c of calls) expectCall(c, 'POST', '/v1/pages', { parent: { page_id: IDS.parentPage }, properties: { title: titleProp('Meeting notes') } });
    });

    it('keeps a title already in properties, and accepts Notion\'s {type, page_id} parent form', async () => {
      ts.answer(() => ({ body: childPage() }));
      const properties = { title: titleProp('From properties') };
      const res = await ts.call('create_page', { parent: { type: 'page_id', page_id: IDS.parentPage }, properties, title: 'Ignored' });
      expect(res.isError).toBe(false);
      expectCall(ts.apiRequests()[0], 'POST', '/v1/pages', { parent: { page_id: IDS.parentPage }, properties });
    });

    it('resolves a database parent to its single data source: GET database, then POST under data_source_id', async () => {
      ts.answer((req) => ({ body: req.method === 'GET' ? database([{ id: IDS.dataSource, name: 'Tasks' }]) : rowPage() }));
      const properties = {
        Name: titleProp('Ship the connector'),
        Status: { status: { name: 'In progress' } },
        Tags: { multi_select: [{ name: 'Backend' }, { name: 'Urgent' }] },
        Due: { date: { start: '2026-04-30' } },
      };
      const children = [{ object: 'block', type: 'paragraph', paragraph: { rich_text: [{ type: 'text', text: { content: 'Details' } }] } }];
      const res = await ts.call('create_page', {
        parent: JSON.stringify({ database_id: pageUrl('Tasks', IDS.database) }),
        properties: JSON.stringify(properties),
        children,
        cover: 'https://images.example.com/cover.png',
        position: { type: 'start' },
      });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(2);
      expectCall(calls[0], 'GET', `/v1/databases/${IDS.database}`);
      expectCall(calls[1], 'POST', '/v1/pages', {
        parent: { data_source_id: IDS.dataSource },
        properties,
        children,
        cover: { type: 'external', external: { url: 'https://images.example.com/cover.png' } },
        position: { type: 'page_start' },
      });
      expect(res.data).toEqual({ id: IDS.row, url: rowPage().url, parent: { data_source_id: IDS.dataSource, database_id: IDS.database } });
      expectClean(res.data);
    });

    it('asks which data source when the database has several, with one call and no page created', async () => {
      const sources = [
        { id: IDS.dataSource, name: 'Tasks' },
        { id: IDS.dataSource2, name: 'Archive' },
      ];
      ts.answer(() => ({ body: database(sources) }));
      const res = await ts.call('create_page', { parent: { database_id: IDS.database }, title: 'New task' });
      expect(res.isError).toBe(true);
      expect(res.data.error).toMatchObject({ code: 'ambiguous_database', database_id: IDS.database, data_sources: sources });
      expect(res.data.error.message).toContain(`2 data sources: "Tasks" (${IDS.dataSource}), "Archive" (${IDS.dataSource2}).`);
      expect(res.data.error.message).toContain('Ask the user which one');
      expect(res.data.error.message).toContain('data_source_id');
      const calls = ts.upstream(1);
      expectCall(calls[0], 'GET', `/v1/databases/${IDS.database}`);
    });

    it('treats a database_id that is really a data source id as the data source (legacy prompts)', async () => {
      ts.answer((req) => (req.method === 'GET' ? { status: 404, body: notFound('database', IDS.dataSource) } : { body: rowPage() }));
      const res = await ts.call('create_page', { parent: { database_id: IDS.dataSource }, title: 'Ship the connector' });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(2);
      expectCall(calls[0], 'GET', `/v1/databases/${IDS.dataSource}`);
      expectCall(calls[1], 'POST', '/v1/pages', { parent: { data_source_id: IDS.dataSource }, properties: { title: titleProp('Ship the connector') } });
    });

    it('reports the database as not found when neither a database nor a data source has that id', async () => {
      ts.answer((req) => ({ status: 404, body: notFound(req.method === 'GET' ? 'database' : 'data_source', IDS.database) }));
      const res = await ts.call('create_page', { parent: { database_id: IDS.database }, title: 'x' });
      expect(res.isError).toBe(true);
      expect(res.data.error).toMatchObject({ code: 'object_not_found', status: 404 });
      expect(res.data.error.message).toContain('Could not find database');
      expect(ts.apiRequests()).toHaveLength(2);
    });

    it('creates at workspace level and maps a template name', async () => {
      ts.answer(() => ({ body: childPage({ parent: { type: 'workspace', workspace: true } }) }));
      const res = await ts.call('create_page', { parent: { workspace: true }, title: 'Top', template: 'default' });
      expect(res.isError).toBe(false);
      expect(res.data.parent).toEqual({ workspace: true });
      expectCall(ts.apiRequests()[0], 'POST', '/v1/pages', { parent: { workspace: true }, properties: { title: titleProp('Top') }, template: { type: 'default' } });
    });

    it('refuses markdown together with children, and more than 100 children, without calling Notion', async () => {
      ts.answer(() => ({ body: childPage() }));
      const both = await ts.call('create_page', { parent: IDS.parentPage, markdown: '# x', children: [{ type: 'divider', divider: {} }] });
      expect(both.isError).toBe(true);
      expect(both.data.error.code).toBe('invalid_arguments');
      expect(both.data.error.message).toMatch(/markdown.*children/);
      const many = await ts.call('create_page', { parent: IDS.parentPage, children: Array.from({ length: 101 }, () => ({ type: 'divider', divider: {} })) });
      expect(many.isError).toBe(true);
      expect(many.data.error.message).toMatch(/children/);
      expect(ts.apiRequests()).toHaveLength(0);
    });

    it('names the field for a bad parent', async () => {
      ts.answer(() => ({ body: childPage() }));
      const two = await ts.call('create_page', { parent: { page_id: IDS.parentPage, database_id: IDS.database } });
      expect(two.isError).toBe(true);
      expect(two.data.error).toMatchObject({ code: 'invalid_arguments' });
      expect(two.data.error.message).toMatch(/^Invalid arguments\. parent: give exactly one of/);
      const bad = await ts.call('create_page', { parent: { page_id: 'not-an-id' } });
      expect(bad.data.error.message).toContain('parent.page_id');
      const missing = await ts.call('create_page', { title: 'x' });
      expect(missing.data.error.message).toContain('parent');
      expect(ts.apiRequests()).toHaveLength(0);
    });
  });

  describe('get_page', () => {
    it('gets a page by dashless id with filter_properties, shaped for reading', async () => {
      ts.answer(() => ({ body: rowPage() }));
      const res = await ts.call('get_page', { page_id: dashless(IDS.row), filter_properties: ['title', 'Z%3ClH'] });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(1);
      expectCall(calls[0], 'GET', `/v1/pages/${IDS.row}`);
      // The SDK decodes property ids before putting them in the query string: Notion reads 'Z<lH'.
      expect(calls[0]?.query).toEqual({ filter_properties: 'title,Z<lH' });
      expect(res.data).toMatchObject({
        object: 'page',
        id: IDS.row,
        url: rowPage().url,
        parent: { data_source_id: IDS.dataSource, database_id: IDS.database },
        properties: {
          Status: { status: 'In progress' },
          Owner: { people: [{ id: IDS.user, name: 'Ada Lovelace', email: 'ada@example.com' }] },
          Name: { title: 'Ship the connector' },
        },
      });
      expectClean(res.data);
    });

    it('sends a property id that is not valid percent-encoding as is', async () => {
      ts.answer(() => ({ body: rowPage() }));
      const res = await ts.call('get_page', { page_id: IDS.row, filter_properties: '["50%"]' });
      expect(res.isError).toBe(false);
      expect(ts.apiRequests()[0]?.query).toEqual({ filter_properties: '50%' });
    });
  });

  describe('get_page_property_item', () => {
    it('joins a paginated title into one Markdown string', async () => {
      ts.answer(() => ({ body: titlePropertyItem }));
      const res = await ts.call('get_page_property_item', { page_id: IDS.row, property_id: 'title' });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(1);
      expectCall(calls[0], 'GET', `/v1/pages/${IDS.row}/properties/title`);
      expect(calls[0]?.query).toEqual({});
      expect(res.data).toEqual({ object: 'property_item', id: 'title', type: 'title', title: 'Ship the **connector**', has_more: false });
    });

    it('passes the cursor and page size, encodes a decoded property id, and keeps next_cursor', async () => {
      ts.answer(() => ({ body: relationPropertyItem }));
      const res = await ts.call('get_page_property_item', { page_id: pageUrl('Ship', IDS.row), property_id: 'r;el', start_cursor: 'abc', page_size: 2 });
      expect(res.isError).toBe(false);
      const [req] = ts.apiRequests();
      expectCall(req, 'GET', `/v1/pages/${IDS.row}/properties/r%3Bel`);
      expect(req?.query).toEqual({ start_cursor: 'abc', page_size: '2' });
      expect(res.data).toEqual({ object: 'property_item', id: 'r%3Bel', type: 'relation', relation: [IDS.related, IDS.page], has_more: true, next_cursor: 'eyJwYWdlIjoyfQ' });
      expect(ts.apiRequests()).toHaveLength(1);
    });

    it('returns a single property item as its value, keeping an already-encoded id', async () => {
      ts.answer(() => ({ body: numberPropertyItem }));
      const res = await ts.call('get_page_property_item', { page_id: IDS.row, property_id: 'Qz%40p' });
      expectCall(ts.apiRequests()[0], 'GET', `/v1/pages/${IDS.row}/properties/Qz%40p`);
      expect(res.data).toEqual({ object: 'property_item', id: 'Qz%40p', type: 'number', number: 3 });
    });

    it('names page_size when it is out of range', async () => {
      ts.answer(() => ({ body: numberPropertyItem }));
      const res = await ts.call('get_page_property_item', { page_id: IDS.row, property_id: 'title', page_size: 500 });
      expect(res.isError).toBe(true);
      expect(res.data.error.message).toContain('page_size');
      expect(ts.apiRequests()).toHaveLength(0);
    });
  });

  describe('update_page', () => {
    it('patches only the given fields', async () => {
      ts.answer(() => ({ body: rowPage({ is_locked: true, icon: { type: 'emoji', emoji: '🚀' }, cover: null }) }));
      const properties = { Status: { status: { name: 'Done' } }, Done: { checkbox: true } };
      const res = await ts.call('update_page', { page_id: dashless(IDS.row), properties: JSON.stringify(properties), icon: '🚀', cover: null, is_locked: true });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(1);
      expectCall(calls[0], 'PATCH', `/v1/pages/${IDS.row}`, { properties, icon: { type: 'emoji', emoji: '🚀' }, cover: null, is_locked: true });
      expect(res.data).toEqual({ id: IDS.row, url: rowPage().url, changed: ['Status', 'Done', 'icon', 'cover', 'is_locked'] });
      expectClean(res.data);
    });

    it('erases content and takes an icon URL', async () => {
      ts.answer(() => ({ body: childPage() }));
      await ts.call('update_page', { page_id: IDS.page, erase_content: true, icon: 'https://example.com/i.png', in_trash: false });
      expectCall(ts.apiRequests()[0], 'PATCH', `/v1/pages/${IDS.page}`, {
        erase_content: true,
        icon: { type: 'external', external: { url: 'https://example.com/i.png' } },
        in_trash: false,
      });
    });

    it('refuses an update with nothing to change, and names a badly typed field', async () => {
      ts.answer(() => ({ body: childPage() }));
      const empty = await ts.call('update_page', { page_id: IDS.page });
      expect(empty.isError).toBe(true);
      expect(empty.data.error.code).toBe('invalid_arguments');
      const bad = await ts.call('update_page', { page_id: IDS.page, is_locked: 'yes' });
      expect(bad.isError).toBe(true);
      expect(bad.data.error.message).toContain('is_locked');
      expect(ts.apiRequests()).toHaveLength(0);
    });
  });

  describe('archive_page', () => {
    it('archive_page moves the page to the trash', async () => {
      ts.answer(() => ({ body: childPage({ in_trash: true }) }));
      const res = await ts.call('archive_page', { page_id: pageUrl('Meeting notes', IDS.page) });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(1);
      expectCall(calls[0], 'PATCH', `/v1/pages/${IDS.page}`, { in_trash: true });
      expect(res.data).toMatchObject({ object: 'page', id: IDS.page, in_trash: true, url: childPage().url, parent: { page_id: IDS.parentPage } });
    });
  });

  describe('move_page', () => {
    it('moves a page under another page', async () => {
      ts.answer(() => ({ body: childPage({ parent: { type: 'page_id', page_id: IDS.related } }) }));
      const res = await ts.call('move_page', { page_id: IDS.page, parent: pageUrl('Archive', IDS.related) });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(1);
      expectCall(calls[0], 'POST', `/v1/pages/${IDS.page}/move`, { parent: { page_id: IDS.related } });
      expect(res.data).toEqual({ id: IDS.page, url: childPage().url, parent: { page_id: IDS.related } });
    });

    it('moves a page into a database through its data source', async () => {
      ts.answer((req) => ({ body: req.method === 'GET' ? database([{ id: IDS.dataSource, name: 'Tasks' }]) : rowPage({ id: IDS.page }) }));
      const res = await ts.call('move_page', { page_id: IDS.page, parent: { database_id: IDS.database } });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(2);
      expectCall(calls[0], 'GET', `/v1/databases/${IDS.database}`);
      expectCall(calls[1], 'POST', `/v1/pages/${IDS.page}/move`, { parent: { data_source_id: IDS.dataSource } });
    });

    it('refuses a workspace parent, which Notion cannot move to', async () => {
      ts.answer(() => ({ body: childPage() }));
      const res = await ts.call('move_page', { page_id: IDS.page, parent: { workspace: true } });
      expect(res.isError).toBe(true);
      expect(res.data.error.message).toContain('parent');
      expect(ts.apiRequests()).toHaveLength(0);
    });
  });

  describe('get_page_markdown', () => {
    it('returns the Markdown with include_transcript passed through', async () => {
      ts.answer(() => ({ body: pageMarkdown(MEETING_MD) }));
      const res = await ts.call('get_page_markdown', { page_id: pageUrl('Meeting notes', IDS.page), include_transcript: true });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(1);
      expectCall(calls[0], 'GET', `/v1/pages/${IDS.page}/markdown`);
      expect(calls[0]?.query).toEqual({ include_transcript: 'true' });
      expect(res.data).toEqual({ markdown: MEETING_MD, truncated: false });
    });

    it('lists the unknown block ids left when Notion refuses a truncated subtree', async () => {
      ts.answer((req) =>
        req.path === `/v1/pages/${IDS.page}/markdown`
          ? { body: pageMarkdown('# Long\n\n<unknown id="x"/>', { truncated: true, unknown_block_ids: [IDS.block] }) }
          : { status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: 'Could not find block.' } },
      );
      const res = await ts.call('get_page_markdown', { page_id: IDS.page });
      expect(ts.upstream(2).map((r) => r.path)).toEqual([`/v1/pages/${IDS.page}/markdown`, `/v1/pages/${IDS.block}/markdown`]);
      expect(res.data).toEqual({ markdown: '# Long\n\n<unknown id="x"/>', truncated: true, unknown_block_ids: [IDS.block] });
    });
  });

  describe('update_page_markdown', () => {
    const NEW_MD = '# Meeting notes\n\nAll done.';
    const patch = async (args: Record<string, unknown>, expected: unknown) => {
      ts.answer(() => ({ body: pageMarkdown(NEW_MD) }));
      const res = await ts.call('update_page_markdown', { page_id: IDS.page, ...args });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(1);
      expectCall(calls[0], 'PATCH', `/v1/pages/${IDS.page}/markdown`, expected);
      expect(res.data).toMatchObject({ id: IDS.page, url: `https://www.notion.so/${dashless(IDS.page)}`, page_chars: NEW_MD.length });
      expect(res.data.markdown).toBeUndefined();
      return res.data;
    };

    it('replaces the whole content with markdown alone, and confirms without echoing the page', async () => {
      expect(await patch({ markdown: NEW_MD }, { type: 'replace_content', replace_content: { new_str: NEW_MD } })).toMatchObject({ replaced: true });
    });

    it('returns the whole new body when asked with return_markdown', async () => {
      ts.answer(() => ({ body: pageMarkdown(NEW_MD) }));
      const res = await ts.call('update_page_markdown', { page_id: IDS.page, markdown: NEW_MD, return_markdown: true });
      expect(res.data).toEqual({ markdown: NEW_MD, truncated: false });
      expectCall(ts.upstream(1)[0], 'PATCH', `/v1/pages/${IDS.page}/markdown`, { type: 'replace_content', replace_content: { new_str: NEW_MD } });
    });

    it('passes allow_deleting_content on a replace', () =>
      patch({ markdown: NEW_MD, allow_deleting_content: true }, { type: 'replace_content', replace_content: { new_str: NEW_MD, allow_deleting_content: true } }));

    it('applies search-and-replace edits (also as a JSON string)', async () => {
      const confirmed = await patch(
        { edits: JSON.stringify([{ old_str: 'Ship **Friday**.', new_str: 'Shipped.' }, { old_str: 'Ada', new_str: 'Ada L.', replace_all_matches: true }]) },
        {
          type: 'update_content',
          update_content: {
            content_updates: [
              { old_str: 'Ship **Friday**.', new_str: 'Shipped.' },
              { old_str: 'Ada', new_str: 'Ada L.', replace_all_matches: true },
            ],
          },
        },
      );
      expect(confirmed.edits_applied).toBe(2);
    });

    // Inserts use update_content, never the deprecated insert_content: the anchor text is
    // replaced by itself with the new content beside it.
    const anchored = (old_str: string, new_str: string) => ({ type: 'update_content', update_content: { content_updates: [{ old_str, new_str }] } });

    /** The page's Markdown for the GET, the edited page for the PATCH. */
    const insert = async (page: Record<string, unknown>, args: Record<string, unknown>, expected: unknown) => {
      ts.answer((req) => ({ body: req.method === 'GET' ? page : pageMarkdown(NEW_MD) }));
      const res = await ts.call('update_page_markdown', { page_id: IDS.page, ...args });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(2);
      expectCall(calls[0], 'GET', `/v1/pages/${IDS.page}/markdown`);
      expectCall(calls[1], 'PATCH', `/v1/pages/${IDS.page}/markdown`, expected);
      expect(res.data).toEqual({ id: IDS.page, url: `https://www.notion.so/${dashless(IDS.page)}`, inserted_chars: String(args.markdown).length, page_chars: NEW_MD.length });
    };

    it('inserts after exact text in one call', () =>
      patch({ markdown: '- Linus', after: '- Grace' }, anchored('- Grace', '- Grace\n\n- Linus')));

    it('inserts after a "start...end" selection, read from the page to find its exact text', () =>
      insert(pageMarkdown(MEETING_MD), { markdown: '- Linus', after: '## Attendees...- Grace' }, anchored('## Attendees\n\n- Ada\n- Grace', '## Attendees\n\n- Ada\n- Grace\n\n- Linus')));

    it('inserts at the start before the first line', () =>
      insert(pageMarkdown(`\n${MEETING_MD}`), { markdown: '> Draft', position: 'start' }, anchored('# Meeting notes', '> Draft\n\n# Meeting notes')));

    it('inserts at the end after the shortest run of last lines that occurs only there', () =>
      insert(pageMarkdown('- Ada\n- Grace\n\n## Done\n- Ada\n- Grace\n'), { markdown: '## Next steps', position: 'end' }, anchored('## Done\n- Ada\n- Grace', '## Done\n- Ada\n- Grace\n\n## Next steps')));

    it('fills an empty page with replace_content', () =>
      insert(pageMarkdown(''), { markdown: '# New', position: 'end' }, { type: 'replace_content', replace_content: { new_str: '# New' } }));

    it('refuses an end insert on a truncated page, and a selection that is not in the page, with one read and no write', async () => {
      ts.answer(() => ({ body: pageMarkdown('# Long', { truncated: true }) }));
      const end = await ts.call('update_page_markdown', { page_id: IDS.page, markdown: 'x', position: 'end' });
      expect(end.isError).toBe(true);
      expect(end.data.error.message).toMatch(/^position: .*append_block_children/);
      const missing = await ts.call('update_page_markdown', { page_id: IDS.page, markdown: 'x', after: 'Nope...Never' });
      expect(missing.data.error.message).toMatch(/^after: "Nope\.\.\.Never" is not in the page's Markdown/);
      expect(ts.upstream(2).map((c) => `${c.method} ${c.path}`)).toEqual([`GET /v1/pages/${IDS.page}/markdown`, `GET /v1/pages/${IDS.page}/markdown`]);
    });

    it('refuses mixed or empty modes and more than 100 edits, without calling Notion', async () => {
      ts.answer(() => ({ body: pageMarkdown(NEW_MD) }));
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ markdown: NEW_MD, edits: [{ old_str: 'a', new_str: 'b' }] }, /edits works alone/],
        [{}, /Give markdown .* or edits/],
        [{ after: 'x' }, /Give markdown/],
        [{ markdown: 'x', after: 'a...b', position: 'end' }, /after or position/],
        [{ edits: Array.from({ length: 101 }, () => ({ old_str: 'a', new_str: 'b' })) }, /edits/],
        [{ edits: [{ old_str: 'a' }] }, /edits\.0\.new_str/],
        [{ markdown: 'x', position: 'middle' }, /position/],
      ];
      for (const [args, message] of cases) {
        const res = await ts.call('update_page_markdown', { page_id: IDS.page, ...args });
        expect(res.isError, JSON.stringify(args)).toBe(true);
        expect(res.data.error.message).toMatch(message);
      }
      expect(ts.apiRequests()).toHaveLength(0);
    });
  });

  describe('read-only connections', () => {
    const writes: [string, Record<string, unknown>][] = [
      ['create_page', { parent: IDS.parentPage, title: 'x' }],
      ['update_page', { page_id: IDS.page, in_trash: true }],
      ['archive_page', { page_id: IDS.page }],
      ['move_page', { page_id: IDS.page, parent: IDS.parentPage }],
      ['update_page_markdown', { page_id: IDS.page, markdown: 'x' }],
    ];

    it('refuses every write tool with read_only_connection and no Notion call', async () => {
      ts.answer(() => ({ body: childPage() }));
      for (const [name, args] of writes) {
        const res = await ts.call(name, args, ts.readOnlyToken);
        expect(res.isError, name).toBe(true);
        expect(res.data.error.code, name).toBe('read_only_connection');
      }
      expect(ts.apiRequests()).toHaveLength(0);
    });

    it('runs the read tools', async () => {
      ts.answer((req) => ({ body: req.path.endsWith('/markdown') ? pageMarkdown(MEETING_MD) : req.path.includes('/properties/') ? numberPropertyItem : rowPage() }));
      const reads: [string, Record<string, unknown>][] = [
        ['get_page', { page_id: IDS.row }],
        ['get_page_property_item', { page_id: IDS.row, property_id: 'Qz%40p' }],
        ['get_page_markdown', { page_id: IDS.page }],
      ];
      for (const [name, args] of reads) {
        const res = await ts.call(name, args, ts.readOnlyToken);
        expect(res.isError, name).toBe(false);
      }
      // The read-only connection holds its own Notion token for the same workspace.
      const calls = ts.upstream(3, { token: ts.readOnlyNotionToken });
      expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
        `GET /v1/pages/${IDS.row}`,
        `GET /v1/pages/${IDS.row}/properties/Qz%40p`,
        `GET /v1/pages/${IDS.page}/markdown`,
      ]);
    });
  });

  describe('tools/list', () => {
    const registry = new ToolRegistry(pageTools);

    it('stays within the 6,900-byte budget for the page tools', () => {
      expect(JSON.stringify(registry.definitions({ scopes: new Set(['notion:read', 'notion:write']) } as never).tools).length).toBeLessThanOrEqual(6900); // get_page_markdown's output schema included
    });

    it('declares exact annotations', () => {
      const hints = Object.fromEntries(
        registry.definitions({ scopes: new Set(['notion:read', 'notion:write']) } as never).tools.map((t) => {
          const a = t.annotations as unknown as Record<string, unknown>;
          return [t.name, [a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint]];
        }),
      );
      expect(hints).toEqual({
        create_page: [false, false, false, true],
        get_page: [true, false, true, true],
        get_page_property_item: [true, false, true, true],
        update_page: [false, true, true, true],
        archive_page: [false, true, true, true],
        move_page: [false, false, true, true],
        get_page_markdown: [true, false, true, true],
        update_page_markdown: [false, true, false, true],
        get_async_task: [true, false, true, true],
      });
      for (const t of registry.definitions({ scopes: new Set(['notion:read', 'notion:write']) } as never).tools) expect(typeof (t.annotations as { title?: unknown }).title).toBe('string');
    });

    it('keeps the legacy parameter names', () => {
      const params = (name: string) => Object.keys((registry.definitions({ scopes: new Set(['notion:read', 'notion:write']) } as never).tools.find((t) => t.name === name)!.inputSchema as { properties: object }).properties);
      expect(params('create_page')).toEqual(expect.arrayContaining(['parent', 'properties', 'children', 'template', 'position', 'icon', 'cover']));
      expect(params('get_page')).toEqual(expect.arrayContaining(['page_id', 'filter_properties']));
      expect(params('get_page_property_item')).toEqual(['page_id', 'property_id', 'start_cursor', 'page_size']);
      expect(params('update_page')).toEqual(expect.arrayContaining(['page_id', 'properties', 'erase_content', 'icon', 'cover']));
      expect(params('archive_page')).toEqual(['page_id']);
      expect(params('move_page')).toEqual(['page_id', 'parent']);
    });
  });
});

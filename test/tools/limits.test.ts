import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { block, BLOCK_ID, PAGE_ID } from '../fixtures/blocks.js';
import { childPage, IDS } from '../fixtures/pages.js';
import { mcpPost } from '../helpers/oauth-client.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';

// Notion's request limits (developers.notion.com/reference/request-limits): text split where
// Notion allows it, everything else refused before it is sent.

const para = (content: string) => ({ type: 'paragraph', paragraph: { rich_text: [{ type: 'text', text: { content } }] } });
const toggle = (children: unknown[]) => ({ type: 'toggle', toggle: { rich_text: [], children } });
const appended = { object: 'list', results: [], next_cursor: null, has_more: false, type: 'block', block: {} };

/** The JSON text of a tools/call whose one child is a toggle nested `depth` deep (too deep for JSON.stringify). */
function deepCall(depth: number): string {
  const open = '{"type":"toggle","toggle":{"rich_text":[],"children":['.repeat(depth);
  const leaf = JSON.stringify(para('leaf'));
  const args = `{"block_id":"${PAGE_ID}","children":[${open}${leaf}${']}}'.repeat(depth)}]}`;
  return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"append_block_children","arguments":${args}}}`;
}

/** A toggle nested `depth` levels deep. */
function deepToggle(depth: number): unknown {
  let node: unknown = para('leaf');
  for (let i = 0; i < depth; i++) node = toggle([node]);
  return node;
}

describe('Notion request limits', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  const errorLogs = () => ts.stack.logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);

  describe('nested block children (two levels per request)', () => {
    it('refuses children nested 20,000 deep with a clear tool error, no error log and no call to Notion', async () => {
      ts.answer(() => ({ body: appended }));
      const before = errorLogs().length;
      const reply = await mcpPost(ts.stack.baseUrl, ts.token, deepCall(20_000));
      expect(reply.status).toBe(200);
      const { result } = (await reply.json()) as { result: { isError: boolean; content: { text: string }[] } };
      expect(result.isError).toBe(true);
      const res = { data: JSON.parse(result.content[0]!.text) };
      expect(res.data.error.code).toBe('invalid_arguments');
      expect(res.data.error.message).toBe(
        'children[0].toggle.children[0].toggle.children[0].toggle.children: Notion takes at most 2 levels of nested children per call. Leave them out, then append them to the created block with append_block_children.',
      );
      expect(errorLogs().length).toBe(before);
      ts.upstream(0);
    });

    it('refuses any other argument nested absurdly deep, without a stack overflow', async () => {
      ts.answer(() => ({ body: appended }));
      const depth = 20_000;
      const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update_page","arguments":{"page_id":"${IDS.page}","properties":{"P":${deep}}}}}`;
      const before = errorLogs().length;
      const reply = (await (await mcpPost(ts.stack.baseUrl, ts.token, body)).json()) as { result: { isError: boolean; content: { text: string }[] } };
      expect(reply.result.isError).toBe(true);
      expect(JSON.parse(reply.result.content[0]!.text).error.message).toMatch(/^properties\.P(\.a)+: nested too deeply for Notion$/);
      expect(errorLogs().length).toBe(before);
      ts.upstream(0);
    });

    it('refuses a third level in create_page too, and sends two levels as given', async () => {
      ts.answer(() => ({ body: childPage() }));
      const tooDeep = await ts.call('create_page', { parent: { page_id: IDS.parentPage }, children: [deepToggle(3)] });
      expect(tooDeep.isError).toBe(true);
      expect(tooDeep.data.error.message).toMatch(/^children\[0\]\.toggle\.children\[0\]\.toggle\.children\[0\]\.toggle\.children: Notion takes at most 2 levels/);
      ts.upstream(0);

      const ok = await ts.call('create_page', { parent: { page_id: IDS.parentPage }, children: [deepToggle(2)] });
      expect(ok.isError).toBe(false);
      expect(ts.oneCall('POST', '/v1/pages').body).toEqual({ parent: { page_id: IDS.parentPage }, children: [deepToggle(2)] });
    });
  });

  describe('text over 2,000 characters', () => {
    it('create_page splits a long title into 2,000-character text items', async () => {
      ts.answer(() => ({ body: childPage() }));
      const title = 'T'.repeat(4500);
      const res = await ts.call('create_page', { parent: { page_id: IDS.parentPage }, title });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('POST', '/v1/pages').body).toEqual({
        parent: { page_id: IDS.parentPage },
        properties: { title: { title: [{ text: { content: 'T'.repeat(2000) } }, { text: { content: 'T'.repeat(2000) } }, { text: { content: 'T'.repeat(500) } }] } },
      });
    });

    it('append_block_children splits a 3,000-character paragraph, keeping annotations and links, and nested children too', async () => {
      ts.answer(() => ({ body: appended }));
      const item = { type: 'text', text: { content: 'a'.repeat(3000), link: { url: 'https://example.com' } }, annotations: { bold: true } };
      const piece = (content: string) => ({ ...item, text: { content, link: { url: 'https://example.com' } } });
      const children = [
        { type: 'paragraph', paragraph: { rich_text: [item] } },
        toggle([{ type: 'quote', quote: { rich_text: [{ text: { content: 'q'.repeat(2001) } }] } }]),
      ];
      const res = await ts.call('append_block_children', { block_id: PAGE_ID, children });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${PAGE_ID}/children`).body).toEqual({
        children: [
          { type: 'paragraph', paragraph: { rich_text: [piece('a'.repeat(2000)), piece('a'.repeat(1000))] } },
          toggle([{ type: 'quote', quote: { rich_text: [{ text: { content: 'q'.repeat(2000) } }, { text: { content: 'q' } }] } }]),
        ],
      });
    });

    it('never splits a surrogate pair', async () => {
      ts.answer(() => ({ body: appended }));
      const content = `${'a'.repeat(1999)}🚀${'b'.repeat(10)}`;
      const res = await ts.call('append_block_children', { block_id: PAGE_ID, children: [para(content)] });
      expect(res.isError).toBe(false);
      const sent = ts.oneCall('PATCH', `/v1/blocks/${PAGE_ID}/children`).body as any;
      expect(sent.children[0].paragraph.rich_text.map((i: any) => i.text.content)).toEqual(['a'.repeat(1999), `🚀${'b'.repeat(10)}`]);
    });

    it('update_page splits a rich_text property; update_block splits its text', async () => {
      ts.answer(() => ({ body: childPage() }));
      const long = 'n'.repeat(2500);
      const res = await ts.call('update_page', { page_id: IDS.page, properties: { Notes: { rich_text: [{ text: { content: long } }] } } });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/pages/${IDS.page}`).body).toEqual({
        properties: { Notes: { rich_text: [{ text: { content: 'n'.repeat(2000) } }, { text: { content: 'n'.repeat(500) } }] } },
      });

      ts.answer(() => ({ body: block(BLOCK_ID, 'paragraph', { rich_text: [], color: 'default' }) }));
      const upd = await ts.call('update_block', { block_id: BLOCK_ID, content: { paragraph: { rich_text: [{ text: { content: long } }] } } });
      expect(upd.isError).toBe(false);
      expect(ts.oneCall('PATCH', `/v1/blocks/${BLOCK_ID}`).body).toEqual({
        paragraph: { rich_text: [{ text: { content: 'n'.repeat(2000) } }, { text: { content: 'n'.repeat(500) } }] },
      });
    });

    it('create_comment splits a rich_text array it is given', async () => {
      ts.answer(() => ({ body: { object: 'comment', id: IDS.page } }));
      const res = await ts.call('create_comment', { parent: IDS.page, rich_text: [{ text: { content: 'c'.repeat(2001) } }] });
      expect(res.isError).toBe(false);
      expect(ts.oneCall('POST', '/v1/comments').body).toEqual({
        parent: { page_id: IDS.page },
        rich_text: [{ text: { content: 'c'.repeat(2000) } }, { text: { content: 'c' } }],
      });
    });
  });

  describe('other request limits', () => {
    it('refuses an array of more than 100 items, also when splitting made it so', async () => {
      ts.answer(() => ({ body: childPage() }));
      const tags = Array.from({ length: 101 }, (_, i) => ({ name: `t${i}` }));
      const many = await ts.call('update_page', { page_id: IDS.page, properties: { Tags: { multi_select: tags } } });
      expect(many.isError).toBe(true);
      expect(many.data.error.message).toBe('properties.Tags.multi_select: 101 items; Notion takes at most 100 per array. Send the rest in another call.');
      const huge = await ts.call('create_page', { parent: { page_id: IDS.parentPage }, title: 'x'.repeat(200_001) });
      expect(huge.isError).toBe(true);
      expect(huge.data.error.message).toMatch(/^properties\.title\.title: 101 items \(after splitting text into pieces of 2000 characters\); Notion takes at most 100/);
      const split = await ts.call('update_page', { page_id: IDS.page, properties: { Notes: { rich_text: [{ text: { content: 'n'.repeat(200_001) } }] } } });
      expect(split.data.error.message).toMatch(/^properties\.Notes\.rich_text: 101 items \(after splitting text into pieces of 2000 characters\); Notion takes at most 100/);
      ts.upstream(0);
    });

    it('refuses a body over 500 KB and a link URL over 2,000 characters', async () => {
      ts.answer(() => ({ body: appended }));
      const big = Array.from({ length: 100 }, () => para('x'.repeat(6000)));
      const res = await ts.call('append_block_children', { block_id: PAGE_ID, children: big });
      expect(res.isError).toBe(true);
      expect(res.data.error.message).toMatch(/^The request would be \d+ KB; Notion takes at most 500 KB per call/);
      const link = { type: 'paragraph', paragraph: { rich_text: [{ text: { content: 'x', link: { url: `https://e.com/${'p'.repeat(2000)}` } } }] } };
      const bad = await ts.call('append_block_children', { block_id: PAGE_ID, children: [link] });
      expect(bad.data.error.message).toBe('children[0].paragraph.rich_text[0].text.link.url: longer than 2000 characters');
      ts.upstream(0);
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanCut, fitResult, MAX_RESULT_CHARS } from '../../src/tools/budget.js';
import { blockIdAt, list, longParagraph, paragraph } from '../fixtures/blocks.js';
import { bigPageMarkdown, childPage, IDS, pageMarkdown } from '../fixtures/pages.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';

type Obj = Record<string, any>;

/** Follows a text continuation (`start` = `next_start`) to the end; every result within the budget. */
async function readAll(ts: ToolStack, tool: string, args: Obj, field: string): Promise<{ parts: string[]; results: Obj[] }> {
  const parts: string[] = [];
  const results: Obj[] = [];
  let start: number | undefined;
  for (let i = 0; i < 20; i++) {
    const r = await ts.result(tool, start === undefined ? args : { ...args, start });
    const text = r.content[0].text;
    expect(text.length).toBeLessThanOrEqual(MAX_RESULT_CHARS);
    // Claude Code reads only structuredContent: it must carry all the text does.
    expect(r.structuredContent).toEqual(JSON.parse(text));
    const out = r.structuredContent as Obj;
    results.push(out);
    parts.push(out[field]);
    if (out.next_start === undefined) return { parts, results };
    expect(out.next_start).toBe((start ?? 0) + out[field].length);
    expect(out.cut).toContain(`call ${tool} again with the same arguments and start = ${out.next_start}`);
    start = out.next_start;
  }
  throw new Error('no end after 20 calls');
}

describe('result budget: no result over 25,000 tokens, cut with a continuation', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  const md = bigPageMarkdown();

  it('a big page is really over the budget', () => {
    expect(md.length).toBeGreaterThan(2 * MAX_RESULT_CHARS);
  });

  it('get_page_markdown of a big page: cut after a block, start = next_start returns the rest with no gap or overlap', async () => {
    ts.answer(() => ({ body: pageMarkdown(md) }));
    const { parts, results } = await readAll(ts, 'get_page_markdown', { page_id: IDS.page }, 'markdown');
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts.join('')).toBe(md);
    // Every part but the last ends at a block boundary (a blank line) and starts a new block.
    for (const p of parts.slice(0, -1)) expect(p.endsWith('\n\n')).toBe(true);
    for (const p of parts.slice(1)) expect(p).toMatch(/^\S/);
    expect(results.at(-1)).not.toHaveProperty('cut');
    expect(results.every((r) => r.truncated === false)).toBe(true);
    // Each continuation reads the page again: Notion gets the same call, without `start`.
    const calls = ts.upstream(parts.length);
    for (const c of calls) expect(`${c.method} ${c.path} ${JSON.stringify(c.query)}`).toBe(`GET /v1/pages/${IDS.page}/markdown {}`);
  });

  it('fetch of a big page: the same cut and continuation on text; id, title, url and metadata on every part', async () => {
    const page = childPage();
    ts.answer((req) => {
      if (req.path === `/v1/blocks/${IDS.page}`) return { body: { object: 'block', id: IDS.page, type: 'child_page', child_page: { title: 'Handbook' } } };
      if (req.path === `/v1/pages/${IDS.page}`) return { body: page };
      if (req.path === `/v1/pages/${IDS.page}/markdown`) return { body: pageMarkdown(md) };
      return undefined;
    });
    const { parts, results } = await readAll(ts, 'fetch', { id: IDS.page }, 'text');
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts.join('')).toBe(md);
    for (const r of results) expect(r).toMatchObject({ id: IDS.page, url: page.url, metadata: { kind: 'page' } });
  });

  it('the parts and their continuations come through tools/call over HTTP, each within the budget', async () => {
    ts.answer(() => ({ body: pageMarkdown(md) }));
    let joined = '';
    let start: unknown;
    for (let i = 0; i < 10; i++) {
      const part = await ts.call('get_page_markdown', { page_id: IDS.page, ...(start === undefined ? {} : { start }) });
      expect(part.isError).toBe(false);
      joined += part.data.markdown;
      start = part.data.next_start;
      if (start === undefined) break;
    }
    expect(start).toBeUndefined();
    expect(joined).toBe(md);
  });

  it('a result under the budget is unchanged: no cut, no continuation, the text is its JSON', async () => {
    ts.answer(() => ({ body: pageMarkdown('# Short\n\nHello.') }));
    const r = await ts.result('get_page_markdown', { page_id: IDS.page });
    expect(r.content[0].text).toBe(JSON.stringify({ markdown: '# Short\n\nHello.', truncated: false }));
  });

  describe('lists: cut after the last whole result, next_cursor continues inside the same Notion page', () => {
    const blocks = Array.from({ length: 100 }, (_, i) => longParagraph(blockIdAt(i), 3000));
    const NOTION_NEXT = blockIdAt(100);

    it('get_block_children of 100 long blocks: every block exactly once, in order, then Notion\'s own cursor', async () => {
      ts.answer((req) => (req.path === `/v1/blocks/${IDS.page}/children` ? { body: list('block', blocks, NOTION_NEXT) } : undefined));
      const seen: string[] = [];
      let cursor: string | undefined = 'first-cursor';
      let last: Obj = {};
      for (let i = 0; i < 20 && cursor !== NOTION_NEXT; i++) {
        const r = await ts.result('get_block_children', { block_id: IDS.page, start_cursor: cursor, page_size: 100 });
        expect(r.content[0].text.length).toBeLessThanOrEqual(MAX_RESULT_CHARS);
        last = JSON.parse(r.content[0].text);
        seen.push(...last.results.map((b: Obj) => b.id));
        expect(last.has_more).toBe(true);
        if (last.next_cursor !== NOTION_NEXT) {
          expect(last.next_cursor).toMatch(/^nmr1\.\d+\.100\.first-cursor$/);
          expect(last.cut).toContain('call get_block_children again with the same arguments and start_cursor = next_cursor');
        }
        cursor = last.next_cursor;
      }
      expect(seen).toEqual(blocks.map((b) => b.id));
      expect(last.next_cursor).toBe(NOTION_NEXT);
      expect(last).not.toHaveProperty('cut');
      // Every call asked Notion for the same page: its cursor and size, never ours.
      const calls = ts.apiRequests();
      expect(calls.length).toBeGreaterThanOrEqual(4);
      for (const c of calls) expect(c.query).toEqual({ start_cursor: 'first-cursor', page_size: '100' });
    });

    it('the continuation cursor works through the current MCP layer too, and keeps the page size it was made with', async () => {
      ts.answer(() => ({ body: list('block', blocks.slice(0, 10).map((b) => paragraph(b.id as string, 'short')), null) }));
      const res = await ts.call('get_block_children', { block_id: IDS.page, start_cursor: 'nmr1.7.10.', page_size: 50 });
      expect(res.isError).toBe(false);
      expect(res.data.results.map((b: Obj) => b.id)).toEqual(blocks.slice(7, 10).map((b) => b.id));
      ts.oneCall('GET', `/v1/blocks/${IDS.page}/children`, { page_size: '10' });
    });

    it('search is cut the same way, and its continuation posts the original cursor', async () => {
      const hits = Array.from({ length: 60 }, (_, i) =>
        childPage({ id: blockIdAt(i), properties: { title: { id: 'title', type: 'title', title: (longParagraph(blockIdAt(i), 2000) as Obj).paragraph.rich_text } } }),
      );
      ts.answer(() => ({ body: { object: 'list', results: hits, next_cursor: null, has_more: false, type: 'page_or_data_source', page_or_data_source: {} } }));
      const seen: string[] = [];
      let cursor = 'c-9';
      let out: Obj = {};
      for (let i = 0; i < 10; i++) {
        out = (await ts.result('search', { query: 'x', start_cursor: cursor })).structuredContent as Obj;
        seen.push(...out.results.map((r: Obj) => r.id));
        if (out.next_cursor === undefined) break;
        expect(out.next_cursor).toBe(`nmr1.${seen.length}..c-9`);
        cursor = out.next_cursor;
      }
      expect(seen).toEqual(hits.map((h) => h.id));
      expect(out.has_more).toBe(false);
      expect(ts.apiRequests().length).toBeGreaterThanOrEqual(2);
      for (const c of ts.apiRequests()) expect(c.body).toEqual({ query: 'x', start_cursor: 'c-9' });
    });
  });

  it('one block alone over the budget: its long text is shortened, marked, and the result says so', async () => {
    ts.answer(() => ({ body: longParagraph(IDS.block, 200_000) }));
    const r = await ts.result('get_block', { block_id: IDS.block });
    expect(r.content[0].text.length).toBeLessThanOrEqual(MAX_RESULT_CHARS);
    const out = JSON.parse(r.content[0].text);
    expect(out.paragraph.text).toMatch(/…\[cut \d+ characters\]$/);
    expect(out.cut).toMatch(/shortened/);
  });

  it('a result of many short values is cut by list length when no string is long, and says so', () => {
    const output = { object: 'data_source', properties: { Tag: { type: 'multi_select', options: Array.from({ length: 30_000 }, (_, i) => `Option ${i}`) } } };
    const { text } = fitResult('get_data_source', undefined, output, {});
    expect(text.length).toBeLessThanOrEqual(MAX_RESULT_CHARS);
    const out = JSON.parse(text);
    const options = out.properties.Tag.options as string[];
    expect(options.at(-1)).toBe(`…[cut ${30_000 - (options.length - 1)} more items]`);
    expect(options.slice(0, -1)).toEqual(output.properties.Tag.options.slice(0, options.length - 1));
    expect(out.cut).toMatch(/more items/);
  });

  it('cleanCut prefers a blank line, then a line break, then a space, and never splits a surrogate pair', () => {
    expect(cleanCut('aaaaaaaaaa\n\nbb\ncc dd ee', 20)).toBe(12);
    expect(cleanCut('aaaaaaaa\nbbbb cccc', 16)).toBe(9);
    expect(cleanCut('aaaaaaaa bbbbbbbb', 12)).toBe(9);
    const emoji = '🚀'.repeat(10);
    expect(cleanCut(emoji, 5)).toBe(4);
    expect(cleanCut('short', 10)).toBe(5);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FOLLOW_UPS } from '../../src/tools/page-reading.js';
import { startToolStack, type ToolStack } from '../helpers/tools.js';
import { bigPageMarkdown, IDS, pageMarkdown } from '../fixtures/pages.js';

const A = '1a1a1a1a-1a1a-4a1a-8a1a-1a1a1a1a1a1a';
const B = '2b2b2b2b-2b2b-4b2b-8b2b-2b2b2b2b2b2b';
const C = '3c3c3c3c-3c3c-4c3c-8c3c-3c3c3c3c3c3c';
const H2 = '4d4d4d4d-4d4d-4d4d-8d4d-4d4d4d4d4d4d';
const dashless = (id: string) => id.replace(/-/g, '');
/** The tag Notion leaves for a block it did not render: a link to the block, its ID the fragment. */
const unknownTag = (id: string) => `<unknown url="https://www.notion.so/${dashless(IDS.page)}#${dashless(id)}" alt="toggle"/>`;

/** Page and subtree Markdown by the ID in the path, as GET /v1/pages/{id}/markdown answers. */
function markdownById(table: Record<string, { markdown: string; unknown?: string[] }>) {
  return (req: { method: string; path: string }) => {
    const id = /^\/v1\/pages\/([^/]+)\/markdown$/.exec(req.path)?.[1];
    const hit = id && table[id];
    if (req.method !== 'GET' || !hit) return { status: 418, body: { object: 'error', status: 418, code: 'unexpected', message: req.path } };
    return { body: pageMarkdown(hit.markdown, { id, truncated: !!hit.unknown?.length, unknown_block_ids: hit.unknown ?? [] }) };
  };
}

const heading = (id: string, level: number, text: string) => ({
  object: 'block',
  id,
  type: `heading_${level}`,
  has_children: false,
  [`heading_${level}`]: { rich_text: [{ type: 'text', text: { content: text }, plain_text: text, annotations: {} }], is_toggleable: false, color: 'default' },
});
const paragraph = (id: string) => ({ object: 'block', id, type: 'paragraph', has_children: false, paragraph: { rich_text: [], color: 'default' } });

describe('reading a page within a budget (get_page_markdown)', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  it('joins parts of at most max_tokens into exactly the whole page, for a page over 25,000 tokens', async () => {
    const whole = bigPageMarkdown();
    expect(whole.length / 3).toBeGreaterThan(25_000);
    ts.answer(() => ({ body: pageMarkdown(whole) }));
    const parts: string[] = [];
    let start: number | undefined;
    for (let i = 0; i < 100; i++) {
      const res = await ts.result('get_page_markdown', { page_id: IDS.page, max_tokens: 4000, ...(start !== undefined ? { start } : {}) });
      // The budget holds for the whole result text the model reads.
      expect(res.content[0].text.length).toBeLessThanOrEqual(4000 * 3);
      const out = res.structuredContent as { markdown: string; next_start?: number };
      parts.push(out.markdown);
      if (out.next_start === undefined) break;
      expect(out.next_start).toBeGreaterThan(start ?? 0);
      start = out.next_start;
    }
    expect(parts.length).toBeGreaterThan(15);
    expect(parts.join('')).toBe(whole);
    // With the default budget the parts are larger, and still join to the page.
    const big: string[] = [];
    start = undefined;
    for (let i = 0; i < 10; i++) {
      const res = await ts.result('get_page_markdown', { page_id: IDS.page, ...(start !== undefined ? { start } : {}) });
      const out = res.structuredContent as { markdown: string; next_start?: number };
      big.push(out.markdown);
      if (out.next_start === undefined) break;
      start = out.next_start;
    }
    expect(big.length).toBeGreaterThanOrEqual(3);
    expect(big.join('')).toBe(whole);
  });

  it('refuses a max_tokens outside 500–25000 before calling Notion', async () => {
    ts.answer(() => ({ body: pageMarkdown('x') }));
    const res = await ts.call('get_page_markdown', { page_id: IDS.page, max_tokens: 10 });
    expect(res.isError).toBe(true);
    expect(res.data.error.message).toMatch(/max_tokens/);
    expect(ts.apiRequests()).toHaveLength(0);
  });

  it('follows the subtrees Notion left out, in turn and nested, and puts each where its tag was', async () => {
    ts.answer(
      markdownById({
        [IDS.page]: { markdown: `# Top\n\n${unknownTag(A)}\n\n## Middle\n\n${unknownTag(B)}\n\nEnd $1 $&`, unknown: [A, B] },
        [A]: { markdown: `Part A\n\n${unknownTag(C)}`, unknown: [C] },
        [B]: { markdown: 'Part B costs $5' },
        [C]: { markdown: 'Part C' },
      }),
    );
    const res = await ts.call('get_page_markdown', { page_id: IDS.page });
    expect(res.isError).toBe(false);
    expect(ts.upstream(4).map((r) => r.path)).toEqual([IDS.page, A, B, C].map((id) => `/v1/pages/${id}/markdown`));
    expect(res.data).toEqual({ markdown: '# Top\n\nPart A\n\nPart C\n\n## Middle\n\nPart B costs $5\n\nEnd $1 $&', truncated: false });
  });

  it(`stops after ${MAX_FOLLOW_UPS} follow-up reads and lists what is left`, async () => {
    const ids = Array.from({ length: MAX_FOLLOW_UPS + 3 }, (_, i) => `5e5e5e5e-5e5e-4e5e-8e5e-${String(i).padStart(12, '0')}`);
    const table: Record<string, { markdown: string; unknown?: string[] }> = {
      [IDS.page]: { markdown: ids.map(unknownTag).join('\n\n'), unknown: ids },
    };
    for (const id of ids) table[id] = { markdown: `part ${id.slice(-2)}` };
    ts.answer(markdownById(table));
    const res = await ts.call('get_page_markdown', { page_id: IDS.page });
    ts.upstream(1 + MAX_FOLLOW_UPS);
    expect(res.data.truncated).toBe(true);
    expect(res.data.unknown_block_ids).toEqual(ids.slice(MAX_FOLLOW_UPS));
    expect(res.data.markdown).toContain(`part ${ids[MAX_FOLLOW_UPS - 1]!.slice(-2)}`);
  });

  it('returns one section by heading text, up to the next heading of the same level, ignoring "#" lines in code', async () => {
    const md = '# Guide\n\nIntro\n\n## Setup\n\nInstall it.\n\n```sh\n# not a heading\n```\n\n### Details\n\nMore.\n\n## Use\n\nRun it.';
    ts.answer(() => ({ body: pageMarkdown(md) }));
    const res = await ts.call('get_page_markdown', { page_id: IDS.page, section: 'setup' });
    expect(res.isError).toBe(false);
    ts.oneCall('GET', `/v1/pages/${IDS.page}/markdown`, {});
    expect(res.data).toEqual({ markdown: '## Setup\n\nInstall it.\n\n```sh\n# not a heading\n```\n\n### Details\n\nMore.', truncated: false, heading: 'Setup' });

    ts.answer(() => ({ body: pageMarkdown(md) }));
    const missing = await ts.call('get_page_markdown', { page_id: IDS.page, section: 'not a heading' });
    expect(missing.isError).toBe(true);
    expect(missing.data.error.code).toBe('section_not_found');
    expect(missing.data.error.message).toContain('# Guide | ## Setup | ### Details | ## Use');
  });

  it("returns a section by its heading's block ID: the block is read for its text", async () => {
    ts.answer((req) =>
      req.path === `/v1/blocks/${H2}` ? { body: heading(H2, 2, 'Use') } : { body: pageMarkdown('# Guide\n\n## Setup\n\nA\n\n## Use\n\nRun it.\n\n# Appendix\n\nZ') },
    );
    const res = await ts.call('get_page_markdown', { page_id: IDS.page, section: dashless(H2) });
    expect(res.isError).toBe(false);
    expect(ts.upstream(2).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/pages/${IDS.page}/markdown`, `GET /v1/blocks/${H2}`]);
    expect(res.data.markdown).toBe('## Use\n\nRun it.');
  });

  it('gives the outline: the top-level headings with their block IDs, over every page of blocks', async () => {
    const first = [heading(A, 1, 'Guide'), paragraph(B), heading(C, 2, 'Setup')];
    const second = [paragraph('6f6f6f6f-6f6f-4f6f-8f6f-6f6f6f6f6f6f'), heading(H2, 3, 'Details')];
    ts.answer((req) =>
      req.query.start_cursor === 'c2'
        ? { body: { object: 'list', results: second, has_more: false, next_cursor: null } }
        : { body: { object: 'list', results: first, has_more: true, next_cursor: 'c2' } },
    );
    const res = await ts.call('get_page_markdown', { page_id: IDS.page, outline: true });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(2);
    expect(calls.map((r) => [r.path, r.query])).toEqual([
      [`/v1/blocks/${IDS.page}/children`, { page_size: '100' }],
      [`/v1/blocks/${IDS.page}/children`, { page_size: '100', start_cursor: 'c2' }],
    ]);
    expect(res.data).toEqual({
      markdown: '',
      truncated: false,
      outline: [
        { level: 1, text: 'Guide', id: A },
        { level: 2, text: 'Setup', id: C },
        { level: 3, text: 'Details', id: H2 },
      ],
    });
  });
});

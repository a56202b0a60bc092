import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS } from '../fixtures/pages.js';
import type { RecordedRequest } from '../helpers/fake-notion.js';
import { startToolStack, type ToolStack } from '../helpers/tools.js';

/**
 * Markdown round trip, as a property over generated pages: pages of Notion-flavored Markdown with
 * every block type (Notion's enhanced-markdown spec: tab-indented children, one block per line
 * group, XML-like tags) are served by the fake Notion whole, or cut as Notion cuts a long page:
 * a left-out block is an `<unknown url="…#<block id>" alt="<type>"/>` tag at its depth, its ID in
 * `unknown_block_ids`, and GET /v1/pages/<block id>/markdown renders that block from column 0
 * (cut again where its own blocks were left out). get_page_markdown must give back exactly the
 * page, in max_tokens parts that join into it and in sections by heading; update_page_markdown
 * must send it back unchanged.
 */

const PAGE = IDS.page;
const dashless = (id: string) => id.replace(/-/g, '');
const url = (id: string) => `https://www.notion.so/${dashless(PAGE)}#${dashless(id)}`;

/** A block: its own lines, its children (one tab deeper) and its closing lines; `{URL}` links to it, `{N}` numbers a heading. */
interface Node {
  id: string;
  type: string;
  head: string[];
  children: Node[];
  tail: string[];
  /** Headings (toggle headings too): level; and the plain text a section is asked for by. */
  level?: number;
  title?: string;
}

const node = (type: string, head: string[], children: Node[] = [], tail: string[] = []): Node => ({ id: '', type, head, children, tail });

// --- Rich text -----------------------------------------------------------------------------------

const word = fc.constantFrom('alpha', 'beta', 'naïve', 'café', '🚀', 'Zoë', 'x', 'costs \\$5', '\\*not bold\\*', 'a\\_b', '1\\<2', 'ünïcode');
const words = fc.array(word, { minLength: 1, maxLength: 6 }).map((w) => w.join(' '));
const inline = fc.oneof(
  { weight: 4, arbitrary: words },
  words.map((w) => `**${w}**`),
  words.map((w) => `*${w}*`),
  words.map((w) => `~~${w}~~`),
  words.map((w) => `\`${w.replace(/\\/g, '')}\``),
  words.map((w) => `[${w}](https://example.com/a?b=1)`),
  words.map((w) => `<span color="red">${w}</span>`),
  words.map((w) => `<span underline="true">${w}</span>`),
  fc.constant('$E = mc^2$'),
  fc.constant('<mention-page url="https://www.notion.so/0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d">Plan</mention-page>'),
  fc.constant('<mention-database url="https://www.notion.so/c3d4e5f6a7b84c9d8e0f2a3b4c5d6e7f">Tasks</mention-database>'),
  fc.constant('<mention-user url="user://6794760a-1f15-45cd-9c65-0dfe42f5135a"/>'),
  fc.constant('<mention-date start="2026-03-11" end="2026-03-12"/>'),
  fc.constant('line<br>break'),
);
const richText = fc.array(inline, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(' '));
const color = fc.option(fc.constantFrom('gray', 'red', 'blue_bg', 'yellow_bg'), { nil: undefined });
const withColor = (text: string, c: string | undefined) => (c ? `${text} {color="${c}"}` : text);

// --- Blocks ----------------------------------------------------------------------------------------

/** Code is literal: `$` replacement patterns, "#" lines and tag-like text must come back as they are. */
const codeLine = fc.constantFrom('const a = 1;', '# not a heading', "x.replace(/a/, '$&$1$$')", '<unknown url="x"/>', '\tindented();', '', 'print("café 🚀")');
const media = fc.oneof(
  words.map((c) => `![${c}](https://example.com/image.png)`),
  fc.constantFrom('video', 'file', 'pdf', 'audio').chain((t) => words.map((c) => `<${t} source="https://example.com/${t}.bin">${c}</${t}>`)),
);

const leaf: fc.Arbitrary<Node> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(richText, color).map(([t, c]) => node('paragraph', [withColor(t, c)])) },
  fc.tuple(fc.constantFrom('- ', '1. ', '- [ ] ', '- [x] ', '> '), richText).map(([m, t]) => node(m === '> ' ? 'quote' : m.includes('[') ? 'to_do' : 'list_item', [m + t])),
  fc.tuple(fc.constantFrom('', 'python', 'typescript', 'mermaid'), fc.array(codeLine, { minLength: 1, maxLength: 5 })).map(([lang, lines]) => node('code', ['```' + lang, ...lines, '```'])),
  fc.constantFrom('E = mc^2', '\\int_0^1 x\\,dx = \\frac{1}{2}', 'a^2 + b^2 = c^2').map((e) => node('equation', ['$$', e, '$$'])),
  media.map((m) => node('media', [m])),
  fc.constantFrom(
    node('divider', ['---']),
    node('table_of_contents', ['<table_of_contents/>']),
    node('empty', ['<empty-block/>']),
    node('child_page', ['<page url="https://www.notion.so/Notes-0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d">Notes</page>']),
    node('child_database', ['<database url="https://www.notion.so/c3d4e5f6a7b84c9d8e0f2a3b4c5d6e7f" inline="true">Tasks</database>']),
    // A block type Notion does not render: a tag whose ID is not listed, left as it is.
    node('bookmark', ['<unknown url="{URL}" alt="bookmark"/>']),
  ),
);

const row = (cells: string[]) => node('table_row', ['<tr>', ...cells.map((c) => `\t<td>${c}</td>`), '</tr>']);
const table = fc
  .integer({ min: 1, max: 3 })
  .chain((width) => fc.array(fc.array(richText, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 4 }))
  .map((rows) => node('table', ['<table header-row="true">'], rows.map(row), ['</table>']));

/** Blocks at `depth`: leaves, and below depth 3 blocks with children. */
function block(depth: number): fc.Arbitrary<Node> {
  if (depth >= 3) return fc.oneof(leaf, table);
  const kids = fc.array(block(depth + 1), { minLength: 1, maxLength: 3 });
  return fc.oneof(
    { weight: 6, arbitrary: leaf },
    table,
    fc.tuple(fc.constantFrom('- ', '1. ', '- [ ] ', '- [x] '), richText, kids).map(([m, t, c]) => node(m.includes('[') ? 'to_do' : 'list_item', [m + t], c)),
    fc.tuple(richText, color, kids).map(([t, c, k]) => node('toggle', [c ? `<details color="${c}">` : '<details>', `<summary>${t}</summary>`], k, ['</details>'])),
    fc.tuple(fc.constantFrom('💡', '⚠️', '🚀'), color, richText, kids).map(([i, c, t, k]) =>
      node('callout', [`<callout icon="${i}"${c ? ` color="${c}"` : ''}>`], [node('paragraph', [t]), ...k], ['</callout>']),
    ),
    fc.array(kids, { minLength: 2, maxLength: 3 }).map((cols) => node('column_list', ['<columns>'], cols.map((k) => node('column', ['<column>'], k, ['</column>'])), ['</columns>'])),
    fc.tuple(fc.boolean(), kids).map(([ref, k]) => (ref ? node('synced_block', ['<synced_block_reference url="{URL}">'], k, ['</synced_block_reference>']) : node('synced_block', ['<synced_block url="{URL}">'], k, ['</synced_block>']))),
    fc.tuple(fc.integer({ min: 1, max: 3 }), richText, kids).map(([l, t, k]) => ({ ...node('toggle_heading', [`${'#'.repeat(l)} ${t} {toggle="true"}`], k), level: l })),
    fc.tuple(richText, kids).map(([t, k]) => node('paragraph', [t], k)),
  );
}

const heading = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.boolean(), color, fc.boolean(), fc.array(block(1), { maxLength: 2 })).map(([level, bold, c, toggle, kids]) => {
  const n = node('heading', [`${'#'.repeat(level)} ${bold ? '**Heading**' : 'Heading'} {N}${toggle ? ' {toggle="true"}' : c ? ` {color="${c}"}` : ''}`], toggle ? kids : []);
  n.level = level;
  return n;
});

interface Page {
  blocks: Node[];
  /** Blocks Notion leaves out of the read that contains them. */
  cut: Set<string>;
  byId: Map<string, Node>;
}

/** A page of 3–30 top-level blocks, IDs and unique heading titles assigned, some blocks cut. */
const page: fc.Arbitrary<Page> = fc
  .tuple(fc.array(fc.oneof({ weight: 1, arbitrary: heading }, { weight: 3, arbitrary: block(0) }), { minLength: 3, maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }))
  .map(([generated, picks]) => {
    const all: Node[] = [];
    // A copy of each block (fast-check shares generated values) with its ID and unique heading title.
    const place = (g: Node): Node => {
      const n = all.length + 1;
      const b: Node = { ...g, id: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}` };
      b.head = g.head.map((l) => l.replace('{URL}', url(b.id)).replace('{N}', String(n)));
      if (g.type === 'heading') b.title = `Heading ${n}`;
      all.push(b);
      b.children = g.children.map(place);
      return b;
    };
    const blocks = generated.map(place);
    const cuttable = all.filter((b) => b.type !== 'bookmark');
    const cut = new Set(picks.map((p) => cuttable[p % cuttable.length]!.id));
    // A failing page is reported as its Markdown and the blocks cut from it.
    const show = () => `${JSON.stringify(markdownOf(blocks))} cut ${JSON.stringify([...cut])}`;
    return { blocks, cut, byId: new Map(all.map((b) => [b.id, b])), [fc.toStringMethod]: show };
  });

// --- What Notion answers ---------------------------------------------------------------------------

const indent = (line: string, depth: number) => (line ? '\t'.repeat(depth) + line : line);

/** The lines of `b` at `depth`; a cut block (not the one read) is its tag, and its ID is listed. */
function render(b: Node, depth: number, cut: Set<string> | undefined, unknown: string[], read = false): string[] {
  if (cut?.has(b.id) && !read) {
    unknown.push(b.id);
    return [indent(`<unknown url="${url(b.id)}" alt="${b.type}"/>`, depth)];
  }
  return [...b.head.map((l) => indent(l, depth)), ...b.children.flatMap((c) => render(c, depth + 1, cut, unknown)), ...b.tail.map((l) => indent(l, depth))];
}

const markdownOf = (blocks: Node[], cut?: Set<string>, unknown: string[] = []) => blocks.flatMap((b) => render(b, 0, cut, unknown)).join('\n');

/** GET /v1/pages/{id}/markdown for the page or any of its blocks, and PATCH for the page. */
function notion(p: Page) {
  return (req: RecordedRequest) => {
    const id = /^\/v1\/pages\/([^/]+)\/markdown$/.exec(req.path)?.[1];
    if (req.method === 'PATCH' && id === PAGE) {
      const md = (req.body as { replace_content: { new_str: string } }).replace_content.new_str;
      return { body: { object: 'page_markdown', id: PAGE, markdown: md, truncated: false, unknown_block_ids: [] } };
    }
    const b = id && p.byId.get(id);
    if (req.method !== 'GET' || (id !== PAGE && !b)) return { status: 418, body: { object: 'error', status: 418, code: 'unexpected', message: req.path } };
    const unknown: string[] = [];
    const markdown = b ? render(b, 0, p.cut, unknown, true).join('\n') : markdownOf(p.blocks, p.cut, unknown);
    return { body: { object: 'page_markdown', id, markdown, truncated: unknown.length > 0, unknown_block_ids: unknown } };
  };
}

/** The section the page's top-level heading at `i` heads: up to the next heading of its level or higher. */
function sectionOf(blocks: Node[], i: number): string {
  const level = blocks[i]!.level!;
  let j = i + 1;
  while (j < blocks.length && !(blocks[j]!.level !== undefined && blocks[j]!.level! <= level)) j++;
  return markdownOf(blocks.slice(i, j)).replace(/\n+$/, '');
}

describe('Markdown round trip over generated pages (get_page_markdown, update_page_markdown)', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  const read = async (args: Record<string, unknown>) => {
    const res = await ts.result('get_page_markdown', { page_id: PAGE, ...args });
    return res.structuredContent as { markdown: string; truncated: boolean; next_start?: number; unknown_block_ids?: string[] };
  };

  it('reads every page back exactly: whole, in max_tokens parts, by section, and writes it back unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(page, async (p) => {
        const whole = markdownOf(p.blocks);
        ts.answer(notion(p));

        // Whole: every cut block read once and put back where its tag stood.
        expect(await read({})).toEqual({ markdown: whole, truncated: false });
        expect(ts.apiRequests()).toHaveLength(1 + p.cut.size);

        // Parts join into the whole: about five of them (500 tokens at least).
        const max_tokens = Math.max(500, Math.ceil(whole.length / 3 / 5));
        const parts: string[] = [];
        let start: number | undefined;
        for (let k = 0; k < 100; k++) {
          const out = await read({ max_tokens, ...(start !== undefined ? { start } : {}) });
          parts.push(out.markdown);
          if (out.next_start === undefined) break;
          start = out.next_start;
        }
        expect(parts.join('')).toBe(whole);

        // Sections: each top-level heading's slice of the page.
        const headings = p.blocks.map((b, i) => [b, i] as const).filter(([b]) => b.type === 'heading');
        for (const [h, i] of headings.slice(0, 3)) {
          const out = await read({ section: h.title });
          expect(out.markdown).toBe(sectionOf(p.blocks, i));
        }

        // The Markdown read, written back as the whole body: sent exactly, without permission to delete.
        const read_back = parts.join('');
        ts.answer(notion(p));
        const res = await ts.result('update_page_markdown', { page_id: PAGE, markdown: read_back });
        expect(JSON.parse(res.content[0].text)).toMatchObject({ id: PAGE, replaced: true, page_chars: whole.length });
        const [patch] = ts.upstream(1);
        expect(`${patch!.method} ${patch!.path}`).toBe(`PATCH /v1/pages/${PAGE}/markdown`);
        expect(patch!.body).toEqual({ type: 'replace_content', replace_content: { new_str: read_back } });
      }),
      { numRuns: 40, seed: 20261207 },
    );
  });
});

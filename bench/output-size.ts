/**
 * Output bytes: what our tools hand the model versus Notion's raw JSON, on realistic fixtures.
 * Run: npm run bench:output   (writes bench/results/output-size.json)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { ToolRegistry } from '../src/tools/registry.js';
import { toolSet } from '../src/tools/index.js';
import { SCOPE_READ } from '../src/oauth/scopes.js';
import { blockChildrenFixture, list, PERSON_ID } from '../test/fixtures/blocks.js';
import { IDS, rowPage } from '../test/fixtures/pages.js';

const uuid = (i: number) => `25c104cd-477e-8${String(i).padStart(3, '0')}-b2a3-c4d5e6f7a8b9`;

/** A data source query page of 100 rows, as POST /v1/data_sources/{id}/query returns it. */
function queryOf100(by: string = IDS.bot): unknown {
  const titles = ['Ship the connector', 'Write the docs', 'Fix the flaky test', 'Plan Q3', 'Review the PR'];
  return {
    object: 'list',
    results: Array.from({ length: 100 }, (_, i) => {
      const row = rowPage({ id: uuid(i), created_by: { object: 'user', id: by }, last_edited_by: { object: 'user', id: by } }) as Record<string, any>;
      row.properties.Name.title[0].plain_text = row.properties.Name.title[0].text.content = `${titles[i % titles.length]} #${i}`;
      row.properties.Estimate.number = i % 8;
      return row;
    }),
    next_cursor: uuid(100),
    has_more: true,
    type: 'page_or_data_source',
    page_or_data_source: {},
    request_id: 'f0e1d2c3-b4a5-4968-8776-655443322110',
  };
}

/** [fixture name, tool, arguments, Notion's raw response] */
const cases: [string, string, Record<string, unknown>, unknown][] = [
  ['page (a database row with 8 properties)', 'get_page', { page_id: uuid(1) }, rowPage({ created_by: { object: 'user', id: IDS.user }, last_edited_by: { object: 'user', id: IDS.user } })],
  ['page an integration wrote', 'get_page', { page_id: uuid(1) }, rowPage()],
  ['query with 100 rows', 'query_data_source', { data_source_id: uuid(2) }, queryOf100(IDS.user)],
  ['query with 100 rows an integration wrote', 'query_data_source', { data_source_id: uuid(2) }, queryOf100(IDS.bot)],
  ['block children with 100 blocks', 'get_block_children', { block_id: uuid(3) }, blockChildrenFixture(100, true)],
];

// The workspace's users (GET /v1/users, read once per connection for provenance): the fixtures'
// people are members, their bot an integration, whose content is marked.
const users = list('user', [
  { object: 'user', id: IDS.user, type: 'person', person: {} },
  { object: 'user', id: PERSON_ID, type: 'person', person: {} },
  { object: 'user', id: IDS.bot, name: 'Sync', type: 'bot', bot: {} },
]);

// The real tools, fed Notion's raw response instead of calling Notion: the output is exactly
// what the model would read in the tool result.
const registry = new ToolRegistry(toolSet);
const rows = [];
for (const [name, tool, args, raw] of cases) {
  const notion = { read: async () => raw, write: async () => raw, get: async (path: string) => (path === 'users' ? users : raw) };
  const result = await registry.result(tool, args, { notion, auth: { grantId: 'bench', scopes: new Set([SCOPE_READ]) } } as never);
  const rawBytes = Buffer.byteLength(JSON.stringify(raw));
  const shapedBytes = Buffer.byteLength(result.content[0].text);
  rows.push({ fixture: name, tool, raw_bytes: rawBytes, output_bytes: shapedBytes, ratio: Number((shapedBytes / rawBytes).toFixed(3)) });
}

console.log('| fixture | raw Notion JSON | our output | ratio |\n|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.fixture} (\`${r.tool}\`) | ${r.raw_bytes.toLocaleString('en-US')} B | ${r.output_bytes.toLocaleString('en-US')} B | ${(r.ratio * 100).toFixed(1)}% |`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/output-size.json', import.meta.url), `${JSON.stringify(rows, null, 2)}\n`);

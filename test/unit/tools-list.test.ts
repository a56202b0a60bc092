import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ToolRegistry } from '../../src/tools/registry.js';
import { allTools } from '../../src/tools/index.js';
import { SCOPE_READ, SCOPE_WRITE } from '../../src/oauth/scopes.js';
import { toolsDoc } from '../../scripts/tools-doc.js';

const registry = new ToolRegistry(allTools);
type WireTool = { name: string; description: string; inputSchema: Record<string, any>; annotations: Record<string, any> };
const tools = registry.listAll.tools as WireTool[];
const auth = (scopes: string[]) => ({ scopes: new Set(scopes) }) as never;

/** The earlier connector's tools: same names, so prompts written for it keep working. */
const LEGACY = [
  'create_page', 'get_page', 'get_page_property_item', 'update_page', 'archive_page', 'move_page',
  'create_database', 'get_database', 'update_database', 'archive_database', 'query_database',
  'get_data_source', 'update_data_source', 'query_data_source', 'list_data_source_templates',
  'get_block', 'get_block_children', 'append_block_children', 'update_block', 'delete_block',
  'get_users', 'get_user', 'get_self', 'create_comment', 'get_comments', 'search',
];

/**
 * Every tool's hints, reviewed one by one: read-only / destructive / idempotent (T or F).
 * Destructive: deletes, trashes or overwrites existing content. Idempotent: repeating the same
 * call changes nothing more. openWorldHint is true everywhere (every tool reaches Notion).
 */
const HINTS: Record<string, string> = {
  search: 'TFT', fetch: 'TFT',
  create_page: 'FFF', get_page: 'TFT', get_page_property_item: 'TFT', update_page: 'FTT', archive_page: 'FTT',
  move_page: 'FFT', get_page_markdown: 'TFT', update_page_markdown: 'FTF',
  get_block: 'TFT', get_block_children: 'TFT', append_block_children: 'FFF', update_block: 'FTT', delete_block: 'FTT',
  create_database: 'FFF', get_database: 'TFT', update_database: 'FTT', archive_database: 'FTT', query_database: 'TFT',
  get_data_source: 'TFT', update_data_source: 'FTT', query_data_source: 'TFT', list_data_source_templates: 'TFT', create_data_source: 'FFF',
  list_views: 'TFT', get_view: 'TFT', create_view: 'FFF', update_view: 'FTT', delete_view: 'FTT', query_view: 'TFT',
  create_comment: 'FFF', get_comments: 'TFT', get_comment: 'TFT', update_comment: 'FTT', delete_comment: 'FTT',
  get_users: 'TFT', get_user: 'TFT', get_self: 'TFT',
  upload_file: 'FTF', list_custom_emojis: 'TFT', restore_from_trash: 'FFT',
};

describe('tools/list', () => {
  it('has exactly the reviewed annotations on every tool', () => {
    const b = (x: boolean) => (x ? 'T' : 'F');
    const actual = Object.fromEntries(tools.map((t) => [t.name, `${b(t.annotations.readOnlyHint)}${b(t.annotations.destructiveHint)}${b(t.annotations.idempotentHint)}`]));
    expect(actual).toEqual(HINTS);
  });

  it('stays within 30,000 bytes of compact JSON for at least 40 tools', () => {
    const bytes = Buffer.byteLength(JSON.stringify(tools));
    console.log(`tools/list: ${tools.length} tools, ${bytes} bytes (${Math.round(bytes / tools.length)} per tool)`);
    expect(tools.length).toBeGreaterThanOrEqual(40);
    expect(bytes).toBeLessThanOrEqual(30_000);
  });

  it('keeps every tool of the earlier connector by name', () => {
    const names = new Set(tools.map((t) => t.name));
    expect(LEGACY.filter((n) => !names.has(n))).toEqual([]);
  });

  it('gives every tool a title, a short description and all four hints', () => {
    for (const t of tools) {
      expect(t.name, t.name).toMatch(/^[a-z][a-z0-9_]{2,63}$/);
      expect(t.annotations.title, t.name).toMatch(/^[A-Z]/);
      expect(t.description.length, t.name).toBeGreaterThan(20);
      expect(t.description.length, t.name).toBeLessThanOrEqual(300);
      expect(Object.keys(t.annotations).sort(), t.name).toEqual(['destructiveHint', 'idempotentHint', 'openWorldHint', 'readOnlyHint', 'title']);
      expect(t.annotations.openWorldHint, t.name).toBe(true);
      if (t.annotations.readOnlyHint) expect(t.annotations.destructiveHint, t.name).toBe(false);
      expect(t.inputSchema.type, t.name).toBe('object');
      expect(JSON.stringify(t.inputSchema), t.name).not.toContain('$schema');
    }
  });

  it('shows a read-only connection only the read-only tools', () => {
    const readOnly = registry.list(auth([SCOPE_READ])).tools as WireTool[];
    expect(readOnly.length).toBeGreaterThan(10);
    expect(readOnly.every((t) => t.annotations.readOnlyHint)).toBe(true);
    expect(readOnly.length).toBe(tools.filter((t) => t.annotations.readOnlyHint).length);
    expect(registry.list(auth([SCOPE_READ, SCOPE_WRITE])).tools).toHaveLength(tools.length);
  });

  it('is documented in docs/tools.md exactly as the registry has it (npm run docs:tools)', () => {
    expect(readFileSync(new URL('../../docs/tools.md', import.meta.url), 'utf8')).toBe(toolsDoc());
  });
});

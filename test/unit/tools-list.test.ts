import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ToolRegistry } from '../../src/tools/registry.js';
import { allTools } from '../../src/tools/index.js';
import { SCOPE_READ, SCOPE_WRITE } from '../../src/oauth/scopes.js';
import { toolsDoc } from '../../scripts/tools-doc.js';
import { Ajv2020 } from 'ajv/dist/2020.js';

const registry = new ToolRegistry(allTools);
type WireTool = { name: string; title: string; description: string; inputSchema: Record<string, any>; outputSchema?: Record<string, any>; annotations: Record<string, any> };
const tools = registry.definitions({ scopes: new Set([SCOPE_READ, SCOPE_WRITE]) } as never).tools as WireTool[];
/** What the MCP layer lists (2025-06-18 and later): the same tools with their output schemas. */
const definitions = registry.definitions({ scopes: new Set([SCOPE_READ, SCOPE_WRITE]) } as never).tools as WireTool[];
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

  it('stays within 30,000 bytes of compact JSON for at least 40 tools, output schemas included', () => {
    const bytes = Buffer.byteLength(JSON.stringify(definitions));
    console.log(`tools/list: ${definitions.length} tools, ${bytes} bytes (${Math.round(bytes / definitions.length)} per tool)`);
    expect(definitions.length).toBeGreaterThanOrEqual(40);
    expect(bytes).toBeLessThanOrEqual(30_000);
  });

  it('gives every tool a top-level title equal to annotations.title, and all four hints as booleans', () => {
    for (const list of [tools, definitions]) {
      expect(list).toHaveLength(Object.keys(HINTS).length);
      for (const t of list) {
        expect(typeof t.title, t.name).toBe('string');
        expect(t.title, t.name).toMatch(/^[A-Z]/);
        expect(t.annotations.title, t.name).toBe(t.title);
        for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) expect(typeof t.annotations[hint], `${t.name}.${hint}`).toBe('boolean');
      }
    }
  });

  it('declares an output schema for search, fetch and get_page_markdown', () => {
    const withOutput = definitions.filter((t) => t.outputSchema).map((t) => t.name);
    expect(withOutput).toEqual(expect.arrayContaining(['search', 'fetch', 'get_page_markdown']));
    const byName = new Map(definitions.map((t) => [t.name, t]));
    expect(byName.get('search')!.outputSchema).toMatchObject({ type: 'object', required: ['results'], properties: { results: { items: { required: ['id', 'title', 'url'] } } } });
    expect(byName.get('fetch')!.outputSchema).toMatchObject({ type: 'object', required: ['id', 'title', 'text', 'url', 'metadata'] });
    for (const t of definitions) {
      if (!t.outputSchema) continue;
      expect(t.outputSchema.type, t.name).toBe('object');
      expect(JSON.stringify(t.outputSchema).length, t.name).toBeLessThanOrEqual(400);
    }
  });

  it('has input and output schemas that are valid JSON Schema 2020-12 (strict: no unknown or draft-07-only keywords)', () => {
    const ajv = new Ajv2020({ strict: true, validateSchema: true });
    for (const t of definitions) {
      for (const schema of [t.inputSchema, t.outputSchema]) {
        if (!schema) continue;
        expect(ajv.validateSchema(schema), `${t.name}: ${JSON.stringify(ajv.errors)}`).toBe(true);
        expect(() => ajv.compile(schema), t.name).not.toThrow();
        expect(JSON.stringify(schema), t.name).not.toMatch(/"(definitions|dependencies|\$recursiveRef|additionalItems)"/);
      }
    }
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
    const readOnly = registry.definitions(auth([SCOPE_READ])).tools as WireTool[];
    expect(readOnly.length).toBeGreaterThan(10);
    expect(readOnly.every((t) => t.annotations.readOnlyHint)).toBe(true);
    expect(readOnly.length).toBe(tools.filter((t) => t.annotations.readOnlyHint).length);
    expect(registry.definitions(auth([SCOPE_READ, SCOPE_WRITE])).tools).toHaveLength(tools.length);
  });

  it('is documented in docs/tools.md exactly as the registry has it (npm run docs:tools)', () => {
    expect(readFileSync(new URL('../../docs/tools.md', import.meta.url), 'utf8')).toBe(toolsDoc());
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ToolRegistry } from '../../src/tools/registry.js';
import { toolSet } from '../../src/tools/index.js';
import { SCOPE_READ, SCOPE_WRITE } from '../../src/oauth/scopes.js';
import { toolsDoc } from '../../scripts/tools-doc.js';
import { Ajv2020 } from 'ajv/dist/2020.js';

const registry = new ToolRegistry(toolSet);
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
  get_page_markdown: 'TFT', update_page_markdown: 'FTF', create_page: 'FFF', update_page: 'FTT', save_pages: 'FTF', trash: 'FTT',
  get_block_children: 'TFT', append_block_children: 'FFF', update_block: 'FTT',
  get_data_source: 'TFT', query_data_source: 'TFT',
  // Groups: the hints that hold for every op (read-write listing).
  database_admin: 'FTF', comments: 'FTF', more: 'FTF',
};

/** Ops of each group: listed in its description, callable through it and by their own names. */
const GROUP_OPS: Record<string, string[]> = {
  database_admin: ['create_database', 'update_database', 'update_data_source', 'create_data_source', 'list_data_source_templates', 'list_views', 'get_view', 'query_view', 'create_view', 'update_view', 'delete_view'],
  comments: ['get_comments', 'create_comment', 'get_comment', 'update_comment', 'delete_comment'],
  more: ['get_page_property_item', 'get_users', 'get_user', 'get_self', 'list_custom_emojis', 'upload_file', 'list_file_uploads', 'get_file', 'duplicate_page', 'get_async_task', 'create_meeting_notes', 'query_meeting_notes'],
};

/** Names listed before the list was made lean: still answered, not listed. */
const UNLISTED = ['get_page', 'get_block', 'get_database', 'archive_page', 'archive_database', 'delete_block', 'restore_from_trash', 'query_database', 'move_page'];

const listedOps = (group: string, list: Map<string, WireTool>) => list.get(group)!.description.split('\n').slice(1).map((l) => l.split(' ')[1]);

describe('tools/list', () => {
  it('has exactly the reviewed annotations on every tool', () => {
    const b = (x: boolean) => (x ? 'T' : 'F');
    const actual = Object.fromEntries(tools.map((t) => [t.name, `${b(t.annotations.readOnlyHint)}${b(t.annotations.destructiveHint)}${b(t.annotations.idempotentHint)}`]));
    expect(actual).toEqual(HINTS);
  });

  it('stays within 15,000 bytes of compact JSON, output schemas included', () => {
    const bytes = Buffer.byteLength(JSON.stringify(definitions));
    console.log(`tools/list: ${definitions.length} entries, ${bytes} bytes (${Math.round(bytes / definitions.length)} per entry)`);
    expect(bytes).toBeLessThanOrEqual(15_000);
  });

  it('lists each group with its ops and their arguments, and the read-only ops alone for a read-only connection', () => {
    const readOnly = new Map((registry.definitions(auth([SCOPE_READ])).tools as WireTool[]).map((t) => [t.name, t]));
    for (const [name, ops] of Object.entries(GROUP_OPS)) {
      const listed = tools.find((t) => t.name === name)!;
      expect(listed.inputSchema).toEqual({ type: 'object', properties: { op: { type: 'string' }, args: { type: 'object' } }, required: ['op', 'args'] });
      const lines = listed.description.split('\n').slice(1);
      expect(lines.map((l) => l.split(' ')[1])).toEqual(ops);
      for (const op of ops) expect(registry.callable(op), op).toBe(true);
      const ro = readOnly.get(name);
      if (!ro) continue;
      expect(ro.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true });
      const roOps = ro.description.split('\n').slice(1).map((l) => l.split(' ')[1]);
      expect(roOps.length).toBeGreaterThan(0);
      expect(roOps.length).toBeLessThan(ops.length);
      expect(roOps.every((op) => ops.includes(op!))).toBe(true);
    }
    expect(listedOps('database_admin', readOnly)).toEqual(['list_data_source_templates', 'list_views', 'get_view', 'query_view']);
    expect(listedOps('comments', readOnly)).toEqual(['get_comments', 'get_comment']);
    expect(listedOps('more', readOnly)).toEqual(['get_page_property_item', 'get_users', 'get_user', 'get_self', 'list_custom_emojis', 'list_file_uploads', 'get_file', 'get_async_task', 'query_meeting_notes']);
    // An op's argument list: required ones first, optional ones marked, paging folded into "paged".
    expect(tools.find((t) => t.name === 'more')!.description).toContain('- get_page_property_item {page_id, property_id, paged}: ');
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

  it('keeps every tool of the earlier connector by name: listed, as a group op, or unlisted', () => {
    expect(LEGACY.filter((n) => !registry.callable(n))).toEqual([]);
    expect(UNLISTED.filter((n) => !registry.callable(n) || tools.some((t) => t.name === n))).toEqual([]);
    // Every tool that existed before the list was made lean is still answered.
    for (const name of [...Object.values(GROUP_OPS).flat(), ...UNLISTED]) expect(registry.callable(name), name).toBe(true);
  });

  it('gives every tool a title, a short description and all four hints', () => {
    for (const t of tools) {
      expect(t.name, t.name).toMatch(/^[a-z][a-z0-9_]{2,63}$/);
      expect(t.annotations.title, t.name).toMatch(/^[A-Z]/);
      expect(t.description.length, t.name).toBeGreaterThan(20);
      // A group's first line is its description; each further line is one op.
      for (const line of t.description.split('\n')) expect(line.length, t.name).toBeLessThanOrEqual(300);
      expect(Object.keys(t.annotations).sort(), t.name).toEqual(['destructiveHint', 'idempotentHint', 'openWorldHint', 'readOnlyHint', 'title']);
      expect(t.annotations.openWorldHint, t.name).toBe(true);
      if (t.annotations.readOnlyHint) expect(t.annotations.destructiveHint, t.name).toBe(false);
      expect(t.inputSchema.type, t.name).toBe('object');
      expect(JSON.stringify(t.inputSchema), t.name).not.toContain('$schema');
    }
  });

  it('shows a read-only connection only the read-only tools', () => {
    const readOnly = registry.definitions(auth([SCOPE_READ])).tools as WireTool[];
    expect(readOnly.length).toBeGreaterThan(8);
    expect(readOnly.every((t) => t.annotations.readOnlyHint)).toBe(true);
    // Read-only tools, plus the read-only listing of each group with a read op.
    expect(readOnly.length).toBe(tools.filter((t) => t.annotations.readOnlyHint).length + Object.keys(GROUP_OPS).length);
    expect(registry.definitions(auth([SCOPE_READ, SCOPE_WRITE])).tools).toHaveLength(tools.length);
  });

  it('is documented in docs/tools.md exactly as the registry has it (npm run docs:tools)', () => {
    expect(readFileSync(new URL('../../docs/tools.md', import.meta.url), 'utf8')).toBe(toolsDoc());
  });
});

import { z } from 'zod';
import { ToolError } from '../errors.js';
import type { AuthContext } from '../oauth/grants.js';
import { SCOPE_WRITE } from '../oauth/scopes.js';
import type { NotionSession } from '../notion/session.js';

export interface ToolAnnotations {
  title: string;
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolContext {
  notion: NotionSession;
  auth: AuthContext;
}

/** One MCP tool: its wire description, its argument schema and what it does. */
export interface ToolDef<Shape extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  description: string;
  input: Shape;
  annotations: ToolAnnotations;
  run(args: z.infer<z.ZodObject<Shape>>, ctx: ToolContext): Promise<unknown>;
}

/** Helps TypeScript infer `run`'s argument type from `input`. */
export function defineTool<Shape extends z.ZodRawShape>(def: ToolDef<Shape>): ToolDef {
  return def as unknown as ToolDef;
}

interface CompiledTool {
  def: ToolDef;
  schema: z.ZodObject<z.ZodRawShape>;
  /** Top-level fields that expect an object or array: a JSON string there is parsed first. */
  jsonFields: string[];
  wire: Record<string, unknown>;
  readOnly: boolean;
}

/**
 * The tool set, compiled once at start-up: JSON Schemas, the wire form of tools/list and the
 * read-only subset are computed here, never per request.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, CompiledTool>();
  readonly listAll: { tools: Record<string, unknown>[] };
  readonly listReadOnly: { tools: Record<string, unknown>[] };

  constructor(defs: ToolDef[]) {
    for (const def of defs) {
      if (this.tools.has(def.name)) throw new Error(`duplicate tool ${def.name}`);
      const schema = z.object(def.input);
      const json = compactSchema(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })) as Record<string, unknown>;
      delete json.$schema;
      const properties = (json.properties ?? {}) as Record<string, Record<string, unknown>>;
      const jsonFields = Object.entries(properties)
        .filter(([, p]) => acceptsStructured(p))
        .map(([k]) => k);
      // The human title lives in annotations.title (every client reads it there); not repeated.
      const wire = { name: def.name, description: def.description, inputSchema: json, annotations: def.annotations };
      this.tools.set(def.name, { def, schema, jsonFields, wire, readOnly: def.annotations.readOnlyHint });
    }
    const all = [...this.tools.values()];
    this.listAll = { tools: all.map((t) => t.wire) };
    this.listReadOnly = { tools: all.filter((t) => t.readOnly).map((t) => t.wire) };
  }

  list(auth: AuthContext): { tools: Record<string, unknown>[] } {
    return auth.scopes.has(SCOPE_WRITE) ? this.listAll : this.listReadOnly;
  }

  get size(): number {
    return this.tools.size;
  }

  /** Validates arguments and runs the tool. Throws ToolError for anything the caller got wrong. */
  async call(name: string, rawArgs: unknown, ctx: ToolContext): Promise<unknown> {
    const tool = this.tools.get(name);
    if (!tool) throw new ToolError('unknown_tool', `Unknown tool "${name}". Call tools/list for the available tools.`);
    if (!tool.readOnly && !ctx.auth.scopes.has(SCOPE_WRITE)) {
      throw new ToolError(
        'read_only_connection',
        `"${name}" changes Notion, but this connection is read only. Reconnect the connector and choose "Read and write" to allow it.`,
      );
    }
    const args = tolerateStringifiedJson(rawArgs ?? {}, tool.jsonFields);
    const parsed = tool.schema.safeParse(args);
    if (!parsed.success) throw new ToolError('invalid_arguments', formatIssues(parsed.error));
    return tool.def.run(parsed.data, ctx);
  }
}

/**
 * Drops what JSON Schema implies anyway (`additionalProperties: {}`, string property names, empty
 * `properties`), so tools/list spends its bytes on meaning. Unknown keys are still stripped by zod.
 */
function compactSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(compactSchema);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'additionalProperties' && (v === false || (typeof v === 'object' && v !== null && Object.keys(v).length === 0))) continue;
    if (k === 'propertyNames' && (v as { type?: string }).type === 'string') continue;
    if (k === 'properties' && typeof v === 'object' && v !== null && Object.keys(v).length === 0) continue;
    out[k] = compactSchema(v);
  }
  return out;
}

function acceptsStructured(p: Record<string, unknown>): boolean {
  if (p.type === 'object' || p.type === 'array') return true;
  const alts = (p.anyOf ?? p.oneOf) as Record<string, unknown>[] | undefined;
  return Array.isArray(alts) && alts.some((a) => a.type === 'object' || a.type === 'array');
}

/** Models often send objects and arrays as JSON text; accept that where a structure is expected. */
function tolerateStringifiedJson(args: unknown, fields: string[]): unknown {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return args;
  const out = { ...(args as Record<string, unknown>) };
  for (const field of fields) {
    const value = out[field];
    if (typeof value !== 'string') continue;
    const trimmed = value.trim();
    if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) continue;
    try {
      out[field] = JSON.parse(trimmed);
    } catch {
      // Leave it: validation will name the field and the expected shape.
    }
  }
  return out;
}

function formatIssues(error: z.ZodError): string {
  const lines = error.issues.slice(0, 5).map((i) => {
    const path = i.path.length ? i.path.join('.') : 'arguments';
    return `${path}: ${i.message}`;
  });
  return `Invalid arguments. ${lines.join('; ')}`;
}

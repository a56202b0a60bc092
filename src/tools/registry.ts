import { z } from 'zod';
import { ToolError } from '../errors.js';
import type { AuthContext } from '../oauth/grants.js';
import { SCOPE_WRITE } from '../oauth/scopes.js';
import type { NotionSession } from '../notion/session.js';
import { fitResult, type Paging, resumeList } from './budget.js';

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

/**
 * One MCP tool: its wire description, its argument schema and what it does. The human title is
 * `annotations.title`; tools/list shows it as the top-level `title` too.
 */
export interface ToolDef<Shape extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  description: string;
  input: Shape;
  annotations: ToolAnnotations;
  /**
   * JSON Schema 2020-12 of the result, for tools whose result has a stable shape: they list it
   * as `outputSchema` and return the result as `structuredContent` too. Keep it small: every
   * conversation pays for its bytes.
   */
  output?: Record<string, unknown>;
  /** How a result over the budget is continued (budget.ts). Without it, long texts are shortened. */
  paging?: Paging;
  run(args: z.infer<z.ZodObject<Shape>>, ctx: ToolContext): Promise<unknown>;
}

/** A tool as MCP lists it (2025-06-18 and later): what the MCP layer passes through unchanged. */
export interface ToolDefinition {
  name: string;
  title: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations: ToolAnnotations;
}

/** A tools/call result: one JSON text item, and the same result as `structuredContent` for tools with an output schema. */
export type ToolResult = {
  content: [{ type: 'text'; text: string }];
  structuredContent?: Record<string, unknown>;
};

/** Helps TypeScript infer `run`'s argument type from `input`. */
export function defineTool<Shape extends z.ZodRawShape>(def: ToolDef<Shape>): ToolDef {
  return def as unknown as ToolDef;
}

interface CompiledTool {
  def: ToolDef;
  schema: z.ZodObject<z.ZodRawShape>;
  /** Top-level fields that expect an object or array: a JSON string there is parsed first. */
  jsonFields: string[];
  definition: ToolDefinition;
  readOnly: boolean;
}

/**
 * The tool set, compiled once at start-up: JSON Schemas, the wire form of tools/list and the
 * read-only subset are computed here, never per request.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, CompiledTool>();
  private readonly definitionsAll: { tools: ToolDefinition[] };
  private readonly definitionsReadOnly: { tools: ToolDefinition[] };

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
      // Top-level title (2025-06-18+) for clients that show it, the same in annotations.title.
      const wire = { name: def.name, title: def.annotations.title, description: def.description, inputSchema: json, annotations: def.annotations };
      const definition: ToolDefinition = def.output ? { ...wire, outputSchema: def.output } : wire;
      this.tools.set(def.name, { def, schema, jsonFields, definition, readOnly: def.annotations.readOnlyHint });
    }
    const all = [...this.tools.values()];
    this.definitionsAll = { tools: all.map((t) => t.definition) };
    this.definitionsReadOnly = { tools: all.filter((t) => t.readOnly).map((t) => t.definition) };
  }

  /**
   * The tools/list `tools` this connection may use, each with `title`, `annotations` and, where
   * declared, `outputSchema` (2025-06-18 and later). Pair it with `result`, which returns the
   * matching `structuredContent`. Computed once; the same arrays every time.
   */
  definitions(auth: AuthContext): { tools: ToolDefinition[] } {
    return auth.scopes.has(SCOPE_WRITE) ? this.definitionsAll : this.definitionsReadOnly;
  }

  get size(): number {
    return this.tools.size;
  }

  /**
   * Validates arguments and runs the tool: the result as a tools/call result, within the result
   * budget (budget.ts; a longer result is cut with a continuation), with `structuredContent` for
   * tools that declare an output schema. Its text is built once here; the MCP layer sends it as is.
   * Throws ToolError for anything the caller got wrong.
   */
  async result(name: string, rawArgs: unknown, ctx: ToolContext): Promise<ToolResult> {
    const { tool, args } = this.prepare(name, rawArgs, ctx);
    const skip = tool.def.paging === 'list' ? resumeList(args) : 0;
    const fitted = fitResult(name, tool.def.paging, await tool.def.run(args, ctx), args, skip);
    const out: ToolResult = { content: [{ type: 'text', text: fitted.text }] };
    if (tool.def.output) out.structuredContent = fitted.output as Record<string, unknown>;
    return out;
  }

  private prepare(name: string, rawArgs: unknown, ctx: ToolContext): { tool: CompiledTool; args: Record<string, unknown> } {
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
    return { tool, args: parsed.data as Record<string, unknown> };
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

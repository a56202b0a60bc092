import { z } from 'zod';
import { ToolError } from '../errors.js';
import type { AuthContext } from '../oauth/grants.js';
import { SCOPE_WRITE } from '../oauth/scopes.js';
import type { NotionSession } from '../notion/session.js';
import { mayNeedSanitizing, sanitize } from './sanitize.js';
import { CHARS_PER_TOKEN, fitResult, MAX_RESULT_CHARS, type Paging, resumeList } from './budget.js';

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
  /**
   * Reports how far a long operation (a batch, a duplicate) has got: `progress` grows with every
   * step, `total` when known. Sent as notifications/progress when the client asked for them with
   * a progressToken; otherwise a no-op.
   */
  progress?: (progress: number, total?: number, message?: string) => void;
  /** Aborted when the client cancels the call or goes away: stop between steps and say what was done. */
  signal?: AbortSignal;
  /** Filled in by `result` as the call goes, for the activity log (activity.ts). */
  note?: CallNote;
}

/** What a call resolved to: the tool (a group call's op), its hint, its validated arguments, its result value. */
export interface CallNote {
  tool?: string;
  readOnly?: boolean;
  args?: Record<string, unknown>;
  value?: unknown;
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

/** One item of a tools/call result's content (MCP ContentBlock): our JSON text, or media a vision model can read. */
export type ContentItem =
  | { type: 'text'; text: string }
  | { type: 'image'; data: string; mimeType: string }
  | { type: 'resource_link'; uri: string; name: string; mimeType?: string; description?: string; size?: number };

/**
 * A tools/call result: the JSON text item first, then any media the tool added (WithContent), and
 * the same JSON as `structuredContent` for tools with an output schema.
 */
export type ToolResult = {
  content: [{ type: 'text'; text: string }, ...ContentItem[]];
  structuredContent?: Record<string, unknown>;
};

/** What a tool's `run` returns when its result carries media besides its JSON: the items follow the JSON text. */
export class WithContent {
  constructor(
    readonly value: unknown,
    readonly extra: ContentItem[],
  ) {}
}

/** Helps TypeScript infer `run`'s argument type from `input`. */
export function defineTool<Shape extends z.ZodRawShape>(def: ToolDef<Shape>): ToolDef {
  return def as unknown as ToolDef;
}

/**
 * Rarely used operations listed as one tool, so every conversation pays for one entry instead of
 * one per operation: `{"op": "<tool name>", "args": {…}}` runs that tool. The description lists
 * each op with its arguments (`?` = optional) and `brief`. Each op also stays callable by its own
 * name, unlisted.
 */
export interface ToolGroup {
  group: string;
  title: string;
  description: string;
  ops: { tool: ToolDef; brief: string }[];
}

/** What tools/list shows: tools, groups of rare ones, and tools callable but not listed (earlier names). */
export interface ToolSet {
  listed: (ToolDef | ToolGroup)[];
  unlisted?: ToolDef[];
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
  /** Each group's op names: a group only dispatches to its ops. */
  private readonly groups = new Map<string, ReadonlySet<string>>();
  private readonly definitionsAll: { tools: ToolDefinition[] };
  private readonly definitionsReadOnly: { tools: ToolDefinition[] };

  constructor(set: ToolSet | ToolDef[]) {
    if (Array.isArray(set)) set = { listed: set };
    const all: ToolDefinition[] = [];
    const readOnly: ToolDefinition[] = [];
    for (const entry of set.listed) {
      if ('group' in entry) {
        const [rw, ro] = this.addGroup(entry);
        all.push(rw);
        if (ro) readOnly.push(ro);
        continue;
      }
      const t = this.add(entry);
      all.push(t.definition);
      if (t.readOnly) readOnly.push(t.definition);
    }
    for (const def of set.unlisted ?? []) this.add(def);
    this.definitionsAll = { tools: all };
    this.definitionsReadOnly = { tools: readOnly };
  }

  private add(def: ToolDef): CompiledTool {
    if (this.tools.has(def.name) || this.groups.has(def.name)) throw new Error(`duplicate tool ${def.name}`);
    const schema = z.object(def.input);
    const json = inputSchema(schema);
    const properties = (json.properties ?? {}) as Record<string, Record<string, unknown>>;
    const jsonFields = Object.entries(properties)
      .filter(([, p]) => acceptsStructured(p))
      .map(([k]) => k);
    // Top-level title (2025-06-18+) for clients that show it, the same in annotations.title.
    const wire = { name: def.name, title: def.annotations.title, description: def.description, inputSchema: json, annotations: def.annotations };
    const definition: ToolDefinition = def.output ? { ...wire, outputSchema: def.output } : wire;
    const tool = { def, schema, jsonFields, definition, readOnly: def.annotations.readOnlyHint };
    this.tools.set(def.name, tool);
    return tool;
  }

  /**
   * A group's two listings: every op (hints that hold for all of them) and, when some op only
   * reads, the read-only ops for read-only connections.
   */
  private addGroup(g: ToolGroup): [ToolDefinition, ToolDefinition | undefined] {
    const ops = g.ops.map(({ tool, brief }) => ({ t: this.add(tool), brief }));
    const listing = (chosen: typeof ops, hints: Omit<ToolAnnotations, 'title'>): ToolDefinition => {
      const lines = chosen.map(({ t, brief }) => `- ${t.def.name} ${signature(t.definition.inputSchema)}${brief ? `: ${brief}` : ''}`);
      const annotations = { title: g.title, ...hints };
      return {
        name: g.group,
        title: g.title,
        description: `${g.description} Call with {"op","args"}; "paged" is start_cursor and page_size.\n${lines.join('\n')}`,
        // The ops are named in the description already; an enum would list them twice.
        inputSchema: { type: 'object', properties: { op: { type: 'string' }, args: { type: 'object' } }, required: ['op', 'args'] },
        annotations,
      };
    };
    const every = (k: 'readOnlyHint' | 'idempotentHint') => ops.every(({ t }) => t.def.annotations[k]);
    const rw = listing(ops, {
      readOnlyHint: every('readOnlyHint'),
      destructiveHint: ops.some(({ t }) => t.def.annotations.destructiveHint),
      idempotentHint: every('idempotentHint'),
      openWorldHint: true,
    });
    const reads = ops.filter(({ t }) => t.readOnly);
    const ro = reads.length ? listing(reads, { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true }) : undefined;
    if (this.tools.has(g.group) || this.groups.has(g.group)) throw new Error(`duplicate tool ${g.group}`);
    this.groups.set(g.group, new Set(ops.map(({ t }) => t.def.name)));
    return [rw, ro];
  }

  /**
   * The tools/list `tools` this connection may use, each with `title`, `annotations` and, where
   * declared, `outputSchema` (2025-06-18 and later). Pair it with `result`, which returns the
   * matching `structuredContent`. Computed once; the same arrays every time.
   */
  definitions(auth: AuthContext): { tools: ToolDefinition[] } {
    return auth.scopes.has(SCOPE_WRITE) ? this.definitionsAll : this.definitionsReadOnly;
  }

  /** How many tools are listed for a read-and-write connection. */
  get size(): number {
    return this.definitionsAll.tools.length;
  }

  /** Whether `name` answers tools/call: a listed tool or group, a group's op, or an earlier name. */
  callable(name: string): boolean {
    return this.tools.has(name) || this.groups.has(name);
  }

  /**
   * Validates arguments and runs the tool: the result as a tools/call result, within the result
   * budget (budget.ts; a longer result is cut with a continuation), with `structuredContent` for
   * tools that declare an output schema. Its text is built once here; the MCP layer sends it as is.
   * Throws ToolError for anything the caller got wrong.
   */
  async result(name: string, rawArgs: unknown, ctx: ToolContext): Promise<ToolResult> {
    const group = this.groups.get(name);
    if (group) {
      const { op, args } = groupCall(name, group, rawArgs);
      return this.result(op, args, ctx);
    }
    const { tool, args } = this.prepare(name, rawArgs, ctx);
    const skip = tool.def.paging === 'list' ? resumeList(args) : 0;
    // A tool that takes max_tokens lets the caller lower the budget for this call.
    const max = typeof args.max_tokens === 'number' ? Math.min(MAX_RESULT_CHARS, args.max_tokens * CHARS_PER_TOKEN) : MAX_RESULT_CHARS;
    const value = await tool.def.run(args, ctx);
    if (ctx.note) ctx.note.value = value;
    const media = value instanceof WithContent ? value : undefined;
    const output = media ? media.value : value;
    let fitted = fitResult(name, tool.def.paging, output, args, skip, max);
    // Content from Notion is cleaned of hidden characters and non-http(s) links (sanitize.ts); the
    // scan of the JSON text finds nothing in almost every result, so only those are walked.
    if (mayNeedSanitizing(fitted.text)) fitted = fitResult(name, tool.def.paging, sanitize(output), args, skip, max);
    const out: ToolResult = { content: [{ type: 'text', text: fitted.text }, ...(media?.extra ?? [])] };
    if (tool.def.output) out.structuredContent = fitted.output as Record<string, unknown>;
    return out;
  }

  private prepare(name: string, rawArgs: unknown, ctx: ToolContext): { tool: CompiledTool; args: Record<string, unknown> } {
    const tool = this.tools.get(name);
    if (!tool) throw new ToolError('unknown_tool', `Unknown tool "${name}". Call tools/list for the available tools.`);
    if (ctx.note) Object.assign(ctx.note, { tool: name, readOnly: tool.readOnly });
    if (!tool.readOnly && !ctx.auth.scopes.has(SCOPE_WRITE)) {
      throw new ToolError(
        'read_only_connection',
        `"${name}" changes Notion, but this connection is read only. Reconnect the connector and choose "Read and write" to allow it.`,
      );
    }
    const args = tolerateStringifiedJson(rawArgs ?? {}, tool.jsonFields);
    const parsed = tool.schema.safeParse(args);
    if (!parsed.success) throw new ToolError('invalid_arguments', formatIssues(parsed.error));
    if (ctx.note) ctx.note.args = parsed.data as Record<string, unknown>;
    return { tool, args: parsed.data as Record<string, unknown> };
  }
}

/** A tool's input as JSON Schema 2020-12, compacted. */
function inputSchema(schema: z.ZodObject<z.ZodRawShape>): Record<string, unknown> {
  const json = compactSchema(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

const PAGING = ['start_cursor', 'page_size'];

/** `{a, b?}`: an op's arguments as a group lists them, required ones first; `paged` stands for the paging pair. */
function signature(schema: Record<string, unknown>): string {
  const props = Object.keys((schema.properties ?? {}) as object);
  const required = new Set((schema.required ?? []) as string[]);
  const paged = PAGING.every((p) => props.includes(p) && !required.has(p));
  const optional = props.filter((p) => !required.has(p) && !(paged && PAGING.includes(p))).map((p) => `${p}?`);
  return `{${[...props.filter((p) => required.has(p)), ...optional, ...(paged ? ['paged'] : [])].join(', ')}}`;
}

/**
 * A group call's op and its arguments: `args` as an object or JSON text, or, as models also send
 * them, the op's arguments next to `op`.
 */
function groupCall(group: string, ops: ReadonlySet<string>, raw: unknown): { op: string; args: unknown } {
  const { op, args, ...rest } = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  if (typeof op !== 'string' || !ops.has(op)) {
    throw new ToolError('invalid_arguments', `Invalid arguments. op: expected one of ${[...ops].join(', ')} (see the ${group} description)`);
  }
  const parsed = typeof args === 'string' && args.trim().startsWith('{') ? tolerateStringifiedJson({ args }, ['args']) : { args };
  const inner = (parsed as { args: unknown }).args;
  return { op, args: inner === undefined ? rest : inner };
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

import { z } from 'zod';
import { ToolError } from '../errors.js';
import type { AuthContext } from '../oauth/grants.js';
import { SCOPE_WRITE, TOOLSET_LABELS, TOOLSETS, type Toolset, toolsetScope } from '../oauth/scopes.js';
import type { NotionSession } from '../notion/session.js';
import { STRUCTURED_AS_TEXT } from '../lib/json-reply.js';
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
  /** Only on a connection with several Notion workspaces, for a call that spans them (search): each one's session (workspace-router.ts). */
  workspaces?: WorkspaceView[];
}

/** One workspace of a connection with several, as a tool that spans them sees it. */
export interface WorkspaceView {
  name: string;
  id: string | null;
  notion: NotionSession;
  /** Records that these IDs were found in this workspace, so later calls naming them go there first. */
  seen(ids: string[]): void;
}

/** What a call resolved to: the tool (a group call's op), its hint, its validated arguments, its result value. */
export interface CallNote {
  tool?: string;
  readOnly?: boolean;
  args?: Record<string, unknown>;
  value?: unknown;
  /** On a connection with several workspaces: the one the call went to (workspace-router.ts). */
  workspace?: { id: string | null; name: string };
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
  [STRUCTURED_AS_TEXT]?: true;
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
  /** The tools (or whole groups) of each toolset but `pages`, which holds every other tool. */
  toolsets?: Partial<Record<Exclude<Toolset, 'pages'>, string[]>>;
}

export interface RegistryOptions {
  /** TOOLSETS_MAX: a tool outside them is refused as not offered (no scope could allow it). */
  offered?: readonly Toolset[];
  /** Where the user widens a connection (Your connections), named in refusals. */
  connectionsUrl?: string;
}

interface CompiledTool {
  def: ToolDef;
  schema: z.ZodObject<z.ZodRawShape>;
  /** Top-level fields that expect an object or array: a JSON string there is parsed first. */
  jsonFields: string[];
  definition: ToolDefinition;
  readOnly: boolean;
  toolset: Toolset;
}

type Entry = CompiledTool | { group: ToolGroup; ops: { t: CompiledTool; brief: string }[] };

/** The scopes that decide what a connection sees, one bit each in a listing's key: write, then each toolset. */
const LISTING_SCOPES = [SCOPE_WRITE, ...TOOLSETS.map(toolsetScope)];
const WRITE_BIT = 1;
const TOOLSET_BITS = ((1 << LISTING_SCOPES.length) - 1) & ~WRITE_BIT;
const toolsetBit = (t: Toolset) => 1 << (TOOLSETS.indexOf(t) + 1);

/** A connection's scopes as bits; naming no toolset means all of them (as in oauth/scopes.ts). */
function listingKey(scopes: ReadonlySet<string>): number {
  let key = 0;
  LISTING_SCOPES.forEach((s, i) => {
    if (scopes.has(s)) key |= 1 << i;
  });
  return key & TOOLSET_BITS ? key : key | TOOLSET_BITS;
}

/** Whether a connection with these scope bits may call the tool. */
const allows = (t: CompiledTool, key: number): boolean => (key & toolsetBit(t.toolset)) !== 0 && (t.readOnly || (key & WRITE_BIT) !== 0);

/**
 * The tool set, compiled once at start-up: JSON Schemas and the wire form of each tool are
 * computed here, and the tools/list of each distinct scope combination once, when first asked for.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, CompiledTool>();
  /** Each group's op names: a group only dispatches to its ops. */
  private readonly groups = new Map<string, ReadonlySet<string>>();
  private readonly entries: Entry[] = [];
  /** tools/list by scope combination (see listingKey): at most 2^6 of them. */
  private readonly listings = new Map<number, { tools: ToolDefinition[] }>();
  private readonly toolsetOf: (name: string) => Toolset;
  private readonly offered: ReadonlySet<Toolset>;
  /** Write and the offered toolsets' bits: nothing beyond TOOLSETS_MAX is ever listed or run. */
  private readonly offeredBits: number;
  private readonly connectionsUrl: string;

  constructor(set: ToolSet | ToolDef[], options: RegistryOptions = {}) {
    if (Array.isArray(set)) set = { listed: set };
    const named = new Map<string, Toolset>();
    for (const [toolset, names] of Object.entries(set.toolsets ?? {})) for (const n of names) named.set(n, toolset as Toolset);
    this.toolsetOf = (name) => named.get(name) ?? 'pages';
    this.offered = new Set(options.offered ?? TOOLSETS);
    this.offeredBits = [...this.offered].reduce((bits, t) => bits | toolsetBit(t), WRITE_BIT);
    this.connectionsUrl = options.connectionsUrl ?? '/connections';
    for (const entry of set.listed) {
      if ('group' in entry) {
        // A group named in a toolset puts all its ops there.
        const groupToolset = named.get(entry.group);
        const ops = entry.ops.map(({ tool, brief }) => ({ t: this.add(tool, groupToolset), brief }));
        if (this.tools.has(entry.group) || this.groups.has(entry.group)) throw new Error(`duplicate tool ${entry.group}`);
        this.groups.set(entry.group, new Set(ops.map(({ t }) => t.def.name)));
        this.entries.push({ group: entry, ops });
        continue;
      }
      this.entries.push(this.add(entry));
    }
    for (const def of set.unlisted ?? []) this.add(def);
    for (const n of named.keys()) if (!this.tools.has(n) && !this.groups.has(n)) throw new Error(`toolset names unknown tool ${n}`);
  }

  private add(def: ToolDef, toolset?: Toolset): CompiledTool {
    if (this.tools.has(def.name) || this.groups.has(def.name)) throw new Error(`duplicate tool ${def.name}`);
    const schema = z.object(def.input);
    const json = inputSchema(schema);
    const properties = (json.properties ?? {}) as Record<string, Record<string, unknown>>;
    const jsonFields = Object.entries(properties)
      .filter(([, p]) => acceptsStructured(p))
      .map(([k]) => k);
    // An argument of any type (`{}`: z.unknown()) is an earlier name kept for old prompts: taken,
    // checked by the tool, not listed (every conversation would pay for it).
    for (const [k, p] of Object.entries(properties)) if (Object.keys(p).length === 0) delete properties[k];
    // Top-level title (2025-06-18+) for clients that show it, the same in annotations.title.
    const wire = { name: def.name, title: def.annotations.title, description: def.description, inputSchema: json, annotations: def.annotations };
    const definition: ToolDefinition = def.output ? { ...wire, outputSchema: def.output } : wire;
    const tool = { def, schema, jsonFields, definition, readOnly: def.annotations.readOnlyHint, toolset: toolset ?? this.toolsetOf(def.name) };
    this.tools.set(def.name, tool);
    return tool;
  }

  /**
   * A group as a connection sees it: only the ops it may call, with the hints that hold for all
   * of them.
   */
  private groupListing(g: ToolGroup, chosen: { t: CompiledTool; brief: string }[]): ToolDefinition {
    const lines = chosen.map(({ t, brief }) => `- ${t.def.name} ${signature(t.definition.inputSchema)}${brief ? `: ${brief}` : ''}`);
    const every = (k: 'readOnlyHint' | 'idempotentHint') => chosen.every(({ t }) => t.def.annotations[k]);
    return {
      name: g.group,
      title: g.title,
      description: `${g.description} Call {"op","args"}; paged = start_cursor, page_size.\n${lines.join('\n')}`,
      // The ops are named in the description already; an enum would list them twice.
      inputSchema: { type: 'object', properties: { op: { type: 'string' }, args: { type: 'object' } }, required: ['op', 'args'] },
      annotations: {
        title: g.title,
        readOnlyHint: every('readOnlyHint'),
        destructiveHint: chosen.some(({ t }) => t.def.annotations.destructiveHint),
        idempotentHint: every('idempotentHint'),
        openWorldHint: true,
      },
    };
  }

  /**
   * The tools/list `tools` this connection may use, each with `title`, `annotations` and, where
   * declared, `outputSchema` (2025-06-18 and later). Pair it with `result`, which returns the
   * matching `structuredContent`. Built once per scope combination; the same arrays every time.
   */
  definitions(auth: AuthContext): { tools: ToolDefinition[] } {
    return this.listing(this.keyOf(auth));
  }

  private keyOf(auth: AuthContext): number {
    return listingKey(auth.scopes) & this.offeredBits;
  }

  private listing(key: number): { tools: ToolDefinition[] } {
    let listing = this.listings.get(key);
    if (!listing) {
      const tools: ToolDefinition[] = [];
      for (const e of this.entries) {
        if (!('group' in e)) {
          if (allows(e, key)) tools.push(e.definition);
          continue;
        }
        const chosen = e.ops.filter(({ t }) => allows(t, key));
        if (chosen.length) tools.push(this.groupListing(e.group, chosen));
      }
      listing = { tools };
      this.listings.set(key, listing);
    }
    return listing;
  }

  /** How many tools are listed for a connection that may do everything. */
  get size(): number {
    return this.listing(this.offeredBits).tools.length;
  }

  /**
   * The scopes a tools/call of `name` (a group: its `op`) needs and this connection lacks, when a
   * wider grant could give them (a step-up, mcp-route.ts); null when none are missing, the tool is
   * unknown, or its toolset is not offered here.
   */
  missingScopes(name: string, rawArgs: unknown, auth: AuthContext): string[] | null {
    const group = this.groups.get(name);
    const op = group ? (rawArgs as { op?: unknown } | null | undefined)?.op : name;
    const tool = typeof op === 'string' && (!group || group.has(op)) ? this.tools.get(op) : undefined;
    if (!tool || !this.offered.has(tool.toolset)) return null;
    const key = this.keyOf(auth);
    const needed = [
      ...(key & toolsetBit(tool.toolset) ? [] : [toolsetScope(tool.toolset)]),
      ...(tool.readOnly || key & WRITE_BIT ? [] : [SCOPE_WRITE]),
    ];
    return needed.length ? needed : null;
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
    if (tool.def.output) {
      out.structuredContent = fitted.output as Record<string, unknown>;
      out[STRUCTURED_AS_TEXT] = true; // fitted.text is JSON.stringify(fitted.output)
    }
    return out;
  }

  private prepare(name: string, rawArgs: unknown, ctx: ToolContext): { tool: CompiledTool; args: Record<string, unknown> } {
    const tool = this.tools.get(name);
    if (!tool) throw new ToolError('unknown_tool', `Unknown tool "${name}". Call tools/list for the available tools.`);
    if (!this.offered.has(tool.toolset)) {
      throw new ToolError('toolset_not_offered', `"${name}" belongs to ${TOOLSET_LABELS[tool.toolset].label}, which this connector does not offer.`);
    }
    if (!(this.keyOf(ctx.auth) & toolsetBit(tool.toolset))) {
      throw new ToolError(
        'toolset_not_allowed',
        `"${name}" belongs to ${TOOLSET_LABELS[tool.toolset].label}, which this connection does not allow. The user can allow it for this app under Your connections: ${this.connectionsUrl}`,
      );
    }
    if (ctx.note) {
      ctx.note.tool = name;
      ctx.note.readOnly = tool.readOnly;
    }
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

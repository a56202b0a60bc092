import { randomBytes } from 'node:crypto';
import { extractNotionId } from '@notionhq/client';
import { ToolError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ActivityEntry, ActivityObject, Store } from '../store/types.js';
import { type CallNote, type ToolContext, type ToolResult, WithContent } from './registry.js';

/**
 * The activity log: one entry per tool call on a connection (what "Your connections" shows and
 * `notion-mcp-remote-admin activity` exports). An entry names the tool (a group call's op), read
 * or write, the outcome and the Notion objects by ID, with a title only where the arguments or
 * the result carried one. Never content, tokens or other argument values.
 *
 * Entries are buffered and written in batches, every FLUSH_MS or once FLUSH_ENTRIES wait, and on
 * close: a tool call never waits for the store. Entries still buffered when the process dies
 * (at most FLUSH_MS worth) are lost. A read repeated back to back counts on one entry (add). Cost,
 * side by side with the build before the log (bench/ab.ts, get_page, 32 connections): ×1.03 CPU
 * per call (docs/benchmarks.md); bench/activity.ts measures the parts in isolation.
 */

const FLUSH_MS = 1000;
const FLUSH_ENTRIES = 5000;
/** Most objects one entry names (a trash of 50 items names its first ones). */
const MAX_OBJECTS = 10;
const MAX_TITLE = 200;

/** ID arguments, top level or inside `parent` / `attach_to`. */
const ID_KEYS = ['page_id', 'block_id', 'database_id', 'data_source_id', 'id'] as const;
type Kind = NonNullable<ActivityObject['trashed']>;
/** Single-object tools that move it to the trash: the argument naming it, and its kind (how to restore it). */
const TRASHING: Record<string, [string, Kind]> = {
  archive_page: ['page_id', 'page'],
  delete_block: ['block_id', 'block'],
  archive_database: ['database_id', 'database'],
};
/** Tools that trash their object when called with `in_trash: true`. */
const TRASHING_WITH_FLAG: Record<string, [string, Kind]> = { update_page: ['page_id', 'page'], update_block: ['block_id', 'block'] };
const KINDS = new Set(['page', 'block', 'database', 'data_source']);

// Ids sort by time; within one instance the counter orders entries of the same millisecond, and
// the random instance part keeps ids of instances apart.
const INSTANCE = randomBytes(3).toString('hex');
let counter = 0;

/** A new entry id: `<at, 13 digits>-<counter><instance>`. */
export function activityId(at: number): string {
  counter = (counter + 1) % 36 ** 6;
  return `${String(at).padStart(13, '0')}-${counter.toString(36).padStart(6, '0')}${INSTANCE}`;
}

/** Only an ID is ever kept of an argument: anything else gives null. */
function idIn(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  return extractNotionId(value.startsWith('collection://') ? value.slice(13) : value);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object's title as a result gives it: `title` (fetch, databases), or a page's title property as shaped (`{"Name": {"title": "…"}}`). */
function titleOf(o: Obj): string | undefined {
  if (typeof o.title === 'string') return o.title;
  if (!isObj(o.properties)) return undefined;
  for (const p of Object.values(o.properties)) if (isObj(p) && typeof p.title === 'string') return p.title;
  return undefined;
}

/** Adds or completes the object `raw` names (an ID, or nothing); ten at most. Allocates little: it runs on every call. */
function addObject(found: ActivityObject[], raw: unknown, title?: unknown, trashed?: Kind): void {
  const id = idIn(raw);
  if (!id) return;
  let o = found.find((x) => x.id === id);
  if (!o) {
    if (found.length >= MAX_OBJECTS) return;
    o = { id };
    found.push(o);
  }
  if (typeof title === 'string' && title) o.title = title.slice(0, MAX_TITLE);
  if (trashed) o.trashed = trashed;
}

function addIds(found: ActivityObject[], where: unknown): void {
  if (isObj(where)) for (const k of ID_KEYS) addObject(found, where[k]);
}

/** The objects a call touched: IDs from its arguments, then from its result (with titles), trashed ones marked. */
function touched(tool: string, args: Obj, value: unknown, ok: boolean): ActivityObject[] {
  const found: ActivityObject[] = [];
  addIds(found, args);
  addIds(found, args.parent);
  addIds(found, args.attach_to);
  if (Array.isArray(args.ids)) for (const id of args.ids) addObject(found, id);
  const result = value instanceof WithContent ? value.value : value;
  if (isObj(result)) {
    addObject(found, result.id, titleOf(result));
    if (Array.isArray(result.trashed)) {
      for (const item of result.trashed) if (isObj(item)) addObject(found, item.id, undefined, KINDS.has(item.kind as string) ? (item.kind as Kind) : undefined);
    }
    if (Array.isArray(result.restored)) for (const item of result.restored) if (isObj(item)) addObject(found, item.id);
  }
  if (ok) {
    const single = TRASHING[tool] ?? (args.in_trash === true ? TRASHING_WITH_FLAG[tool] : undefined);
    if (single) addObject(found, args[single[0]], undefined, single[1]);
  }
  return found;
}

/**
 * The entry for one finished call. A call refused before its tool was known counts as a read; a
 * name that is no tool is not kept (it is the client's text), as in the metrics.
 */
function activityEntry(grantId: string, called: string, note: CallNote, outcome: string, at: number): Omit<ActivityEntry, 'id'> {
  const tool = note.tool ?? (outcome === 'unknown_tool' ? '(unknown)' : called);
  const objects = note.args ? touched(tool, note.args, note.value, outcome === 'ok') : [];
  const entry: Omit<ActivityEntry, 'id'> = { grantId, at, tool, write: note.readOnly === false, outcome, objects };
  if (note.workspace) entry.workspace = note.workspace;
  return entry;
}

/** What the MCP layer passes a streamed call: progress reports and the cancellation signal. */
type Options = Pick<ToolContext, 'progress' | 'signal'>;
/** Whether `next` repeats the read `last`: both reads, the same tool, outcome and objects. */
function sameRead(last: ActivityEntry, next: Omit<ActivityEntry, 'id'>): boolean {
  if (next.write || last.write || last.tool !== next.tool || last.outcome !== next.outcome || last.objects.length !== next.objects.length) return false;
  return last.objects.every((o, i) => o.id === next.objects[i]!.id && o.title === next.objects[i]!.title);
}

type Call<A> = (name: string, args: Record<string, unknown> | undefined, auth: A, note: CallNote, options?: Options) => Promise<ToolResult>;

export class ActivityLog {
  private buffer: ActivityEntry[] = [];
  /** Each connection's last buffered entry while it is a read, to count repeats on it. */
  private readonly lastRead = new Map<string, ActivityEntry>();
  private timer: NodeJS.Timeout | undefined;
  /** The writes in order: a batch is written after the one before it. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** Wraps tools/call so that each call, however it ends, adds one entry. */
  recorded<A extends { grantId: string }>(call: Call<A>) {
    return async (name: string, args: Record<string, unknown> | undefined, auth: A, options?: Options): Promise<ToolResult> => {
      const note: CallNote = {};
      try {
        const result = await call(name, args, auth, note, options);
        this.add(activityEntry(auth.grantId, name, note, 'ok', this.now()));
        return result;
      } catch (err) {
        this.add(activityEntry(auth.grantId, name, note, err instanceof ToolError ? err.code : 'internal_error', this.now()));
        throw err;
      }
    };
  }

  /**
   * Buffers an entry. A read that repeats the connection's previous buffered entry (the same read:
   * tool, objects, outcome) only counts on it: a connection that polls one page writes one entry a
   * flush, not one a call (measured with bench/ab.ts: the log cost a polling connection 6-8% more
   * CPU per call, nearly all of it the store's write).
   */
  private add(call: Omit<ActivityEntry, 'id'>): void {
    const last = this.lastRead.get(call.grantId);
    if (last && sameRead(last, call)) {
      last.count = (last.count ?? 1) + 1;
      last.lastAt = call.at;
      return;
    }
    // The id only for an entry that is kept (1.7 µs a call in a CPU profile of 20,000 get_page calls).
    const entry: ActivityEntry = { id: activityId(call.at), ...call };
    if (entry.write) this.lastRead.delete(entry.grantId);
    else this.lastRead.set(entry.grantId, entry);
    this.buffer.push(entry);
    if (this.buffer.length >= FLUSH_ENTRIES) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Starts writing what is buffered; `close` waits for it. A failed write is logged and its entries dropped. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    if (batch.length === 0) return this.writing;
    this.buffer = [];
    this.lastRead.clear();
    this.writing = this.writing.then(() =>
      this.store.appendActivity(batch).catch((err: unknown) => this.log.warn({ err, entries: batch.length }, 'activity entries not written')),
    );
    return this.writing;
  }

  /** Writes what is left; called on shutdown before the store closes. */
  close(): Promise<void> {
    return this.flush();
  }
}

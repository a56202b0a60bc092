import type { ListUsersResponse } from '@notionhq/client';
import { ToolError } from '../errors.js';
import type { ToolContext } from './registry.js';
import { sanitizeText } from './sanitize.js';

/**
 * Who wrote what a result carries. Pages, blocks, databases, data sources and comments name their
 * `created_by` and `last_edited_by` by id only. GET /v1/users lists the workspace's members and
 * bots but not its guests, so an id found there as a person is a member, as a bot an integration,
 * and a person id not found there is a guest (or someone outside the workspace). This connection's
 * own bot (the `bot_id` Notion gave with its token) counts as a member: what it wrote, the user's
 * app wrote through this connection, so a page the app edited still reads as the user's own.
 *
 * - Members are the norm and stay unmarked. An object written by a guest or an integration gets
 *   `untrusted: true`, `source` ("guest" or "integration": the last editor's, else the creator's)
 *   and its non-member `created_by` / `last_edited_by` as `{id, kind, name?}` (`by` when one
 *   author did both). Guests have no name: the users list, where names are, leaves them out.
 * - Lockdown (`auth.lockdown`) withholds everything not created and last edited by members.
 *
 * The users list is read once per connection, after the read's own call, and kept CACHE_TTL_MS: a
 * read costs one more call (one per 100 users) every five minutes, never one per object.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export type Kind = 'member' | 'guest' | 'integration';

interface Directory {
  members: Set<string>;
  /** Bot id → its name. */
  bots: Map<string, string>;
  /** False when the list was longer than MAX_USER_PAGES: a person not in it may be a member. */
  complete: boolean;
}

const CACHE_TTL_MS = 5 * 60_000;
const RETRY_MS = 30_000;
/** The cache's bound: user ids of all connections together (about 80 bytes each: some 8 MB). */
const CACHE_MAX_IDS = 100_000;
/** 3,000 users; a larger workspace's unlisted people stay unclassified (and withheld in lockdown). */
const MAX_USER_PAGES = 30;

/** Grant → its directory, or null when the connection may not list users (evicted oldest load first). */
const cache = new Map<string, { dir: Directory | null; until: number }>();
let cachedIds = 0;
const idsOf = (dir: Directory | null) => (dir ? dir.members.size + dir.bots.size + 1 : 1);

function remember(key: string, entry: { dir: Directory | null; until: number }): void {
  const old = cache.get(key);
  if (old) cachedIds -= idsOf(old.dir);
  cache.delete(key);
  cache.set(key, entry);
  cachedIds += idsOf(entry.dir);
  for (const [k, v] of cache) {
    if (cachedIds <= CACHE_MAX_IDS || k === key) break;
    cache.delete(k);
    cachedIds -= idsOf(v.dir);
  }
}

/** Reads in flight, so concurrent reads of one connection share one users list. */
const loading = new Map<string, Promise<{ dir: Directory | null; ttl: number }>>();

async function load(ctx: ToolContext): Promise<Directory> {
  const dir: Directory = { members: new Set(), bots: new Map(), complete: false };
  let cursor: string | undefined;
  for (let page = 0; page < MAX_USER_PAGES; page++) {
    const res = await ctx.notion.get<ListUsersResponse>('users', { page_size: 100, start_cursor: cursor });
    for (const u of (Array.isArray(res.results) ? res.results : []) as Obj[]) {
      if (u.type === 'bot') dir.bots.set(String(u.id), typeof u.name === 'string' ? u.name : '');
      else dir.members.add(String(u.id));
    }
    if (!res.has_more || !res.next_cursor) {
      dir.complete = true;
      break;
    }
    cursor = res.next_cursor;
  }
  return dir;
}

/**
 * Without the list, who wrote what cannot be told (null): the read goes on unmarked, or fails in
 * lockdown. A connection without Notion's "read user information" capability (403) is not asked
 * again for CACHE_TTL_MS; after any other failure, for RETRY_MS.
 */
async function loadOrNull(ctx: ToolContext): Promise<{ dir: Directory | null; ttl: number }> {
  try {
    return { dir: await load(ctx), ttl: CACHE_TTL_MS };
  } catch (err) {
    const refused = err instanceof ToolError && (err.code === 'restricted_resource' || err.extra?.status === 403);
    return { dir: null, ttl: refused ? CACHE_TTL_MS : RETRY_MS };
  }
}

async function directory(ctx: ToolContext): Promise<Directory | null> {
  // Per workspace: the one the call's session reached (a connection may span several).
  const { grantId, workspaceId } = ctx.notion.current;
  const key = workspaceId ? `${grantId}/${workspaceId}` : grantId;
  const hit = cache.get(key);
  // A hit is not moved to the back: entries live five minutes, so the first loaded goes first.
  if (hit && hit.until > Date.now()) return hit.dir;
  let job = loading.get(key);
  if (!job) {
    job = loadOrNull(ctx).finally(() => loading.delete(key));
    loading.set(key, job);
  }
  const { dir, ttl } = await job;
  remember(key, { dir, until: Date.now() + ttl });
  return dir;
}

const authorId = (o: Obj, key: string): string | undefined => (isObj(o[key]) && typeof (o[key] as Obj).id === 'string' ? ((o[key] as Obj).id as string) : undefined);

/** The marks an object written by a non-member gets, merged into its shaped form. */
export interface Mark {
  untrusted: true;
  source: Exclude<Kind, 'member'>;
  created_by?: Obj;
  last_edited_by?: Obj;
  /** The one non-member who created and last edited it. */
  by?: Obj;
}

/** Judges the authors of raw Notion objects against the connection's users list. */
export class Provenance {
  constructor(
    private readonly dir: Directory | null,
    readonly lockdown: boolean,
    /** This connection's own bot user (NotionAuth.botId): its writes are the user's own, through the app. */
    private readonly self?: string | null,
  ) {}

  /** Whether who wrote what can be told: false when the connection may not list users. */
  get knows(): boolean {
    return this.dir !== null;
  }

  private kind(id: string | undefined): Kind | undefined {
    if (!id || !this.dir) return undefined;
    if (this.dir.members.has(id) || id === this.self) return 'member';
    if (this.dir.bots.has(id)) return 'integration';
    return this.dir.complete ? 'guest' : undefined;
  }

  /** The marks for a raw object, or undefined when members wrote it (or it cannot be told). */
  mark(raw: unknown): Mark | undefined {
    if (!isObj(raw) || !this.dir) return undefined;
    let mark: Mark | undefined;
    const created = authorId(raw, 'created_by');
    for (const key of ['created_by', 'last_edited_by'] as const) {
      const id = authorId(raw, key);
      const kind = this.kind(id);
      if (!kind || kind === 'member') continue;
      const name = kind === 'integration' ? this.dir.bots.get(id!) : undefined;
      // One author who created and last edited it is named once, as `by`.
      const as = key === 'last_edited_by' && id === created ? 'by' : key;
      if (as === 'by') delete mark!.created_by;
      mark = { ...(mark ?? { untrusted: true }), source: kind, [as]: { id, kind, ...(name ? { name } : {}) } };
    }
    return mark;
  }

  /** Whether lockdown withholds the object: not written only by known members (a comment names just its creator). */
  withholds(raw: unknown): boolean {
    if (!this.lockdown) return false;
    const ids = isObj(raw) ? [authorId(raw, 'created_by'), authorId(raw, 'last_edited_by')].filter((id) => id !== undefined) : [];
    return ids.length === 0 || ids.some((id) => this.kind(id) !== 'member');
  }

  /**
   * Shaped objects with their marks, and in lockdown without the ones withheld: `raws[i]` is the
   * Notion object `shaped[i]` was made from.
   */
  vetList<T>(raws: unknown[], shaped: T[]): { kept: T[]; withheld: number } {
    const kept: T[] = [];
    raws.forEach((raw, i) => {
      if (this.withholds(raw)) return;
      const mark = this.mark(raw);
      kept.push(mark && isObj(shaped[i]) ? ({ ...shaped[i], ...mark } as T) : shaped[i]!);
    });
    return { kept, withheld: raws.length - kept.length };
  }

  /**
   * A list result (`list` shaped from `raw`, whose `results` are the Notion objects) with each
   * object vetted as in vetList, and the note on what lockdown left out.
   */
  vetResults(raw: unknown, list: Obj): Obj {
    const raws = isObj(raw) && Array.isArray(raw.results) ? raw.results : [];
    const { kept, withheld } = this.vetList(raws, Array.isArray(list.results) ? (list.results as unknown[]) : []);
    return { ...list, results: kept, ...withheldNote(withheld) };
  }

  /**
   * One object whose result is not its shaped form (a file, a page body): its marks, or undefined
   * when members wrote it; in lockdown, a tool error when it is withheld. Called before the result
   * is made, so nothing withheld is read further.
   */
  vet(raw: unknown, what: string): Mark | undefined {
    if (this.withholds(raw)) throw withheldError(what);
    return this.mark(raw);
  }

  /**
   * An object a write changed, as Notion answers it (a trashed block or page, a deleted comment, an
   * updated schema): its marks merged in; in lockdown, when withheld, only what names it and the
   * note, since the write is done and only its echo is left out.
   */
  vetEcho(raw: unknown, shaped: unknown, what: string): unknown {
    if (this.withholds(raw)) {
      const s = isObj(shaped) ? shaped : {};
      return { ...Object.fromEntries(ECHO_KEPT.filter((k) => k in s).map((k) => [k, s[k]])), withheld: withheldContent(what) };
    }
    const mark = this.mark(raw);
    return mark && isObj(shaped) ? { ...shaped, ...mark } : shaped;
  }

  /** One object: its marks merged in; in lockdown, a tool error when it is withheld. */
  vetOne(raw: unknown, shaped: unknown, what: string): unknown {
    if (this.withholds(raw)) throw withheldError(what);
    const mark = this.mark(raw);
    return mark && isObj(shaped) ? { ...shaped, ...mark } : shaped;
  }
}

export const withheldError = (what: string) =>
  new ToolError(
    'lockdown_withheld',
    `Lockdown is on for this connection: this ${what} was created or last edited by a guest or an integration, not only by workspace members, so it is not shown.`,
  );

/** What a write's echo keeps of an object lockdown withholds: what names it, and what the write did. */
const ECHO_KEPT = ['object', 'id', 'url', 'type', 'in_trash'];

/** The note in place of one object's content that lockdown left out of a write's answer. */
export const withheldContent = (what: string): string =>
  `this ${what}'s content is not shown: it was created or last edited by a guest or an integration, not only by workspace members (lockdown)`;

/** The note a list carries for what lockdown left out; none when nothing was. */
export const withheldNote = (n: number): Obj => (n ? { withheld: `${n} not written by workspace members (lockdown)` } : {});

/**
 * The Provenance for a result. In lockdown a connection that may not list users cannot tell who
 * wrote anything, so reads fail with a tool error rather than return unchecked content.
 */
export async function provenance(ctx: ToolContext): Promise<Provenance> {
  const lockdown = ctx.auth.lockdown === true;
  const dir = await directory(ctx);
  if (!dir && lockdown) {
    throw new ToolError(
      'lockdown_unavailable',
      "Lockdown is on, but Notion did not list the workspace's users, so who wrote the content cannot be checked. The connection needs Notion's capability to read user information; if it has it, try again in a moment.",
    );
  }
  return new Provenance(dir, lockdown, ctx.notion.current.botId);
}

/** A result whose `key` text came from an object `mark` marks: that text fenced, the marks added. */
export function fenced(result: Obj, key: string, mark: Mark | undefined): Obj {
  return mark ? { ...result, [key]: fence(String(result[key] ?? ''), mark.source), ...mark } : result;
}

/**
 * Text written by a non-member, fenced so a model sees where it begins and ends. A fence tag in the
 * text itself is defused, so the text cannot close the fence early and pose as the connector.
 */
export function fence(text: string, source: string): string {
  // Cleaned first (sanitize.ts): a tag with a hidden character inside would become a real one when
  // the registry removes that character later.
  const safe = sanitizeText(text).replace(/<(\/?)(untrusted-content)/gi, '&lt;$1$2');
  return `<untrusted-content source="${source}">\n${safe}\n</untrusted-content>`;
}

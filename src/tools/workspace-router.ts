import { ToolError } from '../errors.js';
import type { WorkspaceAuth } from '../oauth/grants.js';
import { type NotionDeps, NotionSession } from '../notion/session.js';
import type { ToolContext, WorkspaceView } from './registry.js';

/**
 * Tool calls of a connection with several Notion workspaces (AuthContext.workspaces). A grant with
 * one workspace never comes here: its calls go straight to the registry, unchanged.
 *
 * - A `workspace` argument (a name or an id; next to a group's `op` or inside its `args`) pins
 *   the call to that workspace.
 * - `search` runs in every workspace and names each result's (search.ts, through `ctx.workspaces`).
 * - A call that names IDs starts at the workspace that last answered for one of them (an LRU per
 *   grant), and tries the others in turn while Notion answers object_not_found (NotionSession).
 * - A call that names no ID (get_self, get_users, create_page without parent…) is ambiguous: its
 *   first Notion call fails with workspace_required, which names the workspaces.
 */

/** IDs remembered per grant at most: which workspace answered for them last. */
const OWNERS_PER_GRANT = 2000;
/** Grants whose ID owners are remembered at most (LRU). */
const GRANTS_MAX = 1000;
/** IDs looked at in one call's arguments at most. */
const IDS_PER_CALL = 20;

const UUID = /[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}/gi;

type Call<R> = (name: string, args: unknown, ctx: ToolContext) => Promise<R>;

/** The IDs (dashless, lower case) named anywhere in a call's arguments: ID fields, notion.so URLs, text. */
function idsIn(value: unknown, out: string[] = [], depth = 0): string[] {
  if (out.length >= IDS_PER_CALL || depth > 8) return out;
  if (typeof value === 'string') {
    for (const m of value.matchAll(UUID)) if (out.length < IDS_PER_CALL) out.push(m[0].replace(/-/g, '').toLowerCase());
  } else if (Array.isArray(value)) {
    for (const v of value) idsIn(v, out, depth + 1);
  } else if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) idsIn(v, out, depth + 1);
  }
  return out;
}

/** The `workspace` argument taken out of a call's arguments (top level, or inside a group's `args`). */
function takeWorkspace(raw: unknown): { args: unknown; workspace: unknown } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { args: raw, workspace: undefined };
  const { workspace, ...rest } = raw as Record<string, unknown>;
  if (workspace !== undefined) return { args: rest, workspace };
  const inner = rest.args;
  if (typeof inner === 'object' && inner !== null && !Array.isArray(inner) && 'workspace' in inner) {
    const { workspace: named, ...innerRest } = inner as Record<string, unknown>;
    return { args: { ...rest, args: innerRest }, workspace: named };
  }
  return { args: raw, workspace: undefined };
}

const dashless = (id: string) => id.replace(/-/g, '').toLowerCase();
const namesOf = (list: readonly WorkspaceAuth[]) => list.map((w) => `"${w.name}"`).join(', ');

/** The workspace a `workspace` argument names: its name (any case) or its id (with or without dashes). */
function pickWorkspace(list: readonly WorkspaceAuth[], named: unknown): WorkspaceAuth {
  if (typeof named !== 'string' || !named.trim()) {
    throw new ToolError('invalid_arguments', `Invalid arguments. workspace: expected the name or id of one of this connection's workspaces: ${namesOf(list)}`);
  }
  const want = named.trim().toLowerCase();
  const found =
    list.find((w) => w.name.toLowerCase() === want) ?? list.find((w) => w.workspaceId !== null && dashless(w.workspaceId) === dashless(want));
  if (!found) throw new ToolError('unknown_workspace', `This connection has no workspace "${named}". Its workspaces: ${namesOf(list)}.`);
  return found;
}

/** What the server instructions add for a connection with several workspaces. */
export const workspacesInstructions = (list: readonly WorkspaceAuth[]): string =>
  `This connection spans several Notion workspaces: ${namesOf(list)}. search covers all of them and names each result's workspace; IDs find their own workspace. A call that names no ID (get_self, get_users, create_page without a parent) needs "workspace": one of those names.`;

/** The session of a call that cannot tell its workspace: every Notion call fails with `error`. */
class UnroutedSession extends NotionSession {
  constructor(
    deps: NotionDeps,
    auth: WorkspaceAuth,
    private readonly error: () => ToolError,
  ) {
    super(deps, auth);
  }

  override read<T>(): Promise<T> {
    return Promise.reject(this.error());
  }

  override write<T>(): Promise<T> {
    return Promise.reject(this.error());
  }
}

/** Routes the tool calls of connections with several workspaces; one per process. */
export class WorkspaceRouter {
  /** Grant id → (ID → the workspace id that last answered for it), both LRU by Map order. */
  private readonly owners = new Map<string, Map<string, string | null>>();

  constructor(private readonly deps: NotionDeps) {}

  /** Runs one tool call of a connection with several workspaces through `call` (the registry's `result`). */
  async result<R>(name: string, rawArgs: unknown, list: readonly WorkspaceAuth[], ctx: Omit<ToolContext, 'notion'>, call: Call<R>): Promise<R> {
    const { auth } = ctx;
    const { args, workspace } = takeWorkspace(rawArgs);
    const ids = idsIn(args);
    if (workspace !== undefined) {
      const ws = pickWorkspace(list, workspace);
      if (ctx.note) ctx.note.workspace = { id: ws.workspaceId, name: ws.name };
      const result = await call(name, args, { ...ctx, notion: new NotionSession(this.deps, ws) });
      this.remember(auth.grantId, ids, ws.workspaceId);
      return result;
    }
    const op = name === 'search' || (typeof args === 'object' && args !== null && (args as { op?: unknown }).op === 'search') ? 'search' : name;
    if (op === 'search') {
      const views: WorkspaceView[] = list.map((ws) => ({
        name: ws.name,
        id: ws.workspaceId,
        notion: new NotionSession(this.deps, ws),
        seen: (found) => this.remember(auth.grantId, found.map(dashless), ws.workspaceId),
      }));
      return call(name, args, { ...ctx, notion: views[0]!.notion, workspaces: views });
    }
    if (!ids.length) {
      // The tool still runs, so a wrong name, arguments or permission get their usual error; its first Notion call gets this one.
      const ambiguous = () =>
        new ToolError(
          'workspace_required',
          `This connection has several Notion workspaces (${namesOf(list)}) and this call names no page or other object to tell which. Call again with "workspace": one of those names.`,
        );
      return call(name, args, { ...ctx, notion: new UnroutedSession(this.deps, list[0]!, ambiguous) });
    }
    const first = this.ownerOf(auth.grantId, ids, list) ?? list[0]!;
    const session = new NotionSession(this.deps, first, list.filter((w) => w !== first));
    try {
      const result = await call(name, args, { ...ctx, notion: session });
      this.remember(auth.grantId, ids, (session.current as WorkspaceAuth).workspaceId);
      return result;
    } finally {
      // The activity log names the workspace the call ended in (activity.ts).
      const current = session.current as WorkspaceAuth;
      if (ctx.note) ctx.note.workspace = { id: current.workspaceId, name: current.name };
    }
  }

  /** The workspace that last answered for one of `ids`, when it is still one of the connection's. */
  private ownerOf(grantId: string, ids: readonly string[], list: readonly WorkspaceAuth[]): WorkspaceAuth | undefined {
    const known = this.owners.get(grantId);
    if (!known) return undefined;
    for (const id of ids) {
      if (!known.has(id)) continue;
      const owner = known.get(id);
      const ws = list.find((w) => w.workspaceId === owner);
      if (ws) return ws;
    }
    return undefined;
  }

  private remember(grantId: string, ids: readonly string[], workspaceId: string | null): void {
    if (!ids.length) return;
    let known = this.owners.get(grantId);
    if (known) this.owners.delete(grantId);
    else known = new Map();
    this.owners.set(grantId, known);
    if (this.owners.size > GRANTS_MAX) this.owners.delete(this.owners.keys().next().value!);
    for (const id of ids) {
      known.delete(id);
      known.set(id, workspaceId);
      if (known.size > OWNERS_PER_GRANT) known.delete(known.keys().next().value!);
    }
  }
}

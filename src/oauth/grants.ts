import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { Keyring, newGrantKey, open, randomSecret, seal, sha256 } from '../lib/crypto.js';
import type { NotionAuth, NotionCredentials, WorkspaceCredentials } from '../notion/session.js';
import type { CodeRecord, CredentialRef, GrantRecord, Store, TokenRecord } from '../store/types.js';
import { effectiveScopes } from './scopes.js';
import { dropBoxInfo, needsReconcile, pendingOf, reconcile, removedOf } from './workspaces.js';

/** What a verified access token gives the MCP layer: whose Notion, and what they allowed. */
export interface AuthContext {
  grantId: string;
  clientId: string;
  scopes: ReadonlySet<string>;
  expiresAt: number;
  notion: NotionCredentials;
  /** The unwrapped grant key, so a refreshed Notion token can be sealed again. */
  grantKey: Buffer;
  /** The (first) workspace's bot user: what this connection wrote there (NotionAuth.botId). */
  botId?: string | null;
  /** Lockdown: tools return only content written by members of the workspace (no guests, no integrations). */
  lockdown?: boolean;
  /** The app asked for toolset scopes by name, so it speaks them: a call beyond its scope gets a 403 step-up challenge (mcp-route.ts). */
  stepUp?: boolean;
  /**
   * Set only when the connection has more than one Notion workspace: each one's credentials, in
   * the order they were added (`notion` is then the first's). Tools route by it (workspace-router.ts).
   */
  workspaces?: WorkspaceAuth[];
}

/** One workspace of a connection with several: its credentials as a session uses them, and its name. */
export interface WorkspaceAuth extends NotionAuth {
  workspaceId: string | null;
  name: string;
}

/** The sealed form of a grant's Notion credentials with several workspaces; one workspace keeps the NotionCredentials form. */
interface SealedWorkspaces {
  workspaces: WorkspaceCredentials[];
}

/**
 * Connection settings, kept in the grant's `info` so that no store schema changes: `lockdown`
 * 'on' or 'off' (absent on grants made before it existed: LOCKDOWN_DEFAULT), `stepUp` 'on'.
 */
export const settingsInfo = (s: { lockdown?: boolean; stepUp?: boolean }): GrantRecord['info'] => ({
  // Unset on a flow begun before the setting existed: left to LOCKDOWN_DEFAULT.
  lockdown: s.lockdown === undefined ? null : s.lockdown ? 'on' : 'off',
  stepUp: s.stepUp ? 'on' : null,
});
/**
 * The workspaces of a connection with several, for display without the grant key (Your
 * connections): `workspaces`, JSON of `[{id, name}]`. Nothing is added for one workspace, whose
 * name is `workspaceName` as before.
 */
export const workspacesInfo = (list: readonly { id: string | null; name: string | null }[]): GrantRecord['info'] =>
  list.length > 1 ? { workspaces: JSON.stringify(list.map(({ id, name }) => ({ id, name }))) } : {};

/** The workspaces of a grant as Your connections shows them: from `workspaces`, else its one workspace. */
export function workspacesOf(grant: GrantRecord): { id: string | null; name: string | null }[] {
  if (grant.info.workspaces) {
    try {
      const list = JSON.parse(grant.info.workspaces) as unknown;
      if (Array.isArray(list)) return list as { id: string | null; name: string | null }[];
    } catch {
      // Fall back to the grant's own workspace.
    }
  }
  return [{ id: grant.notionWorkspaceId, name: grant.info.workspaceName ?? null }];
}

export const lockdownOf = (grant: GrantRecord, config: Config): boolean =>
  grant.info.lockdown ? grant.info.lockdown === 'on' : config.toolsets.lockdown;
/** What a verified context depends on besides the token: a change makes the next request open the grant again. */
const grantVersion = (g: GrantRecord): string => `${g.sealedNotion} ${g.scope} ${g.info.lockdown ?? ''} ${g.info.pending ?? ''} ${g.info.removed ?? ''}`;

/** What /token answers. The store keeps it sealed, so that a retry gets the same (IssueResult). */
export interface TokenAnswer {
  accessToken: string;
  refreshToken: string;
  scope: string;
  accessExpiresAt: number;
}

export interface IssuedTokens {
  answer: TokenAnswer;
  records: TokenRecord[];
}

/** "Last used" is recorded at most this often per grant, to keep writes off the hot path. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * How long a verified context is reused at most; then the token is verified in full again (and
 * "last used" recorded). Within it, the store is not read again while its revocation mark stays
 * the same (see Store.revocationMark), so a revocation still takes effect on the next request.
 */
const VERIFIED_TTL_MS = 30_000;
const VERIFIED_MAX = 10_000;

/** Token prefixes make our secrets recognisable to secret scanners and to us. */
const PREFIX = { access: 'nmr_at_', refresh: 'nmr_rt_', code: 'nmr_ac_' } as const;

/** `nmr_ac_<grant>.…`, `nmr_at_<grant>.…`, `nmr_rt_<grant>.…`: the grant id (a UUID) a credential names. */
const NAMES_GRANT = /^nmr_(?:ac|at|rt)_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\./;

/**
 * Where the store finds a code or token: its hash, and the grant it names, unverified (the hash
 * covers the whole string, so naming another grant finds nothing). Codes and access tokens issued
 * before they named their grant give null.
 */
export function credentialRef(token: string): CredentialRef {
  return { hash: sha256(token), grantId: NAMES_GRANT.exec(token)?.[1] ?? null };
}

/**
 * Mints and opens grants, codes and tokens. The grant key never touches storage in clear:
 * each code or token carries its own wrapped copy (see lib/crypto.ts).
 */
export class Grants {
  /**
   * Token hash → the verified context (LRU by Map order). The context object itself is shared by
   * the requests of that one token, so a Notion token refresh (NotionSession sets `auth.notion`)
   * is seen by the next request. Keyed by the hash of the bearer: nothing is shared across tokens.
   */
  private readonly verified = new Map<string, { auth: AuthContext; version: string; until: number; mark: number | null }>();

  constructor(
    private readonly store: Store,
    private readonly keyring: Keyring,
    private readonly config: Config,
    private readonly now: () => number,
    /** Revokes a removed workspace's Notion token upstream; best effort (it logs its failures). */
    private readonly revokeUpstream?: (notionToken: string, grantId: string) => Promise<void>,
  ) {}

  /** Creates a grant holding the user's Notion credentials, plus the code that redeems it. */
  async createWithCode(args: {
    clientId: string;
    redirectUri: string;
    codeChallenge: string;
    resource: string;
    scope: string;
    /** One entry per workspace, the first the grant's own (`notionWorkspaceId`). */
    workspaces: WorkspaceCredentials[];
    notionUserId: string | null;
    notionWorkspaceId: string | null;
    info: GrantRecord['info'];
  }): Promise<string> {
    const now = this.now();
    const grantId = randomUUID();
    const grantKey = newGrantKey();
    const code = `${PREFIX.code}${grantId}.${randomSecret()}`;
    const grant: GrantRecord = {
      id: grantId,
      clientId: args.clientId,
      scope: args.scope,
      resource: args.resource,
      notionUserId: args.notionUserId,
      notionWorkspaceId: args.notionWorkspaceId,
      info: { ...args.info, ...dropBoxInfo(grantId, grantKey) },
      sealedNotion: '',
      createdAt: now,
      lastUsedAt: null,
    };
    grant.sealedNotion = this.sealWorkspaces(grant, grantKey, args.workspaces);
    const record: CodeRecord = {
      hash: sha256(code),
      grantId,
      clientId: args.clientId,
      redirectUri: args.redirectUri,
      codeChallenge: args.codeChallenge,
      resource: args.resource,
      scope: args.scope,
      wrappedKey: this.keyring.wrapGrantKey(code, grantKey),
      expiresAt: now + this.config.ttl.authCodeS * 1000,
      usedAt: null,
      answer: null,
    };
    await this.store.createGrant(grant, record);
    return code;
  }

  /** Unwraps the grant key with a token (code, access or refresh) that holds a wrapped copy. */
  openKey(token: string, wrappedKey: string): Buffer {
    return this.keyring.unwrapGrantKey(token, wrappedKey);
  }

  /**
   * The grant's Notion credentials, one entry per workspace. A grant with one workspace keeps the
   * single-credential form it always had (so grants made before workspaces open unchanged): its
   * workspace is the grant's `notionWorkspaceId`.
   */
  openWorkspaces(grant: GrantRecord, grantKey: Buffer): WorkspaceCredentials[] {
    const opened = JSON.parse(open(grantKey, grant.sealedNotion, grant.id)) as NotionCredentials | SealedWorkspaces;
    if ('workspaces' in opened) return opened.workspaces;
    return [{ id: grant.notionWorkspaceId, name: grant.info.workspaceName ?? null, botId: grant.info.botId ?? null, accessToken: opened.accessToken, refreshToken: opened.refreshToken }];
  }

  sealWorkspaces(grant: GrantRecord, grantKey: Buffer, workspaces: readonly WorkspaceCredentials[]): string {
    const [only] = workspaces;
    if (workspaces.length === 1 && only && only.id === grant.notionWorkspaceId) {
      return seal(grantKey, JSON.stringify({ accessToken: only.accessToken, refreshToken: only.refreshToken }), grant.id);
    }
    return seal(grantKey, JSON.stringify({ workspaces: [...workspaces] } satisfies SealedWorkspaces), grant.id);
  }

  /**
   * A fresh access and refresh token for the grant, not yet stored. The access token may carry
   * a narrowed scope; the refresh token keeps the grant's, so a later refresh can ask again.
   * The access token's record keeps `restriction`, which narrows the grant's scope as that is
   * when the token is used (effectiveScopes); by default the scope it was issued with.
   *
   * Both name their grant, so a sharded store finds them by it: `nmr_at_<grant>.<secret>`; a refresh
   * token's is signed with SESSION_SECRET: `nmr_rt_<grant>.<nonce>.<mac>`.
   * So a rotated token presented again is recognised as that grant's (grantOfRefreshToken) with
   * no record of it kept, and cannot be forged to end someone else's grant.
   */
  mintPair(grantId: string, grantKey: Buffer, accessScope: string, refreshScope: string, restriction = accessScope): IssuedTokens {
    const now = this.now();
    const accessToken = `${PREFIX.access}${grantId}.${randomSecret()}`;
    const nonce = randomSecret();
    const refreshToken = `${PREFIX.refresh}${grantId}.${nonce}.${this.keyring.sign(`refresh/${grantId}.${nonce}`)}`;
    const record = (token: string, kind: TokenRecord['kind'], scope: string, ttlS: number): TokenRecord => ({
      hash: sha256(token),
      grantId,
      kind,
      scope,
      wrappedKey: this.keyring.wrapGrantKey(token, grantKey),
      expiresAt: now + ttlS * 1000,
      createdAt: now,
      replacedAt: null,
      answer: null,
    });
    return {
      answer: { accessToken, refreshToken, scope: accessScope, accessExpiresAt: now + this.config.ttl.accessTokenS * 1000 },
      records: [
        record(accessToken, 'access', restriction, this.config.ttl.accessTokenS),
        record(refreshToken, 'refresh', refreshScope, this.config.ttl.refreshTokenIdleS),
      ],
    };
  }

  /** The grant a refresh token was minted for, when its signature proves it is ours; else null. */
  grantOfRefreshToken(token: string): string | null {
    if (!token.startsWith(PREFIX.refresh)) return null;
    const [grantId, nonce, mac, extra] = token.slice(PREFIX.refresh.length).split('.');
    if (!grantId || !nonce || !mac || extra !== undefined) return null;
    return this.keyring.verify(`refresh/${grantId}.${nonce}`, mac) ? grantId : null;
  }

  /** Seals an answer for the store, openable only with `secret` (the token or code it answers). */
  sealAnswer(secret: string, answer: TokenAnswer, record: string): string {
    return this.keyring.sealFor(secret, JSON.stringify(answer), record);
  }

  /** Opens a kept answer; null when `secret` is not the one it was sealed for. */
  openAnswer(secret: string, sealed: string, record: string): TokenAnswer | null {
    try {
      return JSON.parse(this.keyring.openFor(secret, sealed, record)) as TokenAnswer;
    } catch {
      return null;
    }
  }

  /**
   * Verifies one of our access tokens and opens the grant's Notion credentials.
   * Returns null for anything that is not a live access token of a live grant.
   */
  async verifyAccessToken(token: string): Promise<AuthContext | null> {
    if (!token.startsWith(PREFIX.access)) return null;
    const ref = credentialRef(token);
    const { hash } = ref;
    const now = this.now();
    // Taken before any read: a deletion after this point changes the mark, so what is read now is
    // never trusted past it.
    const mark = this.store.revocationMark();
    const hit = this.verified.get(hash);
    if (hit) {
      this.verified.delete(hash);
      // Served unread while nothing was deleted since the entry was checked; else read back first.
      if (hit.until > now && ((mark !== null && hit.mark === mark) || (await this.readsBackUnchanged(hit, ref)))) {
        hit.mark = mark;
        this.verified.set(hash, hit); // most recently used goes last
        return hit.auth;
      }
    }
    const opened = await this.verifyUncached(token, ref);
    if (!opened) return null;
    const { auth, version } = opened;
    this.verified.set(hash, { auth, version, until: Math.min(now + VERIFIED_TTL_MS, auth.expiresAt), mark });
    if (this.verified.size > VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    return auth;
  }

  /**
   * The token is still a live access token of the same grant, unchanged since it was verified. A
   * changed grant (the Notion token was refreshed through another token of the grant, or the user
   * changed the connection's settings) makes the caller open the grant again.
   */
  private async readsBackUnchanged(hit: { auth: AuthContext; version: string }, ref: CredentialRef): Promise<boolean> {
    const found = await this.store.getToken(ref);
    return found !== null && found.token.kind === 'access' && found.grant.id === hit.auth.grantId && grantVersion(found.grant) === hit.version;
  }

  /**
   * Applies what Your connections left for the grant (oauth/workspaces.ts) now that its key is
   * open: merges added workspaces, drops removed ones and revokes their Notion tokens. Stores the
   * result over a fresh read of the grant, so a settings change made meanwhile is kept. A failed
   * write leaves it for the next request; the tools use the result either way.
   */
  private async reconcile(grant: GrantRecord, grantKey: Buffer, current: WorkspaceCredentials[]): Promise<{ grant: GrantRecord; workspaces: WorkspaceCredentials[] }> {
    const r = reconcile(grant, grantKey, current, (list) => this.sealWorkspaces(grant, grantKey, list), workspacesInfo);
    let stored = grant;
    try {
      const fresh = await this.store.getGrant(grant.id);
      if (!fresh) return { grant, workspaces: r.workspaces };
      const done = new Set(pendingOf(grant).map((p) => p.sealed));
      const pending = pendingOf(fresh).filter((p) => !done.has(p.sealed));
      const removedBefore = new Set(removedOf(grant));
      const removed = removedOf(fresh).filter((id) => !removedBefore.has(id));
      // Only the fields reconcile owns come from it; the rest (settings) as stored now.
      const own = r.write!.info;
      const merged: GrantRecord['info'] = { ...fresh.info, addKey: own.addKey ?? null, addKeySealed: own.addKeySealed ?? null };
      const { pending: _p, removed: _r, workspaces: _w, ...kept } = merged;
      if (own.workspaces) kept.workspaces = own.workspaces;
      const info: GrantRecord['info'] = { ...kept, ...(pending.length ? { pending: JSON.stringify(pending) } : {}), ...(removed.length ? { removed: JSON.stringify(removed) } : {}) };
      if (r.write!.sealedNotion !== grant.sealedNotion) {
        // Refreshed through another token meanwhile: left for the next request, which opens that.
        if (fresh.sealedNotion !== grant.sealedNotion) return { grant, workspaces: r.workspaces };
        await this.store.updateGrantNotion(grant.id, r.write!.sealedNotion);
      }
      await this.store.updateGrantSettings(grant.id, fresh.scope, info);
      stored = { ...fresh, sealedNotion: r.write!.sealedNotion, info };
    } catch {
      // Left for the next request, revocations included.
      return { grant, workspaces: r.workspaces };
    }
    for (const token of r.revoke) void this.revokeUpstream?.(token, grant.id);
    return { grant: stored, workspaces: r.workspaces };
  }

  private async verifyUncached(token: string, ref: CredentialRef): Promise<{ auth: AuthContext; version: string } | null> {
    const found = await this.store.getToken(ref);
    if (!found || found.token.kind !== 'access' || found.token.expiresAt <= this.now()) return null;
    const { token: rec } = found;
    let { grant } = found;
    // Audience check: a token is only good for the resource it was issued for.
    if (grant.resource !== this.config.resource) return null;
    let grantKey: Buffer;
    let workspaces: WorkspaceCredentials[];
    try {
      grantKey = this.openKey(token, rec.wrappedKey);
      workspaces = this.openWorkspaces(grant, grantKey);
    } catch {
      return null;
    }
    if (needsReconcile(grant)) {
      const applied = await this.reconcile(grant, grantKey, workspaces);
      grant = applied.grant;
      workspaces = applied.workspaces;
    }
    const first = workspaces[0];
    if (!first) return null;
    const now = this.now();
    if (grant.lastUsedAt === null || now - grant.lastUsedAt > TOUCH_INTERVAL_MS) {
      // Best effort: "last used" is for display, so a failed write must not fail the request.
      this.store.touchGrant(grant.id, now).catch(() => undefined);
    }
    const auth: AuthContext = {
      grantId: grant.id,
      clientId: grant.clientId,
      // The grant's scope is read at every verification, so a change on Your connections counts at once.
      scopes: effectiveScopes(grant.scope, rec.scope, this.config.toolsets.max),
      expiresAt: rec.expiresAt,
      notion: { accessToken: first.accessToken, refreshToken: first.refreshToken },
      grantKey,
      botId: first.botId ?? grant.info.botId ?? null,
      lockdown: lockdownOf(grant, this.config),
      stepUp: grant.info.stepUp === 'on',
    };
    if (workspaces.length > 1) {
      auth.workspaces = workspaces.map((w, i) => ({
        grantId: grant.id,
        grantKey,
        workspaceId: w.id,
        name: w.name ?? `Workspace ${i + 1}`,
        botId: w.botId ?? (i === 0 ? (grant.info.botId ?? null) : null),
        notion: { accessToken: w.accessToken, refreshToken: w.refreshToken },
      }));
    }
    return { auth, version: grantVersion(grant) };
  }
}

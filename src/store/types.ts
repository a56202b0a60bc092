/**
 * The storage contract. The OAuth and MCP code talk only to this interface; each backend
 * (SQLite by default) must keep every guarantee documented here. All times are epoch ms.
 * docs/storage.md describes the records and which fields are hashed or encrypted.
 */

export type TokenEndpointAuthMethod = 'none' | 'client_secret_post' | 'client_secret_basic';

export interface ClientRecord {
  clientId: string;
  /** SHA-256 of the client secret; absent for public clients. */
  secretHash?: string;
  clientName?: string;
  redirectUris: string[];
  grantTypes: string[];
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** Registration metadata as accepted, echoed back by DCR. */
  metadata: Record<string, unknown>;
  createdAt: number;
}

/** What the user approved, and the Notion connection it runs on. */
export interface GrantRecord {
  id: string;
  clientId: string;
  /** Space-separated scopes granted by the user. */
  scope: string;
  resource: string;
  notionUserId: string | null;
  notionWorkspaceId: string | null;
  /** Display data: workspace name, user name/email, client name; and the connection settings (oauth/grants.ts settingsInfo). Never secret. */
  info: Record<string, string | null>;
  /** Notion tokens sealed under the grant key (see lib/crypto.ts). */
  sealedNotion: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface CodeRecord {
  hash: string;
  grantId: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  scope: string;
  /** The grant key wrapped under the code; emptied when the code is redeemed. */
  wrappedKey: string;
  expiresAt: number;
  usedAt: number | null;
  /** Once redeemed: the tokens it gave, sealed under the code and its PKCE verifier (see TokenAnswer). */
  answer: string | null;
}

export type TokenKind = 'access' | 'refresh';

/**
 * How the store finds a code or token: its SHA-256, and the grant the credential names. Every
 * code and token minted now names its grant (`nmr_ac_<grant>.…`, `nmr_at_<grant>.…`,
 * `nmr_rt_<grant>.…`), so a sharded store (Redis Cluster) reads it where its grant lives, in one
 * round trip. Null for a credential that names none (issued before that, or not ours). A record
 * (CodeRecord, TokenRecord) is itself a reference.
 */
export interface CredentialRef {
  hash: string;
  grantId: string | null;
}

export interface TokenRecord {
  hash: string;
  grantId: string;
  kind: TokenKind;
  scope: string;
  /** The grant key wrapped under the token; emptied when a refresh token is rotated. */
  wrappedKey: string;
  expiresAt: number;
  createdAt: number;
  /** Set on a refresh token once it has been rotated: it is then the grant's previous one. */
  replacedAt: number | null;
  /** On a previous refresh token: the answer its rotation gave, sealed under it. */
  answer: string | null;
}

/**
 * What redeeming a code or rotating a refresh token did. Both are idempotent: a retried or re-sent
 * request finds the first request's answer (sealed, so only the holder of the code or token can
 * open it) instead of looking like a replay.
 */
export type IssueResult =
  /** The tokens passed in were stored. */
  | { status: 'issued' }
  /** Already done: the sealed answer of the first request, nothing stored. */
  | { status: 'again'; answer: string }
  /** Already done and no answer kept: a replay. */
  | { status: 'spent' }
  /** Unknown, expired, or not a refresh token. */
  | { status: 'invalid' };

/** `login`: the Notion round trip that signs a person in to /connections (no grant is made). */
export type FlowKind = 'consent' | 'notion' | 'login';

/** What an activity entry names of a Notion object it touched. */
export interface ActivityObject {
  id: string;
  /** Only when the call's arguments or result gave it. */
  title?: string;
  /** Set when the call moved the object to the trash: its kind, which says how to restore it. */
  trashed?: 'page' | 'block' | 'database' | 'data_source';
}

/**
 * One tool call (or an undo from "Your connections") on a grant: never content, tokens or
 * argument values other than object IDs. `id` sorts by time: `<at, 13 digits>-<suffix>`.
 */
export interface ActivityEntry {
  id: string;
  grantId: string;
  at: number;
  /** The tool, or a group call's op; `undo` for a restore made on "Your connections". */
  tool: string;
  write: boolean;
  /** `ok`, or the tool error code. */
  outcome: string;
  objects: ActivityObject[];
  /** On an undo: the id of the entry it undid. */
  undoes?: string;
  /** On a connection with several workspaces: the one the call went to (none for a search across them). */
  workspace?: { id: string | null; name: string };
  /** Reads repeated back to back (same tool, objects and outcome) are one entry: how many, and the last one's time. */
  count?: number;
  lastAt?: number;
}

/** Entries kept per grant at most, newest first; older ones are dropped on write. */
export const ACTIVITY_MAX_PER_GRANT = 2000;

export interface StoreStats {
  clients: number;
  grants: number;
  liveTokens: number;
  pendingFlows: number;
}

export interface Store {
  /** Throws when the backend does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;

  /**
   * Stores a new client. With `maxUnused`, then deletes the oldest clients that never got a grant
   * beyond that many (at most a few per call), so registrations never stop: see MAX_CLIENTS.
   */
  createClient(client: ClientRecord, maxUnused?: number): Promise<void>;
  getClient(clientId: string): Promise<ClientRecord | null>;
  /** Number of registered clients. */
  countClients(): Promise<number>;

  /** Short-lived browser flow state (consent screen, Notion round trip). */
  putFlow(id: string, kind: FlowKind, data: unknown, expiresAt: number): Promise<void>;
  /** Returns and deletes the flow in one step: a second call gets null. */
  takeFlow(id: string, kind: FlowKind, now: number): Promise<unknown | null>;

  /** Stores a new grant together with its authorization code, atomically. */
  createGrant(grant: GrantRecord, code: CodeRecord): Promise<void>;
  getCode(ref: CredentialRef): Promise<CodeRecord | null>;
  /**
   * Marks the code used, empties its wrapped key, keeps `answer`, and stores the tokens issued
   * from it, atomically. A code already used answers `again` with the answer kept.
   */
  redeemCode(ref: CredentialRef, now: number, tokens: TokenRecord[], answer: string): Promise<IssueResult>;

  getToken(ref: CredentialRef): Promise<{ token: TokenRecord; grant: GrantRecord } | null>;
  /**
   * A number that changes whenever a token or grant may have been deleted: at once for deletions
   * made through this store, and as soon as the backend tells for those of other processes
   * (SQLite: the file's data_version, read once per event-loop turn; Redis: a pub/sub message). Null while that cannot be known
   * (the Redis subscription is down). The bearer check reuses a verified token without reading
   * it again only while this stays the same.
   */
  revocationMark(): number | null;
  /**
   * Rotates the grant's current refresh token, atomically: deletes the grant's previous refresh
   * token, makes `old` the previous one (replaced, wrapped key emptied, `answer` kept), and
   * stores `tokens`. A previous token answers `again` with its kept answer and stores nothing.
   * `answer` is null when the caller saw the token already replaced (it then expects `again`).
   */
  rotateRefreshToken(old: CredentialRef, now: number, tokens: TokenRecord[], answer: string | null): Promise<IssueResult>;
  deleteToken(ref: CredentialRef): Promise<void>;
  /** Number of tokens and unused codes of the grant that can still be used. */
  countLiveCredentials(grantId: string, now: number): Promise<number>;
  getGrant(grantId: string): Promise<GrantRecord | null>;
  /** Every grant of one Notion user (any workspace, any client), newest first. */
  listGrantsByUser(notionUserId: string): Promise<GrantRecord[]>;
  /** Every grant, newest first (operator tooling: `notion-mcp-remote-admin grants`). */
  listGrants(): Promise<GrantRecord[]>;
  /** Deletes the grant with all its tokens, codes and activity. */
  deleteGrant(grantId: string): Promise<void>;
  updateGrantNotion(grantId: string, sealedNotion: string): Promise<void>;
  /**
   * Changes what the grant allows: its scope and its `info` (which holds the connection settings).
   * Changes the revocation mark as a deletion does, so every instance reads the grant again
   * before it reuses a verified token of it.
   */
  updateGrantSettings(grantId: string, scope: string, info: GrantRecord['info']): Promise<void>;
  touchGrant(grantId: string, now: number): Promise<void>;

  /**
   * Appends activity entries (any grants), keeping the newest ACTIVITY_MAX_PER_GRANT per grant.
   * Entries of a grant that no longer exists are dropped, so a log never outlives its grant.
   */
  appendActivity(entries: ActivityEntry[]): Promise<void>;
  /** A grant's entries newest first, `limit` at most, those older than the entry id `before` if given. */
  listActivity(grantId: string, limit: number, before?: string): Promise<ActivityEntry[]>;
  getActivity(grantId: string, id: string): Promise<ActivityEntry | null>;

  /**
   * Removes expired rows. With `clientIdleMs`, also deletes registered clients created more than
   * `clientIdleMs` before `now` that have no grant; with `activityBefore`, activity entries older
   * than that time. Returns how many were removed.
   */
  sweep(now: number, clientIdleMs?: number, activityBefore?: number): Promise<number>;
  stats(now: number): Promise<StoreStats>;
}

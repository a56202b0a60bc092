import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  ACTIVITY_MAX_PER_GRANT,
  type ActivityEntry,
  type CredentialRef,
  type ClientRecord,
  type CodeRecord,
  type FlowKind,
  type GrantRecord,
  type IssueResult,
  type Store,
  type StoreStats,
  type TokenRecord,
} from './types.js';

export const SQLITE_FILE = 'notion-mcp-remote.db';
/** Rows per sweep transaction: small enough that one batch stays far below a 50 ms stall. */
const SWEEP_BATCH = 500;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
const SCHEMA_VERSION = '2';
/** Version 1 lacks `answer` and `clients.used`; opening it adds them (a downgrade then refuses the file). */
const UPGRADABLE = '1';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients (
  client_id TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS flows (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  data TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  resource TEXT NOT NULL,
  notion_user_id TEXT,
  notion_workspace_id TEXT,
  info TEXT NOT NULL,
  sealed_notion TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE TABLE IF NOT EXISTS codes (
  hash TEXT PRIMARY KEY,
  grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  resource TEXT NOT NULL,
  scope TEXT NOT NULL,
  wrapped_key TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  answer TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
  hash TEXT PRIMARY KEY,
  grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  scope TEXT NOT NULL,
  wrapped_key TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  replaced_at INTEGER,
  answer TEXT
);
CREATE TABLE IF NOT EXISTS activity (
  grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  first_id TEXT NOT NULL,
  last_id TEXT NOT NULL,
  last_at INTEGER NOT NULL,
  n INTEGER NOT NULL,
  entries TEXT NOT NULL,
  PRIMARY KEY (grant_id, first_id)
);
CREATE INDEX IF NOT EXISTS activity_last_at ON activity(last_at);
CREATE INDEX IF NOT EXISTS codes_grant ON codes(grant_id);
CREATE INDEX IF NOT EXISTS tokens_grant ON tokens(grant_id);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens(expires_at);
CREATE INDEX IF NOT EXISTS flows_expiry ON flows(expires_at);
CREATE INDEX IF NOT EXISTS grants_user ON grants(notion_user_id);
CREATE INDEX IF NOT EXISTS grants_client ON grants(client_id);
`;
/** After SCHEMA and any upgrade: indexes on columns that version 1 lacks. */
const INDEXES_V2 = `
CREATE INDEX IF NOT EXISTS clients_unused ON clients(created_at) WHERE used = 0;
`;
/** Clients deleted at most per registration to get back under MAX_CLIENTS: keeps each one short. */
const EVICT_BATCH = 10;

/** Start-up failures that must stop the server rather than let it "start fresh". */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

interface GrantRow {
  id: string;
  client_id: string;
  scope: string;
  resource: string;
  notion_user_id: string | null;
  notion_workspace_id: string | null;
  info: string;
  sealed_notion: string;
  created_at: number;
  last_used_at: number | null;
}
interface TokenRow {
  hash: string;
  grant_id: string;
  kind: 'access' | 'refresh';
  scope: string;
  wrapped_key: string;
  expires_at: number;
  created_at: number;
  replaced_at: number | null;
  answer: string | null;
}
/** The token columns of the joined bearer-check read, prefixed so they do not clash with the grant's. */
type TokenColumns = { [K in keyof TokenRow as `t_${K}`]: TokenRow[K] };
interface CodeRow {
  hash: string;
  grant_id: string;
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  resource: string;
  scope: string;
  wrapped_key: string;
  expires_at: number;
  used_at: number | null;
  answer: string | null;
}

/** One batch of a grant's activity: its entries (without the grant id) as JSON, oldest first. */
interface ActivityChunk {
  first_id: string;
  n: number;
  entries: string;
}
type StoredEntry = Omit<ActivityEntry, 'grantId'>;

const toGrant = (r: GrantRow): GrantRecord => ({
  id: r.id,
  clientId: r.client_id,
  scope: r.scope,
  resource: r.resource,
  notionUserId: r.notion_user_id,
  notionWorkspaceId: r.notion_workspace_id,
  info: JSON.parse(r.info) as GrantRecord['info'],
  sealedNotion: r.sealed_notion,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});
/** The credential names no grant, or the one its row belongs to. */
const named = (ref: CredentialRef, grantId: string): boolean => ref.grantId === null || ref.grantId === grantId;
const toToken = (r: TokenColumns): TokenRecord => ({
  hash: r.t_hash,
  grantId: r.t_grant_id,
  kind: r.t_kind,
  scope: r.t_scope,
  wrappedKey: r.t_wrapped_key,
  expiresAt: r.t_expires_at,
  createdAt: r.t_created_at,
  replacedAt: r.t_replaced_at,
  answer: r.t_answer,
});
const toCode = (r: CodeRow): CodeRecord => ({
  hash: r.hash,
  grantId: r.grant_id,
  clientId: r.client_id,
  redirectUri: r.redirect_uri,
  codeChallenge: r.code_challenge,
  resource: r.resource,
  scope: r.scope,
  wrappedKey: r.wrapped_key,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  answer: r.answer,
});

const keyMismatch = (file: string) =>
  new StoreOpenError(
    `SESSION_SECRET does not match the one the store at ${file} was written with. ` +
      'Restore the previous SESSION_SECRET; the data is never replaced automatically.',
  );

/**
 * Read-only checks of an existing store: integrity, schema version, and the SESSION_SECRET check
 * value (any of `accepted`). Throws a plain error for an unreadable file and StoreOpenError for a mismatch.
 */
function verify(db: Database.Database, file: string, accepted: readonly string[]): void {
  const check = db.pragma('quick_check', { simple: true });
  if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (!hasMeta) return;
  const meta = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
  const version = meta.get('schema_version')?.value;
  if (version && version !== SCHEMA_VERSION && version !== UPGRADABLE) {
    throw new StoreOpenError(`the store at ${file} has schema version ${version}; this build reads version ${SCHEMA_VERSION}`);
  }
  const stored = meta.get('key_check')?.value;
  if (stored && !accepted.includes(stored)) throw keyMismatch(file);
}

/**
 * The embedded store: one SQLite file in DATA_DIR, WAL mode, every multi-row change in one
 * transaction with synchronous=FULL, so a crash at any point leaves either the old or the new state.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmt;
  /** See revocationMark: bumped by our own deletions and when data_version shows another writer. */
  private revocations = 0;
  private dataVersion = -1;
  /** data_version was read in this event-loop turn (cleared by setImmediate). */
  private versionFresh = false;

  private constructor(db: Database.Database) {
    this.db = db;
    this.stmt = {
      insertClient: db.prepare('INSERT INTO clients (client_id, record, created_at) VALUES (?, ?, ?)'),
      countUnused: db.prepare<[], number>('SELECT COUNT(*) FROM clients WHERE used = 0').pluck(),
      evictUnused: db.prepare(
        'DELETE FROM clients WHERE client_id IN (SELECT client_id FROM clients WHERE used = 0 ORDER BY created_at, client_id LIMIT ?)',
      ),
      markUsed: db.prepare('UPDATE clients SET used = 1 WHERE client_id = ? AND used = 0'),
      getClient: db.prepare<[string], { record: string }>('SELECT record FROM clients WHERE client_id = ?'),
      putFlow: db.prepare('INSERT OR REPLACE INTO flows (id, kind, data, expires_at) VALUES (?, ?, ?, ?)'),
      takeFlow: db.prepare<[string, string], { data: string; expires_at: number }>(
        'DELETE FROM flows WHERE id = ? AND kind = ? RETURNING data, expires_at',
      ),
      insertGrant: db.prepare(
        `INSERT INTO grants (id, client_id, scope, resource, notion_user_id, notion_workspace_id, info, sealed_notion, created_at, last_used_at)
         VALUES (@id, @clientId, @scope, @resource, @notionUserId, @notionWorkspaceId, @info, @sealedNotion, @createdAt, @lastUsedAt)`,
      ),
      insertCode: db.prepare(
        `INSERT INTO codes (hash, grant_id, client_id, redirect_uri, code_challenge, resource, scope, wrapped_key, expires_at, used_at, answer)
         VALUES (@hash, @grantId, @clientId, @redirectUri, @codeChallenge, @resource, @scope, @wrappedKey, @expiresAt, @usedAt, @answer)`,
      ),
      getCode: db.prepare<[string], CodeRow>('SELECT * FROM codes WHERE hash = ?'),
      useCode: db.prepare("UPDATE codes SET used_at = ?, wrapped_key = '', answer = ? WHERE hash = ?"),
      insertToken: db.prepare(
        `INSERT INTO tokens (hash, grant_id, kind, scope, wrapped_key, expires_at, created_at, replaced_at, answer)
         VALUES (@hash, @grantId, @kind, @scope, @wrappedKey, @expiresAt, @createdAt, @replacedAt, @answer)`,
      ),
      getToken: db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE hash = ?'),
      // The bearer check of every MCP request: token and grant in one indexed read.
      tokenWithGrant: db.prepare<[string], GrantRow & TokenColumns>(
        `SELECT g.*, t.hash AS t_hash, t.grant_id AS t_grant_id, t.kind AS t_kind, t.scope AS t_scope, t.wrapped_key AS t_wrapped_key,
                t.expires_at AS t_expires_at, t.created_at AS t_created_at, t.replaced_at AS t_replaced_at, t.answer AS t_answer
           FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash = ?`,
      ),
      getGrant: db.prepare<[string], GrantRow>('SELECT * FROM grants WHERE id = ?'),
      grantsByUser: db.prepare<[string], GrantRow>('SELECT * FROM grants WHERE notion_user_id = ? ORDER BY created_at DESC, id'),
      allGrants: db.prepare<[], GrantRow>('SELECT * FROM grants ORDER BY created_at DESC, id'),
      markReplaced: db.prepare("UPDATE tokens SET replaced_at = ?, wrapped_key = '', answer = ? WHERE hash = ?"),
      dropOtherRefresh: db.prepare("DELETE FROM tokens WHERE grant_id = ? AND kind = 'refresh' AND hash <> ?"),
      deleteToken: db.prepare('DELETE FROM tokens WHERE hash = ?'),
      countLive: db.prepare<{ grantId: string; now: number }, { n: number }>(
        `SELECT (SELECT COUNT(*) FROM tokens WHERE grant_id = @grantId AND expires_at > @now AND replaced_at IS NULL)
              + (SELECT COUNT(*) FROM codes WHERE grant_id = @grantId AND used_at IS NULL AND expires_at > @now) AS n`,
      ),
      deleteGrant: db.prepare('DELETE FROM grants WHERE id = ?'),
      updateNotion: db.prepare('UPDATE grants SET sealed_notion = ? WHERE id = ?'),
      updateSettings: db.prepare('UPDATE grants SET scope = ?, info = ? WHERE id = ?'),
      touchGrant: db.prepare('UPDATE grants SET last_used_at = ? WHERE id = ?'),
      // Skips the entries of a grant deleted while they waited in the buffer (see Store.appendActivity).
      insertChunk: db.prepare(
        `INSERT OR IGNORE INTO activity (grant_id, first_id, last_id, last_at, n, entries)
         SELECT @grantId, @firstId, @lastId, @lastAt, @n, @entries WHERE EXISTS (SELECT 1 FROM grants WHERE id = @grantId)`,
      ),
      countActivity: db.prepare<[string], number>('SELECT COALESCE(SUM(n), 0) FROM activity WHERE grant_id = ?').pluck(),
      oldestChunks: db.prepare<[string, number], Pick<ActivityChunk, 'first_id' | 'n'>>('SELECT first_id, n FROM activity WHERE grant_id = ? ORDER BY first_id LIMIT ?'),
      dropChunk: db.prepare('DELETE FROM activity WHERE grant_id = ? AND first_id = ?'),
      chunksBefore: db.prepare<[string, string], ActivityChunk>('SELECT first_id, n, entries FROM activity WHERE grant_id = ? AND first_id < ? ORDER BY first_id DESC'),
      chunkOf: db.prepare<[string, string, string], ActivityChunk>('SELECT first_id, n, entries FROM activity WHERE grant_id = ? AND first_id <= ? AND last_id >= ?'),
      // Changes when another connection (the admin CLI, another process) committed to the file.
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    };
  }

  /**
   * Opens (or creates) the store and checks it: integrity, schema version, and that it was
   * written with the same SESSION_SECRET (`keyCheck`). Any mismatch throws StoreOpenError.
   *
   * `keyCheck` may list several values (current secret first, then SESSION_SECRET_PREVIOUS): a
   * store written under any of them opens, and the first is then recorded as its key check.
   *
   * An existing file is checked over a read-only connection first, so a store that is corrupt or
   * belongs to another SESSION_SECRET is left byte for byte as it was: no switch to WAL mode, no
   * schema changes, and no checkpoint of a pending -wal file on close.
   */
  static open(dataDir: string, keyCheck: string | readonly string[]): SqliteStore {
    const accepted: readonly string[] = typeof keyCheck === 'string' ? [keyCheck] : keyCheck;
    const current = accepted[0];
    if (current === undefined) throw new Error('SqliteStore.open needs at least one key check value');
    const dir = resolve(dataDir);
    const file = join(dir, SQLITE_FILE);
    const cannotOpen = (err: unknown) =>
      new StoreOpenError(
        `cannot open the store at ${file}: ${(err as Error).message}. ` +
          'Check DATA_DIR and its permissions; restore the file from a backup if it is corrupt (it is never replaced automatically).',
      );
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw cannotOpen(err);
    }

    let checked = false;
    if (existsSync(file)) {
      let probe: Database.Database | undefined;
      try {
        probe = new Database(file, { readonly: true, fileMustExist: true });
        probe.pragma('busy_timeout = 5000');
        verify(probe, file, accepted);
        checked = true;
      } catch (err) {
        // Only a writer can run crash recovery (hot journal, stale WAL index): then check below.
        if (err instanceof StoreOpenError) throw err;
        if (!/^SQLITE_(READONLY|CANTOPEN|BUSY)/.test(String((err as { code?: unknown }).code))) throw cannotOpen(err);
      } finally {
        probe?.close();
      }
    }

    let db: Database.Database | undefined;
    try {
      db = new Database(file);
      db.pragma('busy_timeout = 5000');
      if (!checked) verify(db, file, accepted);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      // Deleted rows are overwritten with zeros, so a dead token's wrapped key is not left in a free page.
      db.pragma('secure_delete = ON');
      db.exec(SCHEMA);
      const version = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
      if (version.get()?.value === UPGRADABLE) {
        const upgrade = db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'");
        const addColumns = `ALTER TABLE codes ADD COLUMN answer TEXT; ALTER TABLE tokens ADD COLUMN answer TEXT;
          ALTER TABLE clients ADD COLUMN used INTEGER NOT NULL DEFAULT 0;
          UPDATE clients SET used = 1 WHERE EXISTS (SELECT 1 FROM grants WHERE grants.client_id = clients.client_id);`;
        const conn = db;
        db.transaction(() => {
          conn.exec(addColumns);
          upgrade.run(SCHEMA_VERSION);
        }).immediate();
      }
      db.exec(INDEXES_V2);
      const put = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
      const stored = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'key_check'");
      const record = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('key_check', ?)");
      db.transaction(() => {
        put.run('schema_version', SCHEMA_VERSION);
        // Checked again inside the write: another process may have rotated the secret meanwhile.
        const was = stored.get()?.value;
        if (was !== undefined && !accepted.includes(was)) throw keyMismatch(file);
        if (was !== current) record.run(current);
      }).immediate();
    } catch (err) {
      db?.close();
      throw err instanceof StoreOpenError ? err : cannotOpen(err);
    }
    return new SqliteStore(db);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async createClient(client: ClientRecord, maxUnused?: number): Promise<void> {
    this.db.transaction(() => {
      this.stmt.insertClient.run(client.clientId, JSON.stringify(client), client.createdAt);
      if (maxUnused === undefined) return;
      const excess = this.stmt.countUnused.get()! - maxUnused;
      if (excess > 0) this.stmt.evictUnused.run(Math.min(excess, EVICT_BATCH));
    }).immediate();
  }

  async countClients(): Promise<number> {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM clients').get() as { n: number }).n;
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    const row = this.stmt.getClient.get(clientId);
    return row ? (JSON.parse(row.record) as ClientRecord) : null;
  }

  async putFlow(id: string, kind: FlowKind, data: unknown, expiresAt: number): Promise<void> {
    this.stmt.putFlow.run(id, kind, JSON.stringify(data), expiresAt);
  }

  async takeFlow(id: string, kind: FlowKind, now: number): Promise<unknown | null> {
    const row = this.stmt.takeFlow.get(id, kind);
    if (!row || row.expires_at <= now) return null;
    return JSON.parse(row.data) as unknown;
  }

  async createGrant(grant: GrantRecord, code: CodeRecord): Promise<void> {
    this.db.transaction(() => {
      this.stmt.insertGrant.run({ ...grant, info: JSON.stringify(grant.info) });
      this.stmt.insertCode.run(code);
      this.stmt.markUsed.run(grant.clientId);
    })();
  }

  /** The hash is the key here; a credential that names another grant than its row's is not found. */
  async getCode(ref: CredentialRef): Promise<CodeRecord | null> {
    const row = this.stmt.getCode.get(ref.hash);
    return row && named(ref, row.grant_id) ? toCode(row) : null;
  }

  async redeemCode({ hash }: CredentialRef, now: number, tokens: TokenRecord[], answer: string): Promise<IssueResult> {
    const result = this.db.transaction((): IssueResult => {
      const code = this.stmt.getCode.get(hash);
      if (!code || code.expires_at <= now) return { status: 'invalid' };
      if (code.used_at !== null) return code.answer === null ? { status: 'spent' } : { status: 'again', answer: code.answer };
      this.stmt.useCode.run(now, answer, hash);
      for (const t of tokens) this.stmt.insertToken.run(t);
      return { status: 'issued' };
    }).immediate();
    if (result.status === 'issued') this.scrub();
    return result;
  }

  async getToken(ref: CredentialRef): Promise<{ token: TokenRecord; grant: GrantRecord } | null> {
    const row = this.stmt.tokenWithGrant.get(ref.hash);
    return row && named(ref, row.t_grant_id) ? { token: toToken(row), grant: toGrant(row) } : null;
  }

  /**
   * data_version is read once per event-loop turn, not per request: the read takes a file lock (two
   * fcntl calls), and the requests of one turn arrived together, so a writer that commits between
   * them is concurrent with all of them. Requests of any later turn see its deletions.
   */
  revocationMark(): number | null {
    if (this.versionFresh) return this.revocations;
    try {
      const v = this.stmt.dataVersion.get()!;
      if (v !== this.dataVersion) {
        this.dataVersion = v;
        this.revocations++;
      }
    } catch {
      return null; // the read that follows reports the failure
    }
    this.versionFresh = true;
    setImmediate(() => {
      this.versionFresh = false;
    });
    return this.revocations;
  }

  async rotateRefreshToken({ hash: oldHash }: CredentialRef, now: number, tokens: TokenRecord[], answer: string | null): Promise<IssueResult> {
    const result = this.db.transaction((): IssueResult => {
      const old = this.stmt.getToken.get(oldHash);
      if (!old || old.kind !== 'refresh' || old.expires_at <= now) return { status: 'invalid' };
      if (old.replaced_at !== null) return old.answer === null ? { status: 'spent' } : { status: 'again', answer: old.answer };
      if (answer === null) return { status: 'invalid' };
      // One current refresh token and one previous per grant: the older previous one goes now,
      // since its successor (the token being rotated) has been used.
      this.stmt.dropOtherRefresh.run(old.grant_id, oldHash);
      this.stmt.markReplaced.run(now, answer, oldHash);
      for (const t of tokens) this.stmt.insertToken.run(t);
      return { status: 'issued' };
    }).immediate();
    if (result.status === 'issued') this.scrub();
    return result;
  }

  async deleteToken({ hash }: CredentialRef): Promise<void> {
    if (this.stmt.deleteToken.run(hash).changes > 0) {
      this.revocations++;
      this.scrub();
    }
  }

  /**
   * Moves everything into the main file and empties the WAL, so a credential just deleted or
   * emptied (zeroed there by secure_delete) survives in no older page image of the WAL: a copy of
   * DATA_DIR taken afterwards cannot open anything with a dead token. It costs a checkpoint per
   * token exchange and revocation, never per MCP request. A reader in another process (the admin
   * CLI) can leave the checkpoint partial; busy_timeout 0 keeps it from blocking the event loop,
   * and the next scrub completes it.
   */
  private scrub(): void {
    this.db.pragma('busy_timeout = 0');
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A busy or failing checkpoint is retried by the next scrub; the write itself is committed.
    } finally {
      this.db.pragma('busy_timeout = 5000');
    }
  }

  async countLiveCredentials(grantId: string, now: number): Promise<number> {
    return this.stmt.countLive.get({ grantId, now })?.n ?? 0;
  }

  async getGrant(grantId: string): Promise<GrantRecord | null> {
    const row = this.stmt.getGrant.get(grantId);
    return row ? toGrant(row) : null;
  }

  async listGrantsByUser(notionUserId: string): Promise<GrantRecord[]> {
    return this.stmt.grantsByUser.all(notionUserId).map(toGrant);
  }

  async listGrants(): Promise<GrantRecord[]> {
    return this.stmt.allGrants.all().map(toGrant);
  }

  async deleteGrant(grantId: string): Promise<void> {
    if (this.stmt.deleteGrant.run(grantId).changes > 0) {
      this.revocations++;
      this.scrub();
    }
  }

  async updateGrantNotion(grantId: string, sealedNotion: string): Promise<void> {
    this.stmt.updateNotion.run(sealedNotion, grantId);
  }

  async updateGrantSettings(grantId: string, scope: string, info: GrantRecord['info']): Promise<void> {
    if (this.stmt.updateSettings.run(scope, JSON.stringify(info), grantId).changes > 0) this.revocations++;
  }

  async touchGrant(grantId: string, now: number): Promise<void> {
    this.stmt.touchGrant.run(now, grantId);
  }

  /**
   * One row per grant per batch (its entries as one JSON array): a batch costs a row write per
   * grant in it rather than per entry, which is what keeps recording cheap on the /mcp path
   * (bench/activity.ts). It commits without waiting for the disk (synchronous=NORMAL, for this
   * transaction only): a power loss may cost the last batch, as a crash costs the entries still
   * buffered; the next synchronous=FULL commit makes it durable with everything before it.
   */
  async appendActivity(entries: ActivityEntry[]): Promise<void> {
    const byGrant = new Map<string, StoredEntry[]>();
    for (const { grantId, ...rest } of entries) {
      const list = byGrant.get(grantId);
      if (list) list.push(rest);
      else byGrant.set(grantId, [rest]);
    }
    this.db.pragma('synchronous = NORMAL');
    try {
      this.db.transaction(() => {
        for (const [grantId, list] of byGrant) {
          // Entries arrive in the order their ids were made; a clock set back is the exception.
          if (list.some((e, i) => i > 0 && list[i - 1]!.id > e.id)) list.sort((a, b) => (a.id < b.id ? -1 : 1));
          const last = list.at(-1)!;
          const row = { grantId, firstId: list[0]!.id, lastId: last.id, lastAt: last.at, n: list.length, entries: JSON.stringify(list) };
          if (this.stmt.insertChunk.run(row).changes > 0) this.trimActivity(grantId);
        }
      })();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /**
   * Drops a grant's oldest rows while the newest ACTIVITY_MAX_PER_GRANT entries stay: whole rows
   * only, so a busy connection's log is appended to and deleted from, never rewritten (rewriting
   * the oldest row on every flush doubled the bytes written). At most one row's worth more is kept.
   */
  private trimActivity(grantId: string): void {
    let excess = this.stmt.countActivity.get(grantId)! - ACTIVITY_MAX_PER_GRANT;
    if (excess <= 0) return;
    for (const c of this.stmt.oldestChunks.all(grantId, excess)) {
      if (c.n > excess) return;
      this.stmt.dropChunk.run(grantId, c.first_id);
      excess -= c.n;
    }
  }

  async listActivity(grantId: string, limit: number, before = '~'): Promise<ActivityEntry[]> {
    // '~' sorts after every id (digits and '-'), so no `before` means from the newest.
    const out: ActivityEntry[] = [];
    for (const c of this.stmt.chunksBefore.iterate(grantId, before)) {
      const list = JSON.parse(c.entries) as StoredEntry[];
      for (let i = list.length - 1; i >= 0 && out.length < limit; i--) if (list[i]!.id < before) out.push({ ...list[i]!, grantId });
      if (out.length >= limit) break;
    }
    return out;
  }

  async getActivity(grantId: string, id: string): Promise<ActivityEntry | null> {
    for (const c of this.stmt.chunkOf.all(grantId, id, id)) {
      const found = (JSON.parse(c.entries) as StoredEntry[]).find((e) => e.id === id);
      if (found) return { ...found, grantId };
    }
    return null;
  }

  /**
   * Removes expired rows in bounded batches, one short transaction each, and yields to the event
   * loop between them: one transaction over 100,000 expired grants held the loop for 741 ms
   * (bench/sweep.ts).
   */
  async sweep(now: number, clientIdleMs?: number, activityBefore?: number): Promise<number> {
    const db = this.db;
    /** Runs a DELETE whose last parameter is the batch size until it deletes nothing. */
    const drain = async (sql: string, ...args: unknown[]): Promise<number> => {
      const stmt = db.prepare(sql);
      let total = 0;
      for (let n = stmt.run(...args, SWEEP_BATCH).changes; n > 0; n = stmt.run(...args, SWEEP_BATCH).changes) {
        total += n;
        await yieldToLoop();
      }
      return total;
    };
    let removed = 0;
    for (const table of ['flows', 'tokens', 'codes']) {
      removed += await drain(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at <= ? LIMIT ?)`, now);
    }
    // A grant with nothing left that could ever use it is dead. Walked by id, so each batch reads
    // only new rows; the range delete holds exactly the ids just read (same transaction).
    const nextIds = db.prepare('SELECT id FROM grants WHERE id > ? ORDER BY id LIMIT ?').pluck();
    const deleteOrphans = db.prepare(
      `DELETE FROM grants WHERE id >= ? AND id <= ?
         AND NOT EXISTS (SELECT 1 FROM tokens WHERE tokens.grant_id = grants.id)
         AND NOT EXISTS (SELECT 1 FROM codes WHERE codes.grant_id = grants.id)`,
    );
    const orphanBatch = db.transaction((after: string): string | undefined => {
      const ids = nextIds.all(after, SWEEP_BATCH) as string[];
      if (ids.length === 0) return undefined;
      removed += deleteOrphans.run(ids[0], ids.at(-1)).changes;
      return ids.at(-1);
    });
    for (let after = orphanBatch(''); after !== undefined; after = orphanBatch(after)) await yieldToLoop();
    if (activityBefore !== undefined) {
      // Per batch: its entries go once its newest one is older than the cutoff.
      removed += await drain('DELETE FROM activity WHERE rowid IN (SELECT rowid FROM activity WHERE last_at < ? LIMIT ?)', activityBefore);
    }
    if (clientIdleMs !== undefined) {
      removed += await drain(
        `DELETE FROM clients WHERE rowid IN (SELECT rowid FROM clients WHERE created_at < ?
           AND NOT EXISTS (SELECT 1 FROM grants WHERE grants.client_id = clients.client_id) LIMIT ?)`,
        now - clientIdleMs,
      );
    }
    if (removed > 0) this.scrub();
    return removed;
  }

  async stats(now: number): Promise<StoreStats> {
    const one = (sql: string, ...args: unknown[]) =>
      (this.db.prepare(sql).get(...args) as { n: number }).n;
    return {
      clients: one('SELECT COUNT(*) AS n FROM clients'),
      grants: one('SELECT COUNT(*) AS n FROM grants'),
      liveTokens: one('SELECT COUNT(*) AS n FROM tokens WHERE expires_at > ?', now),
      pendingFlows: one('SELECT COUNT(*) AS n FROM flows WHERE expires_at > ?', now),
    };
  }
}

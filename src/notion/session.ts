import { APIErrorCode, type Client, InvalidPathParameterError, isHTTPResponseError, RequestTimeoutError } from '@notionhq/client';
import { ToolError } from '../errors.js';
import { tracing, withResendCount } from '../lib/trace.js';
import type { Logger } from '../log.js';
import type { GrantRecord, Store } from '../store/types.js';
import { type CallLimiter, shuttingDown } from './call-limiter.js';
import type { NotionOAuth } from './oauth.js';
import { RATE_GATE_MAX_WAIT_MS, type RateGate } from './rate-gate.js';

const HINTS: Partial<Record<string, string>> = {
  [APIErrorCode.ObjectNotFound]:
    'Check the ID, and make sure the page or database is shared with this connector in Notion (••• menu → Connections).',
  [APIErrorCode.Unauthorized]:
    'Notion no longer accepts this connection. Reconnect the connector in Claude (Settings → Connectors) and pick the pages again.',
  [APIErrorCode.RestrictedResource]: 'The connection lacks the Notion capability for this action, or the page is not shared with it.',
};

/** The user's Notion credentials for one workspace, as sealed inside a grant. */
export interface NotionCredentials {
  accessToken: string;
  refreshToken: string | null;
}

/**
 * One workspace of a grant: its credentials, and its id and name (null on a grant made before
 * workspaces were recorded, whose one workspace is the grant's `notionWorkspaceId`).
 */
export interface WorkspaceCredentials extends NotionCredentials {
  id: string | null;
  name: string | null;
  /** The authorization's bot user (absent on credentials sealed before it was kept: the grant's `info.botId`). */
  botId?: string | null;
}

/**
 * The verified connection a session calls Notion for (the OAuth layer's AuthContext). The object is
 * shared by the requests of one token, so a refreshed Notion token set on it is seen by the next.
 */
export interface NotionAuth {
  grantId: string;
  notion: NotionCredentials;
  /** The unwrapped grant key, so a refreshed Notion token can be sealed again. */
  grantKey: Buffer;
  /** On a grant with several workspaces: which one these credentials are for (WorkspaceCredentials.id). */
  workspaceId?: string | null;
  /** The Notion bot user of this authorization (the token's `bot_id`): what this connection writes is by it. */
  botId?: string | null;
}

/** Opens and seals a grant's Notion credentials, one entry per workspace (the OAuth layer's Grants). */
export interface CredentialSeal {
  openWorkspaces(grant: GrantRecord, grantKey: Buffer): WorkspaceCredentials[];
  sealWorkspaces(grant: GrantRecord, grantKey: Buffer, workspaces: readonly WorkspaceCredentials[]): string;
}

/** A 429 or 529 whose Retry-After is this short is retried once; longer ones go back to the model. */
const SHORT_RETRY_MS = 2000;
const READ_RETRY_DELAY_MS = 250;
/**
 * The longest a Notion call can sleep between attempts (the rate gate's wait). A call that wakes
 * after shutdown stopped Notion calls ends with a tool error at once; the drain leaves this much time.
 */
export const LONGEST_PAUSE_MS = Math.max(RATE_GATE_MAX_WAIT_MS, SHORT_RETRY_MS, READ_RETRY_DELAY_MS);

function retryAfterMs(err: { headers?: unknown }): number | null {
  const headers = err.headers as { get?: (name: string) => string | null } | undefined;
  const raw = headers?.get?.('retry-after');
  if (!raw) return null;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : null;
}
/** What the session reports about its upstream calls; http/metrics implements it. */
export interface NotionMetrics {
  /** One finished call to Notion: its HTTP status, or `timeout` / `network` / `error`. */
  notionCall(status: string): void;
  /** A call repeated after `rate_limited` (429/529), `transient` (5xx, timeout, network) or `refreshed` (401). */
  notionRetry(reason: string): void;
  /** How long one answered request to an endpoint group took (see endpointGroup in fetch.ts). */
  notionLatencyOf(group: string, seconds: number): void;
}

/** Maps whatever the Notion SDK throws to a tool error that keeps Notion's code and message. */
export function toToolError(err: unknown): ToolError {
  if (err instanceof ToolError) return err;
  if (isHTTPResponseError(err)) {
    const hint = HINTS[err.code];
    const extra: Record<string, unknown> = { status: err.status };
    if (hint) extra.hint = hint;
    if (err.status === 429 || err.status === 529) {
      const ms = retryAfterMs(err);
      extra.retry_after_seconds = ms === null ? 60 : Math.ceil(ms / 1000);
      const reason = err.additional_data?.rate_limit_reason;
      if (reason) extra.rate_limit_reason = reason;
    }
    return new ToolError(err.code, err.message, extra);
  }
  if (RequestTimeoutError.isRequestTimeoutError(err)) {
    return new ToolError('notion_timeout', 'Notion did not answer in time. Try again in a moment.');
  }
  if (isNetworkError(err)) return new ToolError('notion_unreachable', 'Notion could not be reached. Try again in a moment.');
  if (InvalidPathParameterError.isInvalidPathParameterError(err) || err instanceof URIError) {
    return new ToolError('invalid_arguments', 'An ID or property name contains characters Notion does not accept.');
  }
  return new ToolError('internal_error', 'The connector failed to call Notion.');
}

const accessRevoked = () =>
  new ToolError(
    'notion_access_revoked',
    "Notion has revoked this connection's access (the connection was removed in Notion). Reconnect the connector in Claude (Settings → Connectors) and pick the pages again.",
  );

/** fetch() rejects with a TypeError when the connection fails (refused, reset, DNS). */
const isNetworkError = (err: unknown) => err instanceof TypeError && /fetch failed|network/i.test(err.message);

/** The metric label of a failed call: Notion's HTTP status, else what went wrong. */
const callStatus = (err: unknown): string =>
  isHTTPResponseError(err) ? String(err.status) : RequestTimeoutError.isRequestTimeoutError(err) ? 'timeout' : isNetworkError(err) ? 'network' : 'error';
const isRateLimit = (err: unknown) => isHTTPResponseError(err) && (err.status === 429 || err.status === 529);
const isTransient = (err: unknown) =>
  (isHTTPResponseError(err) && err.status >= 500 && err.status !== 529) ||
  RequestTimeoutError.isRequestTimeoutError(err) ||
  isNetworkError(err);
const isUnauthorized = (err: unknown) => isHTTPResponseError(err) && err.status === 401;

/**
 * Refreshes a grant's Notion token when Notion answers 401, once per grant at a time: concurrent
 * requests of the same grant wait for the one refresh and then use its result. The rotated pair
 * is sealed again under the grant key before anyone uses it.
 */
export class NotionRefresher {
  private readonly inflight = new Map<string, Promise<NotionCredentials | null>>();
  /** Per grant, the last refresh queued: a grant's workspaces share one sealed list, so their refreshes rewrite it one after another. */
  private readonly queued = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly grants: CredentialSeal,
    private readonly oauth: NotionOAuth,
    private readonly log: Logger,
  ) {}

  refresh(auth: NotionAuth, rejectedToken: string): Promise<NotionCredentials | null> {
    // One refresh at a time per workspace of a grant: each workspace has its own refresh token.
    const key = auth.workspaceId ? `${auth.grantId}/${auth.workspaceId}` : auth.grantId;
    const running = this.inflight.get(key);
    if (running) return running;
    const before = this.queued.get(auth.grantId);
    const job = (before ? before.then(() => this.run(auth, rejectedToken)) : this.run(auth, rejectedToken)).finally(() => {
      this.inflight.delete(key);
      if (this.queued.get(auth.grantId) === last) this.queued.delete(auth.grantId);
    });
    const last = job.catch(() => undefined);
    this.inflight.set(key, job);
    this.queued.set(auth.grantId, last);
    return job;
  }

  private async run(auth: NotionAuth, rejectedToken: string): Promise<NotionCredentials | null> {
    const grant = await this.store.getGrant(auth.grantId);
    if (!grant) return null;
    const all = this.grants.openWorkspaces(grant, auth.grantKey);
    const at = auth.workspaceId ? all.findIndex((w) => w.id === auth.workspaceId) : 0;
    const current = all[at];
    // The workspace was removed meanwhile (Your connections): nothing to refresh.
    if (!current) return null;
    // Another request already refreshed: use its token rather than spend the refresh token again.
    if (current.accessToken !== rejectedToken) return current;
    if (!current.refreshToken) return null;
    try {
      const res = await this.oauth.refresh(current.refreshToken);
      const next = { ...current, accessToken: res.access_token, refreshToken: res.refresh_token ?? current.refreshToken };
      all[at] = next;
      await this.store.updateGrantNotion(grant.id, this.grants.sealWorkspaces(grant, auth.grantKey, all));
      this.log.info({ grantId: grant.id }, 'notion token refreshed');
      return next;
    } catch (err) {
      this.log.warn({ grantId: grant.id, status: (err as { status?: number }).status }, 'notion token refresh failed');
      return null;
    }
  }

  /**
   * Whether Notion says a token it refused is no longer active: the user removed the connection
   * or its access in Notion. False when Notion cannot tell (the introspection failed).
   */
  async isRevoked(auth: NotionAuth, token: string): Promise<boolean> {
    try {
      if (await this.oauth.isActive(token)) return false;
      this.log.info({ grantId: auth.grantId }, 'notion token no longer active');
      return true;
    } catch {
      return false;
    }
  }
}

export interface NotionDeps {
  client: Client;
  gate: RateGate;
  /** The per-connection cap on calls in flight. */
  limiter: CallLimiter;
  /** Aborted at shutdown: calls in flight fail, and every later call is a `shutting_down` tool error. */
  stopping: AbortSignal;
  refresher: NotionRefresher;
  /** Counts upstream calls, 429s and retries; absent in some tests. */
  metrics?: NotionMetrics;
  /** NOTION_API_BASE_URL's origin (a stand-in for Notion serves its files there too). */
  apiOrigin?: string;
}

type Call<T> = (client: Client, auth: string) => Promise<T>;
type Query = NonNullable<Parameters<Client['request']>[0]['query']>;

/**
 * The current user's view of Notion for one MCP request: the shared SDK client plus the token
 * from this request's verified grant. Every call passes the per-connection rate gate, then takes
 * one of the connection's slots for calls in flight (CallLimiter) for exactly one attempt.
 * - `read` retries once on a 5xx, timeout or network error (safe to repeat);
 * - `write` never retries those, so nothing is created twice;
 * - both retry once after a 429/529 whose Retry-After is at most 2 s, and once after a 401
 *   that a Notion token refresh fixed.
 */
export class NotionSession {
  /**
   * @param others On a grant with several workspaces, the ones to try after `auth`'s when Notion
   *   answers object_not_found (workspace-router.ts): an object lives in one workspace only, and a
   *   404 means nothing was read or written, so trying the next is safe for writes too.
   */
  constructor(
    private readonly deps: NotionDeps,
    private auth: NotionAuth,
    private readonly others?: NotionAuth[],
  ) {}

  read<T>(fn: Call<T>): Promise<T> {
    return this.others ? this.routed(fn, true) : this.run(this.auth, fn, true);
  }

  write<T>(fn: Call<T>): Promise<T> {
    return this.others ? this.routed(fn, false) : this.run(this.auth, fn, false);
  }

  /** The workspace (its credentials' owner) the last answered call went to. */
  get current(): NotionAuth {
    return this.auth;
  }

  /**
   * Tries the workspace that answered last, then the others in turn while Notion answers
   * object_not_found. The one that answers becomes the first to try for the call's next requests.
   */
  private async routed<T>(fn: Call<T>, idempotent: boolean): Promise<T> {
    const order = [this.auth, ...this.others!];
    for (let i = 0; ; i++) {
      const auth = order[i]!;
      try {
        const result = await this.run(auth, fn, idempotent);
        // Not found there when a concurrent call of the same tool already moved it first.
        const at = i > 0 ? this.others!.indexOf(auth) : -1;
        if (at >= 0) {
          this.others!.splice(at, 1, this.auth);
          this.auth = auth;
        }
        return result;
      } catch (err) {
        if (i + 1 >= order.length || !(err instanceof ToolError) || err.code !== APIErrorCode.ObjectNotFound) throw err;
      }
    }
  }

  /** NOTION_API_BASE_URL's origin, when known. */
  get apiOrigin(): string | undefined {
    return this.deps.apiOrigin;
  }

  /**
   * A read by GET, through `Client.request` with the endpoint's path; query values left undefined
   * are not sent. The SDK's typed GET methods (`pages.retrieve`…) only re-pick parameters the tool
   * schemas validated already, which cost about 8% of a get_page call's CPU (docs/benchmarks.md).
   * Calls with a JSON body keep the typed methods: their types check our bodies, and they send
   * `{}` rather than no body when every parameter is left out (search without arguments).
   */
  get<T extends object = object>(path: string, query?: Record<string, string | number | boolean | string[] | undefined>): Promise<T> {
    // The SDK skips undefined query values at run time; its type just does not admit them.
    return this.read((n, auth) => n.request<T>({ method: 'get', path, ...(query ? { query: query as Query } : {}), auth }));
  }

  private async run<T>(auth: NotionAuth, fn: Call<T>, idempotent: boolean): Promise<T> {
    const { gate, limiter, stopping, metrics } = this.deps;
    const key = auth.grantId;
    let retriedTransient = false;
    let retriedRate = false;
    let refreshed = false;
    // Each pass is one attempt; a retry's Notion request is a resend (http.request.resend_count).
    for (let attempt = 0; ; attempt++) {
      await gate.take(key);
      if (stopping.aborted) throw shuttingDown();
      const queued = limiter.acquire(key);
      if (queued) await queued;
      const token = auth.notion.accessToken;
      let err: unknown;
      try {
        const client = this.deps.client;
        const result = await (attempt > 0 && tracing() ? withResendCount(attempt, () => fn(client, token)) : fn(client, token));
        metrics?.notionCall('200');
        return result;
      } catch (e) {
        err = e;
      } finally {
        // One slot per attempt, given back before any retry wait or token refresh below.
        limiter.release(key);
      }
      metrics?.notionCall(callStatus(err));
      if (stopping.aborted) throw shuttingDown();
      if (isRateLimit(err) && !retriedRate) {
        const wait = retryAfterMs(err as { headers?: unknown }) ?? Infinity;
        if (wait <= SHORT_RETRY_MS) {
          retriedRate = true;
          metrics?.notionRetry('rate_limited');
          await new Promise((r) => setTimeout(r, wait));
          continue;
        }
      } else if (isUnauthorized(err) && !refreshed) {
        refreshed = true;
        const next = await this.deps.refresher.refresh(auth, token);
        if (stopping.aborted) throw shuttingDown();
        if (next) {
          auth.notion = next;
          metrics?.notionRetry('refreshed');
          continue;
        }
        // Tell a connection whose access was revoked in Notion apart from other refusals.
        if (await this.deps.refresher.isRevoked(auth, token)) throw accessRevoked();
      } else if (idempotent && isTransient(err) && !retriedTransient) {
        retriedTransient = true;
        metrics?.notionRetry('transient');
        await new Promise((r) => setTimeout(r, READ_RETRY_DELAY_MS));
        continue;
      }
      throw toToolError(err);
    }
  }
}

/**
 * A fake Notion HTTP API (version 2026-03-11) for black-box tests.
 *
 * The product under test is pointed at `fake.url` and calls `<url>/v1/...` exactly as it would
 * call https://api.notion.com. Every request is recorded verbatim in `fake.requests` (arrival
 * order, lower-cased headers, parsed JSON body) so tests can assert on what was sent.
 *
 * Response order for each request:
 *   1. `down`            -> the socket is destroyed, nothing is answered (the request is still recorded);
 *      `hangTokens`      -> a call with one of these bearer tokens is never answered (socket left open);
 *   2. `enqueue()`       -> the first queued response whose `pathPrefix` matches, returned verbatim;
 *   3. `setHandler()`    -> the test's handler, unless it returns undefined;
 *   4. default behaviour -> Notion-Version check, client/bearer auth, then the route tables below.
 * A GET of a path in `files` is answered with its bytes before 2–4 (see "File bytes").
 * `latencyMs` (plus a queued `delayMs`) delays every answer.
 *
 * Shapes follow /work/shared/docs/notion-api.md and the 2026-03-11 API (`in_trash`, no `archived`).
 * To add an endpoint, add a row to OAUTH_ROUTES or API_ROUTES. Data source queries run on the
 * rows of `dataSources` (fake-query.ts).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type FakeDataSource, QueryError, runFakeQuery } from './fake-query.js';

export type { FakeDataSource } from './fake-query.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export interface RecordedRequest {
  method: string;
  /** Path as received, without the query string (not percent-decoded). */
  path: string;
  /** Query parameters; a repeated key (`?filter_properties=a&filter_properties=b`) is joined with ','. */
  query: Record<string, string>;
  /** Lower-cased header names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** Parsed JSON body, else the raw string, or undefined when the body was empty. */
  body: unknown;
}

export interface NotionUser {
  id: string;
  name: string;
  email: string;
}

export interface FakeWorkspace {
  id: string;
  name: string;
  botId: string;
  user: NotionUser;
}

export interface FakeResponse {
  status: number;
  /** A string is sent as-is (text/plain); anything else other than undefined as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface QueuedResponse extends FakeResponse {
  /** Extra delay for this response only, on top of `latencyMs`. */
  delayMs?: number;
  /** Only consumed by a request whose path starts with this (e.g. '/v1/search'). */
  pathPrefix?: string;
}

export type FakeHandler = (req: RecordedRequest) => FakeResponse | undefined;
/** A handler that answers later, e.g. once the test has seen something happen meanwhile. */
export type AsyncFakeHandler = (req: RecordedRequest) => Promise<FakeResponse | undefined>;

export interface IssueCodeOptions {
  /** Whether the token response carries a refresh token (Notion may send `null`). Default true. */
  refreshToken?: boolean;
  /** When set, the token request must carry this exact `redirect_uri`, else invalid_grant. */
  redirectUri?: string;
}

export interface FakeNotion {
  /** e.g. http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  /** The OAuth client the fake accepts (Basic auth on /v1/oauth/*). */
  clientId: string;
  clientSecret: string;
  /** Issues a Notion authorization code for a workspace, as Notion's consent screen would. Single use. */
  issueCode(ws: FakeWorkspace, opts?: IssueCodeOptions): string;
  /** Live access tokens -> workspace. Tests may add tokens directly. */
  tokens: Map<string, FakeWorkspace>;
  /** Tokens revoked through /v1/oauth/revoke. */
  revoked: Set<string>;
  /** Overrides the next responses (FIFO), optionally only for requests under a path prefix. */
  enqueue(r: QueuedResponse): void;
  /** Test handler consulted before the defaults; return undefined to fall through. null removes it. */
  setHandler(fn: FakeHandler | AsyncFakeHandler | null): void;
  /** Artificial delay added to every response (default 0). */
  latencyMs: number;
  /**
   * The workspace whose user is "signed in" on the fake consent screen at
   * GET /v1/oauth/authorize (what Notion's page picker would do). Null: the screen says so.
   */
  authorizeAs: FakeWorkspace | null;
  /** Whether codes from the consent screen come with a refresh token (Notion may send null). */
  consentRefreshTokens: boolean;
  /** When true, sockets are destroyed without an answer (simulated outage). */
  down: boolean;
  /** Notion access tokens whose calls hang: recorded, never answered, the socket left open. */
  hangTokens: Set<string>;
  /** The hung calls whose sockets are still open (a call leaves when the client gives up on it). */
  hanging: Set<RecordedRequest>;
  /**
   * Data sources with rows, by dashed ID, for every workspace: GET /v1/data_sources/{id} answers
   * their schema and POST /v1/data_sources/{id}/query queries their rows (fake-query.ts).
   */
  dataSources: Map<string, FakeDataSource>;
  /** What GET /v1/users lists (user objects); empty: the workspace's own user and bot. */
  users: Record<string, unknown>[];
  /**
   * Object id (dashed) -> the id of the workspace it lives in: a token of any other workspace gets
   * 404 object_not_found for it. A workspace's shared content is its own once a token was issued
   * for it, and so is every page created through it; other ids are found in every workspace.
   */
  owners: Map<string, string>;
  /** Clears requests, queue, handler, hangTokens and `served`, and restores latencyMs = 0, down = false. Tokens, data sources, users and files are kept. */
  reset(): void;
  /** Files (S3's part, for Notion-hosted file URLs): see "File bytes" below. */
  files: Map<string, FakeFile>;
  /** Bytes of each file path written to the socket so far. */
  served: Map<string, number>;
  close(): Promise<void>;
}

export interface StartFakeNotionOptions {
  clientId?: string;
  clientSecret?: string;
  /** Default 0 (any free port). */
  port?: number;
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const DEFAULT_CLIENT_ID = uuidFrom('fake-notion:oauth-client');
const DEFAULT_CLIENT_SECRET = 'secret_fakeNotionClientSecret0123456789abcdef';
const BOT_NAME = 'Notion MCP (fake connector)';
const CREATED_TIME = '2026-01-15T09:30:00.000Z';
const LAST_EDITED_TIME = '2026-03-20T14:05:00.000Z';
const MAX_PAGE_SIZE = 100;
const MAX_FILE_UPLOAD_SIZE_BYTES = 5 * 1024 ** 3;
/** Page ids with this prefix do not exist (404 object_not_found). */
const MISSING_ID_PREFIX = '00000000';

/**
 * A deterministic workspace for `n`: numbers 1, 2, ... 26, 27 map to A, B, ... Z, AA
 * (other numbers and strings are used as-is). `fakeWorkspace(1)` equals `fakeWorkspace('A')`:
 * "Workspace A", bot of "Workspace A", user "User A" <user-a@example.com>.
 */
export function fakeWorkspace(n: number | string): FakeWorkspace {
  const label = typeof n === 'number' ? letters(n) : n;
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';
  return {
    id: uuidFrom(`workspace:${label}`),
    name: `Workspace ${label}`,
    botId: uuidFrom(`bot:${label}`),
    user: { id: uuidFrom(`user:${label}`), name: `User ${label}`, email: `user-${slug}@example.com` },
  };
}

function letters(n: number): string {
  if (!Number.isInteger(n) || n < 1) return String(n);
  let out = '';
  for (let rest = n; rest > 0; rest = Math.floor((rest - 1) / 26)) {
    out = String.fromCharCode(65 + ((rest - 1) % 26)) + out;
  }
  return out;
}

/** A deterministic UUID-v4-shaped id derived from `seed`. */
function uuidFrom(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex').split('');
  hex[12] = '4';
  hex[16] = '89ab'[parseInt(hex[16] ?? '0', 16) % 4] ?? '8';
  return formatUuid(hex.slice(0, 32).join(''));
}

function formatUuid(hex32: string): string {
  const h = hex32.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Notion accepts ids with or without dashes and answers with the dashed form. */
function normalizeId(raw: string): string | undefined {
  const hex = raw.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined;
  if (raw.includes('-') && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw)) {
    return undefined;
  }
  return formatUuid(hex);
}

const dashless = (id: string): string => id.replace(/-/g, '');
const slugify = (title: string): string => title.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
const randomToken = (prefix: string): string => prefix + randomBytes(24).toString('hex');

function richText(content: string): Record<string, unknown> {
  return {
    type: 'text',
    text: { content, link: null },
    annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' },
    plain_text: content,
    href: null,
  };
}

const partialUser = (id: string) => ({ object: 'user', id });

function personUser(user: NotionUser): Record<string, unknown> {
  return { object: 'user', id: user.id, name: user.name, avatar_url: null, type: 'person', person: { email: user.email } };
}

/** The title of any page in a workspace; it names the workspace so tests can tell whose token was used. */
export function fakePageTitle(pageId: string, ws: FakeWorkspace): string {
  return `Page ${pageId.slice(0, 8)} of ${ws.name}`;
}

function pageObject(id: string, ws: FakeWorkspace, lastEditedTime = LAST_EDITED_TIME): Record<string, unknown> {
  const title = fakePageTitle(id, ws);
  return {
    object: 'page',
    id,
    created_time: CREATED_TIME,
    last_edited_time: lastEditedTime,
    created_by: partialUser(ws.user.id),
    last_edited_by: partialUser(ws.user.id),
    cover: null,
    icon: { type: 'emoji', emoji: '📄' },
    parent: { type: 'workspace', workspace: true },
    in_trash: false,
    is_locked: false,
    properties: { title: { id: 'title', type: 'title', title: [richText(title)] } },
    url: `https://www.notion.so/${slugify(title)}-${dashless(id)}`,
    public_url: null,
  };
}

function dataSourceObject(id: string, databaseId: string, title: string, ws: FakeWorkspace, lastEditedTime: string) {
  return {
    object: 'data_source',
    id,
    title: [richText(title)],
    description: [],
    parent: { type: 'database_id', database_id: databaseId },
    database_parent: { type: 'workspace', workspace: true },
    is_inline: false,
    in_trash: false,
    created_time: CREATED_TIME,
    last_edited_time: lastEditedTime,
    created_by: partialUser(ws.user.id),
    last_edited_by: partialUser(ws.user.id),
    properties: {
      Name: { id: 'title', name: 'Name', description: null, type: 'title', title: {} },
      Done: { id: 'Xk%3Dp', name: 'Done', description: null, type: 'checkbox', checkbox: {} },
    },
    icon: { type: 'emoji', emoji: '✅' },
    cover: null,
    url: `https://www.notion.so/${dashless(databaseId)}`,
    public_url: null,
  };
}

function databaseObject(id: string, dataSourceId: string, title: string, ws: FakeWorkspace): Record<string, unknown> {
  return {
    object: 'database',
    id,
    title: [richText(title)],
    description: [],
    parent: { type: 'workspace', workspace: true },
    is_inline: false,
    in_trash: false,
    is_locked: false,
    created_time: CREATED_TIME,
    last_edited_time: LAST_EDITED_TIME,
    created_by: partialUser(ws.user.id),
    last_edited_by: partialUser(ws.user.id),
    data_sources: [{ id: dataSourceId, name: title }],
    icon: { type: 'emoji', emoji: '✅' },
    cover: null,
    url: `https://www.notion.so/${dashless(id)}`,
    public_url: null,
  };
}

/** The one database a workspace shares and its one data source (the data source `search` lists). */
export function fakeDatabase(ws: FakeWorkspace): { databaseId: string; dataSourceId: string; title: string } {
  return { databaseId: uuidFrom(`${ws.id}:database:1`), dataSourceId: uuidFrom(`${ws.id}:data_source:1`), title: `Tasks of ${ws.name}` };
}

/**
 * What an ID names in a workspace: its database, its data source, nothing (the missing prefix),
 * or else a page. Notion keeps the kinds apart: a page endpoint does not answer for a database.
 */
function kindOf(id: string, ws: FakeWorkspace, state: ServerState): 'page' | 'database' | 'data_source' | undefined {
  // An object of another workspace is not found, as Notion answers a token of another workspace.
  const owner = state.owners.get(id);
  if (owner !== undefined && owner !== ws.id) return undefined;
  const db = fakeDatabase(ws);
  if (id === db.databaseId) return 'database';
  if (id === db.dataSourceId) return 'data_source';
  return id.startsWith(MISSING_ID_PREFIX) ? undefined : 'page';
}

interface SearchItem {
  object: 'page' | 'data_source';
  title: string;
  lastEditedTime: string;
  value: Record<string, unknown>;
}

/** What a workspace shares with the connector: 2 pages and 1 data source, most recently edited first. */
function workspaceContent(ws: FakeWorkspace): SearchItem[] {
  const page = (n: number, lastEditedTime: string): SearchItem => {
    const id = uuidFrom(`${ws.id}:page:${n}`);
    return { object: 'page', title: fakePageTitle(id, ws), lastEditedTime, value: pageObject(id, ws, lastEditedTime) };
  };
  const { databaseId, dataSourceId: dsId, title: dsTitle } = fakeDatabase(ws);
  const dsEdited = '2026-03-19T08:00:00.000Z';
  const ds = dataSourceObject(dsId, databaseId, dsTitle, ws, dsEdited);
  return [
    page(1, '2026-03-20T14:05:00.000Z'),
    { object: 'data_source', title: dsTitle, lastEditedTime: dsEdited, value: ds },
    page(2, '2026-03-18T11:45:00.000Z'),
  ];
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** A Notion API error; `request_id` is added when the response is sent. */
function notionError(status: number, code: string, message: string): FakeResponse {
  return { status, body: { object: 'error', status, code, message } };
}

/** An OAuth error body (RFC 6749 §5.2), as Notion's /v1/oauth/* endpoints answer. */
function oauthError(status: number, error: string, description?: string): FakeResponse {
  return { status, body: description === undefined ? { error } : { error, error_description: description } };
}

const invalidRequestUrl = (): FakeResponse => notionError(404, 'invalid_request_url', 'Invalid request URL.');
const validationError = (message: string): FakeResponse => notionError(400, 'validation_error', message);

// ---------------------------------------------------------------------------------------------
// State and routing
// ---------------------------------------------------------------------------------------------

interface TokenGrant {
  workspace: FakeWorkspace;
  accessToken: string;
  refreshToken: string | null;
}

interface PendingCode {
  workspace: FakeWorkspace;
  refreshToken: boolean;
  redirectUri: string | undefined;
}

interface ServerState {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tokens: Map<string, FakeWorkspace>;
  readonly revoked: Set<string>;
  readonly codes: Map<string, PendingCode>;
  /** refresh token -> its grant */
  readonly refreshGrants: Map<string, TokenGrant>;
  readonly dataSources: Map<string, FakeDataSource>;
  readonly users: Record<string, unknown>[];
  /** Object id (dashed) -> the id of the workspace it lives in; other workspaces get 404 for it. */
  readonly owners: Map<string, string>;
}

interface RouteContext {
  req: RecordedRequest;
  state: ServerState;
  /** Decoded `:name` path segments. */
  params: Record<string, string>;
}

interface ApiContext extends RouteContext {
  /** The workspace of the bearer token. */
  workspace: FakeWorkspace;
  token: string;
}

interface Route<C extends RouteContext> {
  method: string;
  pattern: string;
  regex: RegExp;
  keys: string[];
  handler: (ctx: C) => FakeResponse;
}

/** A route row; `pattern` uses `:name` segments, e.g. '/v1/pages/:page_id'. */
function route<C extends RouteContext>(method: string, pattern: string, handler: (ctx: C) => FakeResponse): Route<C> {
  const keys: string[] = [];
  const source = pattern
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      keys.push(segment.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { method, pattern, regex: new RegExp(`^${source}$`), keys, handler };
}

/** The first row matching method and path (so put '/v1/users/me' before '/v1/users/:user_id'). */
function matchRoute<C extends RouteContext>(routes: readonly Route<C>[], req: RecordedRequest) {
  for (const r of routes) {
    if (r.method !== req.method) continue;
    const m = r.regex.exec(req.path);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((key, i) => {
      const raw = m[i + 1] ?? '';
      try {
        params[key] = decodeURIComponent(raw);
      } catch {
        params[key] = raw;
      }
    });
    return { route: r, params };
  }
  return undefined;
}

/** OAuth endpoints: Basic client authentication, OAuth-style errors. */
const OAUTH_ROUTES: readonly Route<RouteContext>[] = [
  route('POST', '/v1/oauth/token', oauthToken),
  route('POST', '/v1/oauth/revoke', oauthRevoke),
  route('POST', '/v1/oauth/introspect', oauthIntrospect),
];

/** Notion API endpoints: Bearer token of a live grant. Add more endpoints here. */
const API_ROUTES: readonly Route<ApiContext>[] = [
  route('POST', '/v1/search', search),
  route('GET', '/v1/pages/:page_id', retrievePage),
  route('GET', '/v1/pages/:page_id/markdown', retrievePageMarkdown),
  route('GET', '/v1/blocks/:block_id', retrieveBlock),
  route('POST', '/v1/pages', createPage),
  route('POST', '/v1/pages/:page_id/move', movePage),
  route('GET', '/v1/databases/:database_id', retrieveDatabase),
  route('GET', '/v1/data_sources/:data_source_id', retrieveDataSource),
  route('POST', '/v1/data_sources/:data_source_id/query', queryDataSource),
  route('GET', '/v1/users', listUsers),
  route('GET', '/v1/users/me', retrieveBotUser),
];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasClientAuth(req: RecordedRequest, state: ServerState): boolean {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m?.[1]) return false;
  return Buffer.from(m[1], 'base64').toString('utf8') === `${state.clientId}:${state.clientSecret}`;
}

function bearerToken(req: RecordedRequest): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

/** The fake's own behaviour, once no queued response or test handler has answered. */
function defaultResponse(req: RecordedRequest, state: ServerState, invalidJson: boolean): FakeResponse {
  if (!req.headers['notion-version']) {
    return notionError(
      400,
      'missing_version',
      'Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.',
    );
  }
  if (req.path.startsWith('/v1/oauth/')) {
    if (!hasClientAuth(req, state)) return oauthError(401, 'invalid_client');
    const match = matchRoute(OAUTH_ROUTES, req);
    return match ? match.route.handler({ req, state, params: match.params }) : invalidRequestUrl();
  }
  if (!req.path.startsWith('/v1/')) return invalidRequestUrl();

  const token = bearerToken(req);
  const workspace = token === undefined ? undefined : state.tokens.get(token);
  if (token === undefined || workspace === undefined) {
    return notionError(401, 'unauthorized', 'API token is invalid.');
  }
  if (invalidJson) return notionError(400, 'invalid_json', 'Error parsing JSON body.');
  const match = matchRoute(API_ROUTES, req);
  return match ? match.route.handler({ req, state, params: match.params, workspace, token }) : invalidRequestUrl();
}

// ---------------------------------------------------------------------------------------------
// OAuth handlers
// ---------------------------------------------------------------------------------------------

function issueGrant(state: ServerState, workspace: FakeWorkspace, withRefresh: boolean): TokenGrant {
  const grant: TokenGrant = {
    workspace,
    accessToken: randomToken('ntn_'),
    refreshToken: withRefresh ? randomToken('nrt_') : null,
  };
  state.tokens.set(grant.accessToken, workspace);
  if (grant.refreshToken !== null) state.refreshGrants.set(grant.refreshToken, grant);
  // What the workspace shares lives in it: another workspace's token does not find it.
  for (const item of workspaceContent(workspace)) state.owners.set(String(item.value.id), workspace.id);
  const db = fakeDatabase(workspace);
  state.owners.set(db.databaseId, workspace.id).set(db.dataSourceId, workspace.id);
  return grant;
}

function tokenResponse({ workspace: ws, accessToken, refreshToken }: TokenGrant): FakeResponse {
  return {
    status: 200,
    body: {
      access_token: accessToken,
      token_type: 'bearer',
      refresh_token: refreshToken,
      bot_id: ws.botId,
      workspace_id: ws.id,
      workspace_name: ws.name,
      workspace_icon: null,
      owner: { type: 'user', user: personUser(ws.user) },
      duplicated_template_id: null,
    },
  };
}

function oauthToken({ req, state }: RouteContext): FakeResponse {
  const body = req.body;
  if (!isRecord(body)) return oauthError(400, 'invalid_request', 'Request body must be a JSON object.');

  if (body.grant_type === 'authorization_code') {
    const code = typeof body.code === 'string' ? body.code : '';
    const pending = state.codes.get(code);
    if (!pending) return oauthError(400, 'invalid_grant', 'Invalid code.');
    state.codes.delete(code); // single use, even when the request fails below
    if (pending.redirectUri !== undefined && body.redirect_uri !== pending.redirectUri) {
      return oauthError(400, 'invalid_grant', 'Invalid redirect_uri.');
    }
    return tokenResponse(issueGrant(state, pending.workspace, pending.refreshToken));
  }

  if (body.grant_type === 'refresh_token') {
    const refreshToken = typeof body.refresh_token === 'string' ? body.refresh_token : '';
    const old = state.refreshGrants.get(refreshToken);
    if (!old) return oauthError(400, 'invalid_grant', 'Invalid refresh token.');
    // Rotation: the old pair dies with the refresh.
    state.refreshGrants.delete(refreshToken);
    state.tokens.delete(old.accessToken);
    return tokenResponse(issueGrant(state, old.workspace, true));
  }

  return oauthError(400, 'unsupported_grant_type', `Unsupported grant_type: ${JSON.stringify(body.grant_type)}.`);
}

/** Revoking either token of a pair ends the whole grant. Unknown tokens are accepted (RFC 7009 §2.2). */
function oauthRevoke({ req, state }: RouteContext): FakeResponse {
  const token = isRecord(req.body) ? req.body.token : undefined;
  if (typeof token !== 'string' || token === '') return oauthError(400, 'invalid_request', 'Missing token.');
  state.revoked.add(token);
  state.tokens.delete(token);
  for (const [refreshToken, grant] of state.refreshGrants) {
    if (refreshToken === token || grant.accessToken === token) {
      state.refreshGrants.delete(refreshToken);
      state.tokens.delete(grant.accessToken);
    }
  }
  return { status: 200, body: {} };
}

function oauthIntrospect({ req, state }: RouteContext): FakeResponse {
  const token = isRecord(req.body) ? req.body.token : undefined;
  if (typeof token !== 'string' || token === '') return oauthError(400, 'invalid_request', 'Missing token.');
  return { status: 200, body: { active: state.tokens.has(token) || state.refreshGrants.has(token) } };
}

// ---------------------------------------------------------------------------------------------
// API handlers
// ---------------------------------------------------------------------------------------------

function search({ req, workspace }: ApiContext): FakeResponse {
  const body = isRecord(req.body) ? req.body : {};
  const pageSize = body.page_size ?? MAX_PAGE_SIZE;
  if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    return validationError(
      `body failed validation: body.page_size should be an integer between 1 and ${MAX_PAGE_SIZE}, instead was \`${JSON.stringify(pageSize)}\`.`,
    );
  }
  const query = typeof body.query === 'string' ? body.query.trim().toLowerCase() : '';
  const objectFilter = isRecord(body.filter) ? body.filter.value : undefined;
  const ascending = isRecord(body.sort) && body.sort.direction === 'ascending';

  const items = workspaceContent(workspace)
    .filter((item) => item.title.toLowerCase().includes(query))
    .filter((item) => objectFilter === undefined || item.object === objectFilter)
    .sort((a, b) => (ascending ? 1 : -1) * a.lastEditedTime.localeCompare(b.lastEditedTime));

  let start = 0;
  if (body.start_cursor !== undefined) {
    start = items.findIndex((item) => item.value.id === body.start_cursor);
    if (start < 0) {
      return validationError(`body failed validation: body.start_cursor should be a valid cursor, instead was \`${JSON.stringify(body.start_cursor)}\`.`);
    }
  }
  const pageItems = items.slice(start, start + pageSize);
  const next = items[start + pageSize];
  return {
    status: 200,
    body: {
      object: 'list',
      results: pageItems.map((item) => item.value),
      next_cursor: next ? String(next.value.id) : null,
      has_more: next !== undefined,
      type: 'page_or_data_source',
      page_or_data_source: {},
    },
  };
}

const notFound = (what: string, id: string): FakeResponse =>
  notionError(404, 'object_not_found', `Could not find ${what} with ID: ${id}. Make sure the relevant pages and databases are shared with your integration.`);
/** What Notion answers when a page ID is sent to the database endpoint and the other way round. */
const wrongKind = (id: string, is: string, isNot: string, api: string): FakeResponse =>
  validationError(`Provided ID ${id} is a ${is}, not a ${isNot}. Use the retrieve ${is} API instead, \`/v1/${api}/${id}\`.`);

function retrievePage({ params, workspace, state }: ApiContext): FakeResponse {
  const raw = params.page_id ?? '';
  const id = normalizeId(raw);
  if (id === undefined) {
    return validationError(`path failed validation: path.page_id should be a valid uuid, instead was \`"${raw}"\`.`);
  }
  const kind = kindOf(id, workspace, state);
  if (kind === 'database') return wrongKind(id, 'database', 'page', 'databases');
  if (kind !== 'page') return notFound('page', id);
  return { status: 200, body: pageObject(id, workspace) };
}

/** GET /v1/pages/{id}/markdown: a shared page's body (its title as a heading). */
function retrievePageMarkdown({ params, workspace, state }: ApiContext): FakeResponse {
  const raw = params.page_id ?? '';
  const id = normalizeId(raw);
  if (id === undefined) return validationError(`path failed validation: path.page_id should be a valid uuid, instead was \`"${raw}"\`.`);
  if (kindOf(id, workspace, state) !== 'page') return notFound('page', id);
  return { status: 200, body: { object: 'page_markdown', id, markdown: `# ${fakePageTitle(id, workspace)}`, truncated: false, unknown_block_ids: [] } };
}

/** GET /v1/blocks/{id}: a shared page seen as a block is its `child_page` block; nothing else is a block here. */
function retrieveBlock({ params, workspace, state }: ApiContext): FakeResponse {
  const raw = params.block_id ?? '';
  const id = normalizeId(raw);
  if (id === undefined) return validationError(`path failed validation: path.block_id should be a valid uuid, instead was \`"${raw}"\`.`);
  if (kindOf(id, workspace, state) !== 'page') return notFound('block', id);
  const page = pageObject(id, workspace);
  return {
    status: 200,
    body: {
      object: 'block',
      id,
      parent: page.parent,
      created_time: page.created_time,
      last_edited_time: page.last_edited_time,
      created_by: page.created_by,
      last_edited_by: page.last_edited_by,
      has_children: false,
      in_trash: false,
      archived: false,
      type: 'child_page',
      child_page: { title: fakePageTitle(id, workspace) },
    },
  };
}

function retrieveDatabase({ params, workspace, state }: ApiContext): FakeResponse {
  const raw = params.database_id ?? '';
  const id = normalizeId(raw);
  if (id === undefined) return validationError(`path failed validation: path.database_id should be a valid uuid, instead was \`"${raw}"\`.`);
  const kind = kindOf(id, workspace, state);
  if (kind === 'page') return wrongKind(id, 'page', 'database', 'pages');
  if (kind !== 'database') return notFound('database', id);
  const db = fakeDatabase(workspace);
  return { status: 200, body: databaseObject(id, db.dataSourceId, db.title, workspace) };
}

function retrieveDataSource({ params, workspace, state }: ApiContext): FakeResponse {
  const raw = params.data_source_id ?? '';
  const id = normalizeId(raw);
  if (id === undefined) return validationError(`path failed validation: path.data_source_id should be a valid uuid, instead was \`"${raw}"\`.`);
  const registered = state.dataSources.get(id);
  if (registered) return { status: 200, body: registered.schema };
  if (kindOf(id, workspace, state) !== 'data_source') return notFound('data_source', id);
  const db = fakeDatabase(workspace);
  return { status: 200, body: dataSourceObject(id, db.databaseId, db.title, workspace, LAST_EDITED_TIME) };
}

/** POST /v1/data_sources/{id}/query: a registered data source's rows; the workspace's own has none. */
function queryDataSource({ req, params, workspace, state }: ApiContext): FakeResponse {
  const raw = params.data_source_id ?? '';
  const id = normalizeId(raw);
  if (id === undefined) return validationError(`path failed validation: path.data_source_id should be a valid uuid, instead was \`"${raw}"\`.`);
  let ds = state.dataSources.get(id);
  if (!ds && kindOf(id, workspace, state) === 'data_source') {
    const db = fakeDatabase(workspace);
    ds = { schema: dataSourceObject(id, db.databaseId, db.title, workspace, LAST_EDITED_TIME), rows: [] };
  }
  if (!ds) return notFound('data_source', id);
  try {
    return { status: 200, body: runFakeQuery(ds, req.body, req.query) };
  } catch (err) {
    if (err instanceof QueryError) return validationError(err.message);
    throw err;
  }
}

/** GET /v1/users: `users`, else the workspace's user and bot; page_size and start_cursor (a user id). */
function listUsers({ req, workspace, state }: ApiContext): FakeResponse {
  const all = state.users.length ? state.users : [personUser(workspace.user), { object: 'user', id: workspace.botId, name: BOT_NAME, avatar_url: null, type: 'bot', bot: {} }];
  const size = req.query.page_size === undefined ? MAX_PAGE_SIZE : Number(req.query.page_size);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) return validationError(`query failed validation: page_size should be an integer between 1 and ${MAX_PAGE_SIZE}.`);
  const start = req.query.start_cursor === undefined ? 0 : all.findIndex((u) => u.id === req.query.start_cursor);
  if (start < 0) return validationError('query failed validation: start_cursor should be a valid cursor.');
  const next = all[start + size];
  return { status: 200, body: { object: 'list', results: all.slice(start, start + size), next_cursor: next ? next.id : null, has_more: next !== undefined, type: 'user', user: {} } };
}

/**
 * The page parent of a create or move body as Notion checks it: a page (page_id), a data source
 * (data_source_id) or, where `workspace` is allowed, the workspace. An ID of another kind is not found.
 */
function pageParent(body: unknown, ws: FakeWorkspace, workspace: boolean, state: ServerState): FakeResponse | Record<string, unknown> {
  const parent = isRecord(body) && isRecord(body.parent) ? body.parent : undefined;
  const key = parent && (['page_id', 'data_source_id'] as const).find((k) => typeof parent[k] === 'string');
  if (!parent || !key) {
    if (workspace && parent?.workspace === true) return { type: 'workspace', workspace: true };
    return validationError('body failed validation: body.parent.page_id should be defined, instead was `undefined`.');
  }
  const id = normalizeId(String(parent[key]));
  if (id === undefined) return validationError(`body failed validation: body.parent.${key} should be a valid uuid, instead was \`${JSON.stringify(parent[key])}\`.`);
  if (key === 'page_id') return kindOf(id, ws, state) === 'page' ? { type: 'page_id', page_id: id } : notFound('page', id);
  if (kindOf(id, ws, state) !== 'data_source') return notFound('data_source', id);
  return { type: 'data_source_id', data_source_id: id, database_id: fakeDatabase(ws).databaseId };
}

const isResponse = (v: FakeResponse | Record<string, unknown>): v is FakeResponse => typeof v.status === 'number';

/** POST /v1/pages. */
function createPage({ req, workspace, state }: ApiContext): FakeResponse {
  const parent = pageParent(req.body, workspace, true, state);
  if (isResponse(parent)) return parent;
  const page = pageObject(uuidFrom(`${workspace.id}:created:${JSON.stringify(req.body)}`), workspace);
  state.owners.set(String(page.id), workspace.id);
  return { status: 200, body: { ...page, parent } };
}

/** POST /v1/pages/{page_id}/move: under a page or a data source. */
function movePage({ req, params, workspace, state }: ApiContext): FakeResponse {
  const id = normalizeId(params.page_id ?? '');
  if (id === undefined || kindOf(id, workspace, state) !== 'page') return notFound('page', id ?? String(params.page_id));
  const parent = pageParent(req.body, workspace, false, state);
  if (isResponse(parent)) return parent;
  return { status: 200, body: { ...pageObject(id, workspace), parent } };
}

function retrieveBotUser({ workspace: ws }: ApiContext): FakeResponse {
  return {
    status: 200,
    body: {
      object: 'user',
      id: ws.botId,
      name: BOT_NAME,
      avatar_url: null,
      type: 'bot',
      bot: {
        owner: { type: 'user', user: personUser(ws.user) },
        workspace_id: ws.id,
        workspace_name: ws.name,
        workspace_limits: { max_file_upload_size_in_bytes: MAX_FILE_UPLOAD_SIZE_BYTES },
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP server
// ---------------------------------------------------------------------------------------------

function recordHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function recordQuery(params: URLSearchParams): Record<string, string> {
  const query: Record<string, string> = {};
  for (const key of new Set(params.keys())) query[key] = params.getAll(key).join(',');
  return query;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(raw: string): { value: unknown; invalidJson: boolean } {
  if (raw === '') return { value: undefined, invalidJson: false };
  try {
    return { value: JSON.parse(raw) as unknown, invalidJson: false };
  } catch {
    return { value: raw, invalidJson: true };
  }
}

/** Notion puts `request_id` on every JSON object it answers with. */
function withRequestId(response: FakeResponse, requestId: string): FakeResponse {
  if (!isRecord(response.body) || 'request_id' in response.body) return response;
  return { ...response, body: { ...response.body, request_id: requestId } };
}

function send(res: ServerResponse, response: FakeResponse, requestId: string): void {
  const headers: Record<string, string> = { 'x-notion-request-id': requestId };
  let payload = '';
  if (typeof response.body === 'string') {
    headers['content-type'] = 'text/plain; charset=utf-8';
    payload = response.body;
  } else if (response.body !== undefined) {
    headers['content-type'] = 'application/json; charset=utf-8';
    payload = JSON.stringify(response.body);
  }
  for (const [name, value] of Object.entries(response.headers ?? {})) headers[name.toLowerCase()] = value;
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(response.status, headers);
  res.end(payload);
}

class FakeNotionServer implements FakeNotion {
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly requests: RecordedRequest[] = [];
  readonly tokens = new Map<string, FakeWorkspace>();
  readonly revoked = new Set<string>();
  readonly dataSources = new Map<string, FakeDataSource>();
  readonly users: Record<string, unknown>[] = [];
  readonly owners = new Map<string, string>();
  readonly files = new Map<string, FakeFile>();
  readonly served = new Map<string, number>();
  latencyMs = 0;
  down = false;
  readonly hangTokens = new Set<string>();
  readonly hanging = new Set<RecordedRequest>();
  authorizeAs: FakeWorkspace | null = null;
  consentRefreshTokens = true;

  private readonly server: Server;
  private readonly state: ServerState;
  private readonly queue: QueuedResponse[] = [];
  private handler: FakeHandler | AsyncFakeHandler | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(server: Server, url: string, clientId: string, clientSecret: string) {
    this.server = server;
    this.url = url;
    this.clientId = clientId;
    this.clientSecret = clientSecret;
    this.state = {
      clientId,
      clientSecret,
      tokens: this.tokens,
      revoked: this.revoked,
      codes: new Map(),
      refreshGrants: new Map(),
      dataSources: this.dataSources,
      users: this.users,
      owners: this.owners,
    };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        if (res.headersSent || res.destroyed) return;
        send(res, notionError(500, 'internal_server_error', `fake-notion failed: ${String(err)}`), randomUUID());
      });
    });
  }

  issueCode(ws: FakeWorkspace, opts: IssueCodeOptions = {}): string {
    const code = randomUUID();
    this.state.codes.set(code, { workspace: ws, refreshToken: opts.refreshToken ?? true, redirectUri: opts.redirectUri });
    return code;
  }

  enqueue(r: QueuedResponse): void {
    this.queue.push(r);
  }

  setHandler(fn: FakeHandler | AsyncFakeHandler | null): void {
    this.handler = fn;
  }

  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.handler = null;
    this.latencyMs = 0;
    this.down = false;
    this.hangTokens.clear();
    this.served.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await new Promise<void>((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      this.server.closeAllConnections(); // keep-alive sockets would hold close() open
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake-notion.invalid');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: recordQuery(url.searchParams),
      headers: recordHeaders(req),
      body: undefined,
    };
    this.requests.push(recorded); // on arrival, so the order is the order requests came in
    const { value, invalidJson } = parseBody(await readBody(req));
    recorded.body = value;

    if (this.down) return void req.socket.destroy();
    if (this.hangTokens.has(recorded.headers.authorization?.replace(/^Bearer /, '') ?? '')) {
      this.hanging.add(recorded);
      req.socket.once('close', () => this.hanging.delete(recorded));
      return;
    }
    if (recorded.method === 'GET' && recorded.path.startsWith('/v1/oauth/authorize')) return this.consentScreen(recorded, res);
    const file = recorded.method === 'GET' ? this.files.get(recorded.path) : undefined;
    if (file) return serveFile(recorded.path, file, res, this.served);

    const requestId = randomUUID();
    const queued = this.takeQueued(recorded.path);
    const response =
      queued ?? (await this.handler?.(recorded)) ?? withRequestId(defaultResponse(recorded, this.state, invalidJson), requestId);

    await this.sleep(this.latencyMs + (queued?.delayMs ?? 0));
    if (this.down) return void req.socket.destroy(); // outage began while the answer was delayed
    send(res, response, requestId);
  }

  /**
   * Notion's browser screens, simplified: /v1/oauth/authorize shows "Allow access" and
   * "Cancel" links; /allow issues a code for `authorizeAs` and redirects back like Notion does.
   */
  private consentScreen(req: RecordedRequest, res: ServerResponse): void {
    const q = req.query;
    const back = new URL(q.redirect_uri ?? 'about:blank');
    if (req.path === '/v1/oauth/authorize/allow' && this.authorizeAs) {
      back.searchParams.set('code', this.issueCode(this.authorizeAs, { redirectUri: q.redirect_uri, refreshToken: this.consentRefreshTokens }));
      back.searchParams.set('state', q.state ?? '');
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (req.path === '/v1/oauth/authorize/cancel') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('state', q.state ?? '');
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    const params = new URLSearchParams(q).toString().replace(/&/g, '&amp;');
    const who = this.authorizeAs ? `${this.authorizeAs.user.name} (${this.authorizeAs.name})` : 'nobody';
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(
        `<!doctype html><html lang="en"><title>Notion</title><h1>Fake Notion: choose pages</h1><p>Signed in as ${who}</p>` +
          `<a id="allow" href="/v1/oauth/authorize/allow?${params}">Allow access</a> <a id="cancel" href="/v1/oauth/authorize/cancel?${params}">Cancel</a></html>`,
      );
  }

  private takeQueued(path: string): QueuedResponse | undefined {
    const i = this.queue.findIndex((q) => q.pathPrefix === undefined || path.startsWith(q.pathPrefix));
    return i < 0 ? undefined : this.queue.splice(i, 1)[0];
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// File bytes: what Notion's pre-signed file URLs (S3) serve, for tools that download a file
// ---------------------------------------------------------------------------------------------

/**
 * A file served at a path of the fake (any query, e.g. a signature), without Notion's headers or
 * auth, as S3 serves a pre-signed URL. `chunked` leaves out content-length; `location` answers a
 * 302 to it instead.
 */
export interface FakeFile {
  bytes?: Buffer;
  contentType?: string;
  chunked?: boolean;
  location?: string;
}

const FILE_CHUNK_BYTES = 16 * 1024;

/**
 * Writes the bytes in chunks, each after the client took the last (backpressure), and counts what
 * was written: a client that stops reading early leaves `served` below the file's size.
 */
async function serveFile(path: string, file: FakeFile, res: ServerResponse, served: Map<string, number>): Promise<void> {
  if (file.location) return void res.writeHead(302, { location: file.location }).end();
  const bytes = file.bytes ?? Buffer.alloc(0);
  res.writeHead(200, { 'content-type': file.contentType ?? 'application/octet-stream', ...(file.chunked ? {} : { 'content-length': String(bytes.length) }) });
  for (let at = 0; at < bytes.length && !res.destroyed; at += FILE_CHUNK_BYTES) {
    const chunk = bytes.subarray(at, at + FILE_CHUNK_BYTES);
    served.set(path, (served.get(path) ?? 0) + chunk.length);
    if (res.write(chunk)) continue;
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done).off('close', done);
        resolve();
      };
      res.on('drain', done).on('close', done);
    });
  }
  res.end();
}

/** Starts a fake Notion API on 127.0.0.1 (port 0 by default). Call `close()` when done. */
export async function startFakeNotion(opts: StartFakeNotionOptions = {}): Promise<FakeNotion> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return new FakeNotionServer(
    server,
    `http://127.0.0.1:${port}`,
    opts.clientId ?? DEFAULT_CLIENT_ID,
    opts.clientSecret ?? DEFAULT_CLIENT_SECRET,
  );
}

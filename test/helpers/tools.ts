import { expect } from 'vitest';
import { createLogger } from '../../src/log.js';
import { CallLimiter } from '../../src/notion/call-limiter.js';
import { createNotionClient } from '../../src/notion/client.js';
import { RateGate } from '../../src/notion/rate-gate.js';
import { NotionSession } from '../../src/notion/session.js';
import type { AuthContext } from '../../src/oauth/grants.js';
import { SCOPE_READ, SCOPE_WRITE } from '../../src/oauth/scopes.js';
import type { ToolContext, ToolResult } from '../../src/tools/registry.js';
import type { FakeHandler, RecordedRequest } from './fake-notion.js';
import { fakeWorkspace } from './fake-notion.js';
import { callTool, connect } from './oauth-client.js';
import { type Stack, startStack } from './stack.js';

/**
 * A stack with one read-and-write and one read-only connection, for tool tests.
 * `answer` makes the fake Notion reply with a canned body to every API call (OAuth calls still
 * get the fake's own behaviour); `apiRequests()` are the Notion API calls since the last `answer`,
 * and `upstream(n)` checks them.
 */
export interface ToolStack {
  stack: Stack;
  /** Access token of a read-and-write connection to workspace A. */
  token: string;
  /** Access token of a read-only connection to workspace A. */
  readOnlyToken: string;
  /** The Notion token the read-and-write connection holds: every upstream call it makes must carry it. */
  notionToken: string;
  /** The Notion token the read-only connection holds (its own, not the read-and-write one's). */
  readOnlyNotionToken: string;
  call(name: string, args?: Record<string, unknown>, token?: string): Promise<{ isError: boolean; data: any }>;
  /**
   * `registry.result` of the running app (the tools/call result with the result budget and
   * structuredContent, which the MCP layer passes through), on the read-and-write connection's
   * Notion token against the fake Notion; `ctx` adds a progress callback or an abort signal.
   */
  result(name: string, args?: Record<string, unknown>, ctx?: Pick<ToolContext, 'progress' | 'signal'>, auth?: Partial<AuthContext>): Promise<ToolResult>;
  answer(handler: FakeHandler | ((req: RecordedRequest) => { status?: number; body?: unknown } | undefined)): void;
  apiRequests(): RecordedRequest[];
  /**
   * Asserts exactly `n` Notion API calls since the last `answer`, each with the pinned
   * `notion-version: 2026-03-11` and `authorization: Bearer <token>` (default `notionToken`),
   * and returns them.
   */
  upstream(n: number, opts?: { token?: string }): RecordedRequest[];
  /** `upstream(1, opts)`, and that one call is `method path` with exactly `query`. */
  oneCall(method: string, path: string, query?: Record<string, string>, opts?: { token?: string }): RecordedRequest;
  /** Each write is refused on the read-only connection with `read_only_connection`, and none reaches Notion (since the last `answer`). */
  expectWritesRefused(writes: readonly (readonly [string, Record<string, unknown>])[]): Promise<void>;
  close(): Promise<void>;
}

type Reply = { status?: number; body: unknown };

/** Answers by "METHOD /path"; anything else is a loud 418 so a stray call fails the test. */
export function routes(table: Record<string, Reply | (() => Reply)>) {
  return (req: RecordedRequest): Reply => {
    const hit = table[`${req.method} ${req.path}`];
    if (!hit) return { status: 418, body: { object: 'error', status: 418, code: 'unexpected', message: `no route for ${req.method} ${req.path}` } };
    return typeof hit === 'function' ? hit() : hit;
  };
}

export async function startToolStack(): Promise<ToolStack> {
  // Many calls on one connection: lift the per-connection rate gate (tested on its own).
  const stack = await startStack({ env: { NOTION_RATE_LIMIT_PER_SECOND: '1000', NOTION_RATE_LIMIT_BURST: '1000' } });
  const ws = fakeWorkspace('A');
  const notionTokens = () => [...stack.fake.tokens].filter(([, w]) => w.name === ws.name).map(([t]) => t);
  const { tokens } = await connect(stack, ws, 'write');
  const [notionToken] = notionTokens();
  const readOnly = await connect(stack, ws, 'read');
  const readOnlyNotionToken = notionTokens().find((t) => t !== notionToken);
  if (!notionToken || !readOnlyNotionToken) throw new Error('startToolStack: expected one Notion token per connection');
  const apiRequests = () => stack.fake.requests.filter((r) => r.path.startsWith('/v1/') && !r.path.startsWith('/v1/oauth/'));
  const upstream: ToolStack['upstream'] = (n, { token = notionToken } = {}) => {
    const reqs = apiRequests();
    expect(reqs.map((r) => `${r.method} ${r.path}`)).toHaveLength(n);
    for (const r of reqs) {
      expect(r.headers['notion-version']).toBe('2026-03-11');
      expect(r.headers.authorization).toBe(`Bearer ${token}`);
    }
    return reqs;
  };
  const stopping = new AbortController().signal;
  const notionDeps = () => ({
    client: createNotionClient(stack.app.config, createLogger('silent')),
    gate: new RateGate(1000, 1000),
    limiter: new CallLimiter(stopping),
    stopping,
    refresher: { refresh: async () => null, isRevoked: async () => false } as never,
    apiOrigin: stack.fake.url,
  });
  const auth = (): AuthContext => ({
    grantId: 'tools-test',
    clientId: 'tools-test',
    scopes: new Set([SCOPE_READ, SCOPE_WRITE]),
    expiresAt: Number.MAX_SAFE_INTEGER,
    notion: { accessToken: notionToken, refreshToken: null },
    grantKey: Buffer.alloc(32),
  });
  const ts: ToolStack = {
    stack,
    token: tokens.access_token,
    readOnlyToken: readOnly.tokens.access_token,
    notionToken,
    readOnlyNotionToken,
    call: (name, args = {}, token = tokens.access_token) => callTool(stack.baseUrl, token, name, args),
    result: (name, args = {}, ctx = {}, over = {}) => {
      const a = { ...auth(), ...over };
      return stack.app.registry.result(name, args, { ...ctx, notion: new NotionSession(notionDeps(), a), auth: a });
    },
    answer(handler) {
      stack.fake.reset();
      stack.fake.setHandler((req) => {
        if (req.path.startsWith('/v1/oauth/')) return undefined;
        const r = handler(req);
        return r ? { status: r.status ?? 200, body: r.body, ...('headers' in r ? { headers: (r as { headers?: Record<string, string> }).headers } : {}) } : undefined;
      });
    },
    apiRequests,
    upstream,
    async expectWritesRefused(writes) {
      for (const [name, args] of writes) {
        const res = await callTool(stack.baseUrl, readOnly.tokens.access_token, name, args);
        expect(res.isError, name).toBe(true);
        expect(res.data.error.code, name).toBe('read_only_connection');
      }
      upstream(0);
    },
    oneCall(method, path, query = {}, opts = {}) {
      const [req] = upstream(1, opts);
      expect(`${req!.method} ${req!.path}`).toBe(`${method} ${path}`);
      expect(req!.query).toEqual(query);
      return req!;
    },
    close: () => stack.close(),
  };
  // Provenance (src/tools/provenance.ts) reads GET /v1/users once per connection. Tool tests run as
  // connections that may not list users, so it adds no call and no mark to them; its own tests use
  // other connections (result's `auth`).
  ts.answer((req) =>
    req.path === '/v1/users'
      ? { status: 403, body: { object: 'error', status: 403, code: 'restricted_resource', message: 'Insufficient permissions for this endpoint.' } }
      : { body: { object: 'list', results: [], next_cursor: null, has_more: false, type: 'block', block: {} } },
  );
  const warm = { block_id: '00000000-0000-4000-8000-000000000000' };
  await ts.result('get_block_children', warm);
  for (const token of [ts.token, ts.readOnlyToken]) await ts.call('get_block_children', warm, token);
  stack.fake.reset();
  return ts;
}

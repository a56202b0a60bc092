/**
 * The resource server and the transport on /mcp, black box over HTTP against the real app:
 * RFC 6750 / RFC 9728 challenges, audience binding, DNS-rebinding guards, stateless Streamable
 * HTTP (MCP 2025-11-25 §transports, docs/auth-and-claude.md §2.4, §2.6, §3), tools/list and
 * tools/call error handling, per-user isolation of Notion tokens, and no secrets in logs.
 */
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeNotion, type FakeWorkspace, fakePageTitle, fakeWorkspace, startFakeNotion } from '../helpers/fake-notion.js';
import { callTool, connect, mcpPost, type RegisteredClient, type TokenSet } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * A request with full control over headers (fetch forbids setting Host). `path` may carry a query.
 */
function raw(baseUrl: string, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawResponse> {
  const url = new URL(opts.path ?? '/mcp', baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: opts.method ?? 'POST',
        headers: { connection: 'close', ...opts.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

const PING = { jsonrpc: '2.0', id: 1, method: 'ping' } as const;
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function initialize(protocolVersion: string, id: number | string = 1) {
  return { jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'mcp-test', version: '1.0.0' } } };
}

/** The Notion token our fake issued for the most recent connection of `ws`. */
function notionTokenOf(fake: FakeNotion, ws: FakeWorkspace): string {
  const all = [...fake.tokens].filter(([, w]) => w.id === ws.id).map(([t]) => t);
  const last = all.at(-1);
  if (!last) throw new Error(`no Notion token for ${ws.name}`);
  return last;
}

/** A deterministic 32-hex id that is unique per n (never the fake's 404 prefix 00000000). */
function hexId(n: number): string {
  return `a${n.toString(16).padStart(7, '0')}` + 'b'.repeat(4) + '4' + 'c'.repeat(3) + '8' + 'd'.repeat(15);
}
const dashed = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

/** Upstream requests to the Notion API proper (not OAuth). */
const apiCalls = (fake: FakeNotion) => fake.requests.filter((r) => r.path.startsWith('/v1/') && !r.path.startsWith('/v1/oauth'));
/** The calls a tool made itself: GET /v1/users is the provenance directory, read once per connection (src/tools/provenance.ts). */
const toolCalls = (fake: FakeNotion) => apiCalls(fake).filter((r) => r.path !== '/v1/users');

/** Every secret any test in this file saw, for the log check at the end. */
const secrets = new Set<string>();
function remember(c: { client: RegisteredClient; tokens: TokenSet }) {
  secrets.add(c.tokens.access_token);
  secrets.add(c.tokens.refresh_token);
  if (c.client.client_secret) secrets.add(c.client.client_secret);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Main stack: most cases share it
// ---------------------------------------------------------------------------------------------

describe('/mcp resource server and transport', () => {
  let stack: Stack;
  let userA: { client: RegisteredClient; tokens: TokenSet };
  let userB: { client: RegisteredClient; tokens: TokenSet };
  let tokenA: string;
  let tokenB: string;
  const wsA = fakeWorkspace('A');
  const wsB = fakeWorkspace('B');

  beforeAll(async () => {
    stack = await startStack({
      env: { ADDITIONAL_ALLOWED_HOSTS: 'mcp.example.com, Tunnel.Example.org:8443', NOTION_TIMEOUT_SECONDS: '1' },
    });
    userA = remember(await connect(stack, wsA));
    userB = remember(await connect(stack, wsB));
    tokenA = userA.tokens.access_token;
    tokenB = userB.tokens.access_token;
  });
  afterAll(async () => stack?.close());

  describe('RFC 6750 / RFC 9728 challenges (§2.4)', () => {
    const metadataUrl = () => `${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`;

    it('no Authorization: 401 with a bare challenge naming resource_metadata and no error=', async () => {
      const res = await mcpPost(stack.baseUrl, null, PING);
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^Bearer /);
      expect(challenge).toContain(`resource_metadata="${metadataUrl()}"`);
      expect(challenge).not.toMatch(/error=/);
      // The advertised metadata exists and names this resource.
      const prm = (await (await fetch(metadataUrl())).json()) as { resource: string };
      expect(prm.resource).toBe(`${stack.baseUrl}/mcp`);
    });

    it('garbage token: 401 invalid_token with resource_metadata', async () => {
      for (const header of ['Bearer not-a-real-token', 'Bearer nmr_at_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Basic dXNlcjpwYXNz', 'Bearer']) {
        const res = await raw(stack.baseUrl, { headers: { ...JSON_HEADERS, authorization: header }, body: JSON.stringify(PING) });
        expect(res.status, header).toBe(401);
        const challenge = String(res.headers['www-authenticate']);
        expect(challenge, header).toMatch(/^Bearer /);
        expect(challenge, header).toContain('error="invalid_token"');
        expect(challenge, header).toContain(`resource_metadata="${metadataUrl()}"`);
      }
    });

    it("the user's own Notion token sent as Bearer is refused (no passthrough)", async () => {
      const notionToken = notionTokenOf(stack.fake, wsA);
      stack.fake.reset();
      const res = await mcpPost(stack.baseUrl, notionToken, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search', arguments: {} } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(apiCalls(stack.fake)).toHaveLength(0);
    });

    it('our refresh token is not an access token', async () => {
      const res = await mcpPost(stack.baseUrl, userA.tokens.refresh_token, PING);
      expect(res.status).toBe(401);
    });

    it('a token in the query string is never accepted', async () => {
      for (const q of [`access_token=${tokenA}`, `token=${tokenA}`, `authorization=Bearer%20${tokenA}`]) {
        const res = await raw(stack.baseUrl, { path: `/mcp?${q}`, headers: JSON_HEADERS, body: JSON.stringify(PING) });
        expect(res.status, q).toBe(401);
        expect(String(res.headers['www-authenticate'])).not.toMatch(/error=/);
      }
      // Form-encoded body parameter (RFC 6750 §2.2) is not a way in either.
      const form = await raw(stack.baseUrl, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: tokenA }).toString(),
      });
      expect(form.status).toBe(401);
      // Control: the same token in the header works.
      expect((await mcpPost(stack.baseUrl, tokenA, PING)).status).toBe(200);
    });
  });

  describe('Host and Origin: DNS-rebinding defence (§2.6)', () => {
    it('a Host that is not BASE_URL\'s host: 421, before authentication', async () => {
      for (const host of ['evil.example', 'localhost:1', `127.0.0.2:${new URL(stack.baseUrl).port}`]) {
        const res = await raw(stack.baseUrl, { headers: { ...JSON_HEADERS, ...bearer(tokenA), host }, body: JSON.stringify(PING) });
        expect(res.status, host).toBe(421);
      }
      const anon = await raw(stack.baseUrl, { headers: { ...JSON_HEADERS, host: 'evil.example' }, body: JSON.stringify(PING) });
      expect(anon.status).toBe(421);
    });

    it('a host from ADDITIONAL_ALLOWED_HOSTS is accepted (case-insensitively)', async () => {
      for (const host of ['mcp.example.com', 'MCP.Example.com', 'tunnel.example.org:8443']) {
        const res = await raw(stack.baseUrl, { headers: { ...JSON_HEADERS, ...bearer(tokenA), host }, body: JSON.stringify(PING) });
        expect(res.status, host).toBe(200);
        expect(JSON.parse(res.text)).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
      }
      // Same host, other port: not listed.
      const res = await raw(stack.baseUrl, { headers: { ...JSON_HEADERS, ...bearer(tokenA), host: 'tunnel.example.org:9999' }, body: JSON.stringify(PING) });
      expect(res.status).toBe(421);
    });

    it('a foreign Origin: 403; our own Origin or none: accepted', async () => {
      const send = (origin?: string) =>
        raw(stack.baseUrl, { headers: { ...JSON_HEADERS, ...bearer(tokenA), ...(origin ? { origin } : {}) }, body: JSON.stringify(PING) });
      for (const origin of ['https://evil.example', 'null', `${stack.baseUrl}.evil.example`, stack.baseUrl.replace('127.0.0.1', 'localhost')]) {
        expect((await send(origin)).status, origin).toBe(403);
      }
      expect((await send(stack.baseUrl)).status).toBe(200);
      expect((await send()).status).toBe(200);
    });
  });

  describe('Streamable HTTP, stateless, JSON responses (§2.6, §3)', () => {
    it('GET and DELETE /mcp: 405 with Allow: POST, with or without auth', async () => {
      for (const method of ['GET', 'DELETE']) {
        for (const headers of [{}, bearer(tokenA), { ...bearer(tokenA), accept: 'text/event-stream' }]) {
          const res = await raw(stack.baseUrl, { method, headers });
          expect(res.status, `${method} ${JSON.stringify(headers)}`).toBe(405);
          expect(res.headers.allow).toBe('POST');
        }
      }
    });

    it('Accept: */* and no Accept at all: 200 JSON', async () => {
      for (const accept of ['*/*', 'application/json', undefined]) {
        const res = await raw(stack.baseUrl, {
          headers: { 'content-type': 'application/json', ...bearer(tokenA), ...(accept ? { accept } : {}) },
          body: JSON.stringify(PING),
        });
        expect(res.status, String(accept)).toBe(200);
        expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
        expect(JSON.parse(res.text)).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
      }
    });

    it('MCP-Protocol-Version: missing → 200, supported → 200, unknown → 400', async () => {
      expect((await mcpPost(stack.baseUrl, tokenA, PING)).status).toBe(200);
      expect((await mcpPost(stack.baseUrl, tokenA, PING, { 'mcp-protocol-version': '2025-11-25' })).status).toBe(200);
      expect((await mcpPost(stack.baseUrl, tokenA, PING, { 'mcp-protocol-version': '2025-03-26' })).status).toBe(200);
      const bad = await mcpPost(stack.baseUrl, tokenA, PING, { 'mcp-protocol-version': '1999-01-01' });
      expect(bad.status).toBe(400);
      const body = (await bad.json()) as { jsonrpc: string; error: { code: number; message: string; data: { supported: string[]; requested: string } } };
      expect(body.jsonrpc).toBe('2.0');
      // The spec's UnsupportedProtocolVersionError, with the revisions a 2025 client can pick from.
      expect(body.error).toMatchObject({ code: -32022, data: { supported: [...SUPPORTED_PROTOCOL_VERSIONS], requested: '1999-01-01' } });
    });

    it('initialize: 2025-11-25 when asked, a supported fallback for an unknown version, tools capability, serverInfo', async () => {
      const res = await mcpPost(stack.baseUrl, tokenA, initialize('2025-11-25'));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { id: number; result: { protocolVersion: string; capabilities: { tools?: unknown }; serverInfo: { name: string; version: string } } };
      expect(body.id).toBe(1);
      expect(body.result.protocolVersion).toBe('2025-11-25');
      expect(body.result.capabilities.tools).toBeDefined();
      expect(typeof body.result.serverInfo.name).toBe('string');
      expect(typeof body.result.serverInfo.version).toBe('string');

      const older = (await (await mcpPost(stack.baseUrl, tokenA, initialize('2025-06-18'))).json()) as { result: { protocolVersion: string } };
      expect(older.result.protocolVersion).toBe('2025-06-18');

      const unknown = await mcpPost(stack.baseUrl, tokenA, initialize('2099-12-31', 'init-2'));
      expect(unknown.status).toBe(200);
      const u = (await unknown.json()) as { id: string; result: { protocolVersion: string } };
      expect(u.id).toBe('init-2');
      expect(SUPPORTED_PROTOCOL_VERSIONS).toContain(u.result.protocolVersion);
      expect(u.result.protocolVersion).not.toBe('2099-12-31');
    });

    it('never issues Mcp-Session-Id, and a stale incoming one is ignored', async () => {
      const init = await mcpPost(stack.baseUrl, tokenA, initialize('2025-11-25'));
      expect(init.status).toBe(200);
      expect(init.headers.get('mcp-session-id')).toBeNull();
      for (const body of [PING, { jsonrpc: '2.0', id: 2, method: 'tools/list' }]) {
        const res = await mcpPost(stack.baseUrl, tokenA, body, { 'mcp-session-id': 'abc' });
        expect(res.status).toBe(200);
        expect(res.headers.get('mcp-session-id')).toBeNull();
        expect(((await res.json()) as { result?: unknown }).result).toBeDefined();
      }
      const notif = await mcpPost(stack.baseUrl, tokenA, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': 'abc' });
      expect(notif.status).toBe(202);
      expect(notif.headers.get('mcp-session-id')).toBeNull();
    });

    it('a notification (no id): 202 with an empty body', async () => {
      const res = await mcpPost(stack.baseUrl, tokenA, { jsonrpc: '2.0', method: 'notifications/initialized' });
      expect(res.status).toBe(202);
      expect(await res.text()).toBe('');
    });

    it('a JSON-RPC response from the client: 202 with an empty body', async () => {
      for (const msg of [
        { jsonrpc: '2.0', id: 7, result: {} },
        { jsonrpc: '2.0', id: 8, error: { code: -32000, message: 'client-side failure' } },
      ]) {
        const res = await mcpPost(stack.baseUrl, tokenA, msg);
        expect(res.status).toBe(202);
        expect(await res.text()).toBe('');
      }
    });

    it('malformed JSON: 400 with JSON-RPC parse error -32700', async () => {
      const res = await mcpPost(stack.baseUrl, tokenA, '{"jsonrpc":"2.0","id":1,"method":');
      expect(res.status).toBe(400);
      const body = (await res.json()) as { jsonrpc: string; id: unknown; error: { code: number } };
      expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    });

    it('valid JSON that is not JSON-RPC: 400 with Invalid Request -32600', async () => {
      const cases = ['{"hello":1}', '[]', '5', '"ping"', 'null', '{"jsonrpc":"1.0","id":1,"method":"ping"}', '{"jsonrpc":"2.0","id":{},"method":"ping"}', '[1,2]'];
      for (const text of cases) {
        const res = await mcpPost(stack.baseUrl, tokenA, text);
        expect(res.status, text).toBe(400);
        const body = (await res.json()) as unknown;
        const errors = (Array.isArray(body) ? body : [body]) as { jsonrpc?: string; error?: { code: number; message: string } }[];
        expect(errors.length, text).toBeGreaterThan(0);
        for (const e of errors) {
          expect(e.jsonrpc, text).toBe('2.0');
          expect(typeof e.error?.message, text).toBe('string');
          expect(e.error?.code, text).toBe(-32600);
        }
      }
    });

    it('unknown method: JSON-RPC error -32601', async () => {
      for (const method of ['no/such/method', 'server/discover', 'resources/list']) {
        const res = await mcpPost(stack.baseUrl, tokenA, { jsonrpc: '2.0', id: 3, method });
        expect(res.status).toBeLessThan(500);
        const body = (await res.json()) as { id: number; error: { code: number } };
        expect(body.id, method).toBe(3);
        expect(body.error.code, method).toBe(-32601);
      }
    });

    it('Content-Type text/plain: 415', async () => {
      const res = await raw(stack.baseUrl, { headers: { 'content-type': 'text/plain', ...bearer(tokenA) }, body: JSON.stringify(PING) });
      expect(res.status).toBe(415);
      const none = await raw(stack.baseUrl, { headers: { ...bearer(tokenA) }, body: JSON.stringify(PING) });
      expect(none.status).toBe(415);
      // Parameters on the media type are fine.
      const withCharset = await raw(stack.baseUrl, { headers: { 'content-type': 'application/json; charset=utf-8', ...bearer(tokenA) }, body: JSON.stringify(PING) });
      expect(withCharset.status).toBe(200);
    });

    it('a body that is not plain UTF-8 (other charset, Content-Encoding): 415 naming the problem', async () => {
      const utf16 = await raw(stack.baseUrl, { headers: { 'content-type': 'application/json; charset=utf-16', ...bearer(tokenA) }, body: Buffer.from(JSON.stringify(PING), 'utf16le') });
      expect(utf16.status).toBe(415);
      expect(JSON.parse(utf16.text)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000, message: expect.stringContaining('UTF-8') } });
      const gzipped = await raw(stack.baseUrl, { headers: { ...JSON_HEADERS, 'content-encoding': 'gzip', ...bearer(tokenA) }, body: gzipSync(JSON.stringify(PING)) });
      expect(gzipped.status).toBe(415);
      expect(JSON.parse(gzipped.text).error.message).toContain('Content-Encoding');
      const quoted = await raw(stack.baseUrl, { headers: { 'content-type': 'Application/JSON; Charset="UTF-8"', ...bearer(tokenA) }, body: JSON.stringify(PING) });
      expect(quoted.status).toBe(200);
    });

    it('every answer carries the request id and the per-connection request budget (RateLimit headers)', async () => {
      const first = await raw(stack.baseUrl, { headers: { ...JSON_HEADERS, ...bearer(tokenA), 'x-request-id': 'trace-1' }, body: JSON.stringify(PING) });
      const second = await raw(stack.baseUrl, { headers: { ...JSON_HEADERS, ...bearer(tokenA) }, body: JSON.stringify(PING) });
      expect(first.headers['x-request-id']).toBe('trace-1');
      expect(second.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(first.headers['ratelimit-policy']).toMatch(/^\d+;w=60$/);
      const remaining = (r: RawResponse) => Number(/remaining=(\d+)/.exec(String(r.headers.ratelimit))?.[1]);
      expect(remaining(second)).toBe(remaining(first) - 1);
    });

    it('a 5 MB body: 413 (and the server keeps working)', async () => {
      const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(5 * 1024 * 1024) } });
      let status: number;
      try {
        status = (await raw(stack.baseUrl, { headers: { ...JSON_HEADERS, ...bearer(tokenA), 'content-length': String(Buffer.byteLength(big)) }, body: big })).status;
      } catch (err) {
        throw new Error(`the 5 MB request got no answer: ${String(err)}`);
      }
      expect(status).toBe(413);
      expect((await mcpPost(stack.baseUrl, tokenA, PING)).status).toBe(200);
    });

    it('a batch of two requests: an array of two replies; ping answers {}', async () => {
      const res = await mcpPost(stack.baseUrl, tokenA, [
        { jsonrpc: '2.0', id: 'a', method: 'ping' },
        { jsonrpc: '2.0', id: 'b', method: 'tools/list' },
      ]);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { id: string; result: Record<string, unknown> }[];
      expect(Array.isArray(body)).toBe(true);
      expect(body).toHaveLength(2);
      const byId = new Map(body.map((r) => [r.id, r]));
      expect(byId.get('a')?.result).toEqual({});
      expect(Array.isArray(byId.get('b')?.result.tools)).toBe(true);
    });

    it('a batch of notifications only: 202', async () => {
      const res = await mcpPost(stack.baseUrl, tokenA, [{ jsonrpc: '2.0', method: 'notifications/initialized' }]);
      expect(res.status).toBe(202);
    });
  });

  describe('tools/list', () => {
    it('lists search and fetch, each with title, description, object inputSchema and full annotations', async () => {
      const res = await mcpPost(stack.baseUrl, tokenA, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect(res.status).toBe(200);
      const { result } = (await res.json()) as { result: { tools: Record<string, any>[] } };
      const names = result.tools.map((t) => t.name);
      expect(names).toContain('search');
      expect(names).toContain('fetch');
      expect(new Set(names).size).toBe(names.length);
      for (const t of result.tools) {
        expect(typeof t.description, t.name).toBe('string');
        expect(t.description.length, t.name).toBeGreaterThan(0);
        expect(t.inputSchema?.type, t.name).toBe('object');
        expect(t.annotations, t.name).toBeDefined();
        for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
          expect(typeof t.annotations[hint], `${t.name}.${hint}`).toBe('boolean');
        }
        expect(typeof t.annotations.title, t.name).toBe('string');
        expect(t.annotations.title.length, t.name).toBeGreaterThan(0);
      }
      const search = result.tools.find((t) => t.name === 'search')!;
      expect(search.annotations.readOnlyHint).toBe(true);
      expect(search.annotations.destructiveHint).toBe(false);
      const fetchTool = result.tools.find((t) => t.name === 'fetch')!;
      expect(fetchTool.inputSchema.properties.id).toBeDefined();
      expect(fetchTool.inputSchema.required).toContain('id');
    });
  });

  describe('tools/call errors are tool results, never protocol errors', () => {
    it('unknown tool: result with isError true', async () => {
      const res = await mcpPost(stack.baseUrl, tokenA, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'delete_everything', arguments: {} } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { id: number; error?: unknown; result: { isError: boolean; content: { type: string; text: string }[] } };
      expect(body.error).toBeUndefined();
      expect(body.id).toBe(9);
      expect(body.result.isError).toBe(true);
      expect(body.result.content[0]?.type).toBe('text');
      expect(body.result.content[0]?.text).toContain('delete_everything');
    });

    it('wrong argument type: isError with a message naming page_id, and nothing sent to Notion', async () => {
      stack.fake.reset();
      const res = await callTool(stack.baseUrl, tokenA, 'get_page', { page_id: 42 });
      expect(res.isError).toBe(true);
      expect(res.data.error.message).toContain('page_id');
      const notAnId = await callTool(stack.baseUrl, tokenA, 'get_page', { page_id: 'hello' });
      expect(notAnId.isError).toBe(true);
      expect(notAnId.data.error.message).toContain('page_id');
      const missing = await callTool(stack.baseUrl, tokenA, 'get_page', {});
      expect(missing.isError).toBe(true);
      expect(missing.data.error.message).toContain('page_id');
      expect(apiCalls(stack.fake)).toHaveLength(0);
    });

    it('stringified JSON for an object parameter is parsed before it reaches Notion', async () => {
      stack.fake.reset();
      const res = await callTool(stack.baseUrl, tokenA, 'search', { filter: '{"property":"object","value":"page"}' });
      expect(res.isError).toBe(false);
      expect(res.data.results.length).toBeGreaterThan(0);
      expect(res.data.results.every((r: { object: string }) => r.object === 'page')).toBe(true);
      const sent = toolCalls(stack.fake);
      expect(sent).toHaveLength(1);
      expect(sent[0]!.path).toBe('/v1/search');
      expect(sent[0]!.body).toMatchObject({ filter: { property: 'object', value: 'page' } });
    });

    it('page_id as a notion.so URL or a dashless id reaches Notion as the dashed UUID', async () => {
      const hex = 'f3a1c9e07b2d4e6f8a1b3c5d7e9f0a2b';
      stack.fake.reset();
      for (const pageId of [`https://www.notion.so/My-Page-${hex}`, hex, `https://www.notion.so/workspace/My-Page-${hex}?pvs=4`, dashed(hex)]) {
        const res = await callTool(stack.baseUrl, tokenA, 'get_page', { page_id: pageId });
        expect(res.isError, pageId).toBe(false);
        expect(res.data.id, pageId).toBe(dashed(hex));
      }
      expect(apiCalls(stack.fake).map((r) => `${r.method} ${r.path}`)).toEqual(Array(4).fill(`GET /v1/pages/${dashed(hex)}`));
    });

    it('Notion 429: isError with code rate_limited (not a JSON-RPC error)', async () => {
      stack.fake.reset();
      stack.fake.enqueue({
        status: 429,
        body: { object: 'error', status: 429, code: 'rate_limited', message: 'slow down' },
        headers: { 'retry-after': '30' },
        pathPrefix: '/v1/search',
      });
      const res = await mcpPost(stack.baseUrl, tokenA, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search', arguments: { query: 'x' } } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { error?: unknown; result: { isError: boolean; content: { text: string }[] } };
      expect(body.error).toBeUndefined();
      expect(body.result.isError).toBe(true);
      const data = JSON.parse(body.result.content[0]!.text) as { error: { code: string; message: string } };
      expect(data.error.code).toBe('rate_limited');
      expect(data.error.message).toContain('slow down');
      // The queued answer was consumed by our request: the next call succeeds.
      expect((await callTool(stack.baseUrl, tokenA, 'search', { query: 'x' })).isError).toBe(false);
    });

    it('Notion 500 on a read: retried once, then isError with Notion\'s code', async () => {
      stack.fake.reset();
      const err = { status: 500, body: { object: 'error', status: 500, code: 'internal_server_error', message: 'Unexpected error occurred.' }, pathPrefix: '/v1/pages/' };
      stack.fake.enqueue(err);
      const recovered = await callTool(stack.baseUrl, tokenA, 'get_page', { page_id: hexId(1) });
      expect(recovered.isError).toBe(false);
      expect(stack.fake.requests.filter((r) => r.path.startsWith('/v1/pages/'))).toHaveLength(2);

      stack.fake.reset();
      stack.fake.enqueue(err);
      stack.fake.enqueue(err);
      const res = await callTool(stack.baseUrl, tokenA, 'get_page', { page_id: hexId(1) });
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('internal_server_error');
      expect(stack.fake.requests.filter((r) => r.path.startsWith('/v1/pages/'))).toHaveLength(2);
    });

    it('Notion down: isError with a clear message, quickly', async () => {
      stack.fake.reset();
      stack.fake.down = true;
      try {
        const started = Date.now();
        const res = await callTool(stack.baseUrl, tokenA, 'search', {});
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(res.isError).toBe(true);
        expect(res.data.error.message).toMatch(/Notion/);
        expect(res.data.error.code).toMatch(/notion_(unreachable|timeout)/);
        expect(stack.fake.requests.length).toBeGreaterThan(0);
      } finally {
        stack.fake.reset();
      }
    });

    it('Notion hangs: isError notion_timeout within NOTION_TIMEOUT_SECONDS (1 s here)', async () => {
      stack.fake.reset();
      stack.fake.latencyMs = 4_000;
      try {
        const started = Date.now();
        const res = await callTool(stack.baseUrl, tokenA, 'search', {});
        const took = Date.now() - started;
        expect(res.isError).toBe(true);
        expect(res.data.error.code).toBe('notion_timeout');
        expect(took).toBeLessThan(3_500);
      } finally {
        stack.fake.reset();
      }
    });
  });

  describe("two users' isolation under concurrency", () => {
    it('20 interleaved concurrent calls: every upstream request carries the caller\'s own Notion token', async () => {
      stack.fake.reset();
      stack.fake.latencyMs = 25; // keep requests in flight together
      try {
        const plan = Array.from({ length: 20 }, (_, i) => ({
          ws: i % 2 === 0 ? wsA : wsB,
          token: i % 2 === 0 ? tokenA : tokenB,
          pageHex: hexId(100 + i),
          tool: i % 5 === 4 ? 'search' : 'get_page',
        }));
        const results = await Promise.all(
          plan.map((p) =>
            p.tool === 'get_page'
              ? callTool(stack.baseUrl, p.token, 'get_page', { page_id: p.pageHex })
              : callTool(stack.baseUrl, p.token, 'search', { query: p.pageHex }),
          ),
        );

        // Each result shows the caller's workspace.
        results.forEach((r, i) => {
          const p = plan[i]!;
          expect(r.isError, `call ${i}`).toBe(false);
          if (p.tool === 'get_page') {
            expect(JSON.stringify(r.data), `call ${i}`).toContain(fakePageTitle(dashed(p.pageHex), p.ws));
            const other = p.ws === wsA ? wsB : wsA;
            expect(JSON.stringify(r.data), `call ${i}`).not.toContain(other.name);
          }
        });

        // Every upstream request maps back to the call that caused it, with that caller's token.
        const upstream = apiCalls(stack.fake);
        expect(toolCalls(stack.fake)).toHaveLength(20);
        for (const req of upstream) {
          const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
          expect(token, `${req.method} ${req.path}`).toBeDefined();
          expect(token!.startsWith('nmr_'), 'an MCP token reached Notion').toBe(false);
          const ws = stack.fake.tokens.get(token!);
          // A connection's users list goes with that connection's own token.
          if (req.path === '/v1/users') {
            expect([wsA.id, wsB.id]).toContain(ws?.id);
            expect(token).toBe(notionTokenOf(stack.fake, ws!));
            continue;
          }
          const p =
            req.method === 'GET'
              ? plan.find((x) => x.tool === 'get_page' && req.path === `/v1/pages/${dashed(x.pageHex)}`)
              : plan.find((x) => x.tool === 'search' && (req.body as { query?: string }).query === x.pageHex);
          expect(p, `${req.method} ${req.path}`).toBeDefined();
          expect(ws?.id, `${req.method} ${req.path}`).toBe(p!.ws.id);
          expect(token).toBe(notionTokenOf(stack.fake, p!.ws));
        }
        const perWorkspace = (ws: FakeWorkspace) => toolCalls(stack.fake).filter((r) => stack.fake.tokens.get(r.headers.authorization!.slice(7))?.id === ws.id).length;
        expect(perWorkspace(wsA)).toBe(plan.filter((p) => p.ws === wsA).length);
        expect(perWorkspace(wsB)).toBe(plan.filter((p) => p.ws === wsB).length);
      } finally {
        stack.fake.reset();
      }
    });
  });

  describe('no secrets in logs', () => {
    it('no access, refresh, client or Notion token appears in any log line', async () => {
      for (const t of stack.fake.tokens.keys()) secrets.add(t);
      expect(secrets.size).toBeGreaterThanOrEqual(6);
      expect(stack.logs.length).toBeGreaterThan(20);
      // The query-string attempt above must not have leaked through the request log either.
      for (const line of stack.logs) {
        for (const s of secrets) expect(line.includes(s), `log line holds a secret: ${line.slice(0, 200)}`).toBe(false);
      }
      // Sanity: the log does record /mcp requests, so the check above looked at real traffic.
      expect(stack.logs.some((l) => l.includes('"path":"/mcp"'))).toBe(true);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Expiry: a mutable clock
// ---------------------------------------------------------------------------------------------

describe('expired access tokens (§2.4)', () => {
  let stack: Stack;
  let t = Date.now();
  beforeAll(async () => {
    stack = await startStack({ now: () => t, env: { ACCESS_TOKEN_TTL_SECONDS: '60' } });
  });
  afterAll(async () => stack?.close());

  it('works until ACCESS_TOKEN_TTL_SECONDS, then 401 invalid_token', async () => {
    const { tokens } = remember(await connect(stack, fakeWorkspace('A')));
    expect(tokens.expires_in).toBe(60);
    expect((await mcpPost(stack.baseUrl, tokens.access_token, PING)).status).toBe(200);
    t += 59_000;
    expect((await mcpPost(stack.baseUrl, tokens.access_token, PING)).status).toBe(200);
    t += 2_000;
    const res = await mcpPost(stack.baseUrl, tokens.access_token, PING);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(res.headers.get('www-authenticate')).toContain('resource_metadata=');
  });
});

// ---------------------------------------------------------------------------------------------
// Audience: a token issued for another resource
// ---------------------------------------------------------------------------------------------

describe('audience binding: a token for another resource is refused (§2.4, RFC 8707)', () => {
  let fake: FakeNotion;
  let dataDir: string;
  beforeAll(async () => {
    fake = await startFakeNotion();
    dataDir = mkdtempSync(join(tmpdir(), 'nmr-mcp-aud-'));
  });
  afterAll(async () => {
    await fake?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("stack A's token is refused by stack B on the same data, and accepted again where BASE_URL is A's", async () => {
    const a = await startStack({ fake, dataDir });
    let tokens: TokenSet;
    try {
      tokens = remember(await connect(a, fakeWorkspace('A'))).tokens;
      expect((await mcpPost(a.baseUrl, tokens.access_token, PING)).status).toBe(200);
    } finally {
      await a.close();
    }

    // B: same DATA_DIR, same secret, other BASE_URL (other port) → other resource.
    const b = await startStack({ fake, dataDir });
    try {
      expect(b.baseUrl).not.toBe(a.baseUrl);
      const res = await mcpPost(b.baseUrl, tokens.access_token, PING);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      // B still works for its own users.
      const own = remember(await connect(b, fakeWorkspace('B'))).tokens;
      expect((await mcpPost(b.baseUrl, own.access_token, PING)).status).toBe(200);
    } finally {
      await b.close();
    }

    // Control: a server whose BASE_URL is A's again accepts the token from the same data, so the
    // refusal above was the audience check and not lost data.
    const c = await startStack({ fake, dataDir, env: { BASE_URL: a.baseUrl } });
    try {
      expect(c.app.config.resource).toBe(`${a.baseUrl}/mcp`);
      // C listens on its own port (PORT) but believes it is A (BASE_URL): send A's Host.
      const listening = `http://127.0.0.1:${c.app.config.port}`;
      const res = await raw(listening, { headers: { ...JSON_HEADERS, ...bearer(tokens.access_token), host: new URL(a.baseUrl).host }, body: JSON.stringify(PING) });
      expect(res.status).toBe(200);
    } finally {
      await c.close();
    }
  });
});

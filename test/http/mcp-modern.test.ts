/**
 * MCP 2026-07-28 on /mcp: requests carry a per-request `_meta` envelope and no `initialize`. The
 * SDK's handler serves them (see src/mcp/handler.ts); these tests pin what a client sees, next to
 * the 2025 era, which keeps its own answers.
 */
import { isLegacyRequest, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { connect, mcpPost } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';

const MODERN = '2026-07-28';
const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const envelope = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  ...extra,
});

let stack: Stack;
let write: string;
let readOnly: string;
beforeAll(async () => {
  stack = await startStack();
  write = (await connect(stack, fakeWorkspace('A'), 'write')).tokens.access_token;
  readOnly = (await connect(stack, fakeWorkspace('B'), 'read')).tokens.access_token;
});
afterAll(async () => stack?.close());

type Json = Record<string, any>;

/** A 2026-07-28 request with the standard headers a conforming client sends. */
async function modern(token: string, method: string, params: Json = {}, opts: { headers?: Record<string, string>; meta?: Json } = {}) {
  const body = { jsonrpc: '2.0', id: 7, method, params: { ...params, _meta: envelope(opts.meta) } };
  const headers: Record<string, string> = { 'mcp-protocol-version': MODERN, 'mcp-method': method };
  if (typeof params.name === 'string') headers['mcp-name'] = params.name;
  const res = await mcpPost(stack.baseUrl, token, body, { ...headers, ...opts.headers });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('MCP 2026-07-28', () => {
  it('server/discover: the supported versions, tools capability, serverInfo and instructions, with no initialize', async () => {
    const { status, body } = await modern(write, 'server/discover');
    expect(status).toBe(200);
    expect(body.id).toBe(7);
    expect(body.result.supportedVersions).toContain(MODERN);
    expect(body.result.capabilities.tools).toBeDefined();
    expect(body.result.instructions).toMatch(/search/);
    expect(body.result.resultType).toBe('complete');
    expect(body.result._meta['io.modelcontextprotocol/serverInfo']).toMatchObject({ name: 'notion-mcp-remote' });
  });

  it('tools/list: resultType, private caching for an hour, serverInfo, the same order every time, fewer tools when read only', async () => {
    const first = await modern(write, 'tools/list');
    expect(first.status).toBe(200);
    expect(first.body.result).toMatchObject({ resultType: 'complete', ttlMs: 3_600_000, cacheScope: 'private' });
    expect(first.body.result._meta['io.modelcontextprotocol/serverInfo'].name).toBe('notion-mcp-remote');
    const names = (r: Json) => (r.body.result.tools as { name: string }[]).map((t) => t.name);
    expect(names(await modern(write, 'tools/list'))).toEqual(names(first));
    const ro = await modern(readOnly, 'tools/list');
    expect(names(ro).length).toBeLessThan(names(first).length);
    expect(names(ro)).not.toContain('create_page');
    expect(names(first)).toContain('create_page');
  });

  it('tools/call reaches Notion with the user\'s token and answers resultType complete; the traceparent reaches the request log', async () => {
    stack.fake.reset();
    const { status, body } = await modern(write, 'tools/call', { name: 'get_self', arguments: {} }, { meta: { traceparent: TRACE } });
    expect(status).toBe(200);
    expect(body.result.resultType).toBe('complete');
    expect(body.result.isError ?? false).toBe(false);
    expect(stack.fake.requests.some((r) => r.path === '/v1/users/me')).toBe(true);
    const line = stack.logs.map((l) => JSON.parse(l) as Json).find((l) => l.msg === 'request' && l.traceparent === TRACE);
    expect(line?.path).toBe('/mcp');
  });

  it('a read-only connection is refused a write tool with a tool error', async () => {
    const { body } = await modern(readOnly, 'tools/call', { name: 'create_page', arguments: { parent: 'x', title: 't' } });
    expect(body.result.isError).toBe(true);
    expect(body.result.content[0].text).toMatch(/read only/);
  });

  it('Mcp-Method or Mcp-Name disagreeing with the body → 400 with -32020', async () => {
    const method = await modern(write, 'tools/list', {}, { headers: { 'mcp-method': 'tools/call' } });
    expect(method.status).toBe(400);
    expect(method.body.error.code).toBe(-32020);
    const name = await modern(write, 'tools/call', { name: 'get_self', arguments: {} }, { headers: { 'mcp-name': 'search' } });
    expect(name.status).toBe(400);
    expect(name.body.error.code).toBe(-32020);
  });

  it('an unsupported modern version → -32022 with the supported list', async () => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...envelope(), 'io.modelcontextprotocol/protocolVersion': '2031-01-01' } } };
    const res = await mcpPost(stack.baseUrl, write, body, { 'mcp-protocol-version': '2031-01-01', 'mcp-method': 'tools/list' });
    const json = (await res.json()) as Json;
    expect(res.status).toBe(400);
    expect(json.error).toMatchObject({ code: -32022, data: { supported: expect.arrayContaining([MODERN]), requested: '2031-01-01' } });
  });

  it('removed methods (ping, logging/setLevel) and initialize are not methods of 2026-07-28', async () => {
    for (const method of ['ping', 'logging/setLevel', 'initialize']) {
      const { body } = await modern(write, method, method === 'logging/setLevel' ? { level: 'info' } : {});
      expect(body.error?.code, method).toBe(-32601);
    }
  });

  it('subscriptions/listen is acknowledged with no notification types (we declare no list changes) and ends', async () => {
    const body = { jsonrpc: '2.0', id: 9, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: envelope() } };
    const res = await mcpPost(stack.baseUrl, write, body, { 'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as Json);
    expect(events[0]).toMatchObject({ method: 'notifications/subscriptions/acknowledged', params: { notifications: {} } });
    expect(events[1]).toMatchObject({ id: 9, result: { resultType: 'complete' } });
  });

  it('a per-request log level is accepted', async () => {
    const { status, body } = await modern(write, 'tools/list', {}, { meta: { 'io.modelcontextprotocol/logLevel': 'debug' } });
    expect(status).toBe(200);
    expect(body.result.tools.length).toBeGreaterThan(0);
  });

  it('a batch holding a 2026-07-28 message → 400', async () => {
    const msg = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: envelope() } };
    const res = await mcpPost(stack.baseUrl, write, [msg, { ...msg, id: 2 }]);
    expect(res.status).toBe(400);
  });

  it('serverInfo names our icon, which we serve; 2025-11-25 gets it too, 2025-06-18 (no icons yet) does not', async () => {
    const discover = await modern(write, 'server/discover');
    const icons = discover.body.result._meta['io.modelcontextprotocol/serverInfo'].icons as { src: string; mimeType: string }[];
    expect(icons).toEqual([{ src: `${stack.baseUrl}/icon.svg`, mimeType: 'image/svg+xml', sizes: ['any'] }]);
    const svg = await fetch(icons[0]!.src);
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(await svg.text()).toMatch(/^<svg /);
    const init = (v: string) =>
      mcpPost(stack.baseUrl, write, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: v, capabilities: {}, clientInfo: { name: 't', version: '1' } } }).then(
        async (r) => ((await r.json()) as Json).result.serverInfo,
      );
    expect((await init('2025-11-25')).icons).toEqual(icons);
    expect(await init('2025-06-18')).not.toHaveProperty('icons');
  });

  it('a 2025 client sees no 2026-only field', async () => {
    const res = await mcpPost(stack.baseUrl, write, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-protocol-version': '2025-11-25' });
    const { result } = (await res.json()) as Json;
    for (const key of ['resultType', 'ttlMs', 'cacheScope', '_meta']) expect(result, key).not.toHaveProperty(key);
    const call = await mcpPost(stack.baseUrl, write, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'get_self', arguments: {} } }, { 'mcp-protocol-version': '2025-06-18' });
    expect((await call.json()) as Json).not.toHaveProperty('result.resultType');
  });
});

describe('the fast path for tools/list and tools/call answers exactly as the SDK does', () => {
  // clientInfo in the envelope is valid but outside the fast path, so that request is the SDK's.
  const viaSdk = { 'io.modelcontextprotocol/clientInfo': { name: 'test', version: '1' } };
  const strip = (b: Json) => ({ ...b, id: 0 });

  it('the plain request takes the fast path once the SDK has served its version (the SDK writes result first)', async () => {
    const raw = async (meta: Json) => {
      const res = await mcpPost(stack.baseUrl, write, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: envelope(meta) } }, { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' });
      return res.text();
    };
    expect(await raw(viaSdk)).toMatch(/^\{"result":/);
    expect(await raw({})).toMatch(/^\{"jsonrpc":"2\.0","id":1,"result":/);
  });

  it('tools/list, for a read-write and a read-only connection', async () => {
    await modern(write, 'tools/list', {}, { meta: viaSdk }); // the SDK has served this version
    for (const token of [write, readOnly]) {
      const sdk = await modern(token, 'tools/list', {}, { meta: viaSdk });
      const fast = await modern(token, 'tools/list');
      expect(fast.status).toBe(sdk.status);
      expect(strip(fast.body)).toEqual(strip(sdk.body));
    }
  });

  it('tools/call: a result, a tool error, a traceparent, and capabilities', async () => {
    await modern(write, 'tools/list', {}, { meta: viaSdk });
    const cases: [string, Json, Json][] = [
      ['get_self', {}, {}],
      ['get_page', { page_id: 'not an id' }, {}],
      ['get_self', {}, { traceparent: TRACE }],
      ['get_self', {}, { 'io.modelcontextprotocol/clientCapabilities': { roots: { listChanged: true }, elicitation: {} } }],
    ];
    for (const [name, args, meta] of cases) {
      const sdk = await modern(write, 'tools/call', { name, arguments: args }, { meta: { ...meta, ...viaSdk } });
      const fast = await modern(write, 'tools/call', { name, arguments: args }, { meta });
      expect(fast.status, name).toBe(sdk.status);
      expect(strip(fast.body), name).toEqual(strip(sdk.body));
    }
  });

  it('anything off the fast path still gets the SDK\'s answer: a bad header, bad capabilities, a cursor', async () => {
    await modern(write, 'tools/list', {}, { meta: viaSdk });
    expect((await modern(write, 'tools/call', { name: 'get_self', arguments: {} }, { headers: { 'mcp-name': 'search' } })).body.error.code).toBe(-32020);
    const badCaps = await modern(write, 'tools/list', {}, { meta: { 'io.modelcontextprotocol/clientCapabilities': 'none' } });
    expect(badCaps.status).toBe(400);
    expect(badCaps.body.error.code).toBe(-32602);
    const argsNotObject = await modern(write, 'tools/call', { name: 'get_self', arguments: [1] });
    expect(argsNotObject.body.error.code).toBe(-32602);
  });
});

it('malformed 2026-07-28 requests get 4xx or JSON-RPC errors, never a 5xx or an error log line', async () => {
  const methods = ['tools/call', 'tools/list', 'server/discover', 'subscriptions/listen', 'ping', 'resources/list', 'tasks/get', 'notifications/cancelled', ''];
  const metas: Json[] = [
    envelope(),
    envelope({ 'io.modelcontextprotocol/clientCapabilities': null }),
    envelope({ 'io.modelcontextprotocol/protocolVersion': 5 }),
    envelope({ 'io.modelcontextprotocol/logLevel': 'nope', traceparent: 'zz' }),
    { 'io.modelcontextprotocol/protocolVersion': MODERN },
  ];
  const params: Json[] = [{}, { name: 'get_self' }, { name: 5, arguments: 'x' }, { cursor: 7, notifications: 'x', uri: 1 }, { notifications: { toolsListChanged: true } }];
  const before = stack.logs.length;
  let sent = 0;
  for (const method of methods) {
    for (const meta of metas) {
      for (const p of params) {
        for (const id of [1, null]) {
          const res = await mcpPost(stack.baseUrl, write, { jsonrpc: '2.0', id, method, params: { ...p, _meta: meta } }, { 'mcp-protocol-version': MODERN, 'mcp-method': method });
          await res.arrayBuffer();
          sent++;
          expect(res.status, `${method} ${JSON.stringify(meta)} ${JSON.stringify(p)}`).toBeLessThan(500);
        }
      }
    }
  }
  expect(sent).toBe(450);
  expect(stack.logs.slice(before).filter((l) => (JSON.parse(l) as Json).level >= 50)).toEqual([]);
});

describe('era routing agrees with the SDK (isLegacyRequest)', () => {
  const cases: { name: string; body: unknown; version?: string }[] = [
    { name: 'initialize', body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } } },
    { name: 'legacy tools/call', body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } }, version: '2025-06-18' },
    { name: 'no header', body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } },
    { name: 'modern', body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: envelope() } }, version: MODERN },
    { name: 'claim without header', body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: envelope() } } },
    { name: 'modern header, no claim', body: { jsonrpc: '2.0', id: 1, method: 'tools/list' }, version: MODERN },
    { name: 'claim with a bad value', body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': 5 } } } },
    { name: 'legacy batch', body: [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }] },
    { name: 'batch with a modern element', body: [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: envelope() } }] },
    { name: 'notification', body: { jsonrpc: '2.0', method: 'notifications/initialized' }, version: SUPPORTED_PROTOCOL_VERSIONS[0] },
    { name: 'future header', body: { jsonrpc: '2.0', id: 1, method: 'tools/list' }, version: '2031-01-01' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (c.version) headers['mcp-protocol-version'] = c.version;
      const legacy = await isLegacyRequest(new Request('http://x/mcp', { method: 'POST', headers, body: JSON.stringify(c.body) }));
      // Ours: what /mcp does with it. A 2026-07-28 answer carries resultType or a -32xxx ladder code.
      const res = await mcpPost(stack.baseUrl, write, c.body, c.version ? { 'mcp-protocol-version': c.version } : {});
      const text = await res.text();
      const servedModern = /"resultType"|"code":-320(20|22)|"code":-32602|"code":-32600,"message":"Bad Request/.test(text) || (res.status === 400 && /2026-07-28/.test(text));
      expect(servedModern, `${c.name}: ${res.status} ${text.slice(0, 200)}`).toBe(!legacy);
    });
  }
});

/**
 * OpenTelemetry traces: the real app with tracing on exports to an OTLP/HTTP receiver on loopback
 * (test/helpers/otlp.ts); with tracing off, the built server loads no OpenTelemetry module at all.
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushTracing } from '../../src/lib/trace.js';
import { type FakeNotion, fakeWorkspace, startFakeNotion } from '../helpers/fake-notion.js';
import { callTool, connect, mcpPost } from '../helpers/oauth-client.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../helpers/otlp.js';
import { childEnv, freePort, type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';

const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;
// The caller's trace (HTTP header) and an MCP-level one (params._meta), both W3C.
const HTTP_TRACE = '0af7651916cd43dd8448eb211c80319c';
const HTTP_PARENT = 'b7ad6b7169203331';
const META_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const META_PARENT = '00f067aa0ba902b7';
const traceparent = (trace: string, parent: string) => `00-${trace}-${parent}-01`;
const MODERN = '2026-07-28';
const COLLECTOR_KEY = 'collector-key-5f1e9c';
const PAGE_ID = '59833787-2cf9-4fdf-8782-e53db20768a5';

type Json = Record<string, any>;

describe('tracing on', () => {
  let otlp: OtlpReceiver;
  let stack: Stack;
  let token: string;
  const notionTokens = () => new Set(stack.fake.requests.map((r) => /^Bearer (.+)$/i.exec(r.headers.authorization ?? '')?.[1]).filter((t): t is string => !!t));

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    stack = await startStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_HEADERS: `x-collector-key=${COLLECTOR_KEY}`, OTEL_SERVICE_NAME: 'nmr-test' } });
    token = (await connect(stack, fakeWorkspace('Traced'))).tokens.access_token;
  });
  let closed = false;
  afterAll(async () => {
    if (!closed) await stack?.close();
    await otlp?.close();
  });

  /** Exports what has ended and waits until `pick` finds a span (the HTTP span ends just after the answer). */
  async function span(pick: (s: ReceivedSpan) => boolean): Promise<ReceivedSpan> {
    for (let i = 0; i < 50; i++) {
      await flushTracing();
      const found = otlp.spans.find(pick);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no such span among ${otlp.spans.map((s) => s.name).join(', ')}`);
  }
  const childrenOf = async (parent: ReceivedSpan, name: string, count: number) => {
    await span((s) => s.parentSpanId === parent.spanId && s.name === name);
    await expect.poll(async () => (await flushTracing(), otlp.spans.filter((s) => s.parentSpanId === parent.spanId && s.name === name).length)).toBe(count);
    return otlp.spans.filter((s) => s.parentSpanId === parent.spanId && s.name === name);
  };

  it('a 2025 tools/call: HTTP server span (continuing the traceparent header) → MCP span → Notion client span', async () => {
    const res = await mcpPost(
      stack.baseUrl,
      token,
      { jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'get_page', arguments: { page_id: PAGE_ID, filter_properties: ['title'] } } },
      { traceparent: traceparent(HTTP_TRACE, HTTP_PARENT), 'mcp-protocol-version': '2025-06-18', 'user-agent': 'tracing-test/1' },
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json).result.isError).toBeFalsy();
    const http = await span((s) => s.traceId === HTTP_TRACE && s.name === 'POST /mcp');
    expect(http).toMatchObject({ kind: SERVER, parentSpanId: HTTP_PARENT, status: { code: 0 } });
    expect(http.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/mcp',
      'url.path': '/mcp',
      'url.scheme': 'http',
      'http.response.status_code': 200,
      'client.address': '127.0.0.1',
      'user_agent.original': 'tracing-test/1',
    });
    expect(http.resource).toMatchObject({ 'service.name': 'nmr-test' });

    const mcp = await span((s) => s.parentSpanId === http.spanId);
    expect(mcp).toMatchObject({ name: 'tools/call get_page', kind: SERVER, traceId: HTTP_TRACE, status: { code: 0 } });
    expect(mcp.attributes).toEqual({
      'mcp.method.name': 'tools/call',
      'mcp.protocol.version': '2025-06-18',
      'jsonrpc.request.id': '41',
      'gen_ai.tool.name': 'get_page',
      'gen_ai.operation.name': 'execute_tool',
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
    });

    const [notion] = await childrenOf(mcp, 'GET /v1/pages', 1);
    expect(notion).toMatchObject({ kind: CLIENT, traceId: HTTP_TRACE, status: { code: 0 } });
    const fake = new URL(stack.fake.url);
    // The request had ?filter_properties=title; the span has the URL without it.
    expect(stack.fake.requests.some((r) => r.path === `/v1/pages/${PAGE_ID}` && r.query.filter_properties === 'title')).toBe(true);
    expect(notion!.attributes).toEqual({
      'http.request.method': 'GET',
      'server.address': fake.hostname,
      'server.port': Number(fake.port),
      'url.full': `${stack.fake.url}/v1/pages/${PAGE_ID}`,
      'http.response.status_code': 200,
      'notion.endpoint.group': 'pages',
    });
  });

  it('the query string of a request stays out of url.path; an Express route names its span', async () => {
    const res = await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server?secret=sesame`, { headers: { traceparent: traceparent(HTTP_TRACE, 'a000000000000001') } });
    expect(res.status).toBe(200);
    const http = await span((s) => s.parentSpanId === 'a000000000000001');
    expect(http.name).toBe('GET /.well-known/oauth-authorization-server');
    expect(http.attributes).toMatchObject({ 'url.path': '/.well-known/oauth-authorization-server', 'http.route': '/.well-known/oauth-authorization-server' });
    const missing = await fetch(`${stack.baseUrl}/nothing-here`, { headers: { traceparent: traceparent(HTTP_TRACE, 'a000000000000002') } });
    expect(missing.status).toBe(404);
    const notFound = await span((s) => s.parentSpanId === 'a000000000000002');
    expect(notFound.name).toBe('GET');
    expect(notFound.attributes['http.route']).toBeUndefined();
    expect(notFound.attributes['http.response.status_code']).toBe(404);
    // The OAuth flow of beforeAll: the callback's span holds Notion's token exchange, its query string dropped.
    const callback = await span((s) => s.name === 'GET /oauth/callback');
    expect(callback.attributes['url.path']).toBe('/oauth/callback');
    const [exchange] = await childrenOf(callback, 'POST /v1/oauth', 1);
    expect(exchange!.attributes).toMatchObject({ 'http.request.method': 'POST', 'notion.endpoint.group': 'oauth', 'http.response.status_code': 200 });
  });

  it('a tool error ends the MCP span with error.type tool_error; a Notion 429 retried has resend_count 1 on its second request', async () => {
    stack.fake.enqueue({ status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: 'Could not find user.' }, pathPrefix: '/v1/users/me' });
    expect((await callTool(stack.baseUrl, token, 'get_self')).isError).toBe(true);
    const failed = await span((s) => s.name === 'tools/call get_self' && s.status.code === ERROR);
    expect(failed.attributes['error.type']).toBe('tool_error');
    expect(failed.status.message).toBe('object_not_found');
    const [notFound] = await childrenOf(failed, 'GET /v1/users', 1);
    expect(notFound!.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': '404' });
    expect(notFound!.status.code).toBe(ERROR);

    stack.fake.enqueue({ status: 429, headers: { 'retry-after': '0' }, body: { object: 'error', status: 429, code: 'rate_limited', message: 'Slow down.' }, pathPrefix: '/v1/users/me' });
    expect((await callTool(stack.baseUrl, token, 'get_self')).isError).toBe(false);
    const retried = await span((s) => s.name === 'tools/call get_self' && s.status.code === 0 && otlp.spans.some((c) => c.parentSpanId === s.spanId && c.attributes['http.response.status_code'] === 429));
    const attempts = (await childrenOf(retried, 'GET /v1/users', 2)).sort((a, b) => Number(a.attributes['http.request.resend_count'] ?? 0) - Number(b.attributes['http.request.resend_count'] ?? 0));
    expect(attempts[0]!.attributes).toMatchObject({ 'http.response.status_code': 429, 'error.type': '429' });
    expect(attempts[0]!.attributes['http.request.resend_count']).toBeUndefined();
    expect(attempts[1]!.attributes).toMatchObject({ 'http.response.status_code': 200, 'http.request.resend_count': 1 });
    expect(attempts[1]!.attributes['error.type']).toBeUndefined();
  });

  it('an unknown tool and a JSON-RPC error: the span name keeps no unknown name, error.type is the code', async () => {
    const unknown = await mcpPost(stack.baseUrl, token, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'no_such_tool_x1', arguments: {} } });
    expect(unknown.status).toBe(200);
    const u = await span((s) => s.attributes['gen_ai.tool.name'] === 'no_such_tool_x1');
    expect(u.name).toBe('tools/call');
    expect(u.attributes['error.type']).toBe('tool_error');
    const missing = await mcpPost(stack.baseUrl, token, { jsonrpc: '2.0', id: 6, method: 'resources/list' });
    expect(missing.status).toBe(200);
    const m = await span((s) => s.name === 'resources/list');
    expect(m.attributes).toMatchObject({ 'error.type': '-32601', 'rpc.response.status_code': '-32601', 'jsonrpc.request.id': '6', 'mcp.protocol.version': '2025-03-26' });
    expect(m.status).toMatchObject({ code: ERROR, message: 'Method not found: resources/list' });
  });

  it('2026-07-28: the traceparent in params._meta is the MCP span\'s parent, the HTTP span a link; through the SDK and the fast path', async () => {
    const call = async (id: number, parent: string, meta: Json) => {
      const body = {
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'get_self', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {}, ...meta } },
      };
      const res = await mcpPost(stack.baseUrl, token, body, { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'get_self', traceparent: traceparent(HTTP_TRACE, parent) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Json).result.isError).toBeFalsy();
      const http = await span((s) => s.parentSpanId === parent);
      const mcp = await span((s) => s.name === 'tools/call get_self' && s.traceId === META_TRACE && s.attributes['jsonrpc.request.id'] === String(id));
      expect(http).toMatchObject({ name: 'POST /mcp', traceId: HTTP_TRACE });
      expect(mcp).toMatchObject({ kind: SERVER, parentSpanId: META_PARENT, links: [{ traceId: HTTP_TRACE, spanId: http.spanId }] });
      expect(mcp.attributes).toMatchObject({ 'mcp.protocol.version': MODERN, 'gen_ai.tool.name': 'get_self', 'gen_ai.operation.name': 'execute_tool' });
      const [notion] = await childrenOf(mcp, 'GET /v1/users', 1);
      expect(notion!.traceId).toBe(META_TRACE);
      return mcp;
    };
    // The first call of a revision goes through the SDK's handler (tracestate also keeps it off the fast path).
    await call(71, 'a000000000000071', { traceparent: traceparent(META_TRACE, META_PARENT), tracestate: 'vendor=x1' });
    // The plain form, once the SDK has served the revision, takes the fast path.
    await call(72, 'a000000000000072', { traceparent: traceparent(META_TRACE, META_PARENT) });
    // Without _meta's traceparent, the MCP span is the HTTP span's child.
    await modernList('a000000000000073');
    const http = await span((s) => s.parentSpanId === 'a000000000000073');
    const list = await span((s) => s.parentSpanId === http.spanId);
    expect(list).toMatchObject({ name: 'tools/list', traceId: HTTP_TRACE, links: [] });
  });

  async function modernList(parent: string) {
    const body = { jsonrpc: '2.0', id: 9, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } } };
    const res = await mcpPost(stack.baseUrl, token, body, { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list', traceparent: traceparent(HTTP_TRACE, parent) });
    expect(res.status).toBe(200);
  }

  it('no span holds the access token, a Notion token or "Bearer"; the export carries OTEL_EXPORTER_OTLP_HEADERS', async () => {
    await flushTracing();
    const secrets = [token, ...notionTokens(), 'Bearer', TEST_SECRET, stack.fake.clientSecret];
    expect(notionTokens().size).toBeGreaterThanOrEqual(1);
    expect(otlp.spans.length).toBeGreaterThan(20);
    for (const s of otlp.spans) {
      const text = JSON.stringify([s.name, s.attributes, s.status, s.resource]);
      for (const secret of secrets) expect({ span: s.name, found: text.toLowerCase().includes(secret.toLowerCase()) }).toEqual({ span: s.name, found: false });
    }
    for (const body of otlp.bodies) for (const secret of secrets) expect(body.toLowerCase().includes(secret.toLowerCase())).toBe(false);
    expect(otlp.headers.every((h) => h['x-collector-key'] === COLLECTOR_KEY)).toBe(true);
  });

  it('a client that goes away mid-call and the drain end every span, and close exports them', async () => {
    const ws = fakeWorkspace('Hangs');
    const hung = (await connect(stack, ws)).tokens.access_token;
    stack.fake.hangTokens.add([...stack.fake.tokens].find(([, w]) => w.name === ws.name)![0]);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'get_self', arguments: {} } });
    const req = httpRequest(`${stack.baseUrl}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${hung}`, traceparent: traceparent(HTTP_TRACE, 'a000000000000099') },
    });
    req.on('error', () => {});
    req.end(body);
    await expect.poll(() => stack.fake.hanging.size, { timeout: 5000 }).toBe(1);
    req.destroy();
    const http = await span((s) => s.parentSpanId === 'a000000000000099');
    expect(http).toMatchObject({ name: 'POST /mcp', status: { code: ERROR } });
    expect(http.attributes['error.type']).toBe('aborted');
    // The tool call still waits on Notion; closing the app ends its Notion call, then exports.
    closed = true;
    await stack.close();
    const mcp = otlp.spans.find((s) => s.parentSpanId === http.spanId);
    expect(mcp).toMatchObject({ name: 'tools/call get_self', status: { code: ERROR, message: 'shutting_down' } });
    const notion = otlp.spans.find((s) => s.parentSpanId === mcp!.spanId);
    expect(notion).toMatchObject({ kind: CLIENT, status: { code: ERROR } });
    expect(notion!.attributes['error.type']).toBeTypeOf('string');
  });
});

/** The BUILT server (dist/main.js, from `npm run build`) in a child process, with a module hook that lists what it loads. */
const MAIN = resolve(import.meta.dirname, '../../dist/main.js');

describe('the built server', () => {
  let fake: FakeNotion;
  let dir: string;
  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before these tests`);
    fake = await startFakeNotion();
    dir = mkdtempSync(join(tmpdir(), 'nmr-tracing-'));
  });
  afterAll(async () => {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Serves one tool call, stops on SIGTERM, and tells which OpenTelemetry modules it loaded and what reached the receiver. */
  async function run(env: Record<string, string>) {
    const otlp = await startOtlpReceiver();
    const loaded = join(dir, `loaded-${Date.now()}.txt`);
    writeFileSync(loaded, '');
    // Every ES module the server resolves passes this hook (the SDK is only ever reached by import()).
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); if (/@opentelemetry|trace-sdk/.test(r.url)) appendFileSync(${JSON.stringify(loaded)}, r.url + '\\n'); return r; }\n`,
    );
    const register = join(dir, 'register.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const proc = spawn(process.execPath, ['--import', pathToFileURL(register).href, MAIN], {
      cwd: dir,
      env: { ...childEnv(fake, port, join(dir, `data-${port}`)), OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stdout = '';
      proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const exited = new Promise<number | string>((res) => proc.once('close', (code, signal) => res(code ?? signal ?? 'unknown')));
      await expect.poll(() => stdout.includes('listening'), { timeout: 10_000 }).toBe(true);
      const { tokens } = await connect({ baseUrl, fake } as Stack, fakeWorkspace(`Built ${port}`));
      expect((await callTool(baseUrl, tokens.access_token, 'get_self')).isError).toBe(false);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      const listening = stdout.split('\n').map((l) => (l ? (JSON.parse(l) as Json) : {})).find((l) => String(l.msg).startsWith('listening'));
      return { modules: readFileSync(loaded, 'utf8').split('\n').filter(Boolean), otlp, tracing: listening?.tracing as boolean };
    } finally {
      proc.kill('SIGKILL');
      await otlp.close();
    }
  }

  it('with OTEL_SDK_DISABLED=true loads no OpenTelemetry module and exports nothing, though an endpoint is set', async () => {
    const off = await run({ OTEL_SDK_DISABLED: 'true' });
    expect(off.tracing).toBe(false);
    expect(off.modules).toEqual([]);
    expect(off.otlp.headers).toEqual([]);
  });

  it('with an endpoint set loads the SDK and exports the spans it still holds at SIGTERM', async () => {
    const on = await run({});
    expect(on.tracing).toBe(true);
    expect(on.modules.some((m) => m.includes('/@opentelemetry/sdk-trace-node/'))).toBe(true);
    // The batch exporter waits 5 s between exports; the call's spans left with the shutdown.
    expect(on.otlp.spans.map((s) => s.name)).toEqual(expect.arrayContaining(['POST /mcp', 'tools/call get_self', 'GET /v1/users']));
  });
});

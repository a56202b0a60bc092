/**
 * Progress and cancellation of long tool calls (save_pages, trash) on /mcp, in both protocol eras:
 * a tools/call with a progressToken is answered as an SSE stream of notifications/progress and
 * then its response; closing that stream, or a notifications/cancelled POSTed on its own, stops
 * the call between items. Real clients (@modelcontextprotocol/client 2.x at 2026-07-28, the 1.x
 * SDK at 2025-11-25) and raw requests against the real stack; the fake Notion records every write.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushTracing } from '../../src/lib/trace.js';
import { IDS, rowPage } from '../fixtures/pages.js';
import { fakeWorkspace, type RecordedRequest } from '../helpers/fake-notion.js';
import { connect, mcpPost } from '../helpers/oauth-client.js';
import { startOtlpReceiver } from '../helpers/otlp.js';
import { startStack } from '../helpers/stack.js';
import { startToolStack, type ToolStack } from '../helpers/tools.js';

const MODERN = '2026-07-28';
const LEGACY = '2025-11-25';
const rowId = (i: number) => `a0a0a0a0-a0a0-4a0a-8a0a-${String(i).padStart(12, '0')}`;
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ title: `Row ${i}` }));
type Json = Record<string, any>;

let ts: ToolStack;
beforeAll(async () => {
  ts = await startToolStack();
});
afterAll(async () => ts?.close());

/** Each POST /v1/pages creates a row; the `hold`th waits until `release()` (the others answer at once). */
let release: () => void;
function answerCreates(hold?: number): void {
  let n = 0;
  const held = new Promise<void>((resolve) => (release = resolve));
  ts.stack.fake.reset();
  ts.stack.fake.setHandler(async (req) => {
    if (req.path.startsWith('/v1/oauth/')) return undefined;
    if (req.method !== 'POST' || req.path !== '/v1/pages') return { status: 418, body: { object: 'error', status: 418, code: 'unexpected', message: req.path } };
    const i = ++n;
    if (i === hold) await held;
    return { status: 200, body: rowPage({ id: rowId(i) }) };
  });
}
beforeEach(() => {
  ts.stack.logs.length = 0;
});

const writes = (): RecordedRequest[] => ts.apiRequests().filter((r) => r.method === 'POST' && r.path === '/v1/pages');
const logged = (msg: string): Json | undefined => ts.stack.logs.map((l) => JSON.parse(l) as Json).find((l) => l.msg === msg);
const saveCall = (n: number) => ({ name: 'save_pages', arguments: { parent: IDS.dataSource, items: items(n) } });

/** A tools/call body in either era, with `meta` in params._meta. */
function callBody(era: 'modern' | 'legacy', id: number | string, meta: Json, call: Json = saveCall(3)) {
  const envelope = era === 'modern' ? { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } : {};
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { ...call, _meta: { ...envelope, ...meta } } };
}
const eraHeaders = (era: 'modern' | 'legacy', method = 'tools/call', name?: string): Record<string, string> =>
  era === 'modern' ? { 'mcp-protocol-version': MODERN, 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) } : { 'mcp-protocol-version': LEGACY };

/** The JSON messages of an SSE body. */
const events = (text: string): Json[] =>
  text
    .split('\n\n')
    .filter((e) => e.trim())
    .map((e) => {
      expect(e).toMatch(/^event: message\ndata: /);
      return JSON.parse(e.slice(e.indexOf('data: ') + 6)) as Json;
    });

describe('progress: a tools/call with a progressToken is answered as an SSE stream', () => {
  for (const era of ['modern', 'legacy'] as const) {
    it(`${era}: notifications/progress for each item with the token, then the response as the last event`, async () => {
      answerCreates();
      const res = await mcpPost(ts.stack.baseUrl, ts.token, callBody(era, 41, { progressToken: 'tok-1' }), eraHeaders(era, 'tools/call', 'save_pages'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      const all = events(await res.text());
      expect(all.slice(0, 3)).toEqual([1, 2, 3].map((progress) => ({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'tok-1', progress, total: 3 } })));
      expect(all).toHaveLength(4);
      const last = all[3]!;
      expect(last.id).toBe(41);
      expect(JSON.parse(last.result.content[0].text).saved.map((s: Json) => s.id)).toEqual([rowId(1), rowId(2), rowId(3)]);
      if (era === 'modern') expect(last.result.resultType).toBe('complete');
      expect(writes()).toHaveLength(3);
    });
  }

  it('2026-07-28 (@modelcontextprotocol/client 2.x): onprogress sees each item in order, and the result is complete', async () => {
    answerCreates();
    const client = new Client({ name: 'progress-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${ts.stack.baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${ts.token}` } } }));
    try {
      const seen: Json[] = [];
      const result = await client.callTool(saveCall(4), { onprogress: (p) => seen.push(p) });
      expect(seen.map((p) => [p.progress, p.total])).toEqual([
        [1, 4],
        [2, 4],
        [3, 4],
        [4, 4],
      ]);
      expect(result.isError ?? false).toBe(false);
      expect(JSON.parse((result.content as { text: string }[])[0]!.text).saved).toHaveLength(4);
    } finally {
      await client.close();
    }
  });

  it('2025-11-25 (the 1.x SDK after initialize): onprogress sees each item in order, and the result is complete', async () => {
    answerCreates();
    const client = new ClientV1({ name: 'progress-test-v1', version: '1.0.0' });
    const transport = new TransportV1(new URL(`${ts.stack.baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${ts.token}` } } });
    await client.connect(transport);
    try {
      expect(transport.protocolVersion).toBe(LEGACY);
      const seen: Json[] = [];
      const result = await client.callTool(saveCall(3), undefined, { onprogress: (p) => seen.push(p) });
      expect(seen.map((p) => [p.progress, p.total])).toEqual([
        [1, 3],
        [2, 3],
        [3, 3],
      ]);
      expect(JSON.parse((result.content as { text: string }[])[0]!.text).saved).toHaveLength(3);
    } finally {
      await client.close();
    }
  });

  for (const era of ['modern', 'legacy'] as const) {
    it(`${era}: without a progressToken, or with an Accept without text/event-stream, the answer is plain JSON as before`, async () => {
      answerCreates();
      const plain = await mcpPost(ts.stack.baseUrl, ts.token, callBody(era, 5, {}), eraHeaders(era, 'tools/call', 'save_pages'));
      expect(plain.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(plain.headers.get('content-length')).toBeTruthy();
      const body = (await plain.json()) as Json;
      expect(body.id).toBe(5);
      expect(JSON.parse(body.result.content[0].text).saved).toHaveLength(3);

      const jsonOnly = await mcpPost(ts.stack.baseUrl, ts.token, callBody(era, 6, { progressToken: 7 }), {
        ...eraHeaders(era, 'tools/call', 'save_pages'),
        accept: 'application/json',
      });
      expect(jsonOnly.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await jsonOnly.json()) as Json).id).toBe(6);
      expect(writes()).toHaveLength(6);
    });
  }

  it('trash reports progress per ID too', async () => {
    ts.answer((req) => (req.method === 'PATCH' ? { body: { object: 'page', id: req.path.split('/')[3], in_trash: true } } : undefined));
    const ids = [IDS.page, IDS.row, IDS.related];
    const res = await mcpPost(ts.stack.baseUrl, ts.token, callBody('legacy', 9, { progressToken: 9 }, { name: 'trash', arguments: { ids, kind: 'page' } }), eraHeaders('legacy'));
    const all = events(await res.text());
    expect(all.slice(0, 3).map((e) => e.params)).toEqual([1, 2, 3].map((progress) => ({ progressToken: 9, progress, total: 3 })));
    expect(JSON.parse(all[3]!.result.content[0].text).trashed.map((t: Json) => t.id)).toEqual(ids);
  });
});

describe('cancellation stops a batch between items', () => {
  it('2026-07-28: the client aborting the call (closing its stream) stops save_pages; no write follows', async () => {
    answerCreates(2);
    const client = new Client({ name: 'cancel-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${ts.stack.baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${ts.token}` } } }));
    try {
      const abort = new AbortController();
      const call = client.callTool(saveCall(5), { onprogress: (p) => p.progress === 1 && abort.abort('user stopped'), signal: abort.signal });
      await expect(call).rejects.toThrow();
      // The server saw the stream close while the second write was in flight; then that write ends.
      await vi.waitFor(() => expect(logged('tool call cancelled')).toMatchObject({ tool: 'save_pages', reason: 'the client closed the stream' }), { timeout: 10_000 });
      release();
      await vi.waitFor(() => expect(logged('cancelled tool call stopped')).toMatchObject({ tool: 'save_pages', progress: 2, total: 5 }), { timeout: 10_000 });
      expect(writes()).toHaveLength(2);
    } finally {
      await client.close();
    }
  });

  it('2025-11-25: a notifications/cancelled POSTed on its own stops the call; the stream ends without a response', async () => {
    answerCreates(2);
    const res = await mcpPost(ts.stack.baseUrl, ts.token, callBody('legacy', 'call-7', { progressToken: 'p' }, saveCall(5)), eraHeaders('legacy'));
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('\n\n')) text += (await reader.read()).value;
    expect(events(text)).toEqual([{ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: 1, total: 5 } }]);

    const cancel = (token: string, requestId: unknown) =>
      mcpPost(ts.stack.baseUrl, token, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'user stopped' } }, eraHeaders('legacy'));
    // Another connection's cancellation, and one for another id, do not touch this call.
    expect((await cancel(ts.readOnlyToken, 'call-7')).status).toBe(202);
    expect((await cancel(ts.token, 7)).status).toBe(202);
    expect(logged('tool call cancelled')).toBeUndefined();
    // Its own stops it: the second write (in flight) ends, no third one starts.
    expect((await cancel(ts.token, 'call-7')).status).toBe(202);
    expect(logged('tool call cancelled')).toMatchObject({ tool: 'save_pages', reason: 'user stopped' });
    release();
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
    // Per spec no response follows a cancellation: only the first item's progress was sent.
    expect(events(text)).toHaveLength(1);
    // The log says how far it got: the write in flight when the cancellation came finished.
    expect(logged('cancelled tool call stopped')).toMatchObject({ progress: 2, total: 5 });
    expect(writes()).toHaveLength(2);
  });

  it('2025-11-25 (the 1.x SDK): aborting the call sends notifications/cancelled, which stops save_pages', async () => {
    answerCreates(2);
    const client = new ClientV1({ name: 'cancel-test-v1', version: '1.0.0' });
    await client.connect(new TransportV1(new URL(`${ts.stack.baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${ts.token}` } } }));
    try {
      const abort = new AbortController();
      const call = client.callTool(saveCall(5), undefined, { onprogress: (p) => p.progress === 1 && abort.abort('user stopped'), signal: abort.signal });
      await expect(call).rejects.toThrow();
      await vi.waitFor(() => expect(logged('tool call cancelled')).toMatchObject({ tool: 'save_pages' }), { timeout: 10_000 });
      release();
      await vi.waitFor(() => expect(logged('cancelled tool call stopped')).toMatchObject({ progress: 2, total: 5 }), { timeout: 10_000 });
      expect(writes()).toHaveLength(2);
    } finally {
      await client.close();
    }
  });
});

describe('bad input', () => {
  for (const era of ['modern', 'legacy'] as const) {
    it(`${era}: a progressToken that is an object is refused as an invalid request (the SDK's schema), and nothing is written`, async () => {
      answerCreates();
      const res = await mcpPost(ts.stack.baseUrl, ts.token, callBody(era, 3, { progressToken: { a: 1 } }), eraHeaders(era, 'tools/call', 'save_pages'));
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.status).toBe(400);
      const body = (await res.json()) as Json;
      expect(body.error.code).toBe(-32600);
      expect(writes()).toHaveLength(0);
    });
  }

  it('a notifications/cancelled for an unknown request, or a malformed one, is a 202 and harmless', async () => {
    for (const params of [{ requestId: 'nope' }, { requestId: { a: 1 } }, {}]) {
      for (const era of ['modern', 'legacy'] as const) {
        const envelope = era === 'modern' ? { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } } : {};
        const res = await mcpPost(ts.stack.baseUrl, ts.token, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { ...params, ...envelope } }, eraHeaders(era, 'notifications/cancelled'));
        expect(res.status, `${era} ${JSON.stringify(params)}`).toBe(202);
      }
    }
    answerCreates();
    const res = await mcpPost(ts.stack.baseUrl, ts.token, callBody('legacy', 'nope', { progressToken: 1 }), eraHeaders('legacy'));
    expect(events(await res.text()).at(-1)!.id).toBe('nope');
    expect(writes()).toHaveLength(3);
  });
});

describe('the tools: a call cancelled between items says what was done and what was not', () => {
  /** Aborts the call's signal when progress reaches `at`, as the MCP layer does on a cancellation. */
  const cancelAt = (at: number) => {
    const abort = new AbortController();
    const seen: number[] = [];
    return { seen, signal: abort.signal, progress: (p: number) => (seen.push(p), p === at && abort.abort()) };
  };

  it('save_pages: the items saved, and not_run with the indexes to send again', async () => {
    answerCreates();
    const ctx = cancelAt(2);
    const res = await ts.result('save_pages', { parent: IDS.dataSource, items: items(5) }, ctx);
    const data = JSON.parse(res.content[0].text) as Json;
    expect(data.saved.map((s: Json) => [s.index, s.id])).toEqual([
      [0, rowId(1)],
      [1, rowId(2)],
    ]);
    expect(data.not_run).toEqual([2, 3, 4]);
    expect(data.resume).toMatch(/not_run/);
    expect(ctx.seen).toEqual([1, 2]);
    expect(writes()).toHaveLength(2);
  });

  it('trash: the IDs trashed, and not_run with the IDs it did not get to', async () => {
    ts.answer((req) => (req.method === 'PATCH' ? { body: { object: 'page', id: req.path.split('/')[3], in_trash: true } } : undefined));
    const ids = [IDS.page, IDS.row, IDS.related, IDS.parentPage];
    const ctx = cancelAt(1);
    const res = await ts.result('trash', { ids, kind: 'page' }, ctx);
    expect(JSON.parse(res.content[0].text)).toEqual({ trashed: [{ id: IDS.page, kind: 'page' }], not_run: ids.slice(1) });
    expect(ts.apiRequests().map((r) => `${r.method} ${r.path}`)).toEqual([`PATCH /v1/pages/${IDS.page}`]);
  });

  it('a call cancelled before it starts changes nothing', async () => {
    answerCreates();
    const abort = new AbortController();
    abort.abort();
    const data = JSON.parse((await ts.result('save_pages', { parent: IDS.dataSource, items: items(3) }, { signal: abort.signal })).content[0].text) as Json;
    expect(data).toMatchObject({ saved: [], not_run: [0, 1, 2] });
    expect(writes()).toHaveLength(0);
  });
});

// Last: tracing, once on, stays on in this process until its stack closes.
describe('tracing', () => {
  it('the MCP span of a streamed call ends with the call and records its outcome; the request log keeps the traceparent', async () => {
    const otlp = await startOtlpReceiver();
    const stack = await startStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } });
    try {
      const readOnly = (await connect(stack, fakeWorkspace('Traced'), 'read')).tokens.access_token;
      const trace = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      for (const era of ['modern', 'legacy'] as const) {
        const id = `traced-${era}`;
        const res = await mcpPost(stack.baseUrl, readOnly, callBody(era, id, { progressToken: 1, ...(era === 'modern' ? { traceparent: trace } : {}) }), eraHeaders(era, 'tools/call', 'save_pages'));
        expect(res.headers.get('content-type')).toBe('text/event-stream');
        expect(events(await res.text()).at(-1)!.result.isError).toBe(true);
        await flushTracing();
        const span = otlp.spans.find((s) => s.attributes['jsonrpc.request.id'] === id);
        expect(span?.name).toBe('tools/call save_pages');
        expect(span?.attributes['error.type']).toBe('tool_error');
        expect(span?.status).toMatchObject({ code: 2, message: 'read_only_connection' });
      }
      const line = stack.logs.map((l) => JSON.parse(l) as Json).find((l) => l.msg === 'request' && l.traceparent === trace);
      expect(line?.path).toBe('/mcp');
    } finally {
      await stack.close();
      await otlp.close();
    }
  });
});

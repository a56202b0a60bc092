import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Client, LogLevel } from '@notionhq/client';
import { afterEach, describe, expect, it } from 'vitest';
import { endpointGroup, keepAliveFetch } from '../../src/notion/fetch.js';
import { toToolError } from '../../src/notion/session.js';

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
  remotePort?: number;
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A local HTTP server that records each request and answers with `answer`. */
async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const state = { connections: 0, closed: 0 };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), remotePort: req.socket.remotePort });
      answer(req, res);
    });
  });
  server.on('connection', (socket) => {
    state.connections++;
    socket.on('close', () => state.closed++);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, state };
}

const clientFor = (baseUrl: string, timeoutMs = 2000) =>
  new Client({ baseUrl, timeoutMs, retry: false, logLevel: LogLevel.ERROR, notionVersion: '2026-03-11', fetch: keepAliveFetch({ deadlineMs: timeoutMs + 300 }) });

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
};

describe('keep-alive fetch for the Notion client', () => {
  it('sends the exact request and keeps its connections open for the next calls', async () => {
    const { url, seen, state } = await serve(json(200, { object: 'list', results: [], has_more: false, next_cursor: null }));
    const client = clientFor(url);
    const first = await client.search({ auth: 'secret_a', query: 'Roadmap' });
    await client.search({ auth: 'secret_b', query: 'Notes' });
    for (let i = 0; i < 4; i++) await client.search({ auth: 'secret_b', query: 'Notes' });
    expect(first).toEqual({ object: 'list', results: [], has_more: false, next_cursor: null });
    expect(seen).toHaveLength(6);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/search', body: JSON.stringify({ query: 'Roadmap' }) });
    expect(seen[0]!.headers).toMatchObject({
      authorization: 'Bearer secret_a',
      'notion-version': '2026-03-11',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(JSON.stringify({ query: 'Roadmap' }))),
    });
    expect(seen[1]!.headers.authorization).toBe('Bearer secret_b');
    // Keep-alive: six calls in a row over at most two sockets (the pool may open a second one while
    // the first is still being marked free), none closed.
    expect(state.connections).toBeLessThanOrEqual(2);
    expect(state.closed).toBe(0);
    expect(new Set(seen.map((s) => s.remotePort)).size).toBe(state.connections);
  });

  it('sends a GET without a body and decodes a gzip answer', async () => {
    const page = { object: 'page', id: 'p1', properties: { title: { title: [] } } };
    const { url, seen } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(JSON.stringify(page)));
    });
    expect(await clientFor(url).pages.retrieve({ auth: 'secret_a', page_id: 'p1' })).toEqual(page);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/v1/pages/p1', body: '' });
    expect(seen[0]!.headers['content-length']).toBeUndefined();
    expect(seen[0]!.headers['accept-encoding']).toContain('gzip');
  });

  it("keeps Notion's error code, status and Retry-After header", async () => {
    const { url } = await serve(json(429, { object: 'error', status: 429, code: 'rate_limited', message: 'Slow down' }, { 'retry-after': '7' }));
    const err = await clientFor(url).search({ auth: 'secret_a' }).catch((e: unknown) => e);
    const tool = toToolError(err);
    expect(tool.code).toBe('rate_limited');
    expect(tool.extra).toMatchObject({ status: 429, retry_after_seconds: 7 });
  });

  it('reports a refused connection as notion_unreachable', async () => {
    const { url } = await serve(json(200, {}));
    server!.close();
    await new Promise((r) => setTimeout(r, 20));
    const err = await clientFor(url).search({ auth: 'secret_a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(toToolError(err).code).toBe('notion_unreachable');
  });

  it('times out a body that stops half way, and drops that connection', async () => {
    const { url, seen, state } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"object":"list",');
    });
    const started = Date.now();
    const err = await clientFor(url, 300).search({ auth: 'secret_a' }).catch((e: unknown) => e);
    expect(toToolError(err).code).toBe('notion_timeout');
    expect(Date.now() - started).toBeLessThan(2000);
    await expect.poll(() => state.closed, { timeout: 2000 }).toBeGreaterThanOrEqual(1);
    expect(seen).toHaveLength(1);
  });

  it('at its deadline closes the socket first, then rejects as a Notion timeout', async () => {
    const { url, seen, state } = await serve(() => {}); // never answers
    const err = await keepAliveFetch({ deadlineMs: 200 })(`${url}/v1/users/me`, { method: 'GET', headers: {} }).catch((e: unknown) => e);
    expect(toToolError(err).code).toBe('notion_timeout');
    // The caller's slot is free only now, and the socket is already being closed; nothing is sent again.
    await expect.poll(() => state.closed, { timeout: 2000 }).toBeGreaterThanOrEqual(1);
    expect(seen).toHaveLength(1);
  });

  it('at shutdown ends the calls in flight and refuses new ones at once', async () => {
    const { url, state } = await serve(() => {});
    const stop = new AbortController();
    const f = keepAliveFetch({ deadlineMs: 60_000, stopping: stop.signal });
    const pending = f(`${url}/v1/users/me`, { method: 'GET', headers: {} }).catch((e: unknown) => e);
    await expect.poll(() => state.connections).toBe(1);
    stop.abort();
    expect(toToolError(await pending).code).toBe('notion_unreachable');
    await expect.poll(() => state.closed, { timeout: 2000 }).toBe(1);
    await expect(f(`${url}/v1/users/me`, { method: 'GET', headers: {} })).rejects.toThrow(TypeError);
    expect(state.connections).toBe(1);
  });

  it('sends multipart bodies through global fetch', async () => {
    const { url, seen } = await serve(json(200, { ok: true }));
    const form = new FormData();
    form.append('file', new Blob(['hello']), 'hello.txt');
    const res = await keepAliveFetch({ deadlineMs: 2000 })(`${url}/v1/file_uploads/f1/send`, { method: 'POST', body: form, headers: { authorization: 'Bearer secret_a' } });
    expect(res.status).toBe(200);
    expect(seen[0]!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(seen[0]!.body).toContain('hello');
  });
});

describe('endpointGroup (the bounded label of notion_request_duration_seconds)', () => {
  it('is the first segment after /v1/ when it is a known group, else other', () => {
    expect(['/v1/pages/abc/markdown', '/v1/users/me', '/v1/users?page_size=1', '/v1/oauth/token', '/v1/data_sources/x/query'].map(endpointGroup)).toEqual([
      'pages',
      'users',
      'users',
      'oauth',
      'data_sources',
    ]);
    expect(['/v1/secrets/abc', '/v1', '/', '', '/v1/'].map(endpointGroup)).toEqual(['other', 'other', 'other', 'other', 'other']);
  });
});

import type { lookup as dnsLookup, LookupOptions } from 'node:dns';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSafeDownloader } from '../../src/lib/safe-fetch.js';
import { importPolling, MAX_SENT_BYTES, PART_BYTES, partPlan, SINGLE_PART_MAX_BYTES, sending } from '../../src/tools/files.js';
import { BLOCK_ID, dashless, failedImport, fileUpload, PAGE_ID, UPLOAD_ID } from '../fixtures/files.js';
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../fixtures/tls.js';
import { fakeWorkspace, type RecordedRequest } from '../helpers/fake-notion.js';
import { callTool, connect } from '../helpers/oauth-client.js';
import { routes, type ToolStack, startToolStack } from '../helpers/tools.js';

/** The Notion endpoints reached by the rarer ops: file upload listing and AI meeting notes. */

const NOTES_ID = '3c90c3cc-0d44-4b50-8888-8dd25736052a';
const USER = { object: 'user', id: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d' };

/** A meeting_notes block as Notion 2026-03-11 answers (create and query). */
const meetingNotes = (status: string, title = 'Weekly sync') => ({
  object: 'block',
  id: NOTES_ID,
  type: 'meeting_notes',
  meeting_notes: {
    title: [{ type: 'text', text: { content: title, link: null }, annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' }, plain_text: title, href: null }],
    status,
    children: { summary_block_id: '4d5e6f70-8192-4a3b-8c4d-5e6f70819203', notes_block_id: '5e6f7081-9203-4b4c-9d5e-6f7081920314', transcript_block_id: '6f708192-0314-4c5d-8e6f-708192031425' },
    recording: { start_time: '2026-11-02T09:00:00.000Z', end_time: '2026-11-02T09:30:00.000Z' },
  },
  created_time: '2026-11-02T09:31:00.000Z',
  last_edited_time: '2026-11-02T09:31:00.000Z',
  created_by: USER,
  last_edited_by: USER,
  has_children: true,
  in_trash: false,
  request_id: 'req-notes',
});

describe('file upload listing and meeting notes', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(() => ts.close());

  it('after a 401 that no token refresh fixes, asks Notion (introspect) whether the access was revoked', async () => {
    const fake = ts.stack.fake;
    fake.consentRefreshTokens = false;
    const { tokens } = await connect(ts.stack, fakeWorkspace('Gone'));
    fake.consentRefreshTokens = true;
    const notionToken = [...fake.tokens].find(([, w]) => w.name === 'Workspace Gone')![0];
    const get = () => callTool(ts.stack.baseUrl, tokens.access_token, 'get_page', { page_id: PAGE_ID });

    // Refused, yet still active at Notion: the usual error, which does not claim a revocation.
    fake.reset();
    fake.setHandler((req) => (req.path.startsWith('/v1/pages/') ? { status: 401, body: { object: 'error', status: 401, code: 'unauthorized', message: 'API token is invalid.' } } : undefined));
    const refused = await get();
    expect(refused.data.error.code).toBe('unauthorized');
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/pages/${PAGE_ID}`, 'POST /v1/oauth/introspect']);
    const introspect = fake.requests[1]!;
    expect(introspect.headers.authorization).toBe(`Basic ${Buffer.from(`${fake.clientId}:${fake.clientSecret}`).toString('base64')}`);
    expect(introspect.headers['notion-version']).toBe('2026-03-11');
    expect(introspect.body).toEqual({ token: notionToken });

    // Removed in Notion: introspection says inactive, and the error says so.
    fake.tokens.delete(notionToken);
    fake.reset();
    const revoked = await get();
    expect(revoked.isError).toBe(true);
    expect(revoked.data.error.code).toBe('notion_access_revoked');
    expect(revoked.data.error.message).toMatch(/revoked .* Reconnect the connector/);
    expect(fake.requests.map((r) => r.path)).toEqual([`/v1/pages/${PAGE_ID}`, '/v1/oauth/introspect']);
    expect(JSON.stringify(revoked.data)).not.toContain(notionToken);
  });

  it('list_file_uploads: GET with the status filter and paging; summaries without pre-signed URLs', async () => {
    const pending = fileUpload();
    ts.answer(
      routes({
        'GET /v1/file_uploads': {
          body: { object: 'list', results: [pending], next_cursor: 'cursor-2', has_more: true, type: 'file_upload', file_upload: {}, request_id: 'req-list' },
        },
      }),
    );
    const res = await ts.call('more', { op: 'list_file_uploads', args: { status: 'pending', page_size: 1, start_cursor: 'cursor-1' } });
    expect(res.isError).toBe(false);
    ts.oneCall('GET', '/v1/file_uploads', { status: 'pending', page_size: '1', start_cursor: 'cursor-1' });
    expect(res.data).toEqual({
      results: [{ object: 'file_upload', id: UPLOAD_ID, status: 'pending', filename: 'notes.txt', content_type: 'text/plain', expiry_time: pending.expiry_time }],
      has_more: true,
      next_cursor: 'cursor-2',
    });
    expect(JSON.stringify(res.data)).not.toContain('upload_url');
  });

  it('list_file_uploads refuses an unknown status before Notion', async () => {
    ts.answer(routes({}));
    const res = await ts.call('list_file_uploads', { status: 'done' });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('invalid_arguments');
    ts.upstream(0);
  });

  it('create_meeting_notes from a file upload: POST /v1/blocks/meeting_notes with source, parent, title and options', async () => {
    ts.answer(routes({ 'POST /v1/blocks/meeting_notes': { body: meetingNotes('transcription_in_progress') } }));
    const res = await ts.call('create_meeting_notes', {
      file_upload_id: dashless(UPLOAD_ID),
      page_id: `https://www.notion.so/acme/Standups-${dashless(PAGE_ID)}`,
      title: 'Weekly sync',
      summarize: false,
    });
    expect(res.isError).toBe(false);
    const req = ts.oneCall('POST', '/v1/blocks/meeting_notes');
    expect(req.body).toEqual({
      source: { type: 'file_upload', file_upload_id: UPLOAD_ID },
      parent: { type: 'page_id', page_id: PAGE_ID },
      title: 'Weekly sync',
      options: { kickoff_summary: false },
    });
    expect(res.data).toMatchObject({ object: 'block', id: NOTES_ID, type: 'meeting_notes' });
    expect(JSON.stringify(res.data)).toContain('transcription_in_progress');
    expect(JSON.stringify(res.data)).not.toContain('request_id');
  });

  it('create_meeting_notes from an audio block sends no parent', async () => {
    ts.answer(routes({ 'POST /v1/blocks/meeting_notes': { body: { object: 'block', id: NOTES_ID, request_id: 'r' } } }));
    const res = await ts.call('create_meeting_notes', { block_id: BLOCK_ID });
    expect(res.isError).toBe(false);
    expect(ts.oneCall('POST', '/v1/blocks/meeting_notes').body).toEqual({ source: { type: 'block', block_id: BLOCK_ID } });
    expect(res.data).toEqual({ object: 'block', id: NOTES_ID });
  });

  it('create_meeting_notes refuses a wrong mix of source and parent before Notion', async () => {
    ts.answer(routes({}));
    for (const [args, field] of [
      [{}, 'file_upload_id'],
      [{ file_upload_id: UPLOAD_ID, block_id: BLOCK_ID, page_id: PAGE_ID }, 'file_upload_id'],
      [{ file_upload_id: UPLOAD_ID }, 'page_id'],
      [{ block_id: BLOCK_ID, page_id: PAGE_ID }, 'page_id'],
    ] as const) {
      const res = await ts.call('create_meeting_notes', args);
      expect(res.isError, JSON.stringify(args)).toBe(true);
      expect(res.data.error.code).toBe('invalid_arguments');
      expect(res.data.error.message).toContain(`${field}:`);
    }
    ts.upstream(0);
    await ts.expectWritesRefused([['create_meeting_notes', { block_id: BLOCK_ID }]] as const);
  });

  it('query_meeting_notes: POST /v1/blocks/meeting_notes/query with filter, sort and limit, also on a read-only connection', async () => {
    const filter = { property: 'attendees', filter: { operator: 'is_not_empty' } };
    const sort = [{ property: 'created_time', direction: 'descending' }];
    ts.answer(routes({ 'POST /v1/blocks/meeting_notes/query': { body: { results: [meetingNotes('notes_ready')], has_more: false, request_id: 'q' } } }));
    const res = await ts.call('more', { op: 'query_meeting_notes', args: { filter: JSON.stringify(filter), sort, limit: 5 } }, ts.readOnlyToken);
    expect(res.isError).toBe(false);
    const req = ts.oneCall('POST', '/v1/blocks/meeting_notes/query', {}, { token: ts.readOnlyNotionToken });
    expect(req.body).toEqual({ filter, sort, limit: 5 });
    expect(res.data.has_more).toBe(false);
    expect(res.data.results).toHaveLength(1);
    expect(JSON.stringify(res.data.results[0])).toContain('notes_ready');
  });

  it('query_meeting_notes: title becomes a string_contains filter, and-ed with a given filter', async () => {
    const byTitle = { property: 'title', filter: { operator: 'string_contains', value: { type: 'exact', value: 'sync' } } };
    const attendees = { property: 'attendees', filter: { operator: 'is_not_empty' } };
    ts.answer(routes({ 'POST /v1/blocks/meeting_notes/query': { body: { results: [], has_more: false } } }));
    expect((await ts.call('query_meeting_notes', { title: 'sync' })).isError).toBe(false);
    expect((await ts.call('query_meeting_notes', { title: 'sync', filter: attendees })).isError).toBe(false);
    expect((await ts.call('query_meeting_notes', {})).isError).toBe(false);
    const [one, both, none] = ts.upstream(3);
    expect(one!.body).toEqual({ filter: byTitle });
    expect(both!.body).toEqual({ filter: { operator: 'and', filters: [byTitle, attendees] } });
    expect(none!.body).toEqual({});
  });
});

// ------------------------------------------------------------------------------------------------
// upload_file: a URL Notion cannot import, sent by the connector (single part or multi-part)
// ------------------------------------------------------------------------------------------------

const MiB = 1024 * 1024;

describe('the part plan with the real sizes', () => {
  /** Each part's size: `parts` parts of PART_BYTES, the last one what is left. */
  const sizes = (size: number) => {
    const { parts } = partPlan(size);
    return Array.from({ length: parts }, (_, i) => (parts === 1 ? size : Math.min(PART_BYTES, size - i * PART_BYTES)));
  };

  it('sends up to 20 MiB in one request and more in 10 MiB parts, each 5–20 MiB but the last', () => {
    expect([SINGLE_PART_MAX_BYTES, PART_BYTES, MAX_SENT_BYTES]).toEqual([20 * MiB, 10 * MiB, 1024 * MiB]);
    expect(sizes(1)).toEqual([1]);
    expect(sizes(20 * MiB)).toEqual([20 * MiB]);
    expect(sizes(20 * MiB + 1)).toEqual([10 * MiB, 10 * MiB, 1]);
    expect(sizes(45 * MiB)).toEqual([10 * MiB, 10 * MiB, 10 * MiB, 10 * MiB, 5 * MiB]);
    expect(partPlan(MAX_SENT_BYTES).parts).toBe(103);
    for (const size of [20 * MiB + 1, 30 * MiB, 45 * MiB + 7, MAX_SENT_BYTES]) {
      const all = sizes(size);
      expect(all.reduce((a, b) => a + b, 0)).toBe(size);
      for (const part of all.slice(0, -1)) expect(part >= 5 * MiB && part <= 20 * MiB).toBe(true);
      expect(all.length).toBeLessThanOrEqual(10_000); // Notion's number_of_parts bound
    }
  });
});

/** The fields of a multipart/form-data body as the fake recorded it (text, so the test files are ASCII). */
function formFields(req: RecordedRequest): Record<string, string> {
  const boundary = /boundary=(.+)$/.exec(req.headers['content-type'] ?? '')?.[1];
  const out: Record<string, string> = {};
  for (const section of String(req.body).split(`--${boundary}`)) {
    const m = /^\r\nContent-Disposition: form-data; name="([^"]+)"[^\r]*\r\n(?:[^\r]+\r\n)*\r\n([\s\S]*)\r\n$/.exec(section);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** `n` bytes of letters and digits in a pattern that makes misplaced parts visible. */
const fileOf = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[(i * 7 + (i >> 12)) % 62]).join(''));

describe('upload_file sends a URL Notion refuses from the connector', () => {
  let ts: ToolStack;
  let source: Server;
  let port: number;
  const served: IncomingMessage[] = [];
  const saved = { ...sending };
  const savedDelays = importPolling.delaysMs;
  const BIG = fileOf(300 * 1024); // 5 parts of 64 KiB, the last 44 KiB
  const SMALL = fileOf(5000);
  /** Every host name resolves to the loopback source (it has a certificate for claude.ai). */
  const toLoopback = ((_h: string, o: LookupOptions, cb: (...a: unknown[]) => void) =>
    o.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as unknown as typeof dnsLookup;

  beforeAll(async () => {
    ts = await startToolStack();
    importPolling.delaysMs = [5];
    source = createServer({ cert: TEST_TLS_CERT, key: TEST_TLS_KEY }, (req: IncomingMessage, res: ServerResponse) => {
      served.push(req);
      if (req.url === '/big.mov') return res.writeHead(200, { 'content-type': 'video/quicktime', 'content-length': BIG.length }).end(BIG);
      if (req.url === '/small.txt') return res.writeHead(200, { 'content-type': 'text/plain', 'content-length': SMALL.length }).end(SMALL);
      if (req.url === '/unsized.txt' || req.url === '/unsized.mov') {
        res.writeHead(200, { 'content-type': 'text/plain' }); // chunked: no Content-Length
        return res.end(req.url === '/unsized.txt' ? SMALL : BIG);
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
    port = (source.address() as AddressInfo).port;
    Object.assign(sending, {
      download: createSafeDownloader(toLoopback, { allowAddress: (ip) => ip === '127.0.0.1', ca: TEST_TLS_CERT }),
      singlePartMax: 128 * 1024,
      partBytes: 64 * 1024,
    });
  });
  afterAll(async () => {
    Object.assign(sending, saved);
    importPolling.delaysMs = savedDelays;
    await new Promise<void>((r) => source.close(() => r()));
    await ts.close();
  });

  const REFUSED = { status: 400, body: { object: 'error', status: 400, code: 'validation_error', message: 'The URL is not publicly accessible.' } };

  /**
   * Notion for one upload: the external_url create is refused, a multi_part or single_part
   * create answers pending, each send records its part, complete answers uploaded.
   */
  function answerParts(parts: Map<string, string>) {
    ts.answer((req) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (req.method === 'POST' && req.path === '/v1/file_uploads') {
        if (body.mode === 'external_url') return REFUSED;
        const total = body.number_of_parts as number | undefined;
        return { body: fileUpload({ filename: body.filename, content_type: 'video/quicktime', ...(total ? { number_of_parts: { total, sent: 0 } } : {}) }) };
      }
      if (req.path === `/v1/file_uploads/${UPLOAD_ID}/send`) {
        const fields = formFields(req);
        parts.set(fields.part_number ?? 'single', fields.file ?? '');
        return { body: fileUpload({ status: fields.part_number ? 'pending' : 'uploaded', content_type: 'video/quicktime', upload_url: undefined }) };
      }
      if (req.path === `/v1/file_uploads/${UPLOAD_ID}/complete`) {
        return { body: fileUpload({ status: 'uploaded', filename: 'demo.mov', content_type: 'video/quicktime', content_length: BIG.length, upload_url: undefined }) };
      }
      return { status: 418, body: { object: 'error', status: 418, code: 'unexpected', message: `no route for ${req.method} ${req.path}` } };
    });
  }

  it('downloads it and sends it in parts: create multi_part with number_of_parts, each part with its number, complete; progress per part', async () => {
    const parts = new Map<string, string>();
    answerParts(parts);
    served.length = 0;
    const progress: [number, number | undefined][] = [];
    const url = `https://claude.ai:${port}/big.mov`;
    const res = await ts.result('upload_file', { filename: 'demo.mov', url, content_type: 'video/quicktime' }, { progress: (p, t) => progress.push([p, t]) });
    const data = JSON.parse(res.content[0].text);
    expect(data.error).toBeUndefined();

    const calls = ts.upstream(8);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/file_uploads',
      'POST /v1/file_uploads',
      ...Array.from({ length: 5 }, () => `POST /v1/file_uploads/${UPLOAD_ID}/send`),
      `POST /v1/file_uploads/${UPLOAD_ID}/complete`,
    ]);
    expect(calls[0]!.body).toEqual({ mode: 'external_url', external_url: url, filename: 'demo.mov', content_type: 'video/quicktime' });
    expect(calls[1]!.body).toEqual({ mode: 'multi_part', filename: 'demo.mov', number_of_parts: 5, content_type: 'video/quicktime' });
    expect(calls.slice(2, 7).map((c) => formFields(c).part_number)).toEqual(['1', '2', '3', '4', '5']);
    expect(calls[7]!.body).toBeUndefined();
    // The parts are the file, in order: four of 64 KiB and the rest.
    expect([...parts.values()].map((p) => p.length)).toEqual([65536, 65536, 65536, 65536, 307200 - 4 * 65536]);
    expect(Buffer.from([...parts.keys()].sort().map((k) => parts.get(k)).join(''))).toEqual(BIG);
    expect(progress).toEqual([[1, 5], [2, 5], [3, 5], [4, 5], [5, 5]]);

    expect(served).toHaveLength(1);
    expect(served[0]!.method).toBe('GET');
    expect(served[0]!.headers['user-agent']).toMatch(/^notion-mcp-remote\/.* \(\+file upload to Notion\)$/);
    expect(data.file_upload).toMatchObject({ id: UPLOAD_ID, status: 'uploaded', content_length: BIG.length });
    expect(data.sent).toEqual({ by: 'connector', parts: 5, because: 'The URL is not publicly accessible.' });
    expect(data.note).toMatch(/Not attached/);
  });

  it('a failed import (download_error) of a small file is sent in one request, then attached', async () => {
    const parts = new Map<string, string>();
    ts.answer((req) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (req.method === 'POST' && req.path === '/v1/file_uploads') {
        return { body: body.mode === 'external_url' ? fileUpload({ filename: 'small.txt', upload_url: undefined }) : fileUpload({ filename: 'small.txt' }) };
      }
      if (req.method === 'GET') return { body: failedImport };
      if (req.path.endsWith('/send')) {
        parts.set(formFields(req).part_number ?? 'single', formFields(req).file ?? '');
        return { body: fileUpload({ status: 'uploaded', filename: 'small.txt', content_length: SMALL.length, upload_url: undefined }) };
      }
      if (req.method === 'PATCH') return { body: { object: 'list', results: [{ object: 'block', id: BLOCK_ID, type: 'file' }], next_cursor: null, has_more: false } };
      return undefined;
    });
    const res = await ts.call('upload_file', { filename: 'small.txt', url: `https://claude.ai:${port}/small.txt`, attach_to: { block_id: PAGE_ID } });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(5);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/file_uploads',
      `GET /v1/file_uploads/${UPLOAD_ID}`,
      'POST /v1/file_uploads',
      `POST /v1/file_uploads/${UPLOAD_ID}/send`,
      `PATCH /v1/blocks/${PAGE_ID}/children`,
    ]);
    expect(calls[2]!.body).toEqual({ mode: 'single_part', filename: 'small.txt' });
    expect([...parts.entries()]).toEqual([['single', SMALL.toString()]]);
    expect(res.data.sent).toEqual({ by: 'connector', parts: 1, because: 'The file upload failed. The remote server responded with status 404.' });
    expect(res.data.attached.block_id).toBe(PAGE_ID);
  });

  it('a file without Content-Length is sent in one request when it fits, and refused when it does not', async () => {
    const parts = new Map<string, string>();
    answerParts(parts);
    const ok = await ts.call('upload_file', { filename: 'unsized.txt', url: `https://claude.ai:${port}/unsized.txt` });
    expect(ok.isError).toBe(false);
    expect(ts.upstream(3)[1]!.body).toEqual({ mode: 'single_part', filename: 'unsized.txt' });
    expect(parts.get('single')).toBe(SMALL.toString());

    answerParts(parts);
    const big = await ts.call('upload_file', { filename: 'unsized.mov', url: `https://claude.ai:${port}/unsized.mov` });
    expect(big.isError).toBe(true);
    expect(big.data.error.code).toBe('file_size_unknown');
    ts.upstream(1); // only Notion's refused import: nothing was created to send into
  });

  it('stops between parts when the call is cancelled, and never completes the upload', async () => {
    answerParts(new Map());
    const abort = new AbortController();
    const run = ts.result('upload_file', { filename: 'demo.mov', url: `https://claude.ai:${port}/big.mov` }, { signal: abort.signal, progress: (p) => p === 2 && abort.abort() });
    await expect(run).rejects.toMatchObject({ code: 'cancelled', message: expect.stringMatching(/after 2 of 5 parts/) });
    const calls = ts.upstream(4);
    expect(calls.map((c) => c.path)).not.toContain(`/v1/file_uploads/${UPLOAD_ID}/complete`);
    expect(calls.slice(2).map((c) => formFields(c).part_number)).toEqual(['1', '2']);
  });

  it("when the connector cannot download it either, Notion's refusal comes back with the connector's reason", async () => {
    answerParts(new Map());
    const gone = await ts.call('upload_file', { filename: 'a.png', url: `https://claude.ai:${port}/gone.png` });
    expect(gone.isError).toBe(true);
    expect(gone.data.error).toMatchObject({ code: 'validation_error', message: 'The URL is not publicly accessible.', connector_download: 'it answered HTTP 404' });
    ts.upstream(1);

    // The real downloader: a name that resolves to a private address is refused before any connection.
    sending.download = createSafeDownloader(toLoopback, { ca: TEST_TLS_CERT });
    served.length = 0;
    answerParts(new Map());
    const inside = await ts.call('upload_file', { filename: 'demo.mov', url: `https://claude.ai:${port}/big.mov` });
    sending.download = createSafeDownloader(toLoopback, { allowAddress: (ip) => ip === '127.0.0.1', ca: TEST_TLS_CERT });
    expect(inside.isError).toBe(true);
    expect(inside.data.error.connector_download).toMatch(/127\.0\.0\.1, which is not a public address/);
    expect(served).toHaveLength(0);
    ts.upstream(1);
  });

  it('refuses a file over the size cap before creating anything', async () => {
    answerParts(new Map());
    sending.maxBytes = 100 * 1024;
    const res = await ts.call('upload_file', { filename: 'demo.mov', url: `https://claude.ai:${port}/big.mov` });
    sending.maxBytes = MAX_SENT_BYTES;
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'file_too_large', size_bytes: BIG.length, limit_bytes: 100 * 1024 });
    ts.upstream(1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { lookup as dnsLookup } from 'node:dns';
import { createSafeDownloader } from '../../src/lib/safe-fetch.js';
import { blockTypeFor, importPolling, MAX_INLINE_BYTES, sending } from '../../src/tools/files.js';
import {
  appendedMedia,
  BLOCK_ID,
  customEmojis,
  DB_ID,
  DS_ID,
  dashless,
  failedImport,
  fileUpload,
  importedUpload,
  NEW_BLOCK_ID,
  PAGE_ID,
  page,
  pageWithAttachment,
  pageWithCover,
  restoredBlock,
  restoredDatabase,
  restoredDataSource,
  UPLOAD_ID,
} from '../fixtures/files.js';
import type { RecordedRequest } from '../helpers/fake-notion.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';

const PAGE_URL = `https://www.notion.so/acme/Q3-report-${dashless(PAGE_ID)}`;

describe('file upload, custom emoji, async task and trash tools', () => {
  let ts: ToolStack;
  const savedDelays = importPolling.delaysMs;
  const savedDownload = sending.download;
  beforeAll(async () => {
    ts = await startToolStack();
    importPolling.delaysMs = [5, 5, 5];
    // No host of these tests exists: the connector's own download of a refused URL fails at DNS.
    const noSuchHost = ((host: string, _o: unknown, cb: (err: Error) => void) => cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }))) as unknown as typeof dnsLookup;
    sending.download = createSafeDownloader(noSuchHost);
  });
  afterAll(async () => {
    importPolling.delaysMs = savedDelays;
    sending.download = savedDownload;
    await ts.close();
  });

  const expectCall = (req: RecordedRequest | undefined, method: string, path: string, body?: unknown) => {
    expect(req?.method).toBe(method);
    expect(req?.path).toBe(path);
    expect(req?.query).toEqual({});
    expect(req?.headers['notion-version']).toBe('2026-03-11');
    expect(req?.headers.authorization).toBe(`Bearer ${ts.notionToken}`);
    if (body !== undefined) expect(req?.body).toEqual(body);
  };

  /** The multipart send: form-data with one `file` part carrying the name, type and bytes. */
  const expectMultipart = (req: RecordedRequest | undefined, filename: string, contentType: string, bytes: string) => {
    expectCall(req, 'POST', `/v1/file_uploads/${UPLOAD_ID}/send`);
    expect(req?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(typeof req?.body).toBe('string');
    const body = req?.body as string;
    expect(body).toContain(`Content-Disposition: form-data; name="file"; filename="${filename}"`);
    expect(body).toContain(`Content-Type: ${contentType}`);
    expect(body).toContain(bytes);
  };

  /** Answers a content upload: create → pending upload, send → uploaded, anything else → `rest`. */
  const answerUpload = (upload: Record<string, unknown>, rest: (req: RecordedRequest) => unknown = () => ({})) =>
    ts.answer((req) => {
      if (req.method === 'POST' && req.path === '/v1/file_uploads') return { body: fileUpload(upload) };
      if (req.path.endsWith('/send')) return { body: fileUpload({ ...upload, status: 'uploaded', upload_url: undefined }) };
      return { body: rest(req) };
    });

  // ----------------------------------------------------------------------------------------------
  // upload_file: inline content
  // ----------------------------------------------------------------------------------------------

  it('upload_file sends inline text as a single-part upload and says an unattached upload expires', async () => {
    answerUpload({ content_length: 24 });
    const res = await ts.call('upload_file', { filename: 'notes.txt', content: 'Meeting notes: ship it.\n', content_type: 'text/plain' });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(2);
    expectCall(calls[0], 'POST', '/v1/file_uploads', { mode: 'single_part', filename: 'notes.txt', content_type: 'text/plain' });
    expectMultipart(calls[1], 'notes.txt', 'text/plain', 'Meeting notes: ship it.\n');
    expect(res.data.file_upload).toEqual({
      object: 'file_upload',
      id: UPLOAD_ID,
      status: 'uploaded',
      filename: 'notes.txt',
      content_type: 'text/plain',
      content_length: 24,
      expiry_time: '2026-11-02T10:00:00.000Z',
    });
    expect(res.data.note).toMatch(/hour/);
    expect(JSON.stringify(res.data)).not.toContain('request_id');
  });

  it('upload_file decodes base64 and appends a pdf block to a page given by URL (a page is a block)', async () => {
    const pdf = '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n';
    answerUpload({ filename: 'report.pdf', content_type: 'application/pdf' }, () => appendedMedia('pdf', 'https://files.example/report.pdf', { type: 'page_id', page_id: PAGE_ID }));
    const res = await ts.call('upload_file', {
      filename: 'report.pdf',
      content: Buffer.from(pdf).toString('base64'),
      encoding: 'base64',
      content_type: 'application/pdf',
      attach_to: { block_id: PAGE_URL },
    });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(3);
    expectCall(calls[0], 'POST', '/v1/file_uploads', { mode: 'single_part', filename: 'report.pdf', content_type: 'application/pdf' });
    expectMultipart(calls[1], 'report.pdf', 'application/pdf', pdf);
    expectCall(calls[2], 'PATCH', `/v1/blocks/${PAGE_ID}/children`, {
      children: [{ type: 'pdf', pdf: { type: 'file_upload', file_upload: { id: UPLOAD_ID } } }],
    });
    expect(res.data.file_upload).toMatchObject({ id: UPLOAD_ID, status: 'uploaded', content_type: 'application/pdf' });
    expect(res.data.attached).toEqual({ block_id: PAGE_ID, added: { id: NEW_BLOCK_ID, type: 'pdf' } });
    expect(res.data.note).toBeUndefined();
  });

  it('upload_file takes the type of a data: URL and appends an image block', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>';
    answerUpload({ filename: 'dot.svg', content_type: 'image/svg+xml' }, () => appendedMedia('image', 'https://files.example/dot.svg'));
    const res = await ts.call('upload_file', {
      filename: 'dot.svg',
      content: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`,
      attach_to: { block_id: dashless(BLOCK_ID) },
    });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(3);
    expectCall(calls[0], 'POST', '/v1/file_uploads', { mode: 'single_part', filename: 'dot.svg', content_type: 'image/svg+xml' });
    expectMultipart(calls[1], 'dot.svg', 'image/svg+xml', svg);
    expectCall(calls[2], 'PATCH', `/v1/blocks/${BLOCK_ID}/children`, {
      children: [{ type: 'image', image: { type: 'file_upload', file_upload: { id: UPLOAD_ID } } }],
    });
    expect(res.data.attached).toEqual({ block_id: BLOCK_ID, added: { id: expect.any(String), type: 'image' } });
    expect(JSON.stringify(res.data)).not.toContain('https://files.example');
  });

  it('upload_file without content_type lets Notion infer it and sends the bytes with that type', async () => {
    answerUpload({ filename: 'data.csv', content_type: 'text/csv' });
    const res = await ts.call('upload_file', { filename: 'data.csv', content: 'a,b\n1,2\n' });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(2);
    expectCall(calls[0], 'POST', '/v1/file_uploads', { mode: 'single_part', filename: 'data.csv' });
    expectMultipart(calls[1], 'data.csv', 'text/csv', 'a,b\n1,2\n');
  });

  it('upload_file sets a files property of a page given by URL, naming the file', async () => {
    answerUpload({ filename: 'report.pdf', content_type: 'application/pdf' }, () => pageWithAttachment);
    const res = await ts.call('upload_file', {
      filename: 'report.pdf',
      content: '%PDF-1.4 tiny',
      content_type: 'application/pdf',
      attach_to: { page_id: PAGE_URL, property: 'Attachments' },
    });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(3);
    expectCall(calls[2], 'PATCH', `/v1/pages/${PAGE_ID}`, {
      properties: { Attachments: { files: [{ type: 'file_upload', file_upload: { id: UPLOAD_ID }, name: 'report.pdf' }] } },
    });
    // The page is not echoed: its files property would carry a pre-signed download URL.
    expect(res.data.attached).toEqual({ id: PAGE_ID, url: expect.stringContaining('notion.so'), property: 'Attachments' });
    expect(JSON.stringify(res.data)).not.toMatch(/amazonaws|X-Amz|files\.example/);
  });

  it('upload_file accepts exactly 1 MiB of content', async () => {
    answerUpload({ filename: 'big.txt' });
    const res = await ts.call('upload_file', { filename: 'big.txt', content: 'a'.repeat(MAX_INLINE_BYTES), content_type: 'text/plain' });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(2);
    expect((calls[1]?.body as string).length).toBeGreaterThan(MAX_INLINE_BYTES);
  });

  it('upload_file refuses more than 1 MiB of decoded content before calling Notion', async () => {
    ts.answer(() => ({ body: fileUpload() }));
    const res = await ts.call('upload_file', {
      filename: 'big.bin',
      content: Buffer.alloc(MAX_INLINE_BYTES + 1, 7).toString('base64'),
      encoding: 'base64',
    });
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'file_too_large', size_bytes: MAX_INLINE_BYTES + 1, limit_bytes: MAX_INLINE_BYTES });
    expect(res.data.error.message).toMatch(/url/);
    expect(ts.apiRequests()).toHaveLength(0);
  });

  it('upload_file rejects bad base64 and empty content, naming content', async () => {
    ts.answer(() => ({ body: fileUpload() }));
    for (const args of [
      { filename: 'x.bin', content: 'not base64!!', encoding: 'base64' },
      { filename: 'x.txt', content: '' },
    ]) {
      const res = await ts.call('upload_file', args);
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('invalid_arguments');
      expect(res.data.error.message).toMatch(/content:/);
    }
    expect(ts.apiRequests()).toHaveLength(0);
  });

  // ----------------------------------------------------------------------------------------------
  // upload_file: URL import
  // ----------------------------------------------------------------------------------------------

  it('upload_file imports a URL, polls until uploaded, then sets the page cover', async () => {
    let polls = 0;
    ts.answer((req) => {
      if (req.method === 'POST' && req.path === '/v1/file_uploads') return { body: fileUpload({ filename: 'diagram.png', content_type: 'image/png', upload_url: undefined }) };
      if (req.method === 'GET') {
        polls += 1;
        return { body: polls < 2 ? fileUpload({ filename: 'diagram.png', content_type: 'image/png', upload_url: undefined }) : importedUpload() };
      }
      return { body: pageWithCover };
    });
    const res = await ts.call('upload_file', {
      filename: 'diagram.png',
      url: 'https://cdn.example.com/img/diagram.png',
      attach_to: { page_id: dashless(PAGE_ID), as: 'cover' },
    });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(4);
    expectCall(calls[0], 'POST', '/v1/file_uploads', { mode: 'external_url', external_url: 'https://cdn.example.com/img/diagram.png', filename: 'diagram.png' });
    expectCall(calls[1], 'GET', `/v1/file_uploads/${UPLOAD_ID}`);
    expectCall(calls[2], 'GET', `/v1/file_uploads/${UPLOAD_ID}`);
    expectCall(calls[3], 'PATCH', `/v1/pages/${PAGE_ID}`, { cover: { type: 'file_upload', file_upload: { id: UPLOAD_ID } } });
    expect(res.data.file_upload).toMatchObject({ id: UPLOAD_ID, status: 'uploaded', content_length: 48213, file_import_result: { type: 'success' } });
    expect(res.data.attached).toEqual({ id: PAGE_ID, url: expect.stringContaining('notion.so'), as: 'cover' });
    expect(JSON.stringify(res.data)).not.toContain('amazonaws');
  });

  it('upload_file sets a page icon from an already imported URL without polling', async () => {
    ts.answer((req) => {
      if (req.method === 'POST') return { body: importedUpload({ filename: 'logo.png' }) };
      return { body: page({ icon: { type: 'file', file: { url: 'https://files.example/logo.png', expiry_time: null } } }) };
    });
    const res = await ts.call('upload_file', {
      filename: 'logo.png',
      url: 'https://cdn.example.com/logo.png',
      content_type: 'image/png',
      attach_to: { page_id: PAGE_ID, as: 'icon' },
    });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(2);
    expectCall(calls[0], 'POST', '/v1/file_uploads', { mode: 'external_url', external_url: 'https://cdn.example.com/logo.png', filename: 'logo.png', content_type: 'image/png' });
    expectCall(calls[1], 'PATCH', `/v1/pages/${PAGE_ID}`, { icon: { type: 'file_upload', file_upload: { id: UPLOAD_ID } } });
    expect(res.data.attached).toEqual({ id: PAGE_ID, url: expect.stringContaining('notion.so'), as: 'icon' });
  });

  it('upload_file returns a still pending import with a note and attaches nothing', async () => {
    ts.answer(() => ({ body: fileUpload({ filename: 'video.mp4', content_type: 'video/mp4', upload_url: undefined }) }));
    const res = await ts.call('upload_file', {
      filename: 'video.mp4',
      url: 'https://cdn.example.com/video.mp4',
      attach_to: { block_id: BLOCK_ID },
    });
    expect(res.isError).toBe(false);
    const calls = ts.apiRequests();
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/file_uploads',
      ...importPolling.delaysMs.map(() => `GET /v1/file_uploads/${UPLOAD_ID}`),
    ]);
    for (const c of calls) expectCall(c, c.method, c.path);
    expect(res.data.file_upload).toMatchObject({ id: UPLOAD_ID, status: 'pending' });
    expect(res.data.note).toMatch(/still fetching/);
    expect(res.data.block).toBeUndefined();
  });

  it("upload_file reports a failed import with Notion's reason", async () => {
    ts.answer((req) => ({ body: req.method === 'POST' ? fileUpload({ filename: 'diagram.png', upload_url: undefined }) : failedImport }));
    const res = await ts.call('upload_file', { filename: 'diagram.png', url: 'https://cdn.example.com/missing.png', attach_to: { page_id: PAGE_ID, as: 'cover' } });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('file_upload_failed');
    expect(res.data.error.message).toContain('The remote server responded with status 404.');
    expect(res.data.error.file_upload).toMatchObject({ id: UPLOAD_ID, status: 'failed' });
    expect(res.data.error.connector_download).toMatch(/ENOTFOUND cdn\.example\.com/);
    expect(ts.apiRequests().map((c) => `${c.method} ${c.path}`)).toEqual(['POST /v1/file_uploads', `GET /v1/file_uploads/${UPLOAD_ID}`]);
  });

  it('upload_file passes a Notion error on the create through', async () => {
    ts.answer(() => ({
      status: 400,
      body: { object: 'error', status: 400, code: 'validation_error', message: 'The URL is not publicly accessible.' },
    }));
    const res = await ts.call('upload_file', { filename: 'a.png', url: 'https://intranet.example/a.png' });
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'validation_error', message: 'The URL is not publicly accessible.', status: 400 });
    expect(res.data.error.connector_download).toMatch(/ENOTFOUND intranet\.example/);
    expect(ts.apiRequests()).toHaveLength(1);
  });

  it('upload_file refuses non-https URLs, both or neither source, and bad attach_to, without calling Notion', async () => {
    ts.answer(() => ({ body: fileUpload() }));
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ filename: 'a.png', url: 'http://cdn.example.com/a.png' }, /url: must be a public https URL/],
      [{ filename: 'a.png', url: 'ftp://cdn.example.com/a.png' }, /url:/],
      [{ filename: 'a.png', url: 'not a url' }, /url:/],
      [{ filename: 'a.txt', url: 'https://cdn.example.com/a.txt', content: 'hi' }, /url: give exactly one of url or content/],
      [{ filename: 'a.txt' }, /url: give exactly one of url or content/],
      [{ content: 'hi' }, /filename/],
      [{ filename: 'a.txt', content: 'hi', encoding: 'hex' }, /encoding/],
      [{ filename: 'a.txt', content: 'hi', attach_to: { page_id: PAGE_ID } }, /attach_to: with page_id give exactly one of property or as/],
      [{ filename: 'a.txt', content: 'hi', attach_to: { page_id: PAGE_ID, property: 'Files', as: 'cover' } }, /attach_to:/],
      [{ filename: 'a.txt', content: 'hi', attach_to: { page_id: PAGE_ID, block_id: BLOCK_ID } }, /attach_to: give exactly one of page_id or block_id/],
      [{ filename: 'a.txt', content: 'hi', attach_to: {} }, /attach_to:/],
      [{ filename: 'a.txt', content: 'hi', attach_to: { block_id: BLOCK_ID, as: 'icon' } }, /attach_to: property and as go with page_id/],
      [{ filename: 'a.txt', content: 'hi', attach_to: { page_id: 'not-an-id', property: 'Files' } }, /attach_to\.page_id/],
      [{ filename: 'a.txt', content: 'hi', attach_to: { page_id: PAGE_ID, as: 'banner' } }, /attach_to\.as/],
    ];
    for (const [args, message] of cases) {
      const res = await ts.call('upload_file', args);
      expect(res.isError, JSON.stringify(args)).toBe(true);
      expect(res.data.error.code).toBe('invalid_arguments');
      expect(res.data.error.message).toMatch(message);
    }
    expect(ts.apiRequests()).toHaveLength(0);
  });

  it('upload_file accepts attach_to sent as a JSON string', async () => {
    answerUpload({}, () => pageWithAttachment);
    const res = await ts.call('upload_file', {
      filename: 'notes.txt',
      content: 'hi',
      attach_to: JSON.stringify({ page_id: PAGE_ID, property: 'Attachments' }),
    });
    expect(res.isError).toBe(false);
    expect(ts.apiRequests()).toHaveLength(3);
    expect(ts.apiRequests()[2]?.path).toBe(`/v1/pages/${PAGE_ID}`);
  });

  it('upload_file is refused on a read-only connection without any Notion call', async () => {
    ts.answer(() => ({ body: fileUpload() }));
    const res = await ts.call('upload_file', { filename: 'a.txt', content: 'hi' }, ts.readOnlyToken);
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('read_only_connection');
    expect(ts.apiRequests()).toHaveLength(0);
  });

  it('picks the block type from the content type', () => {
    expect(blockTypeFor('image/png')).toBe('image');
    expect(blockTypeFor('application/pdf')).toBe('pdf');
    expect(blockTypeFor('video/mp4')).toBe('video');
    expect(blockTypeFor('audio/mpeg')).toBe('audio');
    expect(blockTypeFor('text/csv')).toBe('file');
    expect(blockTypeFor(null)).toBe('file');
  });

  // ----------------------------------------------------------------------------------------------
  // list_custom_emojis
  // ----------------------------------------------------------------------------------------------

  it('list_custom_emojis passes name and paging as query parameters', async () => {
    ts.answer(() => ({ body: customEmojis }));
    const res = await ts.call('list_custom_emojis', { name: 'shipit', page_size: 2, start_cursor: 'cur-1' });
    expect(res.isError).toBe(false);
    expect(ts.oneCall('GET', '/v1/custom_emojis', { name: 'shipit', page_size: '2', start_cursor: 'cur-1' }).body).toBeUndefined();
    expect(res.data).toEqual({
      object: 'list',
      results: customEmojis.results,
      has_more: true,
      next_cursor: customEmojis.next_cursor,
    });
  });

  it('list_custom_emojis without arguments sends no query and rejects a bad page_size', async () => {
    ts.answer(() => ({ body: { ...customEmojis, has_more: false, next_cursor: null } }));
    const res = await ts.call('list_custom_emojis', {});
    expect(res.isError).toBe(false);
    expectCall(ts.apiRequests()[0], 'GET', '/v1/custom_emojis');
    expect(res.data).toEqual({ object: 'list', results: customEmojis.results, has_more: false });
    const bad = await ts.call('list_custom_emojis', { page_size: 500 });
    expect(bad.isError).toBe(true);
    expect(bad.data.error.message).toMatch(/page_size/);
    expect(ts.apiRequests()).toHaveLength(1);
  });

  it('the read tools work on a read-only connection, with that connection\'s Notion token', async () => {
    ts.answer(() => ({ body: customEmojis }));
    const emojis = await ts.call('list_custom_emojis', {}, ts.readOnlyToken);
    expect(emojis.isError).toBe(false);
    expect(emojis.data.results).toHaveLength(2);
    const calls = ts.upstream(1, { token: ts.readOnlyNotionToken });
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /v1/custom_emojis']);
  });

  // ----------------------------------------------------------------------------------------------
  // restore_from_trash
  // ----------------------------------------------------------------------------------------------

  it('restore_from_trash restores a page by default, from a URL, and confirms it in one line', async () => {
    ts.answer(() => ({ body: page() }));
    const res = await ts.call('restore_from_trash', { id: PAGE_URL });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(1);
    expectCall(calls[0], 'PATCH', `/v1/pages/${PAGE_ID}`, { in_trash: false });
    expect(res.data).toEqual({ restored: [{ id: PAGE_ID, kind: 'page' }] });
  });

  it('restore_from_trash patches the endpoint of each kind', async () => {
    const kinds: [string, string, string, Record<string, unknown>][] = [
      ['block', BLOCK_ID, `/v1/blocks/${BLOCK_ID}`, restoredBlock],
      ['database', DB_ID, `/v1/databases/${DB_ID}`, restoredDatabase],
      ['data_source', DS_ID, `/v1/data_sources/${DS_ID}`, restoredDataSource],
      ['page', PAGE_ID, `/v1/pages/${PAGE_ID}`, page()],
    ];
    for (const [kind, id, path, body] of kinds) {
      ts.answer(() => ({ body }));
      const res = await ts.call('restore_from_trash', { id: dashless(id), kind });
      expect(res.isError).toBe(false);
      const calls = ts.upstream(1);
      expectCall(calls[0], 'PATCH', path, { in_trash: false });
      expect(res.data).toEqual({ restored: [{ id, kind }] });
    }
  });

  it('trash looks up what each ID is, trashes it with its endpoint and reports each outcome', async () => {
    const MISSING = '0c0c0c0c-0c0c-4c0c-8c0c-0c0c0c0c0c0c';
    const notFound = (id: string) => ({ status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: `Could not find block with ID: ${id}.` } });
    ts.answer((req) => {
      if (req.method === 'GET' && req.path === `/v1/blocks/${PAGE_ID}`) return { body: { object: 'block', id: PAGE_ID, type: 'child_page' } };
      if (req.method === 'GET' && req.path === `/v1/blocks/${DB_ID}`) return { body: { object: 'block', id: DB_ID, type: 'child_database' } };
      if (req.method === 'GET' && req.path === `/v1/blocks/${BLOCK_ID}`) return { body: restoredBlock };
      if (req.method === 'GET' && req.path === `/v1/blocks/${DS_ID}`) return notFound(DS_ID);
      if (req.path.endsWith(MISSING)) return notFound(MISSING);
      if (req.method === 'PATCH' || req.method === 'DELETE') return { body: { object: 'page', id: 'x' } };
      return undefined;
    });
    const res = await ts.call('trash', { ids: [PAGE_URL, DB_ID, BLOCK_ID, DS_ID, MISSING, PAGE_ID] });
    expect(res.isError).toBe(false);
    const writes = ts.apiRequests().filter((r) => r.method !== 'GET');
    expect(writes.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.body ?? null)}`)).toEqual([
      `PATCH /v1/pages/${PAGE_ID} {"in_trash":true}`,
      `PATCH /v1/databases/${DB_ID} {"in_trash":true}`,
      `DELETE /v1/blocks/${BLOCK_ID} null`,
      `PATCH /v1/data_sources/${DS_ID} {"in_trash":true}`,
      `PATCH /v1/data_sources/${MISSING} {"in_trash":true}`,
    ]);
    expect(res.data.trashed).toEqual([
      { id: PAGE_ID, kind: 'page' },
      { id: DB_ID, kind: 'database' },
      { id: BLOCK_ID, kind: 'block' },
      { id: DS_ID, kind: 'data_source' },
    ]);
    // The repeated page ID is trashed once; the unknown ID fails on its own.
    expect(res.data.failed).toHaveLength(1);
    expect(res.data.failed[0]).toMatchObject({ id: MISSING, error: expect.any(String) });
  });

  it('trash with kind skips the lookups, restores with restore: true, and fails as a whole only when nothing changed', async () => {
    ts.answer(() => ({ body: page() }));
    const res = await ts.call('trash', { ids: [PAGE_ID], kind: 'page', restore: true });
    expect(res.data).toEqual({ restored: [{ id: PAGE_ID, kind: 'page' }] });
    expectCall(ts.upstream(1)[0], 'PATCH', `/v1/pages/${PAGE_ID}`, { in_trash: false });
    ts.answer(() => ({ status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: 'Could not find page.' } }));
    const none = await ts.call('trash', { ids: [PAGE_ID, DB_ID], kind: 'page' });
    expect(none.isError).toBe(true);
    expect(none.data.error).toMatchObject({ code: 'object_not_found', status: 404 });
    expect(none.data.error.message).toMatch(/^None of the 2 items changed/);
    expect(none.data.error.failed).toHaveLength(2);
    const tooMany = await ts.call('trash', { ids: Array.from({ length: 51 }, () => PAGE_ID) });
    expect(tooMany.isError).toBe(true);
    expect(tooMany.data.error.code).toBe('invalid_arguments');
  });

  it('restore_from_trash rejects a bad id or kind, naming the field', async () => {
    ts.answer(() => ({ body: page() }));
    const badId = await ts.call('restore_from_trash', { id: 'yesterday' });
    expect(badId.isError).toBe(true);
    expect(badId.data.error).toMatchObject({ code: 'invalid_arguments' });
    expect(badId.data.error.message).toMatch(/^Invalid arguments\. id:/);
    const badKind = await ts.call('restore_from_trash', { id: PAGE_ID, kind: 'comment' });
    expect(badKind.isError).toBe(true);
    expect(badKind.data.error.message).toMatch(/kind/);
    expect(ts.apiRequests()).toHaveLength(0);
  });

  it('restore_from_trash passes a Notion 404 through with its hint', async () => {
    ts.answer(() => ({
      status: 404,
      body: { object: 'error', status: 404, code: 'object_not_found', message: `Could not find block with ID: ${BLOCK_ID}.` },
    }));
    const res = await ts.call('restore_from_trash', { id: BLOCK_ID, kind: 'block' });
    expect(res.isError).toBe(true);
    expect(res.data.error).toMatchObject({ code: 'object_not_found', status: 404 });
    expect(res.data.error.hint).toMatch(/shared/);
    expect(ts.apiRequests()).toHaveLength(1);
  });

  it('restore_from_trash is refused on a read-only connection without any Notion call', async () => {
    ts.answer(() => ({ body: page() }));
    const res = await ts.call('restore_from_trash', { id: PAGE_ID }, ts.readOnlyToken);
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('read_only_connection');
    expect(ts.apiRequests()).toHaveLength(0);
  });
});

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_IMAGE_BYTES } from '../../src/tools/media.js';
import { BLOCK_ID, dashless, PAGE_ID, page, UPLOAD_ID } from '../fixtures/files.js';
import type { RecordedRequest } from '../helpers/fake-notion.js';
import { mcpPost } from '../helpers/oauth-client.js';
import { routes, type ToolStack, startToolStack } from '../helpers/tools.js';

type Obj = Record<string, unknown>;
type Content = { type: string; text?: string; data?: string; mimeType?: string };

const BOT = { object: 'user', id: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d' };
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(3000)]);
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(2000)]);
const PAGE_URL = `https://www.notion.so/acme/Q3-report-${dashless(PAGE_ID)}`;

/** GET /v1/blocks/{id} of a media block (API 2026-03-11); `content` is the file object and its extras. */
function mediaBlock(type: string, content: Obj, id = BLOCK_ID): Obj {
  return {
    object: 'block',
    id,
    parent: { type: 'page_id', page_id: PAGE_ID },
    created_time: '2026-10-01T10:00:00.000Z',
    last_edited_time: '2026-11-02T09:00:00.000Z',
    created_by: BOT,
    last_edited_by: BOT,
    has_children: false,
    in_trash: false,
    type,
    [type]: { caption: [], ...content },
    request_id: 'req-block',
  };
}

const hostedFile = (url: string, expiry = '2026-11-02T10:00:00.000Z') => ({ type: 'file', file: { url, expiry_time: expiry } });

describe('get_file', () => {
  let ts: ToolStack;
  /** A host that is not Notion's: it must never be asked for anything. */
  let foreign: { server: Server; url: string; hits: number };

  beforeAll(async () => {
    ts = await startToolStack();
    const server = createServer((_req, res) => {
      foreign.hits++;
      res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    foreign = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: 0 };
  });
  afterAll(async () => {
    await new Promise((r) => foreign.server.close(r));
    await ts.close();
  });

  /** tools/call over HTTP, with every content item (the JSON text first). */
  async function call(args: Obj): Promise<{ isError: boolean; data: any; media: Content[] }> {
    const res = await mcpPost(ts.stack.baseUrl, ts.token, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_file', arguments: args } });
    expect(res.status).toBe(200);
    const { result } = (await res.json()) as { result: { isError?: boolean; content: Content[] } };
    const [text, ...media] = result.content;
    return { isError: result.isError === true, data: JSON.parse(text!.text!), media };
  }

  /** Downloads since the last `answer`: requests for a file path of the fake. */
  const downloads = (path: string): RecordedRequest[] => ts.stack.fake.requests.filter((r) => r.path === path);
  const serve = (path: string, file: Parameters<ToolStack['stack']['fake']['files']['set']>[1]) => {
    ts.stack.fake.files.set(path, file);
    return `${ts.stack.fake.url}${path}`;
  };

  it('returns an image block as image content with the bytes Notion serves, after a short JSON text', async () => {
    const url = serve('/files/ws/photo.png', { bytes: PNG, contentType: 'image/png' });
    let reads = 0;
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: () => ({ body: mediaBlock('image', hostedFile(`${url}?X-Amz-Signature=sig${++reads}`, `2026-11-02T1${reads}:00:00.000Z`)) }) }));

    const first = await call({ block_id: `${PAGE_URL}#${dashless(BLOCK_ID)}` });
    expect(first.isError).toBe(false);
    ts.oneCall('GET', `/v1/blocks/${BLOCK_ID}`);
    expect(first.data).toEqual({ id: BLOCK_ID, type: 'image', name: 'photo.png', mime_type: 'image/png', size_bytes: PNG.length });
    expect(first.media).toHaveLength(1);
    expect(first.media[0]).toMatchObject({ type: 'image', mimeType: 'image/png' });
    expect(Buffer.from(first.media[0]!.data!, 'base64').equals(PNG)).toBe(true);
    // The signed URL was used, not shown.
    expect(JSON.stringify(first.data)).not.toContain('X-Amz-Signature');

    // Every call reads the block again: Notion's link lasts an hour, and the new read has a new one.
    const second = await call({ block_id: BLOCK_ID });
    expect(Buffer.from(second.media[0]!.data!, 'base64').equals(PNG)).toBe(true);
    const reqs = ts.upstream(2);
    expect(reqs.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/blocks/${BLOCK_ID}`, `GET /v1/blocks/${BLOCK_ID}`]);
    const got = downloads('/files/ws/photo.png');
    expect(got.map((r) => r.query)).toEqual([{ 'X-Amz-Signature': 'sig1' }, { 'X-Amz-Signature': 'sig2' }]);
    // A plain GET: never the Notion token, never Notion's headers.
    for (const r of got) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers['notion-version']).toBeUndefined();
    }
  });

  it('answers an image over the cap with its fresh URL, and stops downloading past the cap', async () => {
    const big = Buffer.concat([PNG, randomBytes(16 * 1024 * 1024)]);
    // No content-length: the cap holds on the bytes as they arrive.
    const url = serve('/files/ws/huge.png', { bytes: big, contentType: 'image/png', chunked: true });
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('image', hostedFile(`${url}?X-Amz-Signature=big`)) } }));
    const res = await call({ block_id: BLOCK_ID });
    expect(res.isError).toBe(false);
    expect(res.media).toEqual([]);
    expect(res.data).toMatchObject({ id: BLOCK_ID, type: 'image', name: 'huge.png', url: `${url}?X-Amz-Signature=big`, expiry_time: '2026-11-02T10:00:00.000Z' });
    expect(res.data.note).toMatch(/Over 700 KiB/);
    const served = ts.stack.fake.served.get('/files/ws/huge.png')!;
    console.log(`get_file: ${served} of ${big.length} bytes served before the download stopped`);
    expect(served).toBeGreaterThan(MAX_IMAGE_BYTES);
    expect(served).toBeLessThan(big.length / 2);

    // With its length declared, a file over the cap is not read at all.
    serve('/files/ws/huge2.png', { bytes: big, contentType: 'image/png' });
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('image', hostedFile(`${ts.stack.fake.url}/files/ws/huge2.png`)) } }));
    const declared = await call({ block_id: BLOCK_ID });
    expect(declared.data).toMatchObject({ size_bytes: big.length, url: `${ts.stack.fake.url}/files/ws/huge2.png` });
    expect(declared.media).toEqual([]);
    expect(ts.stack.fake.served.get('/files/ws/huge2.png')!).toBeLessThan(big.length / 2);
  });

  it('answers a pdf with its fresh URL and expiry, without downloading it', async () => {
    const url = serve('/files/ws/report.pdf', { bytes: Buffer.from('%PDF-1.4\n%%EOF\n'), contentType: 'application/pdf' });
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('pdf', hostedFile(`${url}?X-Amz-Signature=p`)) } }));
    const res = await call({ block_id: BLOCK_ID });
    expect(res.isError).toBe(false);
    ts.oneCall('GET', `/v1/blocks/${BLOCK_ID}`);
    expect(res.data).toEqual({ id: BLOCK_ID, type: 'pdf', name: 'report.pdf', url: `${url}?X-Amz-Signature=p`, expiry_time: '2026-11-02T10:00:00.000Z' });
    expect(res.media).toEqual([]);
    expect(downloads('/files/ws/report.pdf')).toEqual([]);
  });

  it('never fetches a URL off Notion’s file hosts: not a "file" URL elsewhere, not an external link, not a redirect', async () => {
    const elsewhere = `${foreign.url}/files/photo.png`;
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('image', hostedFile(elsewhere)) } }));
    const offHost = await call({ block_id: BLOCK_ID });
    expect(offHost.isError).toBe(false);
    expect(offHost.data).toMatchObject({ url: elsewhere, note: 'Not on a Notion file host, so not downloaded.' });
    expect(offHost.media).toEqual([]);

    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('image', { type: 'external', external: { url: elsewhere } }) } }));
    const external = await call({ block_id: BLOCK_ID });
    expect(external.data).toEqual({ id: BLOCK_ID, type: 'image', name: 'photo.png', url: elsewhere, note: 'An external link, not downloaded by the connector.' });

    const hop = serve('/files/ws/moved.png', { location: elsewhere });
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('image', hostedFile(hop)) } }));
    const redirected = await call({ block_id: BLOCK_ID });
    expect(redirected.isError).toBe(true);
    expect(redirected.data.error).toMatchObject({ code: 'file_download_failed', message: expect.stringContaining('HTTP 302') });
    expect(downloads('/files/ws/moved.png')).toHaveLength(1);

    expect(foreign.hits).toBe(0);
  });

  it('refuses an "image" whose bytes are not one (an HTML page), whatever its header says', async () => {
    const html = Buffer.from('<!doctype html><html><body>Access denied</body></html>');
    for (const contentType of ['text/html; charset=utf-8', 'image/png']) {
      const url = serve('/files/ws/login.png', { bytes: html, contentType });
      ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('image', hostedFile(url)) } }));
      const res = await call({ block_id: BLOCK_ID });
      expect(res.isError, contentType).toBe(true);
      expect(res.data.error.code).toBe('not_an_image');
      expect(res.data.error.message).toContain(`served as ${contentType.split(';')[0]}`);
    }
  });

  it('answers an image type models do not read (SVG) with its URL', async () => {
    const url = serve('/files/ws/logo.svg', { bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), contentType: 'image/svg+xml' });
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('image', hostedFile(url)) } }));
    const res = await call({ block_id: BLOCK_ID });
    expect(res.isError).toBe(false);
    expect(res.data).toMatchObject({ url, mime_type: 'image/svg+xml', note: 'Not PNG, JPEG, GIF or WebP, so not returned as an image.' });
    expect(res.media).toEqual([]);
  });

  it("reads a page's cover, its icon and a files property's file by index, from a fresh read of the page", async () => {
    const cover = serve('/files/ws/cover.jpg', { bytes: JPEG, contentType: 'image/jpeg' });
    const shot = serve('/files/ws/shot.png', { bytes: PNG, contentType: 'image/png' });
    const withFiles = page(
      { cover: hostedFile(`${cover}?X-Amz-Signature=c`), icon: hostedFile(`${shot}?X-Amz-Signature=i`) },
      {
        Attachments: {
          id: 'Ab%3Cd',
          type: 'files',
          files: [
            { name: 'report.pdf', ...hostedFile(`${ts.stack.fake.url}/files/ws/report.pdf?X-Amz-Signature=a`) },
            { name: 'Screenshot 1.png', ...hostedFile(`${shot}?X-Amz-Signature=b`) },
          ],
        },
      },
    );
    ts.answer(routes({ [`GET /v1/pages/${PAGE_ID}`]: { body: withFiles } }));

    const coverRes = await call({ page_id: PAGE_URL, as: 'cover' });
    ts.oneCall('GET', `/v1/pages/${PAGE_ID}`);
    expect(coverRes.data).toEqual({ id: PAGE_ID, type: 'cover', name: 'cover.jpg', mime_type: 'image/jpeg', size_bytes: JPEG.length });
    expect(Buffer.from(coverRes.media[0]!.data!, 'base64').equals(JPEG)).toBe(true);
    expect(coverRes.media[0]!.mimeType).toBe('image/jpeg');

    const iconRes = await call({ page_id: PAGE_ID, as: 'icon' });
    expect(iconRes.data).toMatchObject({ type: 'icon', mime_type: 'image/png' });

    const second = await call({ page_id: PAGE_ID, property: 'Attachments', index: 1 });
    expect(second.data).toEqual({ id: PAGE_ID, type: 'files', property: 'Attachments', index: 1, name: 'Screenshot 1.png', mime_type: 'image/png', size_bytes: PNG.length });
    expect(Buffer.from(second.media[0]!.data!, 'base64').equals(PNG)).toBe(true);

    // Index 0 by default: a pdf, answered with its link.
    const first = await call({ page_id: PAGE_ID, property: 'Attachments' });
    expect(first.data).toMatchObject({ index: 0, name: 'report.pdf', url: `${ts.stack.fake.url}/files/ws/report.pdf?X-Amz-Signature=a` });
    expect(first.media).toEqual([]);
    expect(ts.upstream(4).every((r) => r.path === `/v1/pages/${PAGE_ID}`)).toBe(true);

    const past = await call({ page_id: PAGE_ID, property: 'Attachments', index: 2 });
    expect(past.data.error).toEqual({ code: 'invalid_arguments', message: 'Invalid arguments. index: "Attachments" holds 2 files; give 0 to 1' });
    const wrongType = await call({ page_id: PAGE_ID, property: 'Name' });
    expect(wrongType.data.error.message).toBe('Invalid arguments. property: "Name" is a title property, not a files property');
    const missing = await call({ page_id: PAGE_ID, property: 'Photos' });
    expect(missing.data.error.message).toBe('Invalid arguments. property: the page has no property "Photos" (it has "Name", "Attachments")');
  });

  it('says what a page without a file cover or icon has instead', async () => {
    ts.answer(routes({ [`GET /v1/pages/${PAGE_ID}`]: { body: page() } }));
    const icon = await call({ page_id: PAGE_ID, as: 'icon' });
    expect(icon.data.error).toEqual({ code: 'not_a_file', message: 'The page icon is an emoji (📎), not a file.' });
    const cover = await call({ page_id: PAGE_ID, as: 'cover' });
    expect(cover.data.error).toEqual({ code: 'not_a_file', message: 'The page has no cover.' });
  });

  it('refuses a file object without a link (a bare file upload reference)', async () => {
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('image', { type: 'file_upload', file_upload: { id: UPLOAD_ID } }) } }));
    const res = await call({ block_id: BLOCK_ID });
    expect(res.data.error).toEqual({ code: 'not_a_file', message: 'Notion gave no link for this file_upload.' });
  });

  it('refuses missing, mixed and partial arguments before calling Notion, and a block that holds no file', async () => {
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('paragraph', { rich_text: [], color: 'default' }) } }));
    const cases: [Obj, string][] = [
      [{}, 'block_id: give exactly one of block_id or page_id'],
      [{ block_id: BLOCK_ID, page_id: PAGE_ID }, 'block_id: give exactly one of block_id or page_id'],
      [{ page_id: PAGE_ID }, 'page_id: with page_id give exactly one of property (a files property) or as ("cover" or "icon")'],
      [{ page_id: PAGE_ID, property: 'Files', as: 'cover' }, 'page_id: with page_id give exactly one of property (a files property) or as ("cover" or "icon")'],
      [{ page_id: PAGE_ID, as: 'cover', index: 1 }, 'index: goes with property'],
      [{ block_id: BLOCK_ID, as: 'icon' }, 'page_id: property, index and as go with page_id'],
      [{ block_id: 'not-an-id' }, 'block_id: expected a block or page ID'],
      [{ page_id: PAGE_ID, property: 'Files', index: -1 }, 'index:'],
    ];
    for (const [args, message] of cases) {
      const res = await call(args);
      expect(res.isError, JSON.stringify(args)).toBe(true);
      expect(res.data.error.code).toBe('invalid_arguments');
      expect(res.data.error.message).toContain(message);
    }
    ts.upstream(0);

    const paragraph = await call({ block_id: BLOCK_ID });
    expect(paragraph.data.error).toEqual({ code: 'not_a_file', message: `Block ${BLOCK_ID} is a paragraph block; get_file reads image, file, pdf, video and audio blocks.` });
    ts.oneCall('GET', `/v1/blocks/${BLOCK_ID}`);
  });

  it('is a read: a read-only connection may use it', async () => {
    const url = serve('/files/ws/ro.png', { bytes: PNG, contentType: 'image/png' });
    ts.answer(routes({ [`GET /v1/blocks/${BLOCK_ID}`]: { body: mediaBlock('image', hostedFile(url)) } }));
    const res = await ts.call('get_file', { block_id: BLOCK_ID }, ts.readOnlyToken);
    expect(res.isError).toBe(false);
    expect(res.data).toMatchObject({ mime_type: 'image/png' });
    ts.upstream(1, { token: ts.readOnlyNotionToken });
  });
});

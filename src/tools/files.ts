import type { BlockObjectRequest, FileUploadObjectResponse, ListFileUploadsResponse } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool, type ToolContext } from './registry.js';
import { annotations, notionId, pageSize, READ, startCursor } from './args.js';
import { confirmation } from './confirm.js';
import type { NotionSession } from '../notion/session.js';
import { shape } from '../notion/shape.js';
import { createSafeDownloader, type Downloader } from '../lib/safe-fetch.js';

/** Inline `content` is capped at 1 MiB decoded: larger files belong at a URL Notion can fetch. */
export const MAX_INLINE_BYTES = 1024 * 1024;

/**
 * Waits between polls of an `external_url` import (about 8 s in all, so a tool call stays
 * short). Exported so tests can shorten it.
 */
export const importPolling = { delaysMs: [500, 1000, 1500, 2000, 3000] };

/** Notion takes at most 20 MiB in one request; larger files go in parts of 5–20 MiB, the last smaller. */
export const SINGLE_PART_MAX_BYTES = 20 * 1024 * 1024;
/** The part size Notion recommends. */
export const PART_BYTES = 10 * 1024 * 1024;
/**
 * The largest file the connector downloads and sends on itself (Notion allows 5 GB on paid
 * plans, but every byte of these passes through this server, one part in memory at a time).
 */
export const MAX_SENT_BYTES = 1024 * 1024 * 1024;

/**
 * How a URL that Notion could not import is sent from here: the downloader (public https
 * addresses only), how long the source may stay silent (longer than a part's upload to Notion,
 * during which the download waits), and the sizes above. Exported so tests can reach a loopback
 * source with small parts.
 */
export const sending: { download: Downloader; idleMs: number; singlePartMax: number; partBytes: number; maxBytes: number } = {
  download: createSafeDownloader(),
  idleMs: 120_000,
  singlePartMax: SINGLE_PART_MAX_BYTES,
  partBytes: PART_BYTES,
  maxBytes: MAX_SENT_BYTES,
};

/** How a file of `size` bytes is sent: in one request, or in `parts` parts of `partBytes` (the last smaller). */
export function partPlan(size: number, singlePartMax = SINGLE_PART_MAX_BYTES, partBytes = PART_BYTES): { parts: number } {
  return { parts: size <= singlePartMax ? 1 : Math.ceil(size / partBytes) };
}

const UNATTACHED_NOTE =
  'Not attached. Use it as {"type":"file_upload","file_upload":{"id":"<id>"}} in a page or block within about an hour, or it expires.';
const PENDING_NOTE =
  'Notion is still fetching the URL, so nothing was attached yet. Once it is uploaded, use it as {"type":"file_upload","file_upload":{"id":"<id>"}} within about an hour.';

const bad = (field: string, message: string) => new ToolError('invalid_arguments', `Invalid arguments. ${field}: ${message}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a model needs of a file upload: id, status, name, type, size, expiry, import error. */
function summary(upload: FileUploadObjectResponse): Record<string, unknown> {
  const s = shape(upload) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ['object', 'id', 'status', 'filename', 'content_type', 'content_length', 'expiry_time', 'file_import_result']) {
    if (s[k] !== undefined) out[k] = s[k];
  }
  return out;
}

/** `content` as bytes, with the type a `data:` URL names, if any. */
function decode(content: string, encoding: 'utf8' | 'base64'): { bytes: Buffer; type?: string } {
  const dataUrl = /^data:([^;,]*)(;base64)?,/.exec(content);
  if (dataUrl) {
    const rest = content.slice(dataUrl[0].length);
    const bytes = dataUrl[2] ? decodeBase64(rest) : Buffer.from(decodeURIComponent(rest), 'utf8');
    return dataUrl[1] ? { bytes, type: dataUrl[1] } : { bytes };
  }
  return { bytes: encoding === 'base64' ? decodeBase64(content) : Buffer.from(content, 'utf8') };
}

function decodeBase64(text: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)) throw bad('content', 'not valid base64');
  return Buffer.from(compact, 'base64');
}

/** The block a file becomes when appended: image, pdf, video or audio by its type, else file. */
export function blockTypeFor(contentType: string | null | undefined): 'image' | 'pdf' | 'video' | 'audio' | 'file' {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.startsWith('image/')) return 'image';
  if (ct === 'application/pdf') return 'pdf';
  if (ct.startsWith('video/')) return 'video';
  if (ct.startsWith('audio/')) return 'audio';
  return 'file';
}

/** Yields the stream's bytes in pieces of exactly `size` bytes, the last one smaller. */
async function* pieces(body: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const chunk of body) {
    held.push(chunk);
    heldBytes += chunk.length;
    while (heldBytes >= size) {
      const all = Buffer.concat(held);
      yield all.subarray(0, size);
      held = [all.subarray(size)];
      heldBytes -= size;
    }
  }
  if (heldBytes > 0) yield Buffer.concat(held);
}

/**
 * Downloads `url` here and sends it to Notion: in one request up to 20 MiB, else in parts with
 * progress, stopping between parts when the call is cancelled. Used when Notion could not
 * import the URL itself, e.g. from a host that refuses Notion's HEAD request (a pre-signed GET
 * URL). A failed download is a `url_unreachable` ToolError with the reason.
 */
async function sendFromUrl(ctx: ToolContext, url: string, filename: string, contentType: string | undefined) {
  const { notion } = ctx;
  const unreachable = (reason: string) => new ToolError('url_unreachable', reason);
  const dl = await sending.download(url, { idleMs: sending.idleMs, signal: ctx.signal }).catch((err: Error) => {
    throw unreachable(err.message);
  });
  let parts = 0;
  let sent = 0;
  try {
    if (dl.status !== 200) throw unreachable(`it answered HTTP ${dl.status}`);
    const length = Number(dl.headers['content-length'] ?? NaN);
    const declared = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    if (declared !== undefined && declared > sending.maxBytes) {
      throw new ToolError('file_too_large', `The file is ${declared} bytes; the connector sends files of up to ${sending.maxBytes} bytes.`, {
        size_bytes: declared,
        limit_bytes: sending.maxBytes,
      });
    }
    parts = partPlan(declared ?? 0, sending.singlePartMax, sending.partBytes).parts;
    const typed = contentType ? { content_type: contentType } : {};
    const body = dl.body as AsyncIterable<Buffer>;
    if (parts === 1) {
      // Without a declared size the body is read as one part too, as long as it fits in one request.
      const { value: bytes = Buffer.alloc(0) } = await pieces(body, sending.singlePartMax + 1).next();
      if (bytes.length > sending.singlePartMax) {
        throw new ToolError('file_size_unknown', `The URL's server did not say the file's size (Content-Length), and it is over ${sending.singlePartMax} bytes.`);
      }
      if (declared !== undefined && bytes.length !== declared) throw unreachable(`it sent ${bytes.length} of ${declared} bytes`);
      if (bytes.length === 0) throw unreachable('the file is empty');
      const created = await notion.write((n, auth) => n.fileUploads.create({ mode: 'single_part', filename, ...typed, auth }));
      const data = new Blob([bytes], { type: contentType ?? created.content_type ?? 'application/octet-stream' });
      return { upload: await notion.write((n, auth) => n.fileUploads.send({ file_upload_id: created.id, file: { filename, data }, auth })), parts };
    }
    const created = await notion.write((n, auth) => n.fileUploads.create({ mode: 'multi_part', filename, number_of_parts: parts, ...typed, auth }));
    const blobType = contentType ?? created.content_type ?? 'application/octet-stream';
    let bytes = 0;
    for await (const piece of pieces(body, sending.partBytes)) {
      if (ctx.signal?.aborted) throw cancelled(sent, parts);
      if (sent === parts) throw unreachable(`it sent more than the ${declared} bytes it announced`);
      const data = new Blob([piece], { type: blobType });
      const part_number = String(sent + 1);
      await notion.write((n, auth) => n.fileUploads.send({ file_upload_id: created.id, file: { filename, data }, part_number, auth }));
      sent += 1;
      bytes += piece.length;
      ctx.progress?.(sent, parts);
    }
    if (bytes !== declared) throw unreachable(`it sent ${bytes} of ${declared} bytes`);
    return { upload: await notion.write((n, auth) => n.fileUploads.complete({ file_upload_id: created.id, auth })), parts };
  } catch (err) {
    // Notion's errors are ToolErrors already; anything else broke the download.
    if (err instanceof ToolError) throw err;
    if (ctx.signal?.aborted) throw cancelled(sent, parts);
    throw unreachable((err as Error).message);
  } finally {
    dl.body.destroy();
  }
}

const cancelled = (sent: number, parts: number) =>
  new ToolError('cancelled', `Cancelled after ${sent} of ${parts} parts were sent; the file upload was not completed.`);

/**
 * Notion imports the URL itself (external_url, polled for a few seconds). When it refuses the URL
 * or cannot download it, the connector sends the file itself; `sent` says so.
 */
async function fromUrl(
  ctx: ToolContext,
  url: string,
  filename: string,
  contentType: string | undefined,
): Promise<{ upload: FileUploadObjectResponse; sent?: Record<string, unknown> }> {
  const { notion } = ctx;
  let refusal: ToolError;
  try {
    let upload = await notion.write((n, auth) =>
      n.fileUploads.create({ mode: 'external_url', external_url: url, filename, ...(contentType ? { content_type: contentType } : {}), auth }),
    );
    for (const delay of importPolling.delaysMs) {
      if (upload.status !== 'pending') break;
      await sleep(delay);
      const id = upload.id;
      upload = await notion.get<FileUploadObjectResponse>(`file_uploads/${id}`);
    }
    const result = upload.file_import_result;
    if (upload.status !== 'failed' || result?.type !== 'error' || result.error.type !== 'download_error') return { upload };
    refusal = new ToolError('file_upload_failed', `The file upload failed. ${result.error.message}`, { file_upload: summary(upload) });
  } catch (err) {
    if (!(err instanceof ToolError) || err.code !== 'validation_error') throw err;
    refusal = err;
  }
  try {
    const { upload, parts } = await sendFromUrl(ctx, url, filename, contentType);
    return { upload, sent: { by: 'connector', parts, because: refusal.message } };
  } catch (err) {
    // Not downloadable from here either: Notion's own answer says most, with ours added.
    if (!(err instanceof ToolError) || err.code !== 'url_unreachable') throw err;
    throw new ToolError(refusal.code, refusal.message, { ...refusal.extra, connector_download: err.message });
  }
}

type AttachTo = { page_id?: string | undefined; block_id?: string | undefined; property?: string | undefined; as?: 'cover' | 'icon' | undefined };

function checkAttachTo(a: AttachTo | undefined): void {
  if (!a) return;
  if (!a.page_id === !a.block_id) throw bad('attach_to', 'give exactly one of page_id or block_id');
  if (a.block_id && (a.property !== undefined || a.as)) throw bad('attach_to', 'property and as go with page_id, not block_id');
  if (a.page_id && (a.property === undefined) === !a.as) throw bad('attach_to', 'with page_id give exactly one of property or as');
}

async function attach(notion: NotionSession, a: AttachTo, upload: FileUploadObjectResponse, filename: string): Promise<Record<string, unknown>> {
  const file = { type: 'file_upload' as const, file_upload: { id: upload.id } };
  if (a.block_id) {
    const type = blockTypeFor(upload.content_type);
    const block = { type, [type]: file } as unknown as BlockObjectRequest;
    const res = await notion.write((n, auth) => n.blocks.children.append({ block_id: a.block_id!, children: [block], auth }));
    return { attached: { block_id: a.block_id, added: { id: res.results[0]?.id, type } } };
  }
  const page_id = a.page_id!;
  const res = await notion.write((n, auth) =>
    a.as
      ? n.pages.update({ page_id, [a.as]: file, auth })
      : n.pages.update({ page_id, properties: { [a.property!]: { files: [{ ...file, name: filename }] } }, auth }),
  );
  // Not the page: its file property would carry a pre-signed download URL of some 500 tokens.
  return { attached: confirmation(res, a.as ? { as: a.as } : { property: a.property }) };
}

export const filesTools = [
  defineTool({
    name: 'upload_file',
    description:
      'Upload a file from an https `url` or inline `content` (≤1 MiB) and attach it: {page_id, property} sets a files property, {page_id, as} the cover or icon, {block_id} appends a file block. A URL Notion cannot fetch is downloaded and sent from here (≤1 GiB). Unattached uploads expire in 1 h.',
    input: {
      filename: z.string().min(1).describe('With extension'),
      url: z.string().optional().describe('Public https URL'),
      content: z.string().optional().describe('Text, or base64 bytes'),
      encoding: z.enum(['utf8', 'base64']).optional().describe('Default utf8'),
      content_type: z.string().optional().describe('Default from filename'),
      attach_to: z
        .object({
          page_id: notionId('page').optional(),
          property: z.string().optional().describe('Files property name'),
          as: z.enum(['cover', 'icon']).optional(),
          block_id: notionId('block').optional(),
        })
        .optional(),
    },
    annotations: annotations('Upload file', { destructiveHint: true }),
    run: async (args, ctx) => {
      const { notion } = ctx;
      if ((args.url === undefined) === (args.content === undefined)) throw bad('url', 'give exactly one of url or content');
      checkAttachTo(args.attach_to);
      const { filename } = args;
      let upload: FileUploadObjectResponse;
      let sent: Record<string, unknown> | undefined;

      if (args.url !== undefined) {
        let parsed: URL | undefined;
        try {
          parsed = new URL(args.url);
        } catch {
          parsed = undefined;
        }
        if (parsed?.protocol !== 'https:') throw bad('url', 'must be a public https URL');
        ({ upload, sent } = await fromUrl(ctx, parsed.href, filename, args.content_type));
      } else {
        const { bytes, type } = decode(args.content!, args.encoding ?? 'utf8');
        if (bytes.length === 0) throw bad('content', 'is empty');
        if (bytes.length > MAX_INLINE_BYTES) {
          throw new ToolError(
            'file_too_large',
            `content is ${bytes.length} bytes decoded; inline uploads are limited to 1 MiB (${MAX_INLINE_BYTES} bytes). Put the file at a public https URL and pass url instead.`,
            { size_bytes: bytes.length, limit_bytes: MAX_INLINE_BYTES },
          );
        }
        const content_type = args.content_type ?? type;
        const created = await notion.write((n, auth) =>
          n.fileUploads.create({ mode: 'single_part', filename, ...(content_type ? { content_type } : {}), auth }),
        );
        const blob = new Blob([bytes], { type: content_type ?? created.content_type ?? 'application/octet-stream' });
        upload = await notion.write((n, auth) => n.fileUploads.send({ file_upload_id: created.id, file: { filename, data: blob }, auth }));
      }

      const file_upload = summary(upload);
      const via = sent ? { sent } : {};
      if (upload.status === 'pending') return { file_upload, ...via, note: PENDING_NOTE };
      if (upload.status !== 'uploaded') {
        const reason = upload.file_import_result?.type === 'error' ? ` ${upload.file_import_result.error.message}` : '';
        throw new ToolError(`file_upload_${upload.status}`, `The file upload ${upload.status}.${reason}`, { file_upload });
      }
      if (!args.attach_to) return { file_upload, ...via, note: UNATTACHED_NOTE };
      return { file_upload, ...via, ...(await attach(notion, args.attach_to, upload, filename)) };
    },
  }),
  defineTool({
    name: 'list_file_uploads',
    description: "List this connection's file uploads (id, status, name, type, size, expiry), e.g. to find one to attach.",
    input: {
      status: z.enum(['pending', 'uploaded', 'expired', 'failed']).optional(),
      start_cursor: startCursor,
      page_size: pageSize,
    },
    annotations: annotations('List file uploads', READ),
    run: async (query, { notion }) => {
      const res = await notion.get<ListFileUploadsResponse>('file_uploads', query);
      // Summaries only: a pending upload's upload_url is a pre-signed URL.
      return { results: res.results.map(summary), has_more: res.has_more, ...(res.next_cursor ? { next_cursor: res.next_cursor } : {}) };
    },
  }),
];

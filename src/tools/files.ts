import type { BlockObjectRequest, FileUploadObjectResponse, ListFileUploadsResponse } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from './registry.js';
import { annotations, notionId, pageSize, READ, startCursor } from './args.js';
import { confirmation } from './confirm.js';
import type { NotionSession } from '../notion/session.js';
import { shape } from '../notion/shape.js';

/** Inline `content` is capped at 1 MiB decoded: larger files belong at a URL Notion can fetch. */
export const MAX_INLINE_BYTES = 1024 * 1024;

/**
 * Waits between polls of an `external_url` import (about 8 s in all, so a tool call stays
 * short). Exported so tests can shorten it.
 */
export const importPolling = { delaysMs: [500, 1000, 1500, 2000, 3000] };

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
      'Upload a file from an https `url` or inline `content` (≤1 MiB) and attach it: {page_id, property} sets a files property, {page_id, as} the cover or icon, {block_id} appends a file block. Unattached uploads expire in 1 h.',
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
    run: async (args, { notion }) => {
      if ((args.url === undefined) === (args.content === undefined)) throw bad('url', 'give exactly one of url or content');
      checkAttachTo(args.attach_to);
      const { filename } = args;
      let upload: FileUploadObjectResponse;

      if (args.url !== undefined) {
        let parsed: URL | undefined;
        try {
          parsed = new URL(args.url);
        } catch {
          parsed = undefined;
        }
        if (parsed?.protocol !== 'https:') throw bad('url', 'must be a public https URL');
        const external_url = parsed.href;
        upload = await notion.write((n, auth) =>
          n.fileUploads.create({ mode: 'external_url', external_url, filename, ...(args.content_type ? { content_type: args.content_type } : {}), auth }),
        );
        for (const delay of importPolling.delaysMs) {
          if (upload.status !== 'pending') break;
          await sleep(delay);
          const id = upload.id;
          upload = await notion.get<FileUploadObjectResponse>(`file_uploads/${id}`);
        }
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
      if (upload.status === 'pending') return { file_upload, note: PENDING_NOTE };
      if (upload.status !== 'uploaded') {
        const reason = upload.file_import_result?.type === 'error' ? ` ${upload.file_import_result.error.message}` : '';
        throw new ToolError(`file_upload_${upload.status}`, `The file upload ${upload.status}.${reason}`, { file_upload });
      }
      if (!args.attach_to) return { file_upload, note: UNATTACHED_NOTE };
      return { file_upload, ...(await attach(notion, args.attach_to, upload, filename)) };
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

import { z } from 'zod';
import { ToolError } from '../errors.js';
import { type ContentItem, defineTool, WithContent } from './registry.js';
import { annotations, notionId, READ } from './args.js';
import { type Mark, provenance } from './provenance.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The largest image returned as image content, decoded. Base64 makes it 4/3 as long (955,734
 * characters), which keeps the whole result under the 1,048,576 characters Claude Desktop accepts
 * for one tool result ("result exceeds maximum length of 1048576"), JSON text included. Image
 * content does not count against claude.ai's ~150,000-character text cap, and Claude's API takes
 * images up to 5 MB, so whatever fits here is readable. Larger files are answered with their URL.
 */
export const MAX_IMAGE_BYTES = 700 * 1024;
/** One download, from the request to the last byte. */
const DOWNLOAD_TIMEOUT_MS = 15_000;

/**
 * Where Notion serves its files (type "file"): pre-signed S3 URLs on its bucket, the older
 * path-style form of the same bucket, and file.notion.so. Only these, and NOTION_API_BASE_URL's
 * origin, are downloaded: any other URL could point anywhere, internal addresses included.
 */
const NOTION_FILE_HOSTS = new Set(['prod-files-secure.s3.us-west-2.amazonaws.com', 'file.notion.so']);
const isNotionHosted = (url: URL, apiOrigin: string | undefined): boolean =>
  url.origin === apiOrigin ||
  (url.protocol === 'https:' &&
    url.port === '' &&
    !url.username &&
    !url.password &&
    (NOTION_FILE_HOSTS.has(url.hostname) || (url.hostname === 's3.us-west-2.amazonaws.com' && url.pathname.startsWith('/secure.notion-static.com/'))));

const MEDIA_BLOCKS = new Set(['image', 'file', 'pdf', 'video', 'audio']);
/** The image types a vision model reads, by their first bytes. */
const IMAGE_MAGIC: [string, (b: Buffer) => boolean][] = [
  ['image/png', (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))],
  ['image/jpeg', (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ['image/gif', (b) => /^GIF8[79]a/.test(b.subarray(0, 6).toString('latin1'))],
  ['image/webp', (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP'],
];
const IMAGE_NAME = /\.(png|jpe?g|gif|webp)$/i;

const bad = (field: string, message: string) => new ToolError('invalid_arguments', `Invalid arguments. ${field}: ${message}`);
const notAFile = (message: string) => new ToolError('not_a_file', message);

/** Which file the arguments name; anything ambiguous or incomplete is refused. */
function checkArgs(a: { block_id?: string | undefined; page_id?: string | undefined; property?: string | undefined; index?: number | undefined; as?: string | undefined }): void {
  if ((a.block_id === undefined) === (a.page_id === undefined)) throw bad('block_id', 'give exactly one of block_id or page_id');
  if (a.page_id === undefined) {
    if (a.property !== undefined || a.as !== undefined || a.index !== undefined) throw bad('page_id', 'property, index and as go with page_id');
    return;
  }
  if ((a.property === undefined) === (a.as === undefined)) throw bad('page_id', 'with page_id give exactly one of property (a files property) or as ("cover" or "icon")');
  if (a.index !== undefined && a.property === undefined) throw bad('index', 'goes with property');
}

/** A files property's file at `index`, with a clear error for a missing name, another type or an index past the end. */
function fromProperty(page: Obj, name: string, index: number): Obj {
  const props = isObj(page.properties) ? page.properties : {};
  const prop = props[name];
  if (!isObj(prop)) throw bad('property', `the page has no property ${JSON.stringify(name)} (it has ${Object.keys(props).map((k) => JSON.stringify(k)).join(', ')})`);
  if (prop.type !== 'files') throw bad('property', `${JSON.stringify(name)} is a ${String(prop.type)} property, not a files property`);
  const files = Array.isArray(prop.files) ? prop.files : [];
  if (files.length === 0) throw notAFile(`The ${JSON.stringify(name)} property holds no files.`);
  if (index >= files.length) throw bad('index', `${JSON.stringify(name)} holds ${files.length} file${files.length === 1 ? '' : 's'}; give 0 to ${files.length - 1}`);
  return files[index] as Obj;
}

/** A cover or icon that is a file, else a clear error (an emoji icon, no cover). */
function fromPage(page: Obj, as: 'cover' | 'icon'): Obj {
  const v = page[as];
  if (!isObj(v)) throw notAFile(`The page has no ${as}.`);
  if (v.type === 'emoji') throw notAFile(`The page icon is an emoji (${String(v.emoji)}), not a file.`);
  if (v.type !== 'file' && v.type !== 'external' && v.type !== 'file_upload') throw notAFile(`The page ${as} is a ${String(v.type)}, not a file.`);
  return v;
}

/** The file's name: its own, else the last segment of its URL's path. */
function nameOf(file: Obj, url: URL | undefined): string | undefined {
  if (typeof file.name === 'string' && file.name) return file.name;
  const last = url?.pathname.split('/').pop();
  if (!last) return undefined;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

type Download = { bytes: Buffer; contentType: string } | { tooLarge: true; size?: number };

/**
 * GETs a Notion-hosted file without credentials: no redirects followed, at most `MAX_IMAGE_BYTES`
 * read (the declared length is checked first, the bytes as they arrive), one deadline, and the
 * caller's cancellation.
 */
async function download(url: URL, signal: AbortSignal | undefined): Promise<Download> {
  const stop = new AbortController();
  const deadline = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
  const all = AbortSignal.any(signal ? [stop.signal, deadline, signal] : [stop.signal, deadline]);
  try {
    const res = await fetch(url, { redirect: 'manual', signal: all, headers: { accept: 'image/*' } });
    if (res.status !== 200 || !res.body) {
      throw new ToolError('file_download_failed', `Notion's file host answered HTTP ${res.status}. Call get_file again for a fresh link.`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > MAX_IMAGE_BYTES) return { tooLarge: true, size: declared };
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > MAX_IMAGE_BYTES) return { tooLarge: true };
      chunks.push(Buffer.from(chunk));
    }
    return { bytes: Buffer.concat(chunks), contentType: res.headers.get('content-type') ?? '' };
  } catch (err) {
    if (err instanceof ToolError) throw err;
    if (signal?.aborted) throw new ToolError('cancelled', 'The call was cancelled before the file was downloaded.');
    const reason = deadline.aborted ? `did not arrive within ${DOWNLOAD_TIMEOUT_MS / 1000} s` : 'could not be downloaded';
    throw new ToolError('file_download_failed', `The file ${reason}. Try again in a moment.`);
  } finally {
    // Ends the response (and its socket) wherever reading stopped.
    stop.abort();
  }
}

/**
 * What the model gets for one file object: an image as image content after its JSON, else the
 * JSON with the URL (a fresh one, valid until `expiry_time`, for a Notion-hosted file).
 */
async function answer(file: Obj, about: Obj, isImage: boolean, apiOrigin: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
  const inner = isObj(file[file.type as string]) ? (file[file.type as string] as Obj) : {};
  // Notion answers an attached upload as a "file"; a bare file_upload reference has no link to read.
  if (typeof inner.url !== 'string') throw notAFile(`Notion gave no link for this ${String(file.type)}.`);
  const url = URL.canParse(inner.url) ? new URL(inner.url) : undefined;
  const name = nameOf(file, url);
  const meta: Obj = name ? { ...about, name } : about;
  const linked: Obj = { ...meta, url: inner.url, ...(typeof inner.expiry_time === 'string' ? { expiry_time: inner.expiry_time } : {}) };
  if (file.type !== 'file') return { ...linked, note: 'An external link, not downloaded by the connector.' };
  if (!url || !isNotionHosted(url, apiOrigin)) return { ...linked, note: 'Not on a Notion file host, so not downloaded.' };
  if (!isImage && !IMAGE_NAME.test(name ?? '')) return linked;

  const got = await download(url, signal);
  if ('tooLarge' in got) {
    return { ...linked, ...(got.size ? { size_bytes: got.size } : {}), note: `Over ${MAX_IMAGE_BYTES / 1024} KiB, so not returned as an image; open the url.` };
  }
  const mimeType = IMAGE_MAGIC.find(([, test]) => test(got.bytes))?.[0];
  if (!mimeType) {
    const declared = got.contentType.split(';')[0]!.trim().toLowerCase();
    // An image type models do not read (SVG, HEIC, TIFF…): the link is the answer.
    if (declared.startsWith('image/') && !IMAGE_MAGIC.some(([type]) => type === declared)) {
      return { ...linked, mime_type: declared, note: 'Not PNG, JPEG, GIF or WebP, so not returned as an image.' };
    }
    throw new ToolError('not_an_image', `The file is not a PNG, JPEG, GIF or WebP image (served as ${declared || 'no type'}); it was not returned.`);
  }
  // The bytes are the answer: the signed link stays out of the result.
  const image: ContentItem = { type: 'image', data: got.bytes.toString('base64'), mimeType };
  return new WithContent({ ...meta, mime_type: mimeType, size_bytes: got.bytes.length }, [image]);
}

/** The answer with the marks of what a non-member wrote (on the JSON; image content stays as it is). */
function marked(res: unknown, mark: Mark | undefined): unknown {
  if (!mark) return res;
  return res instanceof WithContent ? new WithContent({ ...(res.value as Obj), ...mark }, res.extra) : { ...(res as Obj), ...mark };
}

export const mediaTools = [
  defineTool({
    name: 'get_file',
    description:
      'Read a file from Notion: {block_id} of an image/file/pdf/video/audio block, {page_id, property, index?} of a files property, or {page_id, as:"cover"|"icon"}. An image ≤700 KiB comes back as image content; other files as a fresh URL valid for 1 h.',
    input: {
      block_id: notionId('block').optional(),
      page_id: notionId('page').optional(),
      property: z.string().optional().describe('Files property name'),
      index: z.number().int().min(0).optional().describe('Default 0'),
      as: z.enum(['cover', 'icon']).optional(),
    },
    annotations: annotations('Get file', READ),
    run: async (args, ctx) => {
      const { notion, signal } = ctx;
      checkArgs(args);
      // A file is what its block's or page's authors put there: vetted before it is downloaded.
      if (args.block_id) {
        const block = await notion.get<Obj>(`blocks/${args.block_id}`);
        const type = String(block.type);
        if (!MEDIA_BLOCKS.has(type)) throw notAFile(`Block ${args.block_id} is a ${type} block; get_file reads image, file, pdf, video and audio blocks.`);
        const mark = (await provenance(ctx)).vet(block, 'block');
        return marked(await answer(block[type] as Obj, { id: block.id, type }, type === 'image', notion.apiOrigin, signal), mark);
      }
      const page = await notion.get<Obj>(`pages/${args.page_id}`);
      // Vetted first: even an error about its properties would show their names.
      const mark = (await provenance(ctx)).vet(page, 'page');
      const file = args.as ? fromPage(page, args.as) : fromProperty(page, args.property!, args.index ?? 0);
      const about: Obj = args.as ? { id: page.id, type: args.as } : { id: page.id, type: 'files', property: args.property, index: args.index ?? 0 };
      return marked(await answer(file, about, args.as !== undefined, notion.apiOrigin, signal), mark);
    },
  }),
];

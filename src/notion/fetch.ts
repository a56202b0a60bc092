import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import type { Client } from '@notionhq/client';

type ClientOptions = NonNullable<ConstructorParameters<typeof Client>[0]>;
type NotionFetch = NonNullable<ClientOptions['fetch']>;

const decoders: Record<string, (buf: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

/** Headers of a buffered response, read the way the Notion SDK reads them (`get`, any case). */
class ResponseHeaders {
  constructor(private readonly raw: IncomingMessage['headers']) {}
  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }
}

/**
 * The `fetch` the Notion client uses: node:http(s) over one keep-alive pool. Global fetch (undici)
 * was the largest CPU cost of a tool call (web streams, AbortSignal and Headers per request); a
 * Notion call needs none of that: a string body out, a JSON text back.
 *
 * - The whole response is read before the promise settles, so the SDK's timeout covers the body
 *   too, and `deadlineMs` (set a little past it) destroys a request nobody waits for any more.
 * - A failed connection rejects with `TypeError('fetch failed')`, as global fetch does, so error
 *   handling does not depend on which fetch is in use.
 * - Multipart bodies (file uploads, rare) go through global fetch, which encodes FormData.
 */
export function keepAliveFetch(opts: { deadlineMs: number; maxSockets?: number }): NotionFetch {
  const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 256, scheduling: 'lifo' as const, timeout: 30_000 };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);

  return (url, init = {}) => {
    const { body } = init;
    if (body !== undefined && typeof body !== 'string') return fetch(url, init as RequestInit);
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        target,
        {
          method: init.method ?? 'GET',
          agent: secure ? https : http,
          headers: { 'accept-encoding': 'gzip, deflate, br', ...init.headers, ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (err) => fail(err));
          res.on('end', () => {
            clearTimeout(deadline);
            const raw = Buffer.concat(chunks);
            const decode = decoders[String(res.headers['content-encoding'] ?? '').trim().toLowerCase()];
            (decode ? decode(raw) : Promise.resolve(raw)).then((bytes) => {
              const text = bytes.toString('utf8');
              const status = res.statusCode ?? 0;
              resolve({ ok: status >= 200 && status < 300, status, headers: new ResponseHeaders(res.headers), text: () => Promise.resolve(text), body: null });
            }, fail);
          });
        },
      );
      const fail = (cause: unknown) => {
        clearTimeout(deadline);
        req.destroy();
        reject(new TypeError('fetch failed', { cause }));
      };
      const deadline = setTimeout(() => fail(new Error('deadline passed')), opts.deadlineMs);
      req.on('error', fail);
      req.end(body);
    });
  };
}

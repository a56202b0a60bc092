import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import { type Client, RequestTimeoutError } from '@notionhq/client';
import { tracing, traceClientRequest } from '../lib/trace.js';

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
 * - The whole response is read before the promise settles. `deadlineMs` (the Notion timeout; the
 *   SDK's own timer is set a little past it) destroys the request and then rejects with the SDK's
 *   RequestTimeoutError, so when a call fails its socket is already gone: a connection's cap on
 *   calls in flight (CallLimiter) is a cap on its sockets.
 * - A failed connection rejects with `TypeError('fetch failed')`, as global fetch does, so error
 *   handling does not depend on which fetch is in use.
 * - Once `stopping` is aborted (shutdown), the pool's sockets are destroyed, which fails every
 *   request in flight, and new ones fail at once, the same way. Nothing is registered per request:
 *   a set of requests in flight cost 14% of a get_page call's server CPU (npm run bench:ab).
 * - The pool has no socket limit (`maxSockets`): a shared limit is a shared queue, where a few users
 *   whose calls hang make everyone else wait. Each connection is capped instead (CallLimiter).
 * - Multipart bodies (file uploads, rare) go through global fetch, which encodes FormData.
 */
/** The first path segment after /v1/, from a fixed set (a bounded metrics label), else `other`. */
const GROUPS = new Set(['pages', 'blocks', 'databases', 'data_sources', 'search', 'users', 'comments', 'file_uploads', 'oauth', 'views', 'custom_emojis']);
export function endpointGroup(path: string): string {
  // `/v1/<group>/...`: sliced, not split, as it runs for every Notion call.
  const from = path.indexOf('/', 1) + 1;
  let to = from;
  while (to < path.length && path[to] !== '/' && path[to] !== '?') to++;
  const segment = from > 0 ? path.slice(from, to) : '';
  return GROUPS.has(segment) ? segment : 'other';
}

export function keepAliveFetch(opts: {
  deadlineMs: number;
  stopping?: AbortSignal;
  maxSockets?: number;
  /** Told how long each answered request took, by endpoint group. */
  observe?: (group: string, seconds: number) => void;
}): NotionFetch {
  const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? Infinity, scheduling: 'lifo' as const, timeout: 30_000 };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);

  // The origin of the last URL. Every Notion call goes to the same one, so a prefix check splits
  // the URL instead of parsing it again (the SDK has just serialized it from a URL object).
  let origin: { prefix: string; secure: boolean; host: string; port: string } | null = null;
  const originOf = (url: string) => {
    if (origin === null || !url.startsWith(origin.prefix)) {
      const u = new URL(url);
      origin = { prefix: `${u.origin}/`, secure: u.protocol === 'https:', host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port };
    }
    return origin;
  };

  const { stopping, observe } = opts;
  let stopped = false;
  stopping?.addEventListener('abort', () => {
    stopped = true;
    http.destroy();
    https.destroy();
  });

  const send: NotionFetch = (url, init = {}) => {
    const { body } = init;
    if (stopped) return Promise.reject(new TypeError('fetch failed', { cause: new Error('shutting down') }));
    if (body !== undefined && typeof body !== 'string') {
      // The same deadline and shutdown for the rare multipart call.
      const signal = AbortSignal.any(stopping ? [AbortSignal.timeout(opts.deadlineMs), stopping] : [AbortSignal.timeout(opts.deadlineMs)]);
      return fetch(url, { ...(init as RequestInit), signal }).catch((err: unknown) => {
        throw (signal.reason as Error | undefined)?.name === 'TimeoutError' ? new RequestTimeoutError() : err;
      });
    }
    const { prefix, secure, host, port } = originOf(url);
    const headers: Record<string, string | number> = { 'accept-encoding': 'gzip, deflate, br', ...(init.headers as Record<string, string>) };
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const path = url.slice(prefix.length - 1);
    const started = observe ? performance.now() : 0;
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        { host, port, path, method: init.method ?? 'GET', agent: secure ? https : http, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (err) => fail(err));
          res.on('end', () => {
            clearTimeout(deadline);
            observe?.(endpointGroup(path), (performance.now() - started) / 1000);
            const raw = Buffer.concat(chunks);
            const answer = (bytes: Buffer) => {
              const text = bytes.toString('utf8');
              const status = res.statusCode ?? 0;
              resolve({ ok: status >= 200 && status < 300, status, headers: new ResponseHeaders(res.headers), text: () => Promise.resolve(text), body: null });
            };
            const encoding = res.headers['content-encoding'];
            const decode = encoding === undefined ? undefined : decoders[encoding.trim().toLowerCase()];
            if (decode) decode(raw).then(answer, fail);
            else answer(raw);
          });
        },
      );
      const fail = (cause: unknown) => {
        clearTimeout(deadline);
        req.destroy();
        reject(cause instanceof RequestTimeoutError ? cause : new TypeError('fetch failed', { cause }));
      };
      const deadline = setTimeout(() => fail(new RequestTimeoutError()), opts.deadlineMs);
      req.on('error', fail);
      req.end(body);
    });
  };

  /** One client span per request: the URL without its query string, and the endpoint group. */
  const traced: NotionFetch = (url, init = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    const query = url.indexOf('?');
    const bare = query < 0 ? url : url.slice(0, query);
    const group = endpointGroup(bare.slice(originOf(bare).prefix.length - 1));
    return traceClientRequest(group === 'other' ? method : `${method} /v1/${group}`, method, bare, { 'notion.endpoint.group': group }, () => send(url, init), errorType);
  };
  return (url, init) => (tracing() ? traced(url, init) : send(url, init));
}

/** `error.type` of a request that got no answer: a timeout, or the socket error's code. */
function errorType(err: unknown): string {
  if (RequestTimeoutError.isRequestTimeoutError(err)) return 'timeout';
  const code = ((err as { cause?: { code?: unknown } }).cause)?.code;
  return typeof code === 'string' ? code : err instanceof TypeError ? 'network' : '_OTHER';
}

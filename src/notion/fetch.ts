import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import { type Client, RequestTimeoutError } from '@notionhq/client';
import { Agent, type Dispatcher } from 'undici';
import { tracing, traceClientRequest } from '../lib/trace.js';

type ClientOptions = NonNullable<ConstructorParameters<typeof Client>[0]>;
type NotionFetch = NonNullable<ClientOptions['fetch']>;

const decoders: Record<string, (buf: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

/**
 * Headers of a buffered response, read the way the Notion SDK reads them (`get`, any case): from
 * undici's raw name/value list, searched only when asked (the SDK reads them on errors only).
 */
class ResponseHeaders {
  constructor(private readonly raw: Buffer[]) {}
  get(name: string): string | null {
    const wanted = name.toLowerCase();
    const values: string[] = [];
    for (let i = 0; i + 1 < this.raw.length; i += 2) {
      const key = this.raw[i]!;
      if (key.length === wanted.length && key.toString('latin1').toLowerCase() === wanted) values.push(this.raw[i + 1]!.toString('latin1'));
    }
    return values.length ? values.join(', ') : null;
  }
}

/**
 * The `fetch` the Notion client uses: undici's dispatcher over one keep-alive pool. Global fetch
 * was the largest CPU cost of a tool call (web streams, AbortSignal and Headers per request); a
 * Notion call needs none of that: a string body out, a JSON text back. `Dispatcher.dispatch` is
 * undici's lowest level: a keep-alive GET cost 64-68 µs of client CPU against 155-176 µs through
 * node:http and 83-85 µs through undici's `request` (123 µs with an AbortSignal), on a loaded
 * 2-core machine; docs/benchmarks.md has what it did to a tool call.
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
 * - The pool has no socket limit (undici's `connections`): a shared limit is a shared queue, where a few users
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
  /** Told how long each answered request took, by endpoint group. */
  observe?: (group: string, seconds: number) => void;
}): NotionFetch {
  const agent = new Agent({ keepAliveTimeout: 30_000 });

  // The origin of the last URL. Every Notion call goes to the same one, so a prefix check splits
  // the URL instead of parsing it again (the SDK has just serialized it from a URL object).
  let origin: { prefix: string; origin: string } | null = null;
  const originOf = (url: string) => {
    if (origin === null || !url.startsWith(origin.prefix)) {
      const u = new URL(url);
      origin = { prefix: `${u.origin}/`, origin: u.origin };
    }
    return origin;
  };

  const { stopping, observe } = opts;
  let stopped = false;
  stopping?.addEventListener('abort', () => {
    stopped = true;
    void agent.destroy().catch(() => undefined);
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
    const { prefix, origin: to } = originOf(url);
    const headers: Record<string, string> = { 'accept-encoding': 'gzip, deflate, br', ...(init.headers as Record<string, string>) };
    const path = url.slice(prefix.length - 1);
    const started = observe ? performance.now() : 0;
    return new Promise((resolve, reject) => {
      let status = 0;
      let raw: Buffer[] = [];
      const chunks: Buffer[] = [];
      let abort: ((reason: Error) => void) | undefined;
      let settled = false;
      const fail = (cause: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        reject(cause instanceof RequestTimeoutError ? cause : new TypeError('fetch failed', { cause }));
      };
      // Aborting destroys the request's socket before the promise rejects, so a caller's slot is
      // freed only once its socket is going away.
      const deadline = setTimeout(() => {
        const timeout = new RequestTimeoutError();
        if (abort) abort(timeout);
        fail(timeout);
      }, opts.deadlineMs);
      const handler: Dispatcher.DispatchHandler = {
        onConnect: (a) => {
          abort = a;
          if (settled) a(new RequestTimeoutError()); // timed out while queued
        },
        onHeaders: (code, rawHeaders) => {
          status = code;
          raw = rawHeaders as Buffer[];
          return true;
        },
        onData: (chunk) => {
          chunks.push(chunk);
          return true;
        },
        onComplete: () => {
          if (settled) return;
          clearTimeout(deadline);
          observe?.(endpointGroup(path), (performance.now() - started) / 1000);
          const got = new ResponseHeaders(raw);
          const answer = (bytes: Buffer) => {
            settled = true;
            const text = bytes.toString('utf8');
            resolve({ ok: status >= 200 && status < 300, status, headers: got, text: () => Promise.resolve(text), body: null });
          };
          const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          const encoding = got.get('content-encoding');
          const decode = encoding === null ? undefined : decoders[encoding.trim().toLowerCase()];
          if (decode) decode(body).then(answer, fail);
          else answer(body);
        },
        onError: fail,
      };
      try {
        agent.dispatch({ origin: to, path, method: (init.method ?? 'GET') as Dispatcher.HttpMethod, headers, body: body ?? null }, handler);
      } catch (err) {
        fail(err); // a header value undici refuses, or a closed pool
      }
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

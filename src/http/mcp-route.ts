import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { ProtocolErrorCode as ErrorCode } from '@modelcontextprotocol/server';
import { type ClientRateLimitInfo, ipKeyGenerator, type Options as RateLimitOptions, type Store as RateLimitStore } from 'express-rate-limit';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config.js';
import { isStoreFailure } from '../errors.js';
import { stringifyReply } from '../lib/json-reply.js';
import type { Logger } from '../log.js';
import { failure, MAX_BATCH, type McpHandler } from '../mcp/handler.js';
import type { AuthContext, Grants } from '../oauth/grants.js';
import { resourceMetadataUrl } from '../oauth/metadata.js';
import { ALL_SCOPES_STRING, SCOPE_READ, SCOPE_WRITE, TOOLSETS, toolsetScope } from '../oauth/scopes.js';
import type { Metrics } from './metrics.js';
import { startRequest } from './request.js';

const BODY_LIMIT = 4 * 1024 * 1024;
const WINDOW_MS = 60_000;
/**
 * Failed bearer attempts per client address per minute before /mcp answers them 429 instead of
 * 401. A valid token is always checked first and always passes, so users behind a shared
 * address (Claude's egress, an office NAT) are never locked out by someone else's guessing.
 */
export const BEARER_FAILURES_PER_MINUTE = 60;
/** JSON-RPC's implementation-defined server error, for refusals that are not about the message. */
const SERVER_ERROR = -32000;

/** /mcp, with or without a trailing slash or query string, any case (as Express routes it). */
export const isMcpPath = (url: string | undefined): boolean => /^\/mcp\/?(?:\?|$)/i.test(url ?? '');

type Refusal = { status: number; body: unknown; headers?: OutgoingHttpHeaders };
const rpcError = (status: number, message: string, headers?: OutgoingHttpHeaders, code = SERVER_ERROR): Refusal => ({
  status,
  body: failure(null, code, message),
  ...(headers ? { headers } : {}),
});

function send(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  sendText(res, status, stringifyReply(body), headers);
}

function sendText(res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders, type = 'application/json; charset=utf-8'): void {
  headers['content-type'] = type;
  headers['content-length'] = Buffer.byteLength(text);
  res.writeHead(status, headers).end(text);
}

/**
 * An SSE answer (Streamable HTTP), each event as it comes. A client that goes away before its end
 * makes the pipeline destroy the stream, which cancels the call (src/mcp/stream.ts).
 */
function sendEvents(res: ServerResponse, stream: Readable, headers: OutgoingHttpHeaders): void {
  headers['content-type'] = 'text/event-stream';
  headers['cache-control'] = 'no-cache, no-transform';
  // Proxies such as nginx would otherwise hold the events back.
  headers['x-accel-buffering'] = 'no';
  res.writeHead(200, headers);
  pipeline(stream, res, () => {});
}

/** The body, or null when it is larger than `limit` (the rest is then read and dropped). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  if (Number(req.headers['content-length']) > limit) {
    req.resume();
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData).resume();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/**
 * POST /mcp on plain node:http. It is the one hot path, so it skips the Express stack (router,
 * body-parser, express-rate-limit middleware), which cost about a tenth of a tool call's CPU.
 * The checks run in this order, each with its own answer:
 * Host (421) and Origin (403) against DNS rebinding; POST only (405 + Allow); the bearer token
 * (401 with a challenge, RFC 6750 / RFC 9728 §5.1); the per-grant request limit (429 +
 * Retry-After); application/json in UTF-8, uncompressed (415); at most 4 MB (413); JSON (400,
 * -32700). A store failure answers 503 and anything unexpected 500, as JSON-RPC errors without
 * details.
 */
export function createMcpRoute(deps: {
  config: Config;
  grants: Grants;
  log: Logger;
  metrics: Metrics;
  handle: McpHandler<AuthContext>;
  /** The per-grant request counter: express-rate-limit's MemoryStore, or a shared one (Redis). */
  counter: RateLimitStore;
  /** Failed bearer attempts per client address, in the same kind of store. */
  failures: RateLimitStore;
  /** Express's compiled `trust proxy`, so /mcp sees the client address the Express routes see. */
  trust: (addr: string, hop: number) => boolean;
  /** The scopes a tools/call needs beyond the connection's (ToolRegistry.missingScopes); none by default. */
  missingScopes?: (name: string, args: unknown, auth: AuthContext) => string[] | null;
}) {
  const { config, grants, handle, counter, failures, trust } = deps;
  const hosts = new Set(config.allowedHosts);
  const metadata = resourceMetadataUrl(config);
  const limit = config.rateLimits.mcpPerMinute;
  const policy = `${limit};w=${WINDOW_MS / 1000}`;
  for (const store of [counter, failures]) void store.init?.({ windowMs: WINDOW_MS } as RateLimitOptions);

  function guard(req: IncomingMessage): Refusal | null {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!hosts.has(host)) {
      return rpcError(
        421,
        `Misdirected request: host ${host.slice(0, 100) || '(none)'} is not served here; set BASE_URL to the public URL or add the host to ADDITIONAL_ALLOWED_HOSTS`,
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== config.baseUrl) return rpcError(403, 'Forbidden: this Origin may not call the MCP endpoint');
    // Streamable HTTP without sessions: only POST. GET and DELETE get 405, which clients accept.
    if (req.method !== 'POST') return rpcError(405, 'Method not allowed: use POST', { allow: 'POST' });
    return null;
  }

  async function authenticate(req: IncomingMessage, log: () => Logger): Promise<AuthContext | Refusal> {
    const header = req.headers.authorization;
    const match = header ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim()) : null;
    const auth = match ? await grants.verifyAccessToken(match[1]!) : null;
    if (auth) return auth;
    const tooMany = await countFailure(req, log);
    if (tooMany) return tooMany;
    // No credentials: a bare challenge pointing at our metadata. Bad ones: invalid_token. Only our
    // own access tokens for this resource pass; a Notion token or any foreign token is invalid.
    const challenge = header
      ? `Bearer error="invalid_token", error_description="The access token is invalid or expired", resource_metadata="${metadata}"`
      : `Bearer resource_metadata="${metadata}", scope="${ALL_SCOPES_STRING}"`;
    return {
      status: 401,
      headers: { 'www-authenticate': challenge },
      body: { error: header ? 'invalid_token' : 'unauthorized', error_description: header ? 'The access token is invalid or expired' : 'Authorization required' },
    };
  }

  /** Counts one failed bearer attempt against the client address; a refusal once over the limit. */
  async function countFailure(req: IncomingMessage, log: () => Logger): Promise<Refusal | null> {
    let hit;
    try {
      hit = await failures.increment(`bearer:${ipKeyGenerator(proxyaddr(req, trust))}`);
    } catch (err) {
      log().warn({ err, limiter: 'bearer' }, 'rate limit store unavailable; request not counted');
      return null;
    }
    if (hit.totalHits <= BEARER_FAILURES_PER_MINUTE) return null;
    const resetS = resetSeconds(hit);
    return rpcError(429, `Too many failed authorization attempts from this address; try again in ${resetS} s`, { 'retry-after': String(resetS) });
  }

  /**
   * Counts the request against its grant and adds the RateLimit headers to `headers`; fails open
   * when the counter store does not answer.
   */
  async function countRequest(grantId: string, headers: OutgoingHttpHeaders, log: () => Logger, messages = 1): Promise<Refusal | null> {
    let hit;
    try {
      // Every JSON-RPC message of a batch counts, so a batch does not multiply the limit.
      for (let i = 0; i < messages; i++) hit = await counter.increment(`grant:${grantId}`);
      if (!hit) return null;
    } catch (err) {
      log().warn({ err, limiter: 'mcp' }, 'rate limit store unavailable; request not counted');
      return null;
    }
    const resetS = resetSeconds(hit);
    headers['ratelimit-policy'] = policy;
    headers.ratelimit = `limit=${limit}, remaining=${Math.max(0, limit - hit.totalHits)}, reset=${resetS}`;
    if (hit.totalHits <= limit) return null;
    return rpcError(429, `Too many requests on this connection; try again in ${resetS} s`, { 'retry-after': String(resetS) });
  }

  /**
   * MCP authorization's step-up (2025-11-25 and 2026-07-28, "Runtime Insufficient Scope Errors"): a
   * tools/call beyond the connection's scopes gets 403 with `error="insufficient_scope"` and the
   * scopes it needs. Only for connections whose app asked for toolset scopes by name
   * (AuthContext.stepUp): clients mostly do not finish a step-up yet (README, Toolsets), so every
   * other one gets the tool error that names the toolset and Your connections instead
   * (ToolRegistry). The scope named is the connection's own plus the needed ones (2025-11-25's
   * recommended approach), so a client that re-authorizes with exactly it loses nothing; one
   * challenge names all of them (2026-07-28). The JSON-RPC error body says the same to clients
   * that show it.
   */
  function stepUp(body: unknown, auth: AuthContext): Refusal | null {
    if (!auth.stepUp || !deps.missingScopes || typeof body !== 'object' || body === null || Array.isArray(body)) return null;
    const { id, method, params } = body as { id?: unknown; method?: unknown; params?: { name?: unknown; arguments?: unknown } };
    if (method !== 'tools/call' || typeof params?.name !== 'string') return null;
    const needed = deps.missingScopes(params.name, params.arguments, auth);
    if (!needed) return null;
    // Every toolset named, never the short form for "all": the consent page ticks exactly these.
    const want = new Set([...auth.scopes, ...needed]);
    const scope = [SCOPE_READ, SCOPE_WRITE, ...TOOLSETS.map(toolsetScope)].filter((s) => want.has(s)).join(' ');
    const description = `This connection does not allow ${params.name}: it needs ${needed.join(' ')}`;
    const rpcId = typeof id === 'string' || typeof id === 'number' ? id : null;
    return {
      status: 403,
      headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${metadata}", error_description="${description}"` },
      body: failure(rpcId, SERVER_ERROR, `insufficient_scope: ${description}. Authorize again with scope "${scope}", or allow it under Your connections (${config.baseUrl}/connections).`),
    };
  }

  function contentRefusal(req: IncomingMessage): Refusal | null {
    const contentType = req.headers['content-type'];
    // What clients send: no parsing (0.5% of a call's CPU profile).
    if (contentType === 'application/json' && req.headers['content-encoding'] === undefined) return null;
    const [type = '', ...params] = (contentType ?? '').split(';');
    if (type.trim().toLowerCase() !== 'application/json') {
      return rpcError(415, 'Unsupported Media Type: Content-Type must be application/json');
    }
    const charset = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('charset='));
    if (charset && !/^charset="?utf-8"?$/.test(charset)) return rpcError(415, 'Unsupported Media Type: the body must be UTF-8');
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') return rpcError(415, 'Unsupported Media Type: send the body without Content-Encoding');
    return null;
  }

  /** `headers` collects what every answer carries (request id, RateLimit); all go out in one writeHead. */
  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    headers: OutgoingHttpHeaders,
    log: () => Logger,
    annotate: (fields: Record<string, unknown>) => void,
  ): Promise<void> {
    const reply = (status: number, body?: unknown, extra?: OutgoingHttpHeaders) => send(res, status, body, extra ? { ...headers, ...extra } : headers);
    const early = guard(req);
    if (early) return reply(early.status, early.body, early.headers);
    const auth = await authenticate(req, log);
    if ('status' in auth) return reply(auth.status, auth.body, auth.headers);
    const refused = (await countRequest(auth.grantId, headers, log)) ?? contentRefusal(req);
    if (refused) {
      req.resume();
      return reply(refused.status, refused.body, refused.headers);
    }
    const raw = await readBody(req, BODY_LIMIT);
    if (!raw) return reply(413, failure(null, ErrorCode.InvalidRequest, 'Request body too large'));
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return reply(400, failure(null, ErrorCode.ParseError, 'Parse error'));
    }
    // The request itself was counted above; the rest of a batch's messages count here.
    if (Array.isArray(body) && body.length > 1 && body.length <= MAX_BATCH) {
      const over = await countRequest(auth.grantId, headers, log, body.length - 1);
      if (over) return reply(over.status, over.body, over.headers);
    }
    const challenge = stepUp(body, auth);
    if (challenge) return reply(challenge.status, challenge.body, challenge.headers);
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const answer = await handle(body, auth, {
      version: header('mcp-protocol-version'),
      method: header('mcp-method'),
      name: header('mcp-name'),
      accept: header('accept'),
    });
    if (answer.traceparent) annotate({ traceparent: answer.traceparent });
    if (answer.stream) return sendEvents(res, answer.stream, headers);
    if (answer.text !== undefined) return sendText(res, answer.status, answer.text, headers, answer.contentType);
    reply(answer.status, answer.body);
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    const { id, log, annotate } = startRequest(req, res, deps.log, '/mcp');
    const headers: OutgoingHttpHeaders = { 'x-request-id': id };
    deps.metrics.track(req.method ?? '', res, '/mcp');
    serve(req, res, headers, log, annotate).catch((err: unknown) => {
      const storeDown = isStoreFailure(err);
      log().error({ err }, storeDown ? 'store failure' : 'unhandled error');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      req.resume();
      send(res, storeDown ? 503 : 500, failure(null, ErrorCode.InternalError, storeDown ? 'Storage is unavailable; try again shortly' : 'Internal error'), headers);
    });
  };
}

/** Whole seconds until a counter's window ends, at least 1 (Retry-After, RateLimit reset). */
const resetSeconds = (hit: ClientRateLimitInfo): number =>
  Math.max(1, Math.ceil(hit.resetTime ? (hit.resetTime.getTime() - Date.now()) / 1000 : WINDOW_MS / 1000));

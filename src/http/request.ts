import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';

/**
 * Per-request bookkeeping shared by the Express routes and /mcp: a request id (the caller's
 * X-Request-Id when it is a plain token, else a new UUID) for the caller to echo in its response;
 * a child logger made on first use, since most requests at LOG_LEVEL warn never log; and one log
 * line per request at info, with the path only (never the query string, which holds codes and state).
 */
export function startRequest(
  req: IncomingMessage,
  res: ServerResponse,
  log: Logger,
  path: string,
): { id: string; log: () => Logger; annotate: (fields: Record<string, unknown>) => void } {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
  let reqLog: Logger | undefined;
  const bindings: Record<string, unknown> = { reqId: id };
  const logger = () => (reqLog ??= log.child(bindings));
  /** Adds fields (a traceparent) to every later line of this request, the request line included. */
  const annotate = (fields: Record<string, unknown>) => {
    Object.assign(bindings, fields);
    reqLog = undefined;
  };
  if (log.isLevelEnabled('info')) {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      logger().info({ method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
  }
  return { id, log: logger, annotate };
}

import type { NextFunction, Request, Response } from 'express';
import { rateLimit, type Store as RateLimitStore } from 'express-rate-limit';
import { OAuthError, PageError, sendOAuthError } from '../errors.js';
import type { Store } from '../store/types.js';
import { sendErrorPage } from './pages.js';

/**
 * Abuse limits. Counters live in express-rate-limit's memory store (per process) unless
 * `storeFor` is given: it is called once per limiter with the limiter's name, so a shared store
 * (e.g. Redis, with the name as key prefix) can be plugged in for several instances.
 */
export type RateLimitStoreFactory = (name: string) => RateLimitStore;

/** How a refusal reaches the caller: OAuth JSON, a page for people, or JSON-RPC. */
type Style = 'oauth' | 'page' | 'mcp';

export interface LimitOptions {
  /** Also the key prefix handed to `storeFor`. */
  name: string;
  windowMs: number;
  limit: number;
  style: Style;
  /** What was limited, e.g. "client registrations from this address". */
  what: string;
  /** Per IP address (default) or per verified grant (only after requireBearer). */
  key?: 'ip' | 'grant';
  storeFor?: RateLimitStoreFactory;
}

export function limiter(opts: LimitOptions) {
  return rateLimit({
    windowMs: opts.windowMs,
    limit: opts.limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    ...(opts.storeFor ? { store: opts.storeFor(opts.name) } : {}),
    // The default key is the client address (IPv6 grouped by /56); a grant's id comes from requireBearer.
    ...(opts.key === 'grant' ? { keyGenerator: (_req: Request, res: Response) => `grant:${(res.locals.auth as { grantId: string }).grantId}` } : {}),
    handler: (req: Request, res: Response) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = Math.max(1, Math.ceil(reset ? (reset.getTime() - Date.now()) / 1000 : opts.windowMs / 1000));
      const message = `Too many ${opts.what}; try again in ${retryAfter} s`;
      res.status(429).set('Retry-After', String(retryAfter));
      if (opts.style === 'page') sendErrorPage(res, new PageError('Too many requests', message, 'Wait a moment, then try again.', 429));
      else if (opts.style === 'mcp') res.json({ jsonrpc: '2.0', id: null, error: { code: -32000, message } });
      else res.set('Cache-Control', 'no-store').json({ error: 'too_many_requests', error_description: message });
    },
  });
}

/** Refuses new registrations once the store holds `max` clients (503, OAuth JSON). */
export function clientCap(store: Store, max: number) {
  return async (_req: Request, res: Response, next: NextFunction): Promise<void> => {
    if ((await store.countClients()) < max) return next();
    sendOAuthError(
      res,
      new OAuthError('temporarily_unavailable', 'This server has reached its limit of registered clients; try again later or ask its operator'),
    );
  };
}

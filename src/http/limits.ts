import { createRequire } from 'node:module';
import type { Request, Response } from 'express';
import { type ClientRateLimitInfo, type Options as RateLimitOptions, rateLimit, type Store as RateLimitStore } from 'express-rate-limit';
import type { Cluster, Redis } from 'ioredis';
import type { RedisReply } from 'rate-limit-redis';
import { PageError } from '../errors.js';
import type { Logger } from '../log.js';
import { sendErrorPage } from '../pages/html.js';

/**
 * Abuse limits. Counters live in express-rate-limit's memory store (per process) unless
 * `storeFor` is given: it is called once per limiter with the limiter's name, so a shared store
 * (e.g. Redis, with the name as key prefix) can be plugged in for several instances.
 */
export type RateLimitStoreFactory = (name: string) => RateLimitStore;

const requireCjs = createRequire(import.meta.url);
let sharedCounterClass: ReturnType<typeof defineSharedCounter> | undefined;

/**
 * rate-limit-redis on the store's ioredis client (fail-fast: no offline queue). Upstream loads its
 * Lua scripts once, in `init`, and keeps a rejected load forever; here `init` does not touch Redis
 * (the client is still connecting when the limiters are built) and the scripts are (re)loaded on
 * the first use after any failure, so the counters work again as soon as Redis is back.
 *
 * Built on first use: rate-limit-redis is only loaded when a shared store (REDIS_URL) is configured.
 */
function defineSharedCounter() {
  const { RedisStore: RateLimitRedisStore } = requireCjs('rate-limit-redis') as typeof import('rate-limit-redis');
  return class SharedCounter extends RateLimitRedisStore {
    private loaded: Promise<unknown> | undefined;

    override async init(options: RateLimitOptions): Promise<void> {
      this.windowMs = options.windowMs;
    }

    private scripts(): Promise<unknown> {
      if (!this.loaded) {
        this.incrementScriptSha = this.loadIncrementScript();
        this.getScriptSha = this.loadGetScript();
        this.loaded = Promise.all([this.incrementScriptSha, this.getScriptSha]);
      }
      return this.loaded;
    }

    private async guarded<T>(fn: () => Promise<T>): Promise<T> {
      try {
        await this.scripts();
        return await fn();
      } catch (err) {
        this.loaded = undefined;
        throw err;
      }
    }

    override increment(key: string) {
      return this.guarded(() => super.increment(key));
    }

    override get(key: string): Promise<ClientRateLimitInfo | undefined> {
      return this.guarded(() => super.get(key));
    }
  };
}

/**
 * One Redis counter store per limiter, keyed `<prefix><limiter name>:<ip or grant>`. Each counter
 * is one key, so its scripts run on any node of a cluster; a cluster client routes EVALSHA by its
 * key, and a script is loaded on every master (a NOSCRIPT after a failover loads it again).
 */
export function redisLimitStores(client: Redis | Cluster, prefix = 'nmr:rl:'): RateLimitStoreFactory {
  const SharedCounter = (sharedCounterClass ??= defineSharedCounter());
  const send = (command: string, ...args: string[]): Promise<unknown> =>
    client.isCluster && command === 'SCRIPT'
      ? Promise.all((client as Cluster).nodes('master').map((node) => node.call(command, ...args))).then((shas) => shas[0])
      : client.call(command, ...args);
  return (name) =>
    new SharedCounter({
      prefix: `${prefix}${name}:`,
      sendCommand: (command: string, ...args: string[]) => send(command, ...args) as Promise<RedisReply>,
    });
}

/** How a refusal reaches the caller: OAuth JSON or a page for people (/mcp counts in mcp-route.ts). */
type Style = 'oauth' | 'page';

export interface LimitOptions {
  /** Also the key prefix handed to `storeFor`. */
  name: string;
  windowMs: number;
  limit: number;
  style: Style;
  /** What was limited, e.g. "client registrations from this address". */
  what: string;
  storeFor?: RateLimitStoreFactory;
  /** Where store errors go (default: the console). */
  log?: Logger;
}

export function limiter(opts: LimitOptions) {
  return rateLimit({
    windowMs: opts.windowMs,
    limit: opts.limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    ...(opts.storeFor ? { store: opts.storeFor(opts.name) } : {}),
    // Fail open: when the counter store (Redis) does not answer, the request goes on uncounted. The
    // limits only slow abuse down; refusing on their account would make an outage of the counters an
    // outage of every limited route, and turn into 500s. A route that needs the data store still
    // answers its own 503 (StoreUnavailableError) when Redis is down, so nothing is served unchecked.
    passOnStoreError: true,
    ...(opts.log ? { logger: limitLogger(opts.log, opts.name) } : {}),
    // Keyed by the client address (IPv6 grouped by /56).
    handler: (req: Request, res: Response) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = Math.max(1, Math.ceil(reset ? (reset.getTime() - Date.now()) / 1000 : opts.windowMs / 1000));
      const message = `Too many ${opts.what}; try again in ${retryAfter} s`;
      res.status(429).set('Retry-After', String(retryAfter));
      if (opts.style === 'page') sendErrorPage(res, new PageError('Too many requests', message, 'Wait a moment, then try again.', 429));
      else res.set('Cache-Control', 'no-store').json({ error: 'too_many_requests', error_description: message });
    },
  });
}

/** express-rate-limit's logger on pino: a store error is a warning (the request went on). */
function limitLogger(log: Logger, name: string) {
  return {
    warn: (err: unknown, msg?: string) => log.warn({ err, limiter: name }, msg ?? 'rate limit warning'),
    error: (err: unknown, _msg?: string) => log.warn({ err, limiter: name }, 'rate limit store unavailable; request not counted'),
  };
}

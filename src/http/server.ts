import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config.js';
import { OAuthError, PageError, sendOAuthError, StoreUnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { authorizationServerMetadata, protectedResourceMetadata } from '../oauth/metadata.js';
import type { Store } from '../store/types.js';
import { hostAndOriginGuard, postOnly, requireBearer } from './guards.js';
import { clientCap, limiter, type RateLimitStoreFactory } from './limits.js';
import type { Metrics } from './metrics.js';
import { sendErrorPage } from './pages.js';
import type { Grants } from '../oauth/grants.js';

type Handler = (req: Request, res: Response) => Promise<void>;

export interface Routes {
  register: Handler;
  authorize: Handler;
  decision: Handler;
  callback: Handler;
  token: Handler;
  revoke: Handler;
  mcp: Handler;
  landing: Handler;
  privacy: Handler;
  terms: Handler;
  connections: Handler;
  connectionsLogin: Handler;
  disconnect: Handler;
  logout: Handler;
}

/** How errors on a route reach the caller: OAuth JSON, a page for people, or JSON-RPC. */
type Style = 'oauth' | 'page' | 'mcp';
const as = (style: Style) => (_req: Request, res: Response, next: NextFunction) => {
  res.locals.style = style;
  next();
};

export function createHttpApp(deps: {
  config: Config;
  store: Store;
  grants: Grants;
  log: Logger;
  routes: Routes;
  metrics: Metrics;
  /** A shared store for the rate-limit counters; default: in memory, per process. */
  rateLimitStore?: RateLimitStoreFactory;
}) {
  const { config, log, routes } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETag: it would hash every JSON-RPC answer, and POST answers are never revalidated.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);

  // Request id on every log line and response; the path is logged without its query string.
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    // The child logger is made on first use: most requests at LOG_LEVEL warn never log.
    let reqLog: Logger | undefined;
    Object.defineProperty(res.locals, 'log', { get: () => (reqLog ??= log.child({ reqId: id })), enumerable: true, configurable: true });
    res.set('X-Request-Id', id);
    if (log.isLevelEnabled('info')) {
      const start = process.hrtime.bigint();
      res.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        (res.locals.log as Logger).info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
      });
    }
    next();
  });
  app.use(deps.metrics.observe());

  // Liveness: answers while the process runs, without touching the store.
  app.get('/health', (_req, res) => void res.set('Cache-Control', 'no-store').json({ status: 'ok' }));
  // Readiness: the store answers.
  app.get('/ready', async (_req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      await deps.store.ping();
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable', error: 'the store does not answer' });
    }
  });
  app.get('/metrics', deps.metrics.handler(config.metricsToken));

  const asMetadata = authorizationServerMetadata(config);
  const prMetadata = protectedResourceMetadata(config);
  app.get('/.well-known/oauth-authorization-server', (_req, res) => void res.set('Cache-Control', 'public, max-age=3600').json(asMetadata));
  app.get(['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp'], (_req, res) =>
    void res.set('Cache-Control', 'public, max-age=3600').json(prMetadata),
  );

  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 50 });
  // Not strict: a bare JSON value must reach the JSON-RPC layer as Invalid Request, not a parse error.
  const json = (limit: string) => express.json({ limit, strict: false });
  // Per-IP abuse limits (per grant on /mcp); each route counts apart. 429 in the route's own format.
  // With a shared store (REDIS_URL) the counters are common to every instance.
  const { rateLimits: rl } = config;
  const storeFor = deps.rateLimitStore;
  const minute = 60 * 1000;
  const registerLimit = limiter({ name: 'register', windowMs: 60 * minute, limit: rl.registerPerHour, style: 'oauth', what: 'client registrations from this address', storeFor, log });
  const pageLimit = (name: string) => limiter({ name, windowMs: minute, limit: rl.authorizePerMinute, style: 'page', what: 'authorization requests from this address', storeFor, log });
  const tokenLimit = (name: string) => limiter({ name, windowMs: minute, limit: rl.tokenPerMinute, style: 'oauth', what: 'token requests from this address', storeFor, log });
  const mcpLimit = limiter({ name: 'mcp', windowMs: minute, limit: rl.mcpPerMinute, style: 'mcp', what: 'requests on this connection', key: 'grant', storeFor, log });

  app.post('/register', as('oauth'), registerLimit, clientCap(deps.store, config.maxClients), json('64kb'), routes.register);
  app.get('/authorize', as('page'), pageLimit('authorize'), routes.authorize);
  app.post('/authorize', as('page'), pageLimit('decision'), form, routes.decision);
  app.get('/oauth/callback', as('page'), pageLimit('callback'), routes.callback);
  app.get('/', as('page'), routes.landing);
  app.get('/privacy', as('page'), routes.privacy);
  app.get('/terms', as('page'), routes.terms);
  app.get('/connections', as('page'), routes.connections);
  app.get('/connections/login', as('page'), pageLimit('login'), routes.connectionsLogin);
  app.post('/connections/disconnect', as('page'), form, routes.disconnect);
  app.post('/connections/logout', as('page'), form, routes.logout);
  app.post('/token', as('oauth'), tokenLimit('token'), form, json('64kb'), routes.token);
  app.post('/revoke', as('oauth'), tokenLimit('revoke'), form, json('64kb'), routes.revoke);

  app.all(
    '/mcp',
    as('mcp'),
    hostAndOriginGuard(config),
    postOnly,
    requireBearer(config, deps.grants),
    mcpLimit,
    (req, res, next) => {
      if (req.is('application/json')) return next();
      res.status(415).json({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Unsupported Media Type: Content-Type must be application/json' } });
    },
    json('4mb'),
    routes.mcp,
  );

  // Browsers get a page; API clients (no Accept, */*, application/json) keep JSON.
  app.use((req, res) => {
    if (req.accepts(['json', 'html']) === 'html') {
      sendErrorPage(res, new PageError('Page not found', 'There is nothing at this address.', 'Check the address, or start from the connector’s home page.', 404));
      return;
    }
    res.status(404).json({ error: 'not_found' });
  });

  // The one place where errors become responses.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const style = res.locals.style as Style | undefined;
    const reqLog = (res.locals.log as Logger | undefined) ?? log;
    if (res.headersSent) {
      reqLog.error({ err }, 'error after response started');
      return;
    }
    const bodyError = err as { type?: string; status?: number };
    if (bodyError.type === 'entity.too.large' || bodyError.type === 'entity.parse.failed' || bodyError.type?.startsWith('encoding.') || bodyError.type === 'charset.unsupported') {
      const tooLarge = bodyError.type === 'entity.too.large';
      const status = tooLarge ? 413 : bodyError.status === 415 ? 415 : 400;
      const message = tooLarge ? 'Request body too large' : 'Request body is not valid JSON or form data';
      if (style === 'mcp') res.status(status).json({ jsonrpc: '2.0', id: null, error: { code: tooLarge ? -32600 : -32700, message: tooLarge ? message : 'Parse error' } });
      else if (style === 'page') sendErrorPage(res, new PageError('Something was wrong with that form', message, 'Go back and try again.', status));
      else res.status(status).set('Cache-Control', 'no-store').json({ error: 'invalid_request', error_description: message });
      return;
    }
    if (err instanceof OAuthError) {
      if (style === 'page') sendErrorPage(res, new PageError('This request could not be completed', err.description, 'Go back to your app and start the connection again.'));
      else sendOAuthError(res, err);
      return;
    }
    if (err instanceof PageError) {
      sendErrorPage(res, err);
      return;
    }
    const storeDown = err instanceof StoreUnavailableError || String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_');
    reqLog.error({ err }, storeDown ? 'store failure' : 'unhandled error');
    const status = storeDown ? 503 : 500;
    const message = storeDown ? 'Storage is unavailable; try again shortly' : 'Internal error';
    if (style === 'page') sendErrorPage(res, new PageError(storeDown ? 'The connector is unavailable' : 'Something went wrong', message, 'Try again in a few minutes.', status));
    else if (style === 'mcp') res.status(status).json({ jsonrpc: '2.0', id: null, error: { code: -32603, message } });
    else res.status(status).json({ error: storeDown ? 'temporarily_unavailable' : 'server_error', error_description: message });
  });

  return app;
}

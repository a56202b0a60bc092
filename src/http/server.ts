import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { MemoryStore } from 'express-rate-limit';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config.js';
import { isStoreFailure, OAuthError, PageError, requestBodyError, sendOAuthError } from '../errors.js';
import { tracing, traceServerRequest } from '../lib/trace.js';
import type { Logger } from '../log.js';
import type { McpHandler } from '../mcp/handler.js';
import type { AuthContext, Grants } from '../oauth/grants.js';
import { authorizationServerMetadata, protectedResourceMetadata } from '../oauth/metadata.js';
import type { Store } from '../store/types.js';
import { limiter, type RateLimitStoreFactory } from './limits.js';
import { createMcpRoute, isMcpPath } from './mcp-route.js';
import type { Metrics } from './metrics.js';
import { sendErrorPage } from '../pages/html.js';
import { ICON_PATH, ICON_SVG } from '../pages/icon.js';
import { startRequest } from './request.js';

type Handler = (req: Request, res: Response) => Promise<void>;

export interface Routes {
  register: Handler;
  authorize: Handler;
  decision: Handler;
  callback: Handler;
  /** POST /oauth/callback: "add another workspace" or "finish" between two Notion authorizations. */
  nextWorkspace: Handler;
  token: Handler;
  revoke: Handler;
  mcp: McpHandler<AuthContext>;
  landing: Handler;
  privacy: Handler;
  terms: Handler;
  connections: Handler;
  connectionsLogin: Handler;
  disconnect: Handler;
  undo: Handler;
  logout: Handler;
  connectionSettings: Handler;
  addWorkspace: Handler;
  removeWorkspace: Handler;
}

/** How errors on a route reach the caller: OAuth JSON or a page for people (/mcp: see mcp-route.ts). */
type Style = 'oauth' | 'page';
const as = (style: Style) => (_req: Request, res: Response, next: NextFunction) => {
  res.locals.style = style;
  next();
};

/**
 * The HTTP request listener: /mcp goes to its own lean route (mcp-route.ts), everything else
 * (OAuth, pages, health, metrics) to Express.
 */
export function createHttpApp(deps: {
  config: Config;
  store: Store;
  grants: Grants;
  log: Logger;
  routes: Routes;
  metrics: Metrics;
  /** A shared store for the rate-limit counters; default: in memory, per process. */
  rateLimitStore?: RateLimitStoreFactory;
  /** The scopes a tools/call needs beyond the connection's, for the step-up answer (mcp-route.ts). */
  missingScopes?: (name: string, args: unknown, auth: AuthContext) => string[] | null;
}) {
  const { config, log, routes } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETag: it would hash every JSON-RPC answer, and POST answers are never revalidated.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);

  app.use((req, res, next) => {
    // Read through res.locals.log by handlers and the error mapper.
    const { id, log: reqLog } = startRequest(req, res, log, req.path);
    res.setHeader('X-Request-Id', id);
    Object.defineProperty(res.locals, 'log', { get: reqLog, enumerable: true, configurable: true });
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

  app.post('/register', as('oauth'), registerLimit, json('64kb'), routes.register);
  app.get('/authorize', as('page'), pageLimit('authorize'), routes.authorize);
  app.post('/authorize', as('page'), pageLimit('decision'), form, routes.decision);
  app.get('/oauth/callback', as('page'), pageLimit('callback'), routes.callback);
  app.post('/oauth/callback', as('page'), pageLimit('next-workspace'), form, routes.nextWorkspace);
  app.get(ICON_PATH, (_req, res) => void res.set({ 'Cache-Control': 'public, max-age=86400', 'Content-Type': 'image/svg+xml' }).send(ICON_SVG));
  app.get('/', as('page'), routes.landing);
  app.get('/privacy', as('page'), routes.privacy);
  app.get('/terms', as('page'), routes.terms);
  app.get('/connections', as('page'), routes.connections);
  app.get('/connections/login', as('page'), pageLimit('login'), routes.connectionsLogin);
  app.post('/connections/disconnect', as('page'), form, routes.disconnect);
  app.post('/connections/undo', as('page'), form, routes.undo);
  app.post('/connections/logout', as('page'), form, routes.logout);
  app.post('/connections/settings', as('page'), form, routes.connectionSettings);
  app.post('/connections/workspaces/add', as('page'), pageLimit('add-workspace'), form, routes.addWorkspace);
  app.post('/connections/workspaces/remove', as('page'), form, routes.removeWorkspace);
  app.post('/token', as('oauth'), tokenLimit('token'), form, json('64kb'), routes.token);
  app.post('/revoke', as('oauth'), tokenLimit('revoke'), form, json('64kb'), routes.revoke);

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
    const bodyError = requestBodyError(err);
    if (bodyError) {
      // A client mistake, not ours: one line without a stack, never at error level.
      reqLog.info({ type: bodyError.type, status: bodyError.status }, 'request body refused');
      const { status, message } = bodyError;
      if (style === 'page') sendErrorPage(res, new PageError('Something was wrong with that form', message, 'Go back and try again.', status));
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
    const storeDown = isStoreFailure(err);
    reqLog.error({ err }, storeDown ? 'store failure' : 'unhandled error');
    const status = storeDown ? 503 : 500;
    const message = storeDown ? 'Storage is unavailable; try again shortly' : 'Internal error';
    if (style === 'page') sendErrorPage(res, new PageError(storeDown ? 'The connector is unavailable' : 'Something went wrong', message, 'Try again in a few minutes.', status));
    else res.status(status).json({ error: storeDown ? 'temporarily_unavailable' : 'server_error', error_description: message });
  });

  const trust = app.get('trust proxy fn') as (addr: string, hop: number) => boolean;
  const mcp = createMcpRoute({
    config,
    grants: deps.grants,
    log,
    metrics: deps.metrics,
    handle: routes.mcp,
    counter: storeFor?.('mcp') ?? new MemoryStore(),
    failures: storeFor?.('bearer') ?? new MemoryStore(),
    trust,
    missingScopes: deps.missingScopes,
  });
  const mcpRoute = () => '/mcp';
  /** The Express route that answered, known once it has (a 404 has none; a list of paths is no template). */
  const expressRoute = (req: IncomingMessage) => () => {
    const path: unknown = (req as Request).route?.path;
    return typeof path === 'string' ? path : undefined;
  };
  const serve = (req: IncomingMessage, res: ServerResponse, isMcp: boolean): void => (isMcp ? mcp(req, res) : void app(req, res));
  return (req: IncomingMessage, res: ServerResponse): void => {
    const isMcp = isMcpPath(req.url);
    if (!tracing()) return serve(req, res, isMcp);
    traceServerRequest(req, res, { route: isMcp ? mcpRoute : expressRoute(req), clientAddress: proxyaddr(req, trust) }, () => serve(req, res, isMcp));
  };
}

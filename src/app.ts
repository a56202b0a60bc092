import { createServer, type Server } from 'node:http';
import type { Config } from './config.js';
import { createConnectionsHandlers } from './http/connections.js';
import { createLandingHandler, createPolicyHandler } from './http/landing.js';
import { Metrics } from './http/metrics.js';
import { redisLimitStores } from './http/limits.js';
import { createHttpApp } from './http/server.js';
import { Keyring } from './lib/crypto.js';
import { startTracing, stopTracing } from './lib/trace.js';
import type { Logger } from './log.js';
import { createMcpHandler } from './mcp/handler.js';
import { ToolRegistry } from './tools/registry.js';
import { createNotionClient } from './notion/client.js';
import { NotionOAuth } from './notion/oauth.js';
import { CallLimiter } from './notion/call-limiter.js';
import { RateGate } from './notion/rate-gate.js';
import { NotionRefresher, NotionSession } from './notion/session.js';
import { ActivityLog } from './tools/activity.js';
import { toolSet } from './tools/index.js';
import { WorkspaceRouter, workspacesInstructions } from './tools/workspace-router.js';
import { createAuthorizeHandler, createDecisionHandler } from './oauth/authorize.js';
import { createCallbackHandler, createNextWorkspaceHandler } from './oauth/callback.js';
import { createSafeFetcher } from './lib/safe-fetch.js';
import { type CimdFetcher, CimdResolver } from './oauth/cimd.js';
import { Clients } from './oauth/clients.js';
import { type AuthContext, Grants } from './oauth/grants.js';
import { createRegisterHandler } from './oauth/register.js';
import { createRevokeHandler } from './oauth/revoke.js';
import { createTokenHandler } from './oauth/token.js';
import { RedisStore } from './store/redis.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/types.js';
import { VERSION } from './version.js';

export interface AppDeps {
  log: Logger;
  /** Injected in tests: the clock and the fetcher for client metadata documents. */
  now?: () => number;
  cimdFetch?: CimdFetcher;
}

export interface App {
  config: Config;
  store: Store;
  registry: ToolRegistry;
  /** Buffers the tool calls' activity entries; `flush()` writes them now. */
  activity: ActivityLog;
  http: ReturnType<typeof createHttpApp>;
  listen(): Promise<Server>;
  /**
   * Stops accepting and lets requests in flight finish. Notion calls still running after
   * `stopNotionAfterMs` (default: at once) are ended, so their tool calls answer with a
   * `shutting_down` tool error instead of holding the close up; then the store is closed and the
   * spans still buffered are exported (for at most a second).
   */
  close(stopNotionAfterMs?: number): Promise<void>;
}

const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

// An idle keep-alive socket is closed by the server only after the proxy in front would close it
// (AWS ALB idle timeout and nginx's upstream keepalive_timeout both default to 60 s): otherwise a
// proxy can reuse a socket just as the server closes it, and the client gets ECONNRESET. Node's 5 s
// default is shorter than both.
export const KEEP_ALIVE_TIMEOUT_MS = 75_000;
// Above keepAliveTimeout, so a request sent on a socket near the end of its idle time is not cut off.
export const HEADERS_TIMEOUT_MS = KEEP_ALIVE_TIMEOUT_MS + 1_000;
// Time to receive a whole request (headers and body), not to answer it: a long tool call (several
// Notion calls of up to NOTION_TIMEOUT_SECONDS each) is not bounded by it. Node's default, stated.
export const REQUEST_TIMEOUT_MS = 300_000;

/** The composition root: the only place that builds stores and clients and wires them up. */
export function createApp(config: Config, deps: AppDeps): App {
  const { log } = deps;
  const now = deps.now ?? Date.now;
  const keyring = new Keyring(config.sessionSecret, config.sessionSecretPrevious);
  // Redis (several instances) or the embedded SQLite file; both refuse data of a SESSION_SECRET that
  // is neither the current one nor in SESSION_SECRET_PREVIOUS, and record the current one.
  const redis = config.redisUrl ? RedisStore.create(config.redisUrl, keyring.checkValues()) : null;
  const store: Store = redis ?? SqliteStore.open(config.dataDir, keyring.checkValues());
  const clients = new Clients(store, new CimdResolver({ fetch: deps.cimdFetch ?? createSafeFetcher(), now, log }));
  // Aborted by close(): ends every Notion call, API and OAuth alike.
  const stopNotion = new AbortController();
  const stopping = stopNotion.signal;
  const metrics = new Metrics(store, now);
  const notionOAuth = new NotionOAuth(createNotionClient(config, log, { maxRetries: 1 }, stopping, metrics), config);
  // A workspace removed on Your connections is revoked at Notion by the grant's next request (oauth/workspaces.ts).
  const grants = new Grants(store, keyring, config, now, (token, grantId) =>
    notionOAuth.revoke(token).then(
      () => log.info({ grantId }, 'removed workspace revoked at notion'),
      (err: unknown) => log.warn({ grantId, status: (err as { status?: number }).status }, 'notion token revocation failed'),
    ),
  );
  const notion = {
    metrics,
    client: createNotionClient(config, log, false, stopping, metrics),
    gate: new RateGate(config.notion.ratePerSecond, config.notion.burst),
    limiter: new CallLimiter(stopping),
    stopping,
    refresher: new NotionRefresher(store, grants, notionOAuth, log),
    apiOrigin: config.notion.apiBaseUrl,
  };
  const registry = new ToolRegistry(toolSet, { offered: config.toolsets.max, connectionsUrl: `${config.baseUrl}/connections` });
  const activity = new ActivityLog(store, log, now);
  const router = new WorkspaceRouter(notion);
  const connections = createConnectionsHandlers({ config, store, keyring, notion: notionOAuth, api: notion.client, log, now });

  const http = createHttpApp({
    config,
    store,
    // With Redis, the abuse-limit counters are shared by every instance (same client, own keys).
    ...(redis ? { rateLimitStore: redisLimitStores(redis.connection) } : {}),
    grants,
    log,
    metrics,
    missingScopes: (name, args, auth) => registry.missingScopes(name, args, auth),
    routes: {
      register: createRegisterHandler({ store, now, maxUnusedClients: config.maxClients }),
      authorize: createAuthorizeHandler({ config, store, clients, keyring, now }),
      decision: createDecisionHandler({ config, store, clients, keyring, now }),
      callback: createCallbackHandler({ config, store, grants, notion: notionOAuth, log, now, keyring, finishLogin: connections.finishLogin }),
      nextWorkspace: createNextWorkspaceHandler({ config, store, grants, notion: notionOAuth, log, now, keyring, finishLogin: connections.finishLogin }),
      token: createTokenHandler({ log, store, clients, grants, toolsets: config.toolsets.max, now }),
      revoke: createRevokeHandler({ store, clients, grants, notion: notionOAuth, log, now }),
      mcp: createMcpHandler<AuthContext>({
        tools: {
          list: (auth) => registry.definitions(auth),
          call: activity.recorded((name, args, auth, note, options) =>
            auth.workspaces
              ? router.result(name, args, auth.workspaces, { auth, note, ...(options ? { progress: options.progress, signal: options.signal } : {}) }, (n, a, ctx) => registry.result(n, a, ctx))
              : registry.result(name, args, { notion: new NotionSession(notion, auth), auth, note, ...(options ? { progress: options.progress, signal: options.signal } : {}) }),
          ),
          instructions: (auth) => (auth.workspaces ? workspacesInstructions(auth.workspaces) : undefined),
        },
        log,
        baseUrl: config.baseUrl,
        onToolCall: (tool, outcome) => metrics.toolCall(tool, outcome),
      }),
      landing: createLandingHandler(config),
      privacy: createPolicyHandler(config, 'privacy'),
      terms: createPolicyHandler(config, 'terms'),
      connections: connections.page,
      connectionsLogin: connections.login,
      disconnect: connections.disconnect,
      undo: connections.undo,
      logout: connections.logout,
      connectionSettings: connections.settings,
      addWorkspace: connections.addWorkspace,
      removeWorkspace: connections.removeWorkspace,
    },
  });

  const sweep = setInterval(() => {
    store.sweep(now(), config.clientIdleMs, now() - config.activityRetentionMs).then(
      (removed) => removed > 0 && log.debug({ removed }, 'expired rows removed'),
      (err: unknown) => log.warn({ err }, 'sweep failed'),
    );
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  let server: Server | undefined;
  return {
    config,
    store,
    registry,
    activity,
    http,
    listen: async () => {
      // Redis connects in the background: start serving only once it answered the key check.
      await redis?.ready;
      // The SDK is imported only here, and only when the OTEL_* variables turn tracing on.
      if (config.tracing) await startTracing(config.tracing, VERSION, (message) => log.warn({ otel: message }, 'tracing: span export problem'));
      return new Promise((resolve, reject) => {
        const s = createServer(
          { keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
          http,
        ).listen(config.port, config.host);
        s.once('listening', () => {
          server = s;
          resolve(s);
        });
        s.once('error', reject);
      });
    },
    close: async (stopNotionAfterMs = 0) => {
      clearInterval(sweep);
      const stop = setTimeout(() => stopNotion.abort(), stopNotionAfterMs);
      if (server) {
        const s = server;
        // Stops accepting and lets in-flight requests finish; a keep-alive socket is closed as soon
        // as its last response is sent, so an open client connection cannot hold the exit up.
        const idle = setInterval(() => s.closeIdleConnections(), 50);
        await new Promise<void>((resolve) => s.close(() => resolve()));
        clearInterval(idle);
      }
      clearTimeout(stop);
      stopNotion.abort();
      await activity.close();
      await store.close();
      // Every request has ended, so every span has: export what is still buffered.
      await stopTracing();
    },
  };
}

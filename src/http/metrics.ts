import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ToolOutcome } from '../mcp/handler.js';
import type { NotionMetrics } from '../notion/session.js';
import type { Store } from '../store/types.js';

/** OAuth events a handler reports by setting `res.locals.oauthEvent`; counted when the answer is < 400. */
export type OAuthEvent = 'registration' | 'authorization' | 'refresh' | 'revocation';

/**
 * Prometheus metrics of one app instance, on its own registry (not prom-client's global one), so
 * several apps in one process do not collide. Routes are labelled with the Express route path,
 * never the raw URL, so label values stay few and hold no IDs or query strings.
 */
export class Metrics implements NotionMetrics {
  readonly registry = new Registry();
  /** http_requests_total and http_request_duration_seconds (see RequestSeries). */
  private readonly http = new RequestSeries(this.registry);
  /** notion_requests_total by status, in plain numbers like RequestSeries: counted on every tool call. */
  private readonly notionCalls = new Map<string, number>();
  /** notion_request_duration_seconds by endpoint group (pages, blocks, search, ...: a fixed set). */
  private readonly notionLatency = new FastHistogram(this.registry, 'notion_request_duration_seconds', 'Notion API latency by endpoint group');
  /**
   * mcp_tool_calls_total by tool and outcome (`ok`, `tool_error`, `internal_error`): tool errors
   * travel inside HTTP 200, so the HTTP metrics cannot tell them. Tools are the registry's names,
   * or `(unknown)`, so the label set stays bounded.
   */
  private readonly toolCalls = fastCounter(this.registry, 'mcp_tool_calls_total', 'MCP tool calls by tool and outcome');
  private readonly notionRateLimited = new Counter({
    name: 'notion_rate_limited_total',
    help: 'Notion answers with status 429 or 529',
    registers: [this.registry],
  });
  private readonly notionRetries = new Counter({
    name: 'notion_retries_total',
    help: 'Notion calls repeated, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly oauth = new Counter({
    name: 'oauth_events_total',
    help: 'OAuth events: registration, authorization (code issued), refresh, revocation',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  private readonly storeUp = new Gauge({ name: 'store_up', help: '1 when the store answered at the last scrape, else 0', registers: [this.registry] });
  private readonly grants = new Gauge({ name: 'active_grants', help: 'Grants (connections) in the store', registers: [this.registry] });
  private readonly clients = new Gauge({ name: 'registered_clients', help: 'Dynamically registered OAuth clients in the store', registers: [this.registry] });

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {
    register(this.registry, 'notion_requests_total', 'Calls to the Notion API by status (HTTP status, timeout, network or error)', 'counter', () =>
      [...this.notionCalls].map(([status, value]) => ({ labels: { status }, value })),
    );
  }

  notionCall(status: string): void {
    this.notionCalls.set(status, (this.notionCalls.get(status) ?? 0) + 1);
    if (status === '429' || status === '529') this.notionRateLimited.inc();
  }

  notionRetry(reason: string): void {
    this.notionRetries.inc({ reason });
  }

  notionLatencyOf(group: string, seconds: number): void {
    this.notionLatency.observe(group, () => ({ endpoint: group }), seconds);
  }

  toolCall(tool: string, outcome: ToolOutcome): void {
    this.toolCalls(`${tool} ${outcome}`, () => ({ tool, outcome }));
  }

  /** Times one request and counts it by method, route and status when it finishes. */
  track(method: string, res: ServerResponse, route: string | (() => string)): void {
    const start = performance.now();
    res.on('finish', () => {
      this.http.observe(method, typeof route === 'string' ? route : route(), res.statusCode, (performance.now() - start) / 1000);
    });
  }

  /** Express middleware: `track` with the matched route's path, plus the OAuth event a handler reported. */
  observe() {
    return (req: Request, res: Response, next: NextFunction): void => {
      this.track(req.method, res, () => {
        const path: unknown = (req.route as { path?: unknown } | undefined)?.path;
        return typeof path === 'string' ? path : Array.isArray(path) ? path.join(',') : 'unmatched';
      });
      res.on('finish', () => {
        const event = res.locals.oauthEvent as OAuthEvent | undefined;
        if (event && res.statusCode < 400) this.oauth.inc({ event });
      });
      next();
    };
  }

  /**
   * GET /metrics. With a token set, only `Authorization: Bearer <token>` may read it (401 otherwise).
   * Without one it is closed (our 404) except to a scraper on this machine: a loopback peer whose
   * request carries no forwarding header. A reverse proxy on the same host also connects from
   * loopback, but it adds such a header, so a proxied request never passes. TRUST_PROXY is not
   * consulted on purpose: with `true` a client could forge a loopback X-Forwarded-For.
   */
  handler(token: string | null) {
    const expected = token === null ? null : digest(token);
    return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      if (expected) {
        const match = /^Bearer (.+)$/i.exec(req.get('authorization')?.trim() ?? '');
        if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
          res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').json({ error: 'unauthorized', error_description: 'METRICS_TOKEN required' });
          return;
        }
      } else if (!isLoopback(req.socket.remoteAddress) || Object.keys(req.headers).some((h) => FORWARDING_HEADER.test(h))) {
        next(); // the app's own 404: nothing here for anyone else
        return;
      }
      await this.collectStore();
      const body = await this.registry.metrics();
      res.set('Content-Type', this.registry.contentType).set('Cache-Control', 'no-store').send(body);
    };
  }

  /** Store gauges are read at scrape time; when the store fails they keep their last value and store_up is 0. */
  private async collectStore(): Promise<void> {
    try {
      const stats = await this.store.stats(this.now());
      this.grants.set(stats.grants);
      this.clients.set(stats.clients);
      this.storeUp.set(1);
    } catch {
      this.storeUp.set(0);
    }
  }
}

/** Headers a proxy adds to say whose request it relays (RFC 7239, and the de facto ones). */
const FORWARDING_HEADER = /^(forwarded|x-forwarded-.+|x-real-ip|cf-connecting-ip|true-client-ip)$/;
/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (how a dual-stack listener reports IPv4 peers). */
const isLoopback = (addr: string | undefined): boolean => addr !== undefined && /^(::ffff:)?127\.\d+\.\d+\.\d+$|^::1$/.test(addr);

/** Equal-length inputs for timingSafeEqual whatever the length of the presented token. */
const digest = (s: string) => createHash('sha256').update(s).digest();

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
type Labels = Record<string, string | number>;
type Sample = { labels: Labels; value: number; metricName?: string };

/**
 * A histogram counted in plain numbers. prom-client's own `inc` and `observe` check and hash the
 * labels and find the bucket by its printed bound on every call, which cost about 3% of a tool
 * call's CPU; here an observation costs one Map lookup, and the work moves to the scrape.
 */
class FastHistogram {
  readonly series = new Map<string, { labels: Labels; count: number; sum: number; buckets: number[] }>();

  constructor(registry: Registry, name: string, help: string) {
    register(registry, name, help, 'histogram', () =>
      [...this.series.values()].flatMap(({ labels, count, sum, buckets }) => {
        let atOrBelow = 0;
        return [
          ...LATENCY_BUCKETS.map((le, i) => ({ labels: { ...labels, le }, value: (atOrBelow += buckets[i]!), metricName: `${name}_bucket` })),
          { labels: { ...labels, le: '+Inf' }, value: count, metricName: `${name}_bucket` },
          { labels, value: sum, metricName: `${name}_sum` },
          { labels, value: count, metricName: `${name}_count` },
        ];
      }),
    );
  }

  /** `key` names the label values; `labels` builds them, once per series. */
  observe(key: string, labels: () => Labels, seconds: number): void {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: labels(), count: 0, sum: 0, buckets: LATENCY_BUCKETS.map(() => 0) }));
    s.count++;
    s.sum += seconds;
    const i = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
    if (i >= 0) s.buckets[i]!++;
  }
}

/** http_requests_total and http_request_duration_seconds, per method, route and status. */
class RequestSeries {
  private readonly latency: FastHistogram;

  constructor(registry: Registry) {
    this.latency = new FastHistogram(registry, 'http_request_duration_seconds', 'HTTP request latency by method, route and status');
    register(registry, 'http_requests_total', 'HTTP requests by method, route and status', 'counter', () =>
      [...this.latency.series.values()].map(({ labels, count }) => ({ labels, value: count })),
    );
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    this.latency.observe(`${method} ${status} ${route}`, () => ({ method, route, status: String(status) }), seconds);
  }
}

/** A counter per label set, in plain numbers like FastHistogram. */
function fastCounter(registry: Registry, name: string, help: string): (key: string, labels: () => Labels) => void {
  const counts = new Map<string, { labels: Labels; value: number }>();
  register(registry, name, help, 'counter', () => [...counts.values()]);
  return (key, labels) => {
    const c = counts.get(key);
    if (c) c.value++;
    else counts.set(key, { labels: labels(), value: 1 });
  };
}

/**
 * A metric whose samples `values()` computes at scrape time. The registry reads only `name`,
 * `get` and `reset` of a metric, but its type admits only prom-client's own classes: hence the cast.
 */
function register(registry: Registry, name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]): void {
  const metric = { name, get: async () => ({ name, help, type, aggregator: 'sum', values: values() }), reset: () => undefined };
  registry.registerMetric(metric as unknown as Counter);
}

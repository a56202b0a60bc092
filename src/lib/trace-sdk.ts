import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, createContextKey, diag, DiagLogLevel, type Link, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { TracingConfig, Tracing } from './trace.js';

/** Methods HTTP semantic conventions name; any other is recorded as `_OTHER`. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const RESEND = createContextKey('http.request.resend_count');

function sampler(config: TracingConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.ratio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function fail(span: Span, type: string, message?: string): void {
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
}

/** `promise`, or nothing once `ms` have passed. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]).finally(() => clearTimeout(timer));
}

/** The class of an error thrown past a span, never its message (it may quote a request). */
const errorName = (err: unknown): string => (err instanceof Error ? err.name : '_OTHER');

/** The OpenTelemetry SDK: a batch exporter to OTLP/HTTP JSON, W3C trace context, spans kept in AsyncLocalStorage. */
export function createTracing(config: TracingConfig, version: string, warn: (message: string) => void): Tracing {
  diag.setLogger(
    { error: (m) => warn(m), warn: (m) => warn(m), info: () => {}, debug: () => {}, verbose: () => {} },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ ...config.resourceAttributes, [ATTR_SERVICE_NAME]: config.serviceName, [ATTR_SERVICE_VERSION]: version }),
    sampler: sampler(config),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.endpoint, headers: { ...config.headers } }))],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  const tracer = provider.getTracer('notion-mcp-remote', version);
  // Spans not yet ended, so shutdown can wait for a tool call whose client went away (the drain
  // does not wait for those) to end its spans before the last export.
  let open = 0;
  let allEnded: (() => void) | null = null;
  const start: typeof tracer.startSpan = (...args) => {
    open++;
    return tracer.startSpan(...args);
  };
  const end = (span: Span) => {
    span.end();
    if (--open === 0) allEnded?.();
  };
  /** Ends `span` when `work` settles: `done` records a result, `errorType` names a failure. */
  const settle = <T>(span: Span, work: Promise<T>, errorType: (err: unknown) => string, done: (result: T) => void): Promise<T> =>
    work.then(
      (result) => {
        done(result);
        end(span);
        return result;
      },
      (err: unknown) => {
        fail(span, errorType(err));
        end(span);
        throw err;
      },
    );

  return {
    serverRequest(req: IncomingMessage, res: ServerResponse, opts, handle) {
      const method = KNOWN_METHODS.has(req.method ?? '') ? req.method! : '_OTHER';
      const url = req.url ?? '/';
      const query = url.indexOf('?');
      const parent = propagation.extract(ROOT_CONTEXT, req.headers);
      const span = start(
        method,
        {
          kind: SpanKind.SERVER,
          attributes: {
            [ATTR_HTTP_REQUEST_METHOD]: method,
            // The path only: query strings carry OAuth codes and state.
            [ATTR_URL_PATH]: query < 0 ? url : url.slice(0, query),
            [ATTR_URL_SCHEME]: 'encrypted' in req.socket ? 'https' : 'http',
            [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
            [ATTR_CLIENT_ADDRESS]: opts.clientAddress,
            ...(req.headers['user-agent'] ? { [ATTR_USER_AGENT_ORIGINAL]: req.headers['user-agent'] } : {}),
          },
        },
        parent,
      );
      res.once('close', () => {
        const route = opts.route();
        if (route) {
          span.setAttribute(ATTR_HTTP_ROUTE, route);
          span.updateName(`${method} ${route}`);
        }
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
        // Closed before the whole answer was sent: the client went away, or the server cut it.
        if (!res.writableFinished) fail(span, 'aborted');
        else if (res.statusCode >= 500) fail(span, String(res.statusCode));
        end(span);
      });
      context.with(trace.setSpan(parent, span), handle);
    },

    operation(name, attributes, carrier, run, outcome) {
      const active = context.active();
      let parent = active;
      let links: Link[] | undefined;
      const remote = carrier && typeof carrier.traceparent === 'string' ? propagation.extract(ROOT_CONTEXT, carrier) : undefined;
      if (remote && trace.getSpanContext(remote)) {
        // The caller's MCP-level parent; the transport's span (HTTP) is linked.
        parent = remote;
        const ambient = trace.getSpanContext(active);
        if (ambient) links = [{ context: ambient }];
      }
      const span = start(name, { kind: SpanKind.SERVER, attributes, ...(links ? { links } : {}) }, parent);
      return settle(span, context.with(trace.setSpan(parent, span), run), errorName, (result) => {
        const o = outcome(result);
        if (o?.attributes) span.setAttributes(o.attributes);
        if (o?.name) span.updateName(o.name);
        if (o?.error) fail(span, o.error, o.message);
      });
    },

    clientRequest(name, method, url, attributes, run, errorType) {
      const target = new URL(url);
      const resend = context.active().getValue(RESEND) as number | undefined;
      const span = start(name, {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: KNOWN_METHODS.has(method) ? method : '_OTHER',
          [ATTR_SERVER_ADDRESS]: target.hostname.replace(/^\[(.*)\]$/, '$1'),
          [ATTR_SERVER_PORT]: Number(target.port) || (target.protocol === 'https:' ? 443 : 80),
          [ATTR_URL_FULL]: `${target.origin}${target.pathname}`,
          ...(resend ? { [ATTR_HTTP_REQUEST_RESEND_COUNT]: resend } : {}),
          ...attributes,
        },
      });
      return settle(span, run(), errorType, (res) => {
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.status);
        if (res.status >= 400) fail(span, String(res.status));
      });
    },

    withResendCount: (count, run) => context.with(context.active().setValue(RESEND, count), run),
    flush: () => provider.forceFlush(),
    shutdown: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      if (open > 0) await within(new Promise<void>((resolve) => (allEnded = resolve)), timeoutMs / 2);
      // The API's globals go back to no-ops first, so tracing can start again in this process (tests)
      // whatever the exporter does.
      trace.disable();
      context.disable();
      propagation.disable();
      diag.disable();
      await within(provider.shutdown(), deadline - Date.now());
    },
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * OpenTelemetry traces, off by default. This module loads nothing of OpenTelemetry: every function
 * here is one null check when tracing is off. `startTracing` imports the SDK (./trace-sdk.ts) only
 * when the OTEL_* variables turn tracing on (src/config.ts).
 */

export type Sampler = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

/** Tracing settings from the OTEL_* variables. */
export interface TracingConfig {
  /** The OTLP/HTTP (JSON) traces URL. */
  readonly endpoint: string;
  /** Sent with every export (OTEL_EXPORTER_OTLP_HEADERS): never logged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly serviceName: string;
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly sampler: Sampler;
  /** The ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG). */
  readonly ratio: number;
}

export type SpanAttributes = Record<string, string | number | boolean>;

/** A W3C trace context carrier: request headers, or an MCP request's `params._meta`. */
export type Carrier = Record<string, unknown>;

/** What a finished operation adds to its span: a failure (`error.type`, status ERROR), a new name, attributes. */
export interface Outcome {
  error?: string;
  message?: string;
  name?: string;
  attributes?: SpanAttributes;
}

/** The SDK side (./trace-sdk.ts), present only while tracing is on. */
export interface Tracing {
  serverRequest(req: IncomingMessage, res: ServerResponse, opts: { route: () => string | undefined; clientAddress: string }, handle: () => void): void;
  operation<T>(name: string, attributes: SpanAttributes, carrier: Carrier | undefined, run: () => Promise<T>, outcome: (result: T) => Outcome | undefined): Promise<T>;
  clientRequest<T extends { status: number }>(name: string, method: string, url: string, attributes: SpanAttributes, run: () => Promise<T>, errorType: (err: unknown) => string): Promise<T>;
  withResendCount<T>(count: number, run: () => T): T;
  flush(): Promise<void>;
  /** Waits at most `timeoutMs` in all. */
  shutdown(timeoutMs: number): Promise<void>;
}

let on: Tracing | null = null;

/** True while spans are recorded. */
export const tracing = (): boolean => on !== null;

/** Loads the SDK and starts exporting; `warn` gets the SDK's own warnings (a failed export). */
export async function startTracing(config: TracingConfig, version: string, warn: (message: string) => void): Promise<void> {
  if (on) return;
  const sdk = await import('./trace-sdk.js');
  on = sdk.createTracing(config, version, warn);
}

/** Most time shutdown gives the spans still open to end and the buffered ones to reach the collector. */
const FLUSH_TIMEOUT_MS = 1_000;

/** Exports what is buffered (waiting at most a second) and stops; tracing is off afterwards. */
export async function stopTracing(): Promise<void> {
  const t = on;
  on = null;
  await t?.shutdown(FLUSH_TIMEOUT_MS);
}

/** Exports the finished spans now (tests). */
export const flushTracing = async (): Promise<void> => on?.flush();

/**
 * `handle` inside the HTTP server span of this request (continuing an incoming `traceparent`),
 * ended when the response is finished or the connection closed. `route` is read at the end.
 */
export function traceServerRequest(req: IncomingMessage, res: ServerResponse, opts: { route: () => string | undefined; clientAddress: string }, handle: () => void): void {
  if (on) on.serverRequest(req, res, opts, handle);
  else handle();
}

/**
 * `run` inside a server span of its own (an MCP operation), whose parent is the context `carrier`
 * holds, if valid, else the current span (which is then linked). Without tracing, just `run()`.
 */
export function traceOperation<T>(name: string, attributes: SpanAttributes, carrier: Carrier | undefined, run: () => Promise<T>, outcome: (result: T) => Outcome | undefined): Promise<T> {
  return on ? on.operation(name, attributes, carrier, run, outcome) : run();
}

/** `run` (one outgoing HTTP request) inside a client span; `url` must hold no query string. */
export function traceClientRequest<T extends { status: number }>(
  name: string,
  method: string,
  url: string,
  attributes: SpanAttributes,
  run: () => Promise<T>,
  errorType: (err: unknown) => string,
): Promise<T> {
  return on ? on.clientRequest(name, method, url, attributes, run, errorType) : run();
}

/** Marks the client requests `run` makes as the `count`th resend (`http.request.resend_count`). */
export function withResendCount<T>(count: number, run: () => T): T {
  return on ? on.withResendCount(count, run) : run();
}

import { Readable } from 'node:stream';
import { ProtocolErrorCode } from '@modelcontextprotocol/server';
import { stringifyReply } from '../lib/json-reply.js';
import type { Logger } from '../log.js';

type Id = string | number;

/** What a streamed tools/call gives its tool: progress reports and the cancellation signal. */
export interface CallOptions {
  progress: (progress: number, total?: number, message?: string) => void;
  signal: AbortSignal;
}

/** The answer a streamed call resolves to before its end: a server-sent-events body. */
export interface StreamAnswer {
  status: 200;
  stream: Readable;
  /** The request's `traceparent`, for the request log. */
  traceparent?: string;
}

/** The final answer of a call, as the MCP layer builds it: JSON or its text, or no body. */
interface FinalAnswer {
  body?: unknown;
  text?: string;
  contentType?: string;
}

const event = (json: string) => `event: message\ndata: ${json}\n\n`;

/**
 * One tools/call answered as an SSE stream (Streamable HTTP) because the client sent a
 * progressToken and accepts text/event-stream: notifications/progress while the tool runs, then
 * the JSON-RPC response, then the end. The stream opens only when the tool starts, so a request
 * refused before that is answered as plain JSON. A client that closes the stream, or a
 * notifications/cancelled for this request, aborts `options.signal`; the tool stops between steps
 * and, as both spec eras ask, no response is sent for the cancelled request (it is logged instead).
 */
export class StreamedCall {
  private readonly abort = new AbortController();
  private stream: Readable | undefined;
  private resolveOpened!: (answer: StreamAnswer) => void;
  private readonly opened = new Promise<StreamAnswer>((resolve) => (this.resolveOpened = resolve));
  private last = Number.NEGATIVE_INFINITY;
  private total: number | undefined;
  private ended = false;
  readonly options: CallOptions = {
    progress: (progress, total, message) => this.progress(progress, total, message),
    signal: this.abort.signal,
  };

  constructor(
    readonly id: Id,
    private readonly token: Id,
    private readonly tool: string,
    private readonly log: Logger,
    private readonly onEnd: () => void,
  ) {}

  /** Starts the stream: the request is valid and its tool is about to run. */
  open(): void {
    if (this.stream) return;
    this.stream = new Readable({
      read() {},
      // The route's pipeline destroys the stream when the client goes away before its end.
      destroy: (err, callback) => {
        this.cancel('the client closed the stream');
        callback(err);
      },
    });
    this.resolveOpened({ status: 200, stream: this.stream });
  }

  /** Aborts the call while it runs; later or repeated cancellations are ignored. */
  cancel(reason: string): void {
    if (this.ended || this.abort.signal.aborted) return;
    this.log.info({ tool: this.tool, reason: reason.slice(0, 200) }, 'tool call cancelled');
    this.abort.abort(new Error(reason));
  }

  /**
   * The answer: the stream once the tool starts; or, when the request was refused before that,
   * the plain answer `done` settles with. When the stream is open, `done`'s answer is its last event.
   */
  answer<T extends FinalAnswer>(done: Promise<T>, traceparent?: string): Promise<T | StreamAnswer> {
    done.then(
      (final) => this.finish(final),
      (err: unknown) => {
        // Refused before the stream opened: the route answers the rejection (500) as for any request.
        if (!this.stream) return this.finish(undefined);
        this.log.error({ err, tool: this.tool }, 'streamed tool call failed');
        this.finish({ body: { jsonrpc: '2.0', id: this.id, error: { code: ProtocolErrorCode.InternalError, message: 'Internal error' } } });
      },
    );
    return Promise.race([traceparent ? this.opened.then((a) => ({ ...a, traceparent })) : this.opened, done]);
  }

  /**
   * Progress must grow and is sent only while the call runs (spec); anything else is dropped. After
   * a cancellation it is still counted, for the log line that says how far the call got.
   */
  private progress(progress: number, total?: number, message?: string): void {
    if (this.ended || !(progress > this.last)) return;
    this.last = progress;
    this.total = total;
    if (!this.stream || this.abort.signal.aborted) return;
    const params = { progressToken: this.token, progress, ...(total === undefined ? {} : { total }), ...(message ? { message } : {}) };
    this.stream.push(event(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params })));
  }

  private finish(final: FinalAnswer | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
    const cancelled = this.abort.signal.aborted;
    if (cancelled) this.log.info({ tool: this.tool, progress: Math.max(0, this.last), total: this.total }, 'cancelled tool call stopped');
    const stream = this.stream;
    if (!stream || stream.destroyed) return;
    // No response for a cancelled request (spec): the stream just ends.
    const json = cancelled ? undefined : final?.contentType === undefined && final?.text !== undefined ? final.text : final?.body !== undefined ? stringifyReply(final.body) : undefined;
    if (json !== undefined) stream.push(event(json));
    stream.push(null);
  }
}

/**
 * The streamed calls in flight on this instance, by grant and JSON-RPC id, so that a
 * notifications/cancelled POSTed separately reaches its call. Without sessions, two clients of one
 * grant may use the same id at once: such a cancellation is ambiguous and ignored. Bounded: past
 * MAX_IN_FLIGHT keys a call is not registered (closing its stream still cancels it).
 */
export class InFlightCalls {
  static readonly MAX_IN_FLIGHT = 10_000;
  private readonly calls = new Map<string, StreamedCall[]>();

  private static key(grant: string, id: Id): string {
    return `${grant}\n${typeof id}:${id}`;
  }

  /** Registers `call`; returns what unregisters it. */
  add(grant: string, call: StreamedCall): () => void {
    const key = InFlightCalls.key(grant, call.id);
    const same = this.calls.get(key);
    if (!same && this.calls.size >= InFlightCalls.MAX_IN_FLIGHT) return () => {};
    if (same) same.push(call);
    else this.calls.set(key, [call]);
    return () => {
      const list = this.calls.get(key);
      const i = list?.indexOf(call) ?? -1;
      if (!list || i < 0) return;
      list.splice(i, 1);
      if (list.length === 0) this.calls.delete(key);
    };
  }

  /** A notifications/cancelled of `grant`: aborts the one call it names; unknown or malformed ones are ignored (spec). */
  cancel(grant: string, params: unknown): void {
    const { requestId, reason } = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
    if (typeof requestId !== 'string' && !Number.isSafeInteger(requestId)) return;
    const list = this.calls.get(InFlightCalls.key(grant, requestId as Id));
    if (list?.length === 1) list[0]!.cancel(typeof reason === 'string' && reason ? reason : 'notifications/cancelled');
  }
}

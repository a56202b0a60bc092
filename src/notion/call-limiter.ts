import { ToolError } from '../errors.js';

/** Notion calls one connection may have in flight at once. */
export const CALLS_PER_CONNECTION = 8;
/** Calls of one connection that may wait for a slot; the next ones are refused at once. */
export const MAX_WAITING_CALLS = 32;
/** How long a call waits for a slot before it gives up with a tool error. */
export const MAX_SLOT_WAIT_MS = 5_000;

/** A Notion call cut short because the server is shutting down. */
export const shuttingDown = () =>
  new ToolError(
    'shutting_down',
    'The connector is restarting and stopped this call before Notion answered. Try again in a moment; if the call changes something, check first whether it was made.',
  );

const busy = (limit: number) =>
  new ToolError(
    'too_many_concurrent_calls',
    `This connection already has ${limit} Notion calls waiting for Notion to answer. Wait for them to finish, then try again.`,
    { retry_after_seconds: Math.ceil(MAX_SLOT_WAIT_MS / 1000) },
  );

interface Waiter {
  resolve(): void;
  reject(err: ToolError): void;
  timer: NodeJS.Timeout;
}

/**
 * At most `limit` Notion calls in flight per connection (grant), so a user whose calls hang holds
 * at most `limit` sockets to Notion, whatever the number of tool calls they send. A call over the
 * cap waits in a short first-come queue: a burst of parallel tool calls from one chat is normal,
 * and its calls should not fail just because they arrived together. The queue is bounded in
 * length and time, so the calls of a hung connection come back as tool errors instead of piling up.
 *
 * Memory: a connection has an entry only while it has calls in flight or waiting.
 * Fast path (under the cap): one Map lookup and set, no allocation.
 */
export class CallLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    private readonly stopping: AbortSignal,
    private readonly limit = CALLS_PER_CONNECTION,
    private readonly maxWaiting = MAX_WAITING_CALLS,
    private readonly maxWaitMs = MAX_SLOT_WAIT_MS,
  ) {
    // One listener for all: at shutdown every waiting call gets its tool error at once.
    stopping.addEventListener('abort', () => {
      for (const queue of this.waiting.values()) {
        for (const w of queue) {
          clearTimeout(w.timer);
          w.reject(shuttingDown());
        }
      }
      this.waiting.clear();
    });
  }

  /**
   * Takes a slot for `key`: undefined when one was free, else a promise that settles when a slot is
   * handed over (or rejects with a tool error). Every taken slot must be given back with `release`.
   */
  acquire(key: string): Promise<void> | undefined {
    const n = this.active.get(key) ?? 0;
    if (n < this.limit) {
      this.active.set(key, n + 1);
      return undefined;
    }
    if (this.stopping.aborted) return Promise.reject(shuttingDown());
    const queue = this.waiting.get(key) ?? [];
    if (queue.length >= this.maxWaiting) return Promise.reject(busy(this.limit));
    if (queue.length === 0) this.waiting.set(key, queue);
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(w), 1);
          if (queue.length === 0) this.waiting.delete(key);
          reject(busy(this.limit));
        }, this.maxWaitMs),
      };
      queue.push(w);
    });
  }

  release(key: string): void {
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (next) {
      // Handed straight to the first waiter: the count stays, so no newcomer overtakes the queue.
      if (queue!.length === 0) this.waiting.delete(key);
      clearTimeout(next.timer);
      next.resolve();
      return;
    }
    const n = (this.active.get(key) ?? 1) - 1;
    if (n <= 0) this.active.delete(key);
    else this.active.set(key, n);
  }

  /** Connections with calls in flight (bounded by the calls in flight; idle ones hold nothing). */
  get size(): number {
    return this.active.size;
  }
}

import { ToolError } from '../errors.js';

/** A call waits at most this long for its turn; longer waits are refused with a tool error. */
export const RATE_GATE_MAX_WAIT_MS = 10_000;

/**
 * A token bucket per Notion connection: about `ratePerSec` requests per second on average with
 * bursts of `burst`, which keeps a busy user under Notion's per-connection limit instead of
 * collecting 429s. A caller that would wait longer than `maxWaitMs` gets a rate-limit tool error.
 * Memory stays bounded: idle (full) buckets are dropped once the map grows past `maxKeys`.
 */
export class RateGate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec = 3,
    private readonly burst = 10,
    private readonly maxWaitMs = RATE_GATE_MAX_WAIT_MS,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  async take(key: string): Promise<void> {
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.dropIdle(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSec);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const waitMs = ((1 - b.tokens) / this.ratePerSec) * 1000;
    if (waitMs > this.maxWaitMs) {
      throw new ToolError('rate_limited', 'Too many Notion requests on this connection right now; wait and try again.', {
        retry_after_seconds: Math.ceil(waitMs / 1000),
      });
    }
    b.tokens -= 1; // reserve this caller's slot, then wait for it
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }

  private dropIdle(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.ratePerSec >= this.burst) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

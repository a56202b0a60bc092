import { describe, expect, it } from 'vitest';
import { CallLimiter } from '../../src/notion/call-limiter.js';

const settle = () => new Promise((r) => setImmediate(r));

describe('per-connection cap on Notion calls in flight', () => {
  it('takes free slots at once, then hands each freed slot to the first waiter', async () => {
    const limiter = new CallLimiter(new AbortController().signal, 2, 4, 10_000);
    expect(limiter.acquire('g')).toBeUndefined();
    expect(limiter.acquire('g')).toBeUndefined();
    expect(limiter.acquire('other')).toBeUndefined(); // connections are counted apart
    const order: number[] = [];
    const first = limiter.acquire('g')!.then(() => order.push(1));
    const second = limiter.acquire('g')!.then(() => order.push(2));
    await settle();
    expect(order).toEqual([]);
    limiter.release('g');
    await first;
    // The slot went to the waiter: a newcomer does not overtake the one still waiting.
    expect(limiter.acquire('g')).toBeInstanceOf(Promise);
    limiter.release('g');
    await second;
    expect(order).toEqual([1, 2]);
  });

  it('refuses at once past the queue, and after the longest wait, with a tool error', async () => {
    const limiter = new CallLimiter(new AbortController().signal, 1, 1, 50);
    limiter.acquire('g');
    const waiting = limiter.acquire('g')!;
    await expect(limiter.acquire('g')).rejects.toMatchObject({ code: 'too_many_concurrent_calls' });
    await expect(waiting).rejects.toMatchObject({ code: 'too_many_concurrent_calls', extra: { retry_after_seconds: 5 } });
  });

  it('keeps no entry for a connection without calls', async () => {
    const limiter = new CallLimiter(new AbortController().signal, 1, 4, 10_000);
    for (let i = 0; i < 1000; i++) {
      limiter.acquire(`g${i}`);
      const queued = limiter.acquire(`g${i}`)!;
      limiter.release(`g${i}`);
      await queued;
      limiter.release(`g${i}`);
    }
    expect(limiter.size).toBe(0);
  });

  it('gives every waiting call a shutting_down tool error at shutdown, and refuses new waits', async () => {
    const stop = new AbortController();
    const limiter = new CallLimiter(stop.signal, 1, 4, 10_000);
    limiter.acquire('g');
    const waiting = limiter.acquire('g')!;
    stop.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'shutting_down' });
    await expect(limiter.acquire('g')).rejects.toMatchObject({ code: 'shutting_down' });
  });
});

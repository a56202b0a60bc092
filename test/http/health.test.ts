import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

describe('GET /health (liveness) and GET /ready (readiness)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  it('/health answers 200 while the process runs, even when the store does not; /ready follows the store', async () => {
    const ok = await fetch(`${stack.baseUrl}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${stack.baseUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    await stack.app.store.close();
    const alive = await fetch(`${stack.baseUrl}/health`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toEqual({ status: 'ok' });
    const down = await fetch(`${stack.baseUrl}/ready`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { status: string }).status).toBe('unavailable');
  });
});

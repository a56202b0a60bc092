import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

describe('GET /health', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  it('answers 200 JSON while the store answers, and 503 once it does not', async () => {
    const ok = await fetch(`${stack.baseUrl}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok' });

    await stack.app.store.close();
    const down = await fetch(`${stack.baseUrl}/health`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { status: string }).status).toBe('unavailable');
  });
});

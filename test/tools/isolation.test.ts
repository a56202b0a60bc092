import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLS_PER_CONNECTION, MAX_WAITING_CALLS } from '../../src/notion/call-limiter.js';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { callTool, connect } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';

/** Waits until `count()` has stayed the same for 300 ms: calls have stopped arriving. */
async function settled(count: () => number): Promise<void> {
  for (let last = -1; count() !== last; ) {
    last = count();
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Parallel tool calls per hung user: what 20 s at 3 calls/s plus a burst of 10 adds up to. */
const CALLS_EACH = 70;
const HUNG_USERS = 4;

describe('one connection whose Notion calls hang does not slow the others', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      // The rate gate would space the calls out; the timeout is far above how long the test takes.
      env: { NOTION_RATE_LIMIT_PER_SECOND: '1000', NOTION_RATE_LIMIT_BURST: '1000', NOTION_TIMEOUT_SECONDS: '15' },
    });
  });
  afterAll(async () => stack.close());

  const notionToken = (name: string) => [...stack.fake.tokens].find(([, w]) => w.name === name)![0];

  it('caps each connection at its slots, and another user is answered while those calls still hang', async () => {
    const fake = stack.fake;
    const hung: { token: string; notion: string }[] = [];
    for (let i = 1; i <= HUNG_USERS; i++) {
      const ws = fakeWorkspace(`Hung ${i}`);
      const { tokens } = await connect(stack, ws);
      hung.push({ token: tokens.access_token, notion: notionToken(ws.name) });
    }
    const other = (await connect(stack, fakeWorkspace('Other'))).tokens.access_token;
    fake.reset();
    for (const h of hung) fake.hangTokens.add(h.notion);

    // Real sockets: 280 tool calls, each an HTTP request whose Notion call the fake never answers.
    const answered: { code?: string }[] = [];
    for (const h of hung) {
      for (let i = 0; i < CALLS_EACH; i++) {
        callTool(stack.baseUrl, h.token, 'get_self', {}).then(
          (r) => answered.push(r.data.error ?? {}),
          () => answered.push({ code: 'connection failed' }),
        );
      }
    }
    // The calls have arrived: they reached Notion, wait for a slot, or came back refused.
    const refusedEach = CALLS_EACH - CALLS_PER_CONNECTION - MAX_WAITING_CALLS;
    await expect.poll(() => fake.hanging.size + answered.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(HUNG_USERS * (CALLS_PER_CONNECTION + refusedEach));
    await settled(() => fake.hanging.size + answered.length);
    const stuck = [...fake.hanging];

    const res = await callTool(stack.baseUrl, other, 'get_self', {});
    expect(res.isError).toBe(false);
    expect(JSON.stringify(res.data)).toContain('Workspace Other');
    // Answered while every hung call was still open: nobody's call waited for those sockets.
    expect(stuck.filter((r) => !fake.hanging.has(r))).toHaveLength(0);

    // At the fake Notion: exactly the cap of concurrent sockets per hung connection, no more.
    for (const h of hung) {
      expect([...fake.hanging].filter((r) => r.headers.authorization === `Bearer ${h.notion}`)).toHaveLength(CALLS_PER_CONNECTION);
    }
    expect(fake.hanging.size).toBe(HUNG_USERS * CALLS_PER_CONNECTION);
    // The calls past the queue were refused at once with a clear tool error; the queued ones still wait.
    expect(answered).toHaveLength(HUNG_USERS * refusedEach);
    expect(answered.every((e) => e.code === 'too_many_concurrent_calls')).toBe(true);
  });
});

/**
 * `npx tsx bench/activity.ts [--calls 200000] [--grants 100]`: what recording a tool call in the
 * activity log costs on the /mcp path. Runs the same stand-in tool call (a get_page: its note
 * filled as the registry fills it) bare and wrapped by ActivityLog.recorded, against a real
 * SQLite store in a temporary directory, and times the batched writes (flush) apart: they run
 * after the calls' answers, off their latency, but still take the event loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { ActivityLog } from '../src/tools/activity.js';
import type { CallNote, ToolResult } from '../src/tools/registry.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const CALLS = arg('calls', 200_000);
const GRANTS = arg('grants', 100);
const PAGE = '59833787-2cf9-4fdf-8782-e53db20768a5';

const dir = mkdtempSync(join(tmpdir(), 'nmr-bench-activity-'));
const store = SqliteStore.open(dir, 'bench');
const grants = Array.from({ length: GRANTS }, (_, i) => `grant-${i}`);
for (const id of grants) {
  await store.createGrant(
    { id, clientId: 'c', scope: 's', resource: 'r', notionUserId: 'u', notionWorkspaceId: 'w', info: {}, sealedNotion: 'x', createdAt: 0, lastUsedAt: null },
    { hash: `h-${id}`, grantId: id, clientId: 'c', redirectUri: 'r', codeChallenge: 'c', resource: 'r', scope: 's', wrappedKey: 'k', expiresAt: Date.now() + 86_400_000, usedAt: null, answer: null },
  );
}

const result: ToolResult = { content: [{ type: 'text', text: '{}' }] };
const call = async (_name: string, _args: Record<string, unknown> | undefined, _auth: { grantId: string }, note: CallNote): Promise<ToolResult> => {
  note.tool = 'get_page';
  note.readOnly = true;
  note.args = { page_id: PAGE };
  note.value = { object: 'page', id: PAGE, properties: { Name: { title: 'Launch plan' } } };
  return result;
};

async function time(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

// Building and buffering: the log on a store that writes nothing.
const nowhere = { appendActivity: async () => undefined } as unknown as SqliteStore;
const log = new ActivityLog(nowhere, createLogger('silent'), Date.now);
const wrapped = log.recorded(call);
const auth = (i: number) => ({ grantId: grants[i % GRANTS]! });
await time(CALLS, (i) => wrapped('get_page', {}, auth(i))); // warm-up
const bare = await time(CALLS, (i) => call('get_page', {}, auth(i), {}));
const recorded = await time(CALLS, (i) => wrapped('get_page', {}, auth(i)));
await log.close();

// The batched writes: what one flush of BATCH entries holds the event loop for, per entry.
// Below FLUSH_ENTRIES, so the flush timed here is the only one.
const BATCH = 3000;
const real = new ActivityLog(store, createLogger('silent'), Date.now);
const writes: number[] = [];
for (let round = 0; round < CALLS / BATCH; round++) {
  for (let i = 0; i < BATCH; i++) await real.recorded(call)('get_page', {}, auth(i));
  const t0 = process.hrtime.bigint();
  await real.flush();
  writes.push(Number(process.hrtime.bigint() - t0) / 1e3);
}
writes.sort((a, b) => a - b);
const perEntry = writes.reduce((a, b) => a + b, 0) / CALLS;
console.log(`${CALLS} calls over ${GRANTS} grants`);
console.log(`bare call            ${bare.toFixed(2)} µs`);
console.log(`recorded call        ${recorded.toFixed(2)} µs (+${(recorded - bare).toFixed(2)} µs building and buffering)`);
console.log(`SQLite write         ${perEntry.toFixed(2)} µs per entry; a flush of ${BATCH}: median ${writes[writes.length >> 1]!.toFixed(0)} µs, max ${writes.at(-1)!.toFixed(0)} µs`);
await store.close();
rmSync(dir, { recursive: true, force: true });

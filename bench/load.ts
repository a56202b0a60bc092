/**
 * Load: `npm run bench:load` (not part of `npm test`). The real app (real SQLite in a temporary
 * DATA_DIR) and the fake Notion in this process. N grants through the real OAuth flow, each for
 * its own Notion workspace; then N concurrent clients, each on its own grant, run CALLS mixed
 * tools/call plus refreshes, and stop by themselves. Checks: zero errors, no cross-user leak
 * (every upstream call for a client's page carried the Notion token of that client's workspace,
 * and every answer names only that workspace). Prints p50, p99 and RSS.
 *
 *   GRANTS=50 CALLS=5000 npm run bench:load
 */
import { fakeWorkspace, type FakeWorkspace } from '../test/helpers/fake-notion.js';
import { connect, mcpPost, type RegisteredClient, type TokenSet, tokenRequest } from '../test/helpers/oauth-client.js';
import { startStack } from '../test/helpers/stack.js';

const GRANTS = Number(process.env.GRANTS ?? 50);
const CALLS = Number(process.env.CALLS ?? 5000);
const REFRESH_EVERY = 10; // one refresh per ten tool calls on each client

const stack = await startStack({
  env: { LOG_LEVEL: 'silent', RATE_LIMIT_AUTHORIZE_PER_MINUTE: '1000000', RATE_LIMIT_TOKEN_PER_MINUTE: '1000000', RATE_LIMIT_MCP_PER_MINUTE: '1000000', RATE_LIMIT_REGISTER_PER_HOUR: '100000', NOTION_RATE_LIMIT_PER_SECOND: '100000', NOTION_RATE_LIMIT_BURST: '100000' },
});
const t0 = Date.now();
interface User {
  ws: FakeWorkspace;
  client: RegisteredClient;
  tokens: TokenSet;
  pageId: string;
}
const users: User[] = [];
for (let i = 1; i <= GRANTS; i++) {
  const ws = fakeWorkspace(i);
  const { client, tokens } = await connect(stack, ws);
  // A page id unique to this user, so its upstream calls can be told apart.
  const pageId = `1d3a7b5c-0000-4000-8000-${String(i).padStart(12, '0')}`;
  users.push({ ws, client, tokens, pageId });
}
const setupMs = Date.now() - t0;
stack.fake.requests.length = 0;

const latencies: number[] = [];
const errors: string[] = [];
let started = 0;
let refreshes = 0;
const names = users.map((u) => u.ws.name);

async function run(u: User): Promise<void> {
  for (let n = 0; started < CALLS; n++) {
    started++;
    if (n % REFRESH_EVERY === REFRESH_EVERY - 1) {
      const res = await tokenRequest(stack.baseUrl, u.client, { grant_type: 'refresh_token', refresh_token: u.tokens.refresh_token });
      if (res.status !== 200) errors.push(`refresh ${res.status}`);
      else {
        u.tokens = (await res.json()) as TokenSet;
        refreshes++;
      }
    }
    const call = [
      { name: 'get_page', arguments: { page_id: u.pageId } },
      { name: 'get_self', arguments: {} },
      { name: 'search', arguments: { query: 'Page' } },
    ][n % 3]!;
    const start = performance.now();
    const res = await mcpPost(stack.baseUrl, u.tokens.access_token, { jsonrpc: '2.0', id: n, method: 'tools/call', params: call });
    const text = await res.text();
    latencies.push(performance.now() - start);
    if (res.status !== 200) {
      errors.push(`${call.name} ${res.status}`);
      continue;
    }
    const reply = JSON.parse(text) as { result?: { isError?: boolean; content: { text: string }[] } };
    const out = reply.result?.content[0]?.text ?? '';
    if (!reply.result || reply.result.isError) errors.push(`${call.name}: ${out.slice(0, 200)}`);
    // An answer may name its own workspace, never another one.
    const others = names.filter((w) => w !== u.ws.name && new RegExp(`${w}\\b`).test(out));
    if (others.length) errors.push(`LEAK: ${u.ws.name} saw ${others.join(', ')}`);
  }
}

const l0 = Date.now();
await Promise.all(users.map(run));
const loadMs = Date.now() - l0;
const rss = process.memoryUsage().rss;

// Every upstream call about a user's page carried that user's Notion token.
let checked = 0;
for (const r of stack.fake.requests) {
  const u = users.find((x) => r.path.includes(x.pageId) || r.path.includes(x.pageId.replace(/-/g, '')));
  if (!u) continue;
  checked++;
  const token = /^Bearer (\S+)$/.exec(r.headers.authorization ?? '')?.[1] ?? '';
  const owner = stack.fake.tokens.get(token);
  if (owner?.id !== u.ws.id) errors.push(`LEAK: upstream ${r.method} ${r.path} for ${u.ws.name} carried the token of ${owner?.name ?? 'nobody'}`);
}
await stack.close();

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
const result = {
  grants: GRANTS,
  toolCalls: latencies.length,
  refreshes,
  upstreamCallsCheckedForOwner: checked,
  errors: errors.length,
  p50Ms: Number(pct(50)),
  p99Ms: Number(pct(99)),
  maxMs: Number(latencies[latencies.length - 1]!.toFixed(1)),
  callsPerSecond: Math.round((latencies.length / loadMs) * 1000),
  setupMs,
  loadMs,
  rssMiB: Math.round(rss / 1024 / 1024),
};
console.log(JSON.stringify(result, null, 2));
if (errors.length) {
  console.error(errors.slice(0, 20).join('\n'));
  process.exit(1);
}
process.exit(0);

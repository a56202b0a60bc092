/**
 * What the SDK's own HTTP entry (`createMcpHandler` from @modelcontextprotocol/server) costs per
 * tools/call, in-process and without Notion: the figure behind keeping our own dispatcher for
 * 2025-era clients (src/mcp/handler.ts), and behind routing eras without the SDK's classifier.
 * A trivial tool, so only the protocol layer is measured.
 *
 *   npx tsx bench/sdk-handler.ts [calls]
 */
import { classifyInboundRequest, createMcpHandler, McpServer, Server } from '@modelcontextprotocol/server';
import { z } from 'zod';

const CALLS = Number(process.argv[2] ?? 3000);
const TOOLS = 42; // as many as ours
const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

const lowLevel = () => {
  const s = new Server({ name: 'bench', version: '1' }, { capabilities: { tools: {} } });
  s.setRequestHandler('tools/call', async (req) => ({ content: [{ type: 'text', text: String((req.params.arguments as { id: string }).id) }] }));
  s.setRequestHandler('tools/list', async () => ({ tools: [] }));
  return s;
};
const highLevel = () => {
  const s = new McpServer({ name: 'bench', version: '1' });
  for (let i = 0; i < TOOLS; i++) {
    s.registerTool(`t${i}`, { description: 'd', inputSchema: z.object({ id: z.string() }) }, async ({ id }) => ({ content: [{ type: 'text', text: id }] }));
  }
  return s;
};

function request(era: 'modern' | 'legacy'): Request {
  const modern = era === 'modern';
  const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't0', arguments: { id: 'x' }, ...(modern ? { _meta: meta } : {}) } };
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (modern) Object.assign(headers, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 't0' });
  else headers['mcp-protocol-version'] = '2025-06-18';
  return new Request('http://127.0.0.1/mcp', { method: 'POST', headers, body: JSON.stringify(body) });
}

async function measure(name: string, factory: () => Server | McpServer, era: 'modern' | 'legacy'): Promise<void> {
  const handler = createMcpHandler(factory, { onerror: () => undefined });
  const first = await handler.fetch(request(era));
  if (first.status !== 200) throw new Error(`${name}: ${first.status} ${await first.text()}`);
  for (let i = 0; i < 300; i++) await (await handler.fetch(request(era))).text(); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) await (await handler.fetch(request(era))).text();
  const wall = (performance.now() - t0) / CALLS;
  const cpu = process.cpuUsage(cpu0);
  console.log(`| ${name} | ${era} | ${((cpu.user + cpu.system) / 1000 / CALLS).toFixed(2)} ms | ${wall.toFixed(2)} ms |`);
  await handler.close();
}

console.log('| server per request | era | CPU per call | wall per call |\n|---|---|---:|---:|');
await measure('low-level Server', lowLevel, 'modern');
await measure('low-level Server', lowLevel, 'legacy');
await measure(`McpServer, ${TOOLS} tools`, highLevel, 'modern');
await measure(`McpServer, ${TOOLS} tools`, highLevel, 'legacy');

// The SDK's era classification alone (what isLegacyRequest runs per request).
const inbound = {
  httpMethod: 'POST',
  protocolVersionHeader: '2025-06-18',
  body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't0', arguments: { id: 'x' } } },
};
for (let i = 0; i < 2000; i++) classifyInboundRequest(inbound);
const c0 = process.cpuUsage();
const N = 50_000;
for (let i = 0; i < N; i++) classifyInboundRequest(inbound);
const c = process.cpuUsage(c0);
console.log(`\nclassifyInboundRequest: ${(((c.user + c.system) / N) | 0)} µs of CPU per request`);

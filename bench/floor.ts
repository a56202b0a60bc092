/**
 * The floor for bench/compare.ts: the least an MCP-over-HTTP forwarder can do. A bare node:http
 * handler that reads one JSON-RPC message, forwards `search` / `get_page` to Notion with the
 * caller's bearer as the Notion token, and wraps Notion's JSON as a tool result. No framework, no
 * auth store, no validation, no shaping. Not a product: a yardstick.
 *
 * Env: PORT, NOTION_URL. Run: `node --import tsx bench/floor.ts` (compare.ts starts it).
 */
import { createServer, request, Agent } from 'node:http';

const port = Number(process.env.PORT ?? 0);
const notion = new URL(process.env.NOTION_URL ?? 'http://127.0.0.1:1');
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function upstream(method: string, path: string, token: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: notion.hostname,
        port: notion.port,
        method,
        path,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'notion-version': '2026-03-11',
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const send = (status: number, obj: unknown) => {
      const text = JSON.stringify(obj);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    let msg: { id?: unknown; method?: string; params?: { name?: string; arguments?: Record<string, unknown> } };
    try {
      msg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof msg;
    } catch {
      return send(400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return send(401, { error: 'unauthorized' });
    const reply = (result: unknown) => send(200, { jsonrpc: '2.0', id: msg.id, result });
    if (msg.method === 'initialize') {
      return reply({ protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'floor', version: '0' } });
    }
    if (msg.method === 'tools/list') return reply({ tools: [] });
    if (msg.method !== 'tools/call') return reply({});
    const args = msg.params?.arguments ?? {};
    const call =
      msg.params?.name === 'get_page'
        ? upstream('GET', `/v1/pages/${encodeURIComponent(String(args.page_id))}`, token)
        : upstream('POST', '/v1/search', token, JSON.stringify(args));
    call.then(
      (text) => reply({ content: [{ type: 'text', text }] }),
      (err: unknown) => reply({ content: [{ type: 'text', text: String(err) }], isError: true }),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`floor listening ${typeof addr === 'object' && addr ? addr.port : port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

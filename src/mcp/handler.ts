import {
  ErrorCode,
  InitializeRequestSchema,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import { ToolError, toolErrorResult } from '../errors.js';
import type { Logger } from '../log.js';
import { type NotionDeps, NotionSession } from '../notion/session.js';
import type { AuthContext } from '../oauth/grants.js';
import type { ToolRegistry } from '../tools/registry.js';

export const SERVER_INFO = { name: 'notion-mcp-remote', title: 'Notion', version: '0.1.0' };
const INSTRUCTIONS =
  'Tools for the Notion pages this user shared with the connector. Find things with `search`, then read them by ID; any ID parameter also takes a notion.so URL.';
export const MAX_BATCH = 20;
/** The one revision with JSON-RPC batching; 2025-06-18 removed it. */
const BATCH_VERSION = '2025-03-26';

type Id = string | number;
type Reply = { jsonrpc: '2.0'; id: Id | null; result?: unknown; error?: { code: number; message: string } };

export const failure = (id: Id | null, code: number, message: string): Reply => ({ jsonrpc: '2.0', id, error: { code, message } });

/** What to answer an HTTP request with: a status and JSON, or no body (202). */
export interface McpAnswer {
  status: number;
  body?: unknown;
}
export type McpHandler = ReturnType<typeof createMcpHandler>;

const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

/**
 * True for the common shape that JSONRPCMessageSchema accepts as a request without any further
 * check: only the four request keys, `jsonrpc: "2.0"`, a string or safe-integer id, a string method,
 * and params absent or a plain object without `_meta`. Anything else goes through the SDK schema,
 * so the outcome is the schema's in every case; this only skips a zod parse per call.
 */
function isPlainRequest(m: Record<string, unknown>): boolean {
  if (m.jsonrpc !== '2.0' || typeof m.method !== 'string') return false;
  const id = m.id;
  if (typeof id !== 'string' && !Number.isSafeInteger(id)) return false;
  for (const k in m) if (!REQUEST_KEYS.has(k)) return false;
  const params = m.params;
  if (params === undefined) return !('params' in m);
  if (typeof params !== 'object' || params === null || Object.getPrototypeOf(params) !== Object.prototype) return false;
  return !('_meta' in params);
}

/**
 * Stateless Streamable HTTP (MCP 2025-11-25 §transports) with JSON responses.
 *
 * Why not the SDK transport: in stateless mode it needs a new server and transport per request,
 * answers `Accept: *\/*` with 406, and cannot be told to never issue session IDs per request.
 * Claude.ai needs all three handled. The wire schemas and version list still come from the SDK.
 * No session ID is issued and any incoming one is ignored; the user's Notion token comes from
 * the bearer token verified for this request only.
 */
export function createMcpHandler(deps: { registry: ToolRegistry; notion: NotionDeps; log: Logger }) {
  const { registry } = deps;

  async function dispatch(message: Record<string, unknown>, auth: AuthContext): Promise<Reply | null> {
    const rawId = message.id;
    const id: Id | null = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : null;
    let msg: JSONRPCMessage;
    if (isPlainRequest(message)) {
      msg = message as JSONRPCMessage;
    } else {
      const parsed = JSONRPCMessageSchema.safeParse(message);
      if (!parsed.success) return failure(id, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
      msg = parsed.data;
    }
    if (!('method' in msg) || !('id' in msg)) return null; // notification or response: nothing to answer
    const method = msg.method;
    const params = (msg.params ?? {}) as Record<string, unknown>;
    const reply = (result: unknown): Reply => ({ jsonrpc: '2.0', id: msg.id, result });

    switch (method) {
      case 'initialize': {
        const init = InitializeRequestSchema.safeParse(msg);
        if (!init.success) return failure(id, ErrorCode.InvalidParams, 'Invalid params: initialize needs protocolVersion, capabilities and clientInfo');
        const asked = init.data.params.protocolVersion;
        return reply({
          protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(asked) ? asked : LATEST_PROTOCOL_VERSION,
          capabilities: { tools: { listChanged: false } },
          serverInfo: SERVER_INFO,
          instructions: INSTRUCTIONS,
        });
      }
      case 'ping':
        return reply({});
      case 'tools/list':
        return reply(registry.list(auth));
      case 'tools/call': {
        if (typeof params.name !== 'string') return failure(id, ErrorCode.InvalidParams, 'Invalid params: tools/call needs a tool name');
        const args = params.arguments;
        if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
          return failure(id, ErrorCode.InvalidParams, 'Invalid params: arguments must be an object');
        }
        try {
          const output = await registry.call(params.name, args, { notion: new NotionSession(deps.notion, auth), auth });
          return reply({ content: [{ type: 'text', text: JSON.stringify(output) }] });
        } catch (err) {
          if (err instanceof ToolError) return reply(toolErrorResult(err));
          deps.log.error({ err, tool: params.name }, 'tool failed');
          return reply(toolErrorResult(new ToolError('internal_error', 'The connector failed to run this tool.')));
        }
      }
      default:
        return failure(id, ErrorCode.MethodNotFound, `Method not found: ${method}`);
    }
  }

  /**
   * One HTTP request's body (already parsed JSON) for the verified `auth`: the status and JSON
   * to answer with, or no body for 202. `version` is the MCP-Protocol-Version header.
   */
  return async (body: unknown, auth: AuthContext, version: string | undefined): Promise<McpAnswer> => {
    // A missing header means 2025-03-26 (spec); an unknown one is refused.
    if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      return { status: 400, body: failure(null, ErrorCode.InvalidRequest, `Unsupported MCP-Protocol-Version ${version.slice(0, 40)}; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`) };
    }
    const batch = Array.isArray(body);
    // JSON-RPC batches exist only in 2025-03-26 (a missing header means that revision).
    if (batch && version !== undefined && version !== BATCH_VERSION) {
      return { status: 400, body: failure(null, ErrorCode.InvalidRequest, `Invalid Request: JSON-RPC batches are not part of MCP ${version.slice(0, 40)}; send one message per request`) };
    }
    const messages: unknown[] = batch ? body : [body];
    if (messages.length === 0 || messages.length > MAX_BATCH) {
      return { status: 400, body: failure(null, ErrorCode.InvalidRequest, `Invalid Request: send one message or a batch of 1 to ${MAX_BATCH}`) };
    }
    const replies: Reply[] = [];
    for (const m of messages) {
      const r =
        typeof m === 'object' && m !== null && !Array.isArray(m)
          ? await dispatch(m as Record<string, unknown>, auth)
          : failure(null, ErrorCode.InvalidRequest, 'Invalid Request: a message must be a JSON object');
      if (r) replies.push(r);
    }
    if (replies.length === 0) return { status: 202 };
    // Nothing valid at all is a bad HTTP request too; otherwise errors travel inside JSON-RPC.
    const allInvalid = replies.length === messages.length && replies.every((r) => r.error?.code === ErrorCode.InvalidRequest);
    return { status: allInvalid ? 400 : 200, body: batch ? replies : replies[0] };
  };
}

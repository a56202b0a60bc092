import type { FakeHandler, RecordedRequest } from './fake-notion.js';
import { fakeWorkspace } from './fake-notion.js';
import { callTool, connect } from './oauth-client.js';
import { type Stack, startStack } from './stack.js';

/**
 * A stack with one read-and-write and one read-only connection, for tool tests.
 * `answer` makes the fake Notion reply with a canned body to every API call (OAuth calls still
 * get the fake's own behaviour); `apiRequests()` are the Notion API calls since the last `answer`.
 */
export interface ToolStack {
  stack: Stack;
  /** Access token of a read-and-write connection to workspace A. */
  token: string;
  /** Access token of a read-only connection to workspace A. */
  readOnlyToken: string;
  /** The Notion token that connection holds: every upstream call must carry it. */
  notionToken: string;
  call(name: string, args?: Record<string, unknown>, token?: string): Promise<{ isError: boolean; data: any }>;
  answer(handler: FakeHandler | ((req: RecordedRequest) => { status?: number; body?: unknown } | undefined)): void;
  apiRequests(): RecordedRequest[];
  close(): Promise<void>;
}

export async function startToolStack(): Promise<ToolStack> {
  // Many calls on one connection: lift the per-connection rate gate (tested on its own).
  const stack = await startStack({ env: { NOTION_RATE_LIMIT_PER_SECOND: '1000', NOTION_RATE_LIMIT_BURST: '1000' } });
  const ws = fakeWorkspace('A');
  const { tokens } = await connect(stack, ws, 'write');
  const readOnly = await connect(stack, ws, 'read');
  const notionToken = [...stack.fake.tokens].filter(([, w]) => w.name === ws.name).map(([t]) => t)[0]!;
  return {
    stack,
    token: tokens.access_token,
    readOnlyToken: readOnly.tokens.access_token,
    notionToken,
    call: (name, args = {}, token = tokens.access_token) => callTool(stack.baseUrl, token, name, args),
    answer(handler) {
      stack.fake.reset();
      stack.fake.setHandler((req) => {
        if (req.path.startsWith('/v1/oauth/')) return undefined;
        const r = handler(req);
        return r ? { status: r.status ?? 200, body: r.body, ...('headers' in r ? { headers: (r as { headers?: Record<string, string> }).headers } : {}) } : undefined;
      });
    },
    apiRequests: () => stack.fake.requests.filter((r) => r.path.startsWith('/v1/') && !r.path.startsWith('/v1/oauth/')),
    close: () => stack.close(),
  };
}

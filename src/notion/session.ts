import { APIErrorCode, type Client, isHTTPResponseError, RequestTimeoutError } from '@notionhq/client';
import { ToolError } from '../errors.js';
import type { AuthContext } from '../oauth/grants.js';

const HINTS: Partial<Record<string, string>> = {
  [APIErrorCode.ObjectNotFound]:
    'Check the ID, and make sure the page or database is shared with this connector in Notion (••• menu → Connections).',
  [APIErrorCode.Unauthorized]:
    'Notion no longer accepts this connection. Reconnect the connector in Claude (Settings → Connectors) and pick the pages again.',
  [APIErrorCode.RestrictedResource]: 'The connection lacks the Notion capability for this action, or the page is not shared with it.',
};

/** Maps whatever the Notion SDK throws to a tool error that keeps Notion's code and message. */
export function toToolError(err: unknown): ToolError {
  if (err instanceof ToolError) return err;
  if (isHTTPResponseError(err)) {
    const hint = HINTS[err.code];
    return new ToolError(err.code, err.message, { status: err.status, ...(hint ? { hint } : {}) });
  }
  if (RequestTimeoutError.isRequestTimeoutError(err)) {
    return new ToolError('notion_timeout', 'Notion did not answer in time. Try again in a moment.');
  }
  return new ToolError('notion_unreachable', 'Notion could not be reached. Try again in a moment.');
}

/**
 * The current user's view of Notion for one MCP request: the shared SDK client plus the token
 * taken from this request's verified grant. Never cached across requests or users.
 */
export class NotionSession {
  constructor(
    private readonly client: Client,
    private readonly auth: AuthContext,
  ) {}

  async call<T>(fn: (client: Client, auth: string) => Promise<T>): Promise<T> {
    try {
      return await fn(this.client, this.auth.notion.accessToken);
    } catch (err) {
      throw toToolError(err);
    }
  }
}

import type { Response } from 'express';

/**
 * Typed errors and the one place where each becomes a response.
 * Only these classes reach a client with their message; anything else is a bug and becomes
 * a generic 500 / internal error, logged with the request id.
 */

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_client_metadata'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable';

const OAUTH_STATUS: Partial<Record<OAuthErrorCode, number>> = {
  // Claude re-registers on 401 invalid_client, never on 400 (see docs/auth-and-claude.md §3).
  invalid_client: 401,
  server_error: 500,
  temporarily_unavailable: 503,
};

/** An OAuth error (RFC 6749 §5.2, RFC 7591 §3.2.2), sent as JSON or as a redirect. */
export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
  ) {
    super(`${code}: ${description}`);
  }
  get status(): number {
    return OAUTH_STATUS[this.code] ?? 400;
  }
}

/** An error shown to a person in the browser: what happened and what to do next. */
export class PageError extends Error {
  override name = 'PageError';
  constructor(
    readonly title: string,
    readonly detail: string,
    readonly next: string,
    readonly status = 400,
  ) {
    super(`${title}: ${detail}`);
  }
}

/** A failed tool call: becomes a tool result with isError, never a protocol error. */
export class ToolError extends Error {
  override name = 'ToolError';
  constructor(
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The store did not answer: 503 everywhere, never a crash. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/** The store failed (Redis down, SQLite I/O or full disk): a 503, not a 500. */
export const isStoreFailure = (err: unknown): boolean =>
  err instanceof StoreUnavailableError || String((err as { code?: unknown } | null)?.code ?? '').startsWith('SQLITE_');

/**
 * A request body the parser refused (body-parser's http-errors carry a string `type` and a 4xx
 * status): the client's mistake, answered in the route's format and never logged as an error.
 * Covers entity.too.large, parameters.too.many (over 50 form fields), entity.parse.failed,
 * encoding.unsupported, charset.unsupported and any later type of the same kind.
 */
export function requestBodyError(err: unknown): { type: string; status: number; message: string } | undefined {
  const { type, status } = (err ?? {}) as { type?: unknown; status?: unknown };
  if (typeof type !== 'string' || typeof status !== 'number' || status < 400 || status > 499) return undefined;
  const message =
    type === 'entity.too.large'
      ? 'Request body too large'
      : type === 'parameters.too.many'
        ? 'Request body has too many form fields'
        : status === 415
          ? 'Request body encoding or charset is not supported'
          : 'Request body is not valid JSON or form data';
  return { type, status, message };
}

export function sendOAuthError(res: Response, err: OAuthError): void {
  res.status(err.status).set('Cache-Control', 'no-store');
  // RFC 6749 §5.2: a client that tried HTTP Basic gets the matching challenge.
  if (err.code === 'invalid_client') res.set('WWW-Authenticate', 'Basic realm="notion-mcp-remote"');
  res.json({ error: err.code, error_description: err.description });
}

export function toolErrorResult(err: ToolError): { content: { type: 'text'; text: string }[]; isError: true; structuredContent: Record<string, unknown> } {
  const error = { code: err.code, message: err.message, ...err.extra };
  return { content: [{ type: 'text', text: JSON.stringify({ error }) }], isError: true, structuredContent: { error } };
}

import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../config.js';
import type { Grants } from '../oauth/grants.js';
import { resourceMetadataUrl } from '../oauth/metadata.js';
import { ALL_SCOPES_STRING } from '../oauth/scopes.js';

/**
 * DNS-rebinding defence for /mcp: the Host header must be BASE_URL's host or one of
 * ADDITIONAL_ALLOWED_HOSTS (421 otherwise), and a browser Origin must be our own (403).
 */
export function hostAndOriginGuard(config: Config) {
  const hosts = new Set(config.allowedHosts);
  return (req: Request, res: Response, next: NextFunction): void => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!hosts.has(host)) {
      res.status(421).json({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32000, message: `Misdirected request: host ${host.slice(0, 100) || '(none)'} is not served here; set BASE_URL to the public URL or add the host to ADDITIONAL_ALLOWED_HOSTS` },
      });
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== config.baseUrl) {
      res.status(403).json({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Forbidden: this Origin may not call the MCP endpoint' } });
      return;
    }
    next();
  };
}

/** Streamable HTTP without sessions: only POST. GET and DELETE get 405, which clients accept. */
export function postOnly(req: Request, res: Response, next: NextFunction): void {
  if (req.method === 'POST') return next();
  res.status(405).set('Allow', 'POST').json({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed: use POST' } });
}

/**
 * Bearer authentication for /mcp (RFC 6750, RFC 9728 §5.1). No credentials: a bare challenge
 * pointing at our metadata. Bad credentials: `invalid_token`. Only our own access tokens issued
 * for this resource pass; a Notion token or any foreign token is just an invalid token.
 */
export function requireBearer(config: Config, grants: Grants) {
  const metadata = resourceMetadataUrl(config);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.get('authorization');
    const match = header ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim()) : null;
    const auth = match ? await grants.verifyAccessToken(match[1]!) : null;
    if (auth) {
      res.locals.auth = auth;
      return next();
    }
    const challenge = header
      ? `Bearer error="invalid_token", error_description="The access token is invalid or expired", resource_metadata="${metadata}"`
      : `Bearer resource_metadata="${metadata}", scope="${ALL_SCOPES_STRING}"`;
    res
      .status(401)
      .set('WWW-Authenticate', challenge)
      .json({ error: header ? 'invalid_token' : 'unauthorized', error_description: header ? 'The access token is invalid or expired' : 'Authorization required' });
  };
}

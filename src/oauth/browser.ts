import { parseCookie, stringifySetCookie } from 'cookie';
import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { randomSecret } from '../lib/crypto.js';

/**
 * A random per-browser id that binds consent and the Notion round trip to the browser that
 * started them. `__Host-` (Secure, path /, no Domain) on https; loopback http cannot use the
 * prefix. SameSite=Lax: sent on Notion's top-level redirect back, never on cross-site POSTs.
 */
export function browserCookieName(config: Config): string {
  return config.secureCookies ? '__Host-nmr_browser' : 'nmr_browser';
}

export function readBrowserId(req: Request, config: Config): string | null {
  const header = req.get('cookie');
  if (!header) return null;
  const value = parseCookie(header)[browserCookieName(config)];
  return value && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null;
}

/** Reuses the browser's id (so parallel flows in two tabs both work) and renews the cookie. */
export function ensureBrowserId(req: Request, res: Response, config: Config): string {
  const id = readBrowserId(req, config) ?? randomSecret();
  res.append(
    'Set-Cookie',
    stringifySetCookie(browserCookieName(config), id, {
      httpOnly: true,
      secure: config.secureCookies,
      sameSite: 'lax',
      path: '/',
      maxAge: config.ttl.flowS * 2,
    }),
  );
  return id;
}

import { isLoopbackHost } from '../config.js';

/**
 * Redirect URI and resource rules (OAuth 2.1 §2.3.1 and §7.5, RFC 8252 §7.3, RFC 8707).
 */

/** A redirect URI a client may register: https, or http on a loopback host; absolute, no fragment. */
export function redirectUriProblem(uri: unknown): string | null {
  if (typeof uri !== 'string' || uri.length === 0 || uri.length > 2000) return 'must be a non-empty URL string';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.hash || uri.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  return 'must use https (http is allowed only for 127.0.0.1, localhost or [::1])';
}

/**
 * Exact string match, except that a loopback http URI may use any port (RFC 8252 §7.3),
 * because native apps pick a free port at run time.
 */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  let req: URL;
  try {
    req = new URL(requested);
  } catch {
    return false;
  }
  if (req.protocol !== 'http:' || !isLoopbackHost(req.hostname)) return false;
  return registered.some((r) => {
    try {
      const reg = new URL(r);
      return (
        reg.protocol === 'http:' &&
        reg.hostname === req.hostname &&
        reg.pathname === req.pathname &&
        reg.search === req.search &&
        !req.hash
      );
    } catch {
      return false;
    }
  });
}

/**
 * Checks a `resource` parameter (RFC 8707) against our one resource. Scheme and host compare
 * case-insensitively (URL parsing folds them); a single trailing slash is tolerated.
 * Returns null when acceptable, else the reason.
 */
export function resourceProblem(value: string, ourResource: string): string | null {
  if (value.includes('#')) return 'resource must not contain a fragment';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'resource must be an absolute URI';
  }
  const canonical = `${url.origin}${url.pathname.replace(/\/$/, '')}${url.search}`;
  return canonical === ourResource ? null : `unknown resource; this server protects only ${ourResource}`;
}

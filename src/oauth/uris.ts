import { isLoopbackHost } from '../config.js';

/**
 * Redirect URI and resource rules (OAuth 2.1 §2.3.1 and §7.5, RFC 8252 §7.1 and §7.3, RFC 8707).
 */

/**
 * Schemes a private-use redirect URI may not have, though RFC 3986 lets them parse:
 * - what a browser runs or reads itself (script, inline data, local files, its own pages);
 * - what a web page can claim with navigator.registerProtocolHandler() (the HTML standard's
 *   safelist, and every `web+` scheme), because then a web site, not an app, would get the code;
 * - network schemes other than https and loopback http (an `http`-like scheme must not slip past
 *   the loopback rule, and `ws`, `ftp` and friends are not redirect targets);
 * - Android's `intent:`, which can start any app.
 */
const REFUSED_SCHEMES = new Set([
  'javascript', 'vbscript', 'data', 'blob', 'file', 'filesystem', 'about', 'view-source', 'jar', 'resource',
  'chrome', 'chrome-extension', 'chrome-search', 'edge', 'brave', 'opera', 'moz-extension', 'safari-extension', 'ms-browser-extension',
  'intent', 'android-app', 'content',
  'ws', 'wss', 'gopher', 'telnet', 'ldap', 'ldaps', 'smb', 'nfs',
  // HTML standard, registerProtocolHandler safelist
  'bitcoin', 'ftp', 'ftps', 'geo', 'im', 'irc', 'ircs', 'magnet', 'mailto', 'matrix', 'mms', 'news', 'nntp', 'openpgp4fpr',
  'sftp', 'sip', 'sms', 'smsto', 'ssh', 'tel', 'urn', 'webcal', 'wtai', 'xmpp',
]);

/** Whitespace or a control character anywhere: the URL parser would silently drop or encode it. */
const UNSAFE_CHARACTERS = /[\u0000-\u0020\u007f-\u009f]/;

/**
 * A redirect URI a client may register: https, http on a loopback host (RFC 8252 §7.3), or a
 * private-use scheme such as `cursor://anysphere.cursor-mcp/oauth/callback` or
 * `com.example.app:/oauth2redirect` (RFC 8252 §7.1), which only the native app that claimed it
 * on the device receives. Absolute, no fragment, no credentials, no whitespace.
 * Returns null when acceptable, else the reason.
 */
export function redirectUriProblem(uri: unknown): string | null {
  if (typeof uri !== 'string' || uri.length === 0 || uri.length > 2000) return 'must be a non-empty URL string';
  if (UNSAFE_CHARACTERS.test(uri)) return 'must not contain whitespace or control characters';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.hash || uri.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') {
    return isLoopbackHost(url.hostname) ? null : 'must use https (http is allowed only for 127.0.0.1, localhost or [::1])';
  }
  const scheme = url.protocol.slice(0, -1);
  // The raw text must start with the scheme the parser saw (it already folded case).
  if (!uri.toLowerCase().startsWith(`${scheme}:`)) return 'is not an absolute URL';
  if (scheme.length < 2) return 'must not use a one-letter scheme (it reads as a drive letter)';
  if (REFUSED_SCHEMES.has(scheme) || scheme.startsWith('web+') || scheme.startsWith('http')) {
    return `must not use the ${scheme}: scheme; use https, loopback http or an app's private-use scheme (RFC 8252 §7.1)`;
  }
  if (!url.pathname && !url.host) return 'must name a path after the scheme';
  return null;
}

/**
 * Where an approval goes, for the consent page: the host of a web or loopback URI, or the scheme
 * and host of a private-use one (`cursor://anysphere.cursor-mcp`, `com.example.app:`), so that an
 * app's URI never reads like a web site. `onDevice` is true for loopback and private-use targets.
 */
export function redirectTarget(uri: string): { label: string; hostname: string; onDevice: boolean } {
  const url = new URL(uri);
  if (url.protocol === 'https:' || url.protocol === 'http:') {
    return { label: url.host, hostname: url.hostname, onDevice: url.protocol === 'http:' && isLoopbackHost(url.hostname) };
  }
  return { label: url.host ? `${url.protocol}//${url.host}` : url.protocol, hostname: '', onDevice: true };
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

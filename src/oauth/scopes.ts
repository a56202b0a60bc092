import { OAuthError } from '../errors.js';

/** Our scopes. Write implies nothing by itself: a read-and-write grant holds both. */
export const SCOPE_READ = 'notion:read';
export const SCOPE_WRITE = 'notion:write';
export const ALL_SCOPES = [SCOPE_READ, SCOPE_WRITE] as const;
export const ALL_SCOPES_STRING = ALL_SCOPES.join(' ');

/**
 * Parses a requested `scope` (RFC 6749 §3.3). Empty means "whatever the user approves".
 * `offline_access` is ignored: refresh tokens are always issued (Claude never asks for it).
 */
export function parseRequestedScope(raw: unknown): string[] {
  if (raw === undefined || raw === null || raw === '') return [...ALL_SCOPES];
  if (typeof raw !== 'string') throw new OAuthError('invalid_scope', 'scope must be a space-separated string');
  const wanted = [...new Set(raw.split(' ').filter((s) => s && s !== 'offline_access'))];
  const unknown = wanted.filter((s) => !(ALL_SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new OAuthError('invalid_scope', `unknown scope ${unknown.join(', ')}; supported: ${ALL_SCOPES_STRING}`);
  }
  return wanted.length > 0 ? wanted : [...ALL_SCOPES];
}

export function scopeSet(scope: string): Set<string> {
  return new Set(scope.split(' ').filter(Boolean));
}

/** Refresh may narrow scope, never widen it (RFC 6749 §6). */
export function downscope(granted: string, requested: unknown): string {
  if (requested === undefined || requested === '') return granted;
  const have = scopeSet(granted);
  const want = parseRequestedScope(requested);
  const extra = want.filter((s) => !have.has(s));
  if (extra.length > 0) throw new OAuthError('invalid_scope', `scope ${extra.join(', ')} was not granted`);
  return want.join(' ');
}

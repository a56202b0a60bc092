import { OAuthError } from '../errors.js';

/** Our scopes. Write implies nothing by itself: a read-and-write grant holds both. */
export const SCOPE_READ = 'notion:read';
export const SCOPE_WRITE = 'notion:write';
export const ALL_SCOPES = [SCOPE_READ, SCOPE_WRITE] as const;
export const ALL_SCOPES_STRING = ALL_SCOPES.join(' ');

/**
 * Toolsets: what kinds of Notion content a connection may use, each a scope `notion:<toolset>`,
 * so that tools/list, the refusal of a call and a step-up challenge speak one language. A scope
 * that names no toolset allows them all: every grant made before toolsets existed keeps its tools.
 */
export const TOOLSETS = ['pages', 'databases', 'comments', 'files', 'users'] as const;
export type Toolset = (typeof TOOLSETS)[number];
export const toolsetScope = (t: Toolset): string => `notion:${t}`;
const TOOLSET_OF = new Map<string, Toolset>(TOOLSETS.map((t) => [toolsetScope(t), t]));

/** How the consent page and Your connections name each toolset. */
export const TOOLSET_LABELS: Record<Toolset, { label: string; line: string }> = {
  pages: { label: 'Pages and content', line: 'search, read and edit pages and their blocks' },
  databases: { label: 'Databases', line: 'query databases and change their structure and views' },
  comments: { label: 'Comments', line: 'read and write comments' },
  files: { label: 'Files', line: 'upload files and read attached ones' },
  users: { label: 'People', line: 'list the workspace’s members and their emails' },
};

/**
 * Parses a requested `scope` (RFC 6749 §3.3). Empty means "whatever the user approves".
 * `offline_access` is ignored: refresh tokens are always issued (Claude never asks for it).
 * A toolset outside `offered` (TOOLSETS_MAX) is refused like an unknown scope.
 */
export function parseRequestedScope(raw: unknown, offered: readonly Toolset[] = TOOLSETS): string[] {
  if (raw === undefined || raw === null || raw === '') return [...ALL_SCOPES];
  if (typeof raw !== 'string') throw new OAuthError('invalid_scope', 'scope must be a space-separated string');
  const known = new Set<string>([...ALL_SCOPES, ...offered.map(toolsetScope)]);
  const wanted = [...new Set(raw.split(' ').filter((s) => s && s !== 'offline_access'))];
  const unknown = wanted.filter((s) => !known.has(s));
  if (unknown.length > 0) {
    throw new OAuthError('invalid_scope', `unknown scope ${unknown.join(', ')}; supported: ${[...known].join(' ')}`);
  }
  return wanted.length > 0 ? wanted : [...ALL_SCOPES];
}

export function scopeSet(scope: string): Set<string> {
  return new Set(scope.split(' ').filter(Boolean));
}

/** The toolsets a list of scopes names; null when it names none. */
export function namedToolsets(scopes: Iterable<string>): Toolset[] | null {
  const named = [...scopes].flatMap((s) => TOOLSET_OF.get(s) ?? []);
  return named.length ? named : null;
}

/** The scopes with every toolset scope added when they name none (see TOOLSETS). */
export function expandScope(scope: string): Set<string> {
  const set = scopeSet(scope);
  if (!namedToolsets(set)) for (const t of TOOLSETS) set.add(toolsetScope(t));
  return set;
}

/** A grant's scope: read, maybe write, and the toolsets, or none of them when all are chosen (the pre-toolsets form). */
export function grantScope(write: boolean, toolsets: Iterable<Toolset>): string {
  const chosen = new Set(toolsets);
  const all = TOOLSETS.every((t) => chosen.has(t));
  return [SCOPE_READ, ...(write ? [SCOPE_WRITE] : []), ...(all ? [] : TOOLSETS.filter((t) => chosen.has(t)).map(toolsetScope))].join(' ');
}

/** The read and write scopes of a scope, without its toolsets: a token record that restricts no toolset. */
export const accessPart = (scope: string): string => [...scopeSet(scope)].filter((s) => !TOOLSET_OF.has(s)).join(' ');

/**
 * What a token may do: what its grant allows now, narrowed by what the token itself was issued
 * for (a refresh with a smaller `scope`), and never beyond the toolsets the operator offers.
 */
export function effectiveScopes(grant: string, token: string, offered: readonly Toolset[]): Set<string> {
  const own = expandScope(token);
  const allowed = new Set([...ALL_SCOPES, ...offered.map(toolsetScope)]);
  return new Set([...expandScope(grant)].filter((s) => own.has(s) && allowed.has(s)));
}

/** Refresh may narrow scope, never widen it (RFC 6749 §6). */
export function downscope(granted: string, requested: unknown, offered: readonly Toolset[] = TOOLSETS): string {
  if (requested === undefined || requested === '') return granted;
  const have = expandScope(granted);
  const want = parseRequestedScope(requested, offered);
  const extra = want.filter((s) => !have.has(s));
  if (extra.length > 0) throw new OAuthError('invalid_scope', `scope ${extra.join(', ')} was not granted`);
  return want.join(' ');
}

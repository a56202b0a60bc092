import { OAuthError } from '../errors.js';
import type { CimdFetcher, FetchedDocument } from '../lib/safe-fetch.js';
import type { Logger } from '../log.js';
import type { ClientRecord } from '../store/types.js';
import { redirectUriProblem } from './uris.js';

/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
 * a client_id that is an https URL names a JSON document describing the client.
 * We fetch it ourselves, so the fetch is hardened against SSRF: https only, public
 * addresses only (checked after DNS resolution), no redirects, small bodies, short timeout
 * (lib/safe-fetch.ts).
 */

/** What the resolver is given to fetch documents with (the app passes lib/safe-fetch.ts's). */
export type { CimdFetcher, FetchedDocument } from '../lib/safe-fetch.js';

/**
 * True for a URL usable as a CIMD client_id: https, a path other than "/", no userinfo,
 * query or fragment, no dot segments. The URL must already be in canonical form, because the
 * document's client_id is compared with it as a plain string (and URL() would silently
 * resolve dot segments or drop a default port).
 */
export function isCimdClientId(clientId: string): boolean {
  if (clientId.length > 2048 || clientId.includes('?') || clientId.includes('#')) return false;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return false;
  }
  return (
    url.protocol === 'https:' &&
    url.username === '' &&
    url.password === '' &&
    url.pathname !== '/' &&
    url.href === clientId
  );
}

const ALLOWED_GRANT_TYPES = ['authorization_code', 'refresh_token'];
const MAX_NAME_LENGTH = 100;

interface CacheEntry {
  client: ClientRecord;
  expiresAt: number;
}

export class CimdResolver {
  private readonly fetch: CimdFetcher;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxCacheTtlMs: number;
  private readonly defaultCacheTtlMs: number;
  private readonly maxEntries: number;
  /** Map keeps insertion order: re-inserting on a hit makes the first key the least recently used. */
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<ClientRecord>>();
  private readonly log: Logger;

  constructor(opts: {
    fetch: CimdFetcher;
    now?: () => number;
    timeoutMs?: number;
    maxBytes?: number;
    maxCacheTtlMs?: number;
    defaultCacheTtlMs?: number;
    maxEntries?: number;
    /** Where fetch failures are told in detail; the browser gets a generic reason. */
    log: Logger;
  }) {
    this.log = opts.log;
    this.fetch = opts.fetch;
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxBytes = opts.maxBytes ?? 5120;
    this.maxCacheTtlMs = opts.maxCacheTtlMs ?? 24 * 60 * 60 * 1000;
    this.defaultCacheTtlMs = opts.defaultCacheTtlMs ?? 5 * 60 * 1000;
    this.maxEntries = opts.maxEntries ?? 1000;
  }

  /** Returns the validated client, from cache when fresh. Throws OAuthError('invalid_client', ...). */
  async resolve(clientId: string): Promise<ClientRecord> {
    if (!isCimdClientId(clientId)) throw new OAuthError('invalid_client', `${clientId} is not a valid client metadata document URL`);
    const hit = this.cache.get(clientId);
    if (hit) {
      this.cache.delete(clientId);
      if (hit.expiresAt > this.now()) {
        this.cache.set(clientId, hit);
        return hit.client;
      }
    }
    // Concurrent callers share one fetch.
    let pending = this.inflight.get(clientId);
    if (!pending) {
      pending = this.load(clientId).finally(() => this.inflight.delete(clientId));
      this.inflight.set(clientId, pending);
    }
    return pending;
  }

  private async load(url: string): Promise<ClientRecord> {
    const fail: (problem: string) => never = (problem) => {
      throw new OAuthError('invalid_client', `client metadata document at ${url} ${problem}`);
    };
    let doc: FetchedDocument;
    try {
      doc = await this.fetch(url, { timeoutMs: this.timeoutMs, maxBytes: this.maxBytes });
    } catch (err) {
      // The reason (DNS answers, addresses, TLS errors) stays in the log; the browser gets a generic one.
      this.log.warn({ clientId: url, err: err instanceof Error ? err.message : String(err) }, 'client metadata document fetch failed');
      return fail('could not be fetched');
    }
    if (doc.status >= 300 && doc.status < 400) fail(`answered with a redirect (HTTP ${doc.status}), which is not followed`);
    if (doc.status !== 200) fail(`answered with HTTP ${doc.status}, expected 200`);
    // Also enforced here so that a lax fetcher cannot hand us an arbitrarily large document.
    if (Buffer.byteLength(doc.body, 'utf8') > this.maxBytes) fail(`is too large (over ${this.maxBytes} bytes)`);

    let parsed: unknown;
    try {
      parsed = JSON.parse(doc.body.replace(/^\uFEFF/, '')); // RFC 8259 §8.1: a parser may ignore a BOM
    } catch {
      return fail('is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('is not a JSON object');
    const client = this.validate(url, parsed as Record<string, unknown>, fail);

    const ttl = this.cacheTtl(doc.headers['cache-control'], doc.headers.age);
    if (ttl > 0) {
      if (this.cache.size >= this.maxEntries) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(url, { client, expiresAt: this.now() + ttl });
    }
    return client;
  }

  private validate(url: string, doc: Record<string, unknown>, fail: (problem: string) => never): ClientRecord {
    if (doc.client_id !== url) fail(`has client_id ${JSON.stringify(doc.client_id)}, which is not its own URL`);
    // A document anyone can read cannot hold a secret, and we never issue one to such a client.
    if ('client_secret' in doc || 'client_secret_expires_at' in doc) fail('must not contain a client secret');
    const method = doc.token_endpoint_auth_method;
    if (method !== undefined && method !== 'none' && !(method === 'private_key_jwt' && alsoPublic(doc))) {
      fail(`uses token_endpoint_auth_method ${JSON.stringify(method)}; only "none" is supported`);
    }

    const redirectUris = doc.redirect_uris;
    if (!isStringArray(redirectUris) || redirectUris.length === 0) return fail('must list redirect_uris (a non-empty array of strings)');
    for (const uri of redirectUris) {
      const problem = redirectUriProblem(uri);
      if (problem) fail(`has redirect_uri ${JSON.stringify(uri)}: ${problem}`);
    }

    // A document lists what its client can use anywhere; we keep the part we support and never add
    // to it (RFC 7591 §2). Claude's lists the jwt-bearer grant too, which we do not offer.
    let grantTypes = ALLOWED_GRANT_TYPES;
    if (doc.grant_types !== undefined) {
      if (!isStringArray(doc.grant_types) || doc.grant_types.length === 0) return fail('has grant_types that is not a non-empty array of strings');
      grantTypes = ALLOWED_GRANT_TYPES.filter((g) => (doc.grant_types as string[]).includes(g));
      if (!grantTypes.includes('authorization_code')) fail(`has grant_types ${JSON.stringify(doc.grant_types)} without "authorization_code"`);
    }
    if (doc.response_types !== undefined && (!isStringArray(doc.response_types) || !doc.response_types.includes('code'))) {
      fail('has response_types without "code"');
    }

    let clientName: string | undefined;
    if (doc.client_name !== undefined) {
      if (typeof doc.client_name !== 'string') fail('has a client_name that is not a string');
      // Cut by code points so a surrogate pair is never split; the name is shown on the consent page.
      clientName = Array.from(doc.client_name.trim()).slice(0, MAX_NAME_LENGTH).join('');
    }

    const metadata: Record<string, unknown> = { client_id: url, redirect_uris: redirectUris };
    if (clientName !== undefined) metadata.client_name = clientName;
    // Cosmetic fields are kept only when well-formed: a bad logo should not lock a client out.
    for (const key of ['client_uri', 'logo_uri'] as const) {
      if (typeof doc[key] === 'string' && isHttpsUrl(doc[key])) metadata[key] = doc[key];
    }
    if (doc.grant_types !== undefined) metadata.grant_types = grantTypes;
    if (doc.response_types !== undefined) metadata.response_types = ['code'];
    if (doc.token_endpoint_auth_method !== undefined) metadata.token_endpoint_auth_method = 'none';
    if (typeof doc.scope === 'string') metadata.scope = doc.scope;

    return {
      clientId: url,
      clientName,
      redirectUris,
      grantTypes,
      tokenEndpointAuthMethod: 'none',
      metadata,
      createdAt: this.now(),
    };
  }

  /**
   * How long to keep a document, in ms (0: not at all), from its Cache-Control (RFC 9111 §5.2),
   * as one private cache would: max-age, token or quoted, less the Age a CDN has already held
   * it (§4.2.3); no-store or no-cache keep nothing. Bounded by maxCacheTtlMs; without max-age,
   * defaultCacheTtlMs.
   */
  private cacheTtl(cacheControl: string | undefined, age: string | undefined): number {
    const directives = (cacheControl ?? '').toLowerCase().split(',').map((d) => d.trim());
    if (directives.includes('no-store') || directives.includes('no-cache')) return 0;
    for (const d of directives) {
      const m = /^max-age=(?:(\d+)|"(\d+)")$/.exec(d);
      if (m) {
        const ageS = /^\d+$/.test(age?.trim() ?? '') ? Number(age) : 0;
        return Math.min(Math.max(Number(m[1] ?? m[2]) - ageS, 0) * 1000, this.maxCacheTtlMs);
      }
    }
    return Math.min(this.defaultCacheTtlMs, this.maxCacheTtlMs);
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * ChatGPT's document (https://chatgpt.com/oauth/client.json and its per-connector copies) names
 * `private_key_jwt` as its method but lists `none` in `token_endpoint_auth_methods_supported`,
 * and ChatGPT picks the method it shares with the server's metadata, where we list `none` and
 * never `private_key_jwt`. Such a client is public here: PKCE binds its code, as for every CIMD
 * client. A document that cannot work as a public client stays refused, since we cannot verify
 * its assertions (RFC 7523) and must not pretend to.
 */
function alsoPublic(doc: Record<string, unknown>): boolean {
  const supported = doc.token_endpoint_auth_methods_supported;
  return isStringArray(supported) && supported.includes('none');
}

import { lookup as dnsLookup } from 'node:dns';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { VERSION } from '../version.js';
import { guardedLookup, isPublicAddress } from './safe-fetch.js';

/** Sent on every download, so the file's host can see who fetches it and why. */
export const DOWNLOAD_USER_AGENT = `notion-mcp-remote/${VERSION} (+file upload to Notion)`;

export interface Download {
  status: number;
  /** Header names are lower-case. */
  headers: Record<string, string | undefined>;
  /** The body, to be read as a stream (it may be far larger than memory should hold at once). */
  body: IncomingMessage;
}

/**
 * Opens a GET of a URL a user named, with the same guards as lib/safe-fetch.ts (https only,
 * public addresses only, checked after DNS; no redirects), for a body read as a stream. A source
 * that sends nothing for `idleMs` is dropped; `signal` aborts the download.
 */
export type Downloader = (url: string, opts: { idleMs: number; signal?: AbortSignal | undefined }) => Promise<Download>;

export function createSafeDownloader(
  lookup: typeof dnsLookup = dnsLookup,
  /** For tests only, to reach a loopback stand-in for a real host (as in createSafeFetcher). */
  testing: { allowAddress?: (ip: string) => boolean; ca?: string } = {},
): Downloader {
  const allowed = testing.allowAddress ?? isPublicAddress;
  const publicOnly = guardedLookup(lookup, allowed);
  return (rawUrl, { idleMs, signal }) =>
    new Promise<Download>((resolve, reject) => {
      const url = new URL(rawUrl);
      if (url.protocol !== 'https:') return reject(new Error(`refusing ${url.protocol} URL: only https is allowed`));
      // Node skips `lookup` for IP literals, so check those here.
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) && !allowed(host)) return reject(new Error(`${host} is not a public address`));
      const req = request(
        url,
        {
          method: 'GET',
          headers: { 'user-agent': DOWNLOAD_USER_AGENT },
          lookup: publicOnly,
          agent: false,
          ...(signal ? { signal } : {}),
          ...(testing.ca ? { ca: testing.ca } : {}),
        },
        (res) => {
          const headers: Record<string, string | undefined> = {};
          for (const [name, value] of Object.entries(res.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          resolve({ status: res.statusCode ?? 0, headers, body: res });
        },
      );
      req.setTimeout(idleMs, () => req.destroy(new Error(`the source sent nothing for ${idleMs} ms`)));
      req.on('error', reject);
      req.end();
    });
}

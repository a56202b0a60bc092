import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { VERSION } from '../version.js';

/**
 * Fetching a URL someone else named, hardened against SSRF: https only, public addresses only
 * (checked after DNS resolution), no redirects. The fetcher reads small bodies within a short
 * deadline (OAuth Client ID Metadata Documents, oauth/cimd.ts); the downloader streams a file a
 * user named (upload_file sends it on to Notion).
 */

/** Sent on every fetch, so the client's operator can see who asks and why (draft §9.1: fetches are visible). */
export const CIMD_USER_AGENT = `notion-mcp-remote/${VERSION} (+client metadata fetch)`;

export interface FetchedDocument {
  status: number;
  /** Header names are lower-case. */
  headers: Record<string, string | undefined>;
  body: string;
}

/** Fetches a URL; throws on network error, timeout, size overflow or a refused address. */
export type CimdFetcher = (url: string, opts: { timeoutMs: number; maxBytes: number }) => Promise<FetchedDocument>;

// Special-purpose IPv4 ranges (RFC 6890 and successors): none of these is a public server.
const V4_BLOCKED: [string, number][] = [
  ['0.0.0.0', 8], // "this network", includes unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, includes cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes broadcast 255.255.255.255
];
// IPv6 is an allow-list: only global unicast 2000::/3, minus its special blocks. This rejects
// ::, ::1, fc00::/7, fe80::/10, ff00::/8, NAT64 and every other odd prefix in one go.
const V6_BLOCKED: [string, number][] = [
  ['2001::', 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID...)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an arbitrary IPv4 address
  ['3fff::', 20], // documentation (RFC 9637)
];

const v4Blocked = new BlockList();
for (const [net, prefix] of V4_BLOCKED) v4Blocked.addSubnet(net, prefix, 'ipv4');
const v6Blocked = new BlockList();
for (const [net, prefix] of V6_BLOCKED) v6Blocked.addSubnet(net, prefix, 'ipv6');
const v6Global = new BlockList();
v6Global.addSubnet('2000::', 3, 'ipv6');

/** True when `ip` is a literal IP address that is safe for us to connect to. Fails closed. */
export function isPublicAddress(ip: string): boolean {
  const version = isIP(ip);
  if (version === 4) return !v4Blocked.check(ip, 'ipv4');
  if (version !== 6) return false;
  let canonical: string;
  try {
    canonical = new URL(`http://[${ip}]`).hostname.slice(1, -1); // also rejects zone ids
  } catch {
    return false;
  }
  // IPv4-mapped (::ffff:a.b.c.d, serialized as ::ffff:XXXX:XXXX): judge the IPv4 address.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const n = (parseInt(mapped[1] ?? '', 16) << 16) | parseInt(mapped[2] ?? '', 16);
    return isPublicAddress([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'));
  }
  return v6Global.check(canonical, 'ipv6') && !v6Blocked.check(canonical, 'ipv6');
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A socket `lookup` that refuses any resolved address `allowed` rejects. It sits after DNS
 * resolution and on the very address we connect to, so DNS rebinding cannot slip through.
 */
function guardedLookup(lookup: typeof dnsLookup, allowed: (ip: string) => boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    (lookup as unknown as (h: string, o: LookupOptions, cb: LookupCallback) => void)(hostname, options, (err, address, family) => {
      if (err) return callback(err, address, family);
      // Node asks for all addresses when it races IPv4/IPv6 (autoSelectFamily): check each.
      const all = Array.isArray(address) ? address : [{ address, family: family ?? 0 }];
      const bad = all.find((a) => !allowed(a.address));
      if (bad) return callback(new Error(`${hostname} resolves to ${bad.address}, which is not a public address`), address, family);
      callback(null, address, family);
    });
  };
}

/** Who may be contacted: the socket's guarded lookup, and the check for IP literals it does not see. */
interface Guard {
  allowed: (ip: string) => boolean;
  lookup: ReturnType<typeof guardedLookup>;
  /** For tests only: extra trusted CA certificates. */
  ca?: string | undefined;
}

/**
 * For tests only, to reach a loopback stand-in for a real host: which addresses may be contacted
 * (default: public ones) and extra trusted CA certificates (default: none).
 */
export type Testing = { allowAddress?: (ip: string) => boolean; ca?: string };

function guard(lookup: typeof dnsLookup, testing: Testing): Guard {
  const allowed = testing.allowAddress ?? isPublicAddress;
  return { allowed, lookup: guardedLookup(lookup, allowed), ca: testing.ca };
}

/**
 * Starts a GET of `rawUrl` under `g` (https only, allowed addresses only, no redirects followed:
 * node:https never follows them); throws for a URL refused before any connection.
 */
function get(rawUrl: string, g: Guard, headers: Record<string, string>, signal: AbortSignal | undefined, onResponse: (res: IncomingMessage) => void): ClientRequest {
  const url = new URL(rawUrl);
  if (url.protocol !== 'https:') throw new Error(`refusing ${url.protocol} URL: only https is allowed`);
  // Node skips `lookup` for IP literals, so check those here.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) && !g.allowed(host)) throw new Error(`${host} is not a public address`);
  return request(url, { method: 'GET', headers, lookup: g.lookup, agent: false, ...(signal ? { signal } : {}), ...(g.ca ? { ca: g.ca } : {}) }, onResponse);
}

const headersOf = (res: IncomingMessage): Record<string, string | undefined> => {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(res.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
};

/** The real fetcher; the address check sits in the socket's `lookup` (guardedLookup). */
export function createSafeFetcher(lookup: typeof dnsLookup = dnsLookup, testing: Testing = {}): CimdFetcher {
  const g = guard(lookup, testing);
  return (rawUrl, { timeoutMs, maxBytes }) =>
    new Promise<FetchedDocument>((resolve, reject) => {
      const req = get(rawUrl, g, { accept: 'application/json', 'user-agent': CIMD_USER_AGENT }, undefined, (res) => {
        const declared = Number(res.headers['content-length']);
        if (declared > maxBytes) return req.destroy(new Error(`response is over ${maxBytes} bytes`));
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return req.destroy(new Error(`response is over ${maxBytes} bytes`));
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: headersOf(res), body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      // One deadline for the whole exchange (DNS, connect, TLS, headers and body).
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.on('close', () => clearTimeout(timer));
      req.end();
    });
}

/** Sent on every download, so the file's host can see who fetches it and why. */
const DOWNLOAD_USER_AGENT = `notion-mcp-remote/${VERSION} (+file upload to Notion)`;

export interface Download {
  status: number;
  /** Header names are lower-case. */
  headers: Record<string, string | undefined>;
  /** The body, to be read as a stream (it may be far larger than memory should hold at once). */
  body: IncomingMessage;
}

/**
 * Opens a GET of a URL a user named, with the same guards as the fetcher, for a body read as a
 * stream (a file sent on to Notion). A source that sends nothing for `idleMs` is dropped;
 * `signal` aborts the download.
 */
export type Downloader = (url: string, opts: { idleMs: number; signal?: AbortSignal | undefined }) => Promise<Download>;

export function createSafeDownloader(lookup: typeof dnsLookup = dnsLookup, testing: Testing = {}): Downloader {
  const g = guard(lookup, testing);
  return (rawUrl, { idleMs, signal }) =>
    new Promise<Download>((resolve, reject) => {
      const req = get(rawUrl, g, { 'user-agent': DOWNLOAD_USER_AGENT }, signal, (res) => resolve({ status: res.statusCode ?? 0, headers: headersOf(res), body: res }));
      req.setTimeout(idleMs, () => req.destroy(new Error(`the source sent nothing for ${idleMs} ms`)));
      req.on('error', reject);
      req.end();
    });
}

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { VERSION } from '../version.js';

/**
 * Fetching a URL someone else named, hardened against SSRF: https only, public addresses only
 * (checked after DNS resolution), no redirects, small bodies, short timeout. Used for OAuth
 * Client ID Metadata Documents (oauth/cimd.ts).
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
export function guardedLookup(lookup: typeof dnsLookup, allowed: (ip: string) => boolean) {
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

/** The real fetcher; the address check sits in the socket's `lookup` (guardedLookup). */
export function createSafeFetcher(
  lookup: typeof dnsLookup = dnsLookup,
  /**
   * For tests only, to reach a loopback stand-in for a real host: which addresses may be
   * contacted (default: public ones) and extra trusted CA certificates (default: none).
   */
  testing: { allowAddress?: (ip: string) => boolean; ca?: string } = {},
): CimdFetcher {
  const allowed = testing.allowAddress ?? isPublicAddress;
  const publicOnly = guardedLookup(lookup, allowed);

  return (rawUrl, { timeoutMs, maxBytes }) =>
    new Promise<FetchedDocument>((resolve, reject) => {
      const url = new URL(rawUrl);
      if (url.protocol !== 'https:') return reject(new Error(`refusing ${url.protocol} URL: only https is allowed`));
      // Node skips `lookup` for IP literals, so check those here.
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) && !allowed(host)) return reject(new Error(`${host} is not a public address`));

      const req = request(
        url,
        {
          method: 'GET',
          headers: { accept: 'application/json', 'user-agent': CIMD_USER_AGENT },
          lookup: publicOnly,
          agent: false,
          ...(testing.ca ? { ca: testing.ca } : {}),
        },
        (res) => {
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
            const headers: Record<string, string | undefined> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              headers[name] = Array.isArray(value) ? value.join(', ') : value;
            }
            resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
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

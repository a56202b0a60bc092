import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import type { lookup as dnsLookup, LookupOptions } from 'node:dns';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { OAuthError } from '../../src/errors.js';
import { CIMD_USER_AGENT, createSafeFetcher, isPublicAddress } from '../../src/lib/safe-fetch.js';
import { CimdResolver, isCimdClientId, type CimdFetcher, type FetchedDocument } from '../../src/oauth/cimd.js';
import { redirectUriMatches } from '../../src/oauth/uris.js';
import { CLAUDE_CIMD_ID, chatgptDoc, claudeDoc, codexDoc } from '../fixtures/apps.js';
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../fixtures/tls.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const quiet = createLogger('silent');
/** Claude's document where Claude serves it (test/fixtures/apps.ts). */
const CLAUDE_DOC = claudeDoc(CLAUDE_CIMD_ID);

/** A fetcher serving fixed responses, counting calls. */
function fakeFetcher(respond: (url: string) => Partial<FetchedDocument> & { json?: unknown }) {
  const calls: string[] = [];
  const fetch: CimdFetcher = async (url) => {
    calls.push(url);
    const r = respond(url);
    return { status: r.status ?? 200, headers: r.headers ?? {}, body: r.body ?? JSON.stringify(r.json) };
  };
  return { fetch, calls };
}

const serve = (json: unknown, headers: Record<string, string> = {}) => fakeFetcher(() => ({ json, headers }));

async function rejection(p: Promise<unknown>): Promise<OAuthError> {
  const err = await p.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OAuthError);
  expect((err as OAuthError).code).toBe('invalid_client');
  return err as OAuthError;
}

describe('CimdResolver: validation', () => {
  it("accepts Claude's real document, without the jwt-bearer grant we do not offer", async () => {
    const { fetch } = serve(CLAUDE_DOC);
    const client = await new CimdResolver({ log: quiet, fetch, now: () => 1234 }).resolve(CLAUDE_CIMD_ID);
    expect(client).toEqual({
      clientId: CLAUDE_CIMD_ID,
      clientName: 'Claude',
      redirectUris: CLAUDE_DOC.redirect_uris,
      grantTypes: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'none',
      metadata: { ...CLAUDE_DOC, grant_types: ['authorization_code', 'refresh_token'] },
      createdAt: 1234,
    });
    expect(client.secretHash).toBeUndefined();
  });

  it('defaults grant types and keeps only present metadata fields', async () => {
    const { fetch } = serve({ client_id: CLAUDE_CIMD_ID, redirect_uris: ['http://127.0.0.1:3000/cb'], extra: 'dropped' });
    const client = await new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID);
    expect(client.grantTypes).toEqual(['authorization_code', 'refresh_token']);
    expect(client.metadata).toEqual({ client_id: CLAUDE_CIMD_ID, redirect_uris: ['http://127.0.0.1:3000/cb'] });
  });

  it('truncates a long client_name to 100 characters', async () => {
    const { fetch } = serve({ ...CLAUDE_DOC, client_name: 'x'.repeat(300) });
    const client = await new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID);
    expect(client.clientName).toBe('x'.repeat(100));
  });

  it('rejects a client_id that is not the URL itself', async () => {
    const { fetch } = serve({ ...CLAUDE_DOC, client_id: 'https://claude.ai/other' });
    const err = await rejection(new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID));
    expect(err.description).toMatch(/client_id/);
  });

  it('rejects a client_id that is not a CIMD URL without fetching', async () => {
    const { fetch, calls } = serve(CLAUDE_DOC);
    await rejection(new CimdResolver({ log: quiet, fetch }).resolve('http://claude.ai/oauth/x'));
    expect(calls).toHaveLength(0);
  });

  it.each([
    ['missing', undefined],
    ['empty', []],
    ['not strings', [42]],
  ])('rejects redirect_uris %s', async (_label, redirectUris) => {
    const { fetch } = serve({ ...CLAUDE_DOC, redirect_uris: redirectUris });
    const err = await rejection(new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID));
    expect(err.description).toMatch(/redirect_uris/);
  });

  it.each(['http://evil.example/cb', 'http://10.0.0.1/cb', 'https://claude.ai/cb#frag', 'javascript:alert(1)', 'data:text/html,x', 'web+app:/cb', '/relative'])(
    'rejects redirect_uri %s',
    async (uri) => {
      const { fetch } = serve({ ...CLAUDE_DOC, redirect_uris: ['https://claude.ai/ok', uri] });
      const err = await rejection(new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID));
      expect(err.description).toContain(JSON.stringify(uri));
    },
  );

  it.each(['cursor://anysphere.cursor-mcp/oauth/callback', 'com.example.app:/oauth2redirect', 'myapp:/cb'])('accepts private-use scheme redirect_uri %s (RFC 8252 §7.1), as DCR does', async (uri) => {
    const { fetch } = serve({ ...CLAUDE_DOC, redirect_uris: [uri] });
    expect((await new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID)).redirectUris).toEqual([uri]);
  });

  it.each(['http://localhost:8080/cb', 'http://127.0.0.1/cb', 'http://[::1]:9/cb'])('accepts loopback http redirect_uri %s', async (uri) => {
    const { fetch } = serve({ ...CLAUDE_DOC, redirect_uris: [uri] });
    expect((await new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID)).redirectUris).toEqual([uri]);
  });

  it.each([
    ['client_secret', { client_secret: 's3cret' }, /secret/],
    ['client_secret_expires_at', { client_secret_expires_at: 0 }, /secret/],
    ['client_secret_post', { token_endpoint_auth_method: 'client_secret_post' }, /token_endpoint_auth_method/],
    ['private_key_jwt', { token_endpoint_auth_method: 'private_key_jwt' }, /token_endpoint_auth_method/],
    ['private_key_jwt without none among the methods it supports', { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_methods_supported: ['private_key_jwt'], jwks_uri: 'https://claude.ai/jwks.json' }, /token_endpoint_auth_method/],
    ['client_secret_basic even with none supported', { token_endpoint_auth_method: 'client_secret_basic', token_endpoint_auth_methods_supported: ['none', 'client_secret_basic'] }, /token_endpoint_auth_method/],
    ['grant types without authorization_code', { grant_types: ['client_credentials'] }, /without "authorization_code"/],
    ['only refresh_token', { grant_types: ['refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'] }, /without "authorization_code"/],
    ['a non-string client_name', { client_name: 7 }, /client_name/],
    ['response_types token', { response_types: ['token'] }, /response_types/],
  ])('rejects %s', async (_label, extra, message) => {
    const { fetch } = serve({ ...CLAUDE_DOC, ...extra });
    const err = await rejection(new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID));
    expect(err.description).toMatch(message);
  });

  it('narrows grant and response types to the ones we support, never adding one (RFC 7591 §2)', async () => {
    const { fetch } = serve({ ...CLAUDE_DOC, grant_types: ['authorization_code', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'], response_types: ['code', 'id_token'] });
    const client = await new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID);
    expect(client.grantTypes).toEqual(['authorization_code']);
    expect(client.metadata.grant_types).toEqual(['authorization_code']);
    expect(client.metadata.response_types).toEqual(['code']);
  });

  it('rejects a document larger than maxBytes even when the fetcher returned it', async () => {
    const { fetch } = serve({ ...CLAUDE_DOC, client_uri: `https://claude.ai/${'a'.repeat(6000)}` });
    const err = await rejection(new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID));
    expect(err.description).toBe(`client metadata document at ${CLAUDE_CIMD_ID} is too large (over 5120 bytes)`);
  });

  it('passes limits to the fetcher and reports its failure', async () => {
    const seen: unknown[] = [];
    const fetch: CimdFetcher = async (_url, opts) => {
      seen.push(opts);
      throw new Error('response is over 5120 bytes');
    };
    const err = await rejection(new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID));
    expect(seen).toEqual([{ timeoutMs: 5000, maxBytes: 5120 }]);
    expect(err.description).toBe(`client metadata document at ${CLAUDE_CIMD_ID} could not be fetched`);
  });

  it.each([404, 500, 204])('rejects HTTP %i', async (status) => {
    const { fetch } = fakeFetcher(() => ({ status, json: CLAUDE_DOC }));
    const err = await rejection(new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID));
    expect(err.description).toContain(`HTTP ${status}`);
  });

  it.each([301, 302, 307, 308])('rejects a %i redirect', async (status) => {
    const { fetch } = fakeFetcher(() => ({ status, headers: { location: 'http://127.0.0.1/' }, body: '' }));
    const err = await rejection(new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID));
    expect(err.description).toMatch(/redirect/);
  });

  it.each([
    ['not JSON', '<html>hello</html>', /not valid JSON/],
    ['a JSON array', '[]', /not a JSON object/],
    ['JSON null', 'null', /not a JSON object/],
  ])('rejects a body that is %s', async (_label, body, message) => {
    const { fetch } = fakeFetcher(() => ({ body }));
    const err = await rejection(new CimdResolver({ log: quiet, fetch }).resolve(CLAUDE_CIMD_ID));
    expect(err.description).toMatch(message);
  });
});

describe('CimdResolver: caching', () => {
  it('serves a second resolve from cache', async () => {
    const { fetch, calls } = serve(CLAUDE_DOC);
    const resolver = new CimdResolver({ log: quiet, fetch });
    const a = await resolver.resolve(CLAUDE_CIMD_ID);
    const b = await resolver.resolve(CLAUDE_CIMD_ID);
    expect(b).toEqual(a);
    expect(calls).toHaveLength(1);
  });

  it('does not cache with Cache-Control: no-store', async () => {
    const { fetch, calls } = serve(CLAUDE_DOC, { 'cache-control': 'private, no-store' });
    const resolver = new CimdResolver({ log: quiet, fetch });
    await resolver.resolve(CLAUDE_CIMD_ID);
    await resolver.resolve(CLAUDE_CIMD_ID);
    expect(calls).toHaveLength(2);
  });

  it('honours max-age with an injected clock', async () => {
    let now = 0;
    const { fetch, calls } = serve(CLAUDE_DOC, { 'cache-control': 'public, max-age=60' });
    const resolver = new CimdResolver({ log: quiet, fetch, now: () => now });
    await resolver.resolve(CLAUDE_CIMD_ID);
    now = 59_999;
    await resolver.resolve(CLAUDE_CIMD_ID);
    expect(calls).toHaveLength(1);
    now = 60_000;
    await resolver.resolve(CLAUDE_CIMD_ID);
    expect(calls).toHaveLength(2);
  });

  it('caps max-age at maxCacheTtlMs and defaults to defaultCacheTtlMs', async () => {
    let now = 0;
    const capped = serve(CLAUDE_DOC, { 'cache-control': 'max-age=999999' });
    const r1 = new CimdResolver({ log: quiet, fetch: capped.fetch, now: () => now, maxCacheTtlMs: 1000 });
    await r1.resolve(CLAUDE_CIMD_ID);
    now = 1000;
    await r1.resolve(CLAUDE_CIMD_ID);
    expect(capped.calls).toHaveLength(2);

    now = 0;
    const plain = serve(CLAUDE_DOC);
    const r2 = new CimdResolver({ log: quiet, fetch: plain.fetch, now: () => now, defaultCacheTtlMs: 500 });
    await r2.resolve(CLAUDE_CIMD_ID);
    now = 499;
    await r2.resolve(CLAUDE_CIMD_ID);
    expect(plain.calls).toHaveLength(1);
    now = 500;
    await r2.resolve(CLAUDE_CIMD_ID);
    expect(plain.calls).toHaveLength(2);
  });

  it('takes the Age a CDN already held the document off max-age, and reads a quoted max-age', async () => {
    let now = 0;
    const aged = serve(CLAUDE_DOC, { 'cache-control': 'public, max-age=3600', age: '3000' });
    const r1 = new CimdResolver({ log: quiet, fetch: aged.fetch, now: () => now });
    await r1.resolve(CLAUDE_CIMD_ID);
    now = 599_999;
    await r1.resolve(CLAUDE_CIMD_ID);
    expect(aged.calls).toHaveLength(1);
    now = 600_000;
    await r1.resolve(CLAUDE_CIMD_ID);
    expect(aged.calls).toHaveLength(2);

    now = 0;
    const stale = serve(CLAUDE_DOC, { 'cache-control': 'max-age=60', age: '120' });
    const r2 = new CimdResolver({ log: quiet, fetch: stale.fetch, now: () => now });
    await r2.resolve(CLAUDE_CIMD_ID);
    await r2.resolve(CLAUDE_CIMD_ID);
    expect(stale.calls).toHaveLength(2);

    const quoted = serve(CLAUDE_DOC, { 'cache-control': 'max-age="60"' });
    const r3 = new CimdResolver({ log: quiet, fetch: quoted.fetch, now: () => now });
    await r3.resolve(CLAUDE_CIMD_ID);
    now = 59_999;
    await r3.resolve(CLAUDE_CIMD_ID);
    expect(quoted.calls).toHaveLength(1);
  });

  it('never caches failures', async () => {
    let status = 500;
    const { fetch, calls } = fakeFetcher(() => ({ status, json: CLAUDE_DOC }));
    const resolver = new CimdResolver({ log: quiet, fetch });
    await rejection(resolver.resolve(CLAUDE_CIMD_ID));
    status = 200;
    expect((await resolver.resolve(CLAUDE_CIMD_ID)).clientId).toBe(CLAUDE_CIMD_ID);
    expect(calls).toHaveLength(2);
  });

  it('shares one in-flight fetch between concurrent resolves', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const fetch: CimdFetcher = async () => {
      calls++;
      await gate;
      return { status: 200, headers: { 'cache-control': 'no-store' }, body: JSON.stringify(CLAUDE_DOC) };
    };
    const resolver = new CimdResolver({ log: quiet, fetch });
    const both = Promise.all([resolver.resolve(CLAUDE_CIMD_ID), resolver.resolve(CLAUDE_CIMD_ID)]);
    release();
    const [a, b] = await both;
    expect(a).toBe(b);
    expect(calls).toBe(1);
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const urls = ['https://a.example/c', 'https://b.example/c', 'https://c.example/c'];
    const { fetch, calls } = fakeFetcher((url) => ({ json: { client_id: url, redirect_uris: ['https://a.example/cb'] } }));
    const resolver = new CimdResolver({ log: quiet, fetch, maxEntries: 2 });
    await resolver.resolve(urls[0]!);
    await resolver.resolve(urls[1]!);
    await resolver.resolve(urls[0]!); // a is now the most recent
    await resolver.resolve(urls[2]!); // evicts b
    expect(calls).toEqual([urls[0], urls[1], urls[2]]);
    await resolver.resolve(urls[0]!);
    await resolver.resolve(urls[1]!);
    expect(calls).toEqual([urls[0], urls[1], urls[2], urls[1]]);
  });
});

describe('isCimdClientId', () => {
  it.each([
    [CLAUDE_CIMD_ID, true],
    ['https://example.com/client.json', true],
    ['https://example.com:8443/c', true],
    ['http://example.com/c', false],
    ['https://example.com', false],
    ['https://example.com/', false],
    ['https://example.com/c?x=1', false],
    ['https://example.com/c?', false],
    ['https://example.com/c#f', false],
    ['https://user:pw@example.com/c', false],
    ['https://user@example.com/c', false],
    ['https://example.com/a/../c', false],
    ['https://example.com/./c', false],
    ['https://example.com/a/%2e%2e/c', false],
    ['HTTPS://Example.com/c', false],
    ['not a url', false],
    ['', false],
  ])('%s → %s', (id, expected) => {
    expect(isCimdClientId(id)).toBe(expected);
  });
});

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['93.184.216.34', true],
    ['2606:4700::1111', true],
    ['2001:4860:4860::8888', true],
    ['::ffff:8.8.8.8', true],
    ['127.0.0.1', false],
    ['127.255.255.254', false],
    ['10.0.0.1', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['0.1.2.3', false],
    ['224.0.0.1', false],
    ['240.0.0.1', false],
    ['255.255.255.255', false],
    ['192.0.2.1', false],
    ['198.51.100.1', false],
    ['203.0.113.1', false],
    ['198.18.0.1', false],
    ['::1', false],
    ['::', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['fd12:3456::1', false],
    ['ff02::1', false],
    ['2001:db8::1', false],
    ['2002:7f00:1::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['::ffff:169.254.169.254', false],
    ['0:0:0:0:0:ffff:7f00:1', false],
    ['64:ff9b::7f00:1', false],
    ['fe80::1%eth0', false],
    ['not-an-ip', false],
    ['', false],
  ])('%s → %s', (ip, expected) => {
    expect(isPublicAddress(ip)).toBe(expected);
  });
});

describe('createSafeFetcher', () => {
  const opts = { timeoutMs: 2000, maxBytes: 5120 };

  /** A TCP listener that only counts connections: proves nothing ever reached it. */
  async function tcpCounter(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
    let count = 0;
    const server: Server = createNetServer((socket) => {
      count++;
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      port: (server.address() as AddressInfo).port,
      connections: () => count,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }

  /** A fake dns.lookup answering every name with the given addresses. */
  function fakeLookup(addresses: string[]) {
    const asked: string[] = [];
    const lookup = ((hostname: string, options: LookupOptions, cb: (...args: unknown[]) => void) => {
      asked.push(hostname);
      const all = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
      if (options.all) cb(null, all);
      else cb(null, all.at(-1)?.address, all.at(-1)?.family);
    }) as unknown as typeof dnsLookup;
    return { lookup, asked };
  }

  it('refuses a literal loopback IP before connecting', async () => {
    const counter = await tcpCounter();
    try {
      await expect(createSafeFetcher()(`https://127.0.0.1:${counter.port}/x`, opts)).rejects.toThrow(/127\.0\.0\.1 is not a public address/);
      await expect(createSafeFetcher()(`https://[::ffff:127.0.0.1]:${counter.port}/x`, opts)).rejects.toThrow(/not a public address/);
      expect(counter.connections()).toBe(0);
    } finally {
      await counter.close();
    }
  });

  it('refuses a name that resolves to a non-public address (DNS rebinding)', async () => {
    const counter = await tcpCounter();
    const { lookup, asked } = fakeLookup(['127.0.0.1']);
    try {
      await expect(createSafeFetcher(lookup)(`https://evil.example:${counter.port}/x`, opts)).rejects.toThrow(
        /evil\.example resolves to 127\.0\.0\.1, which is not a public address/,
      );
      expect(asked).toEqual(['evil.example']);
      expect(counter.connections()).toBe(0);
    } finally {
      await counter.close();
    }
  });

  it('refuses when any resolved address is non-public', async () => {
    const counter = await tcpCounter();
    const { lookup } = fakeLookup(['8.8.8.8', '10.0.0.1']);
    try {
      await expect(createSafeFetcher(lookup)(`https://mixed.example:${counter.port}/x`, opts)).rejects.toThrow(/10\.0\.0\.1, which is not a public address/);
      expect(counter.connections()).toBe(0);
    } finally {
      await counter.close();
    }
  });

  it('never contacts a plain-HTTP server', async () => {
    let requests = 0;
    const server = createHttpServer((_req, res) => {
      requests++;
      res.end(JSON.stringify(CLAUDE_DOC));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const { lookup, asked } = fakeLookup(['8.8.8.8']);
    try {
      await expect(createSafeFetcher(lookup)(`http://localhost:${port}/x`, opts)).rejects.toThrow(/only https/);
      expect(requests).toBe(0);
      expect(asked).toEqual([]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('turns a refusal into invalid_client through the resolver', async () => {
    const { lookup } = fakeLookup(['169.254.169.254']);
    const lines: string[] = [];
    const log = createLogger('warn', new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const err = await rejection(new CimdResolver({ fetch: createSafeFetcher(lookup), log }).resolve('https://metadata.example/c'));
    // The browser-facing reason is generic; the resolution detail goes to the log at warn.
    expect(err.description).toBe('client metadata document at https://metadata.example/c could not be fetched');
    expect(err.description).not.toMatch(/169\.254|resolves|public address/);
    expect(lines.join('')).toMatch(/"level":40.*resolves to 169\.254\.169\.254/);
  });
});

/**
 * The real fetcher against a loopback HTTPS server standing in for claude.ai and chatgpt.com,
 * serving documents shaped like theirs. Only the test widens the address rule (to 127.0.0.1) and
 * trusts the test certificate; everything else is the production fetch.
 */
describe('createSafeFetcher + CimdResolver: the documents of real apps over HTTPS', () => {
  interface Served {
    body: string;
    headers: Record<string, string>;
  }
  const served = new Map<string, Served>();
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  let server: HttpsServer;
  let port: number;
  /** Every name resolves to loopback, where the test server listens. */
  const toLoopback = ((_h: string, options: LookupOptions, cb: (...args: unknown[]) => void) =>
    options.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as unknown as typeof dnsLookup;
  const fetcher = () => createSafeFetcher(toLoopback, { allowAddress: (ip) => ip === '127.0.0.1', ca: TEST_TLS_CERT });
  const url = (host: string, path: string) => `https://${host}:${port}${path}`;
  const publish = (docUrl: string, doc: unknown, headers: Record<string, string> = {}) => {
    const body = typeof doc === 'string' ? doc : JSON.stringify(doc);
    served.set(new URL(docUrl).pathname, { body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
  };

  beforeAll(async () => {
    server = createHttpsServer({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT }, (req, res) => {
      seen.push({ path: req.url ?? '', headers: req.headers });
      const doc = served.get(req.url ?? '');
      if (!doc) return void res.writeHead(404).end();
      res.writeHead(200, doc.headers).end(doc.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("accepts Claude's document and sends an honest User-Agent with Accept: application/json", async () => {
    const id = url('claude.ai', '/oauth/mcp-oauth-client-metadata');
    publish(id, claudeDoc(id), { 'cache-control': 'public, max-age=3600' });
    const before = seen.length;
    const client = await new CimdResolver({ log: quiet, fetch: fetcher() }).resolve(id);
    expect(client.clientName).toBe('Claude');
    expect(client.redirectUris).toEqual(['https://claude.ai/api/mcp/auth_callback']);
    expect(client.grantTypes).toEqual(['authorization_code', 'refresh_token']);
    const request = seen.slice(before);
    expect(request).toHaveLength(1);
    expect(request[0]!.headers['user-agent']).toBe(`notion-mcp-remote/${PACKAGE_VERSION} (+client metadata fetch)`);
    expect(request[0]!.headers['user-agent']).toBe(CIMD_USER_AGENT);
    expect(request[0]!.headers.accept).toBe('application/json');
  });

  it("accepts Codex's stable and per-server documents, and the port Codex adds to their loopback callbacks", async () => {
    const stable = url('chatgpt.com', '/oauth/codex/client.json');
    const perServer = url('chatgpt.com', '/oauth/codex/Ab3dE_fG-h1J/client.json');
    publish(stable, codexDoc(stable));
    publish(perServer, codexDoc(perServer, '/callback/Ab3dE_fG-h1J'));
    const resolver = new CimdResolver({ log: quiet, fetch: fetcher() });
    const a = await resolver.resolve(stable);
    expect(a).toMatchObject({ clientName: 'Codex', tokenEndpointAuthMethod: 'none', grantTypes: ['authorization_code', 'refresh_token'] });
    expect(redirectUriMatches(a.redirectUris, 'http://127.0.0.1:53124/callback')).toBe(true);
    expect(redirectUriMatches(a.redirectUris, 'http://localhost:1455/callback')).toBe(true);
    const b = await resolver.resolve(perServer);
    expect(redirectUriMatches(b.redirectUris, 'http://127.0.0.1:53124/callback/Ab3dE_fG-h1J')).toBe(true);
    expect(redirectUriMatches(b.redirectUris, 'http://127.0.0.1:53124/callback')).toBe(false);
  });

  it("accepts ChatGPT's document, which prefers private_key_jwt but supports none, as a public client", async () => {
    const stable = url('chatgpt.com', '/oauth/client.json');
    const perConnector = url('chatgpt.com', '/oauth/tU1UVEq8rRTK/client.json');
    publish(stable, chatgptDoc(stable));
    publish(perConnector, chatgptDoc(perConnector, 'https://chatgpt.com/connector/oauth/tU1UVEq8rRTK'));
    const resolver = new CimdResolver({ log: quiet, fetch: fetcher() });
    const a = await resolver.resolve(stable);
    expect(a).toMatchObject({
      clientName: 'ChatGPT',
      tokenEndpointAuthMethod: 'none',
      redirectUris: ['https://chatgpt.com/connector_platform_oauth_redirect'],
      grantTypes: ['authorization_code', 'refresh_token'],
    });
    expect(a.secretHash).toBeUndefined();
    expect(a.metadata.token_endpoint_auth_method).toBe('none');
    expect(a.metadata.jwks_uri).toBeUndefined();
    const b = await resolver.resolve(perConnector);
    expect(b.redirectUris).toEqual(['https://chatgpt.com/connector/oauth/tU1UVEq8rRTK']);
    expect(b.tokenEndpointAuthMethod).toBe('none');
    expect(Buffer.byteLength(JSON.stringify(chatgptDoc(stable)))).toBeLessThan(600);
  });

  it.each(['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/client-metadata+json', 'text/plain'])(
    'reads the JSON whatever the content type (%s), a leading BOM included',
    async (type) => {
      const id = url('claude.ai', `/ct/${encodeURIComponent(type)}`);
      publish(id, `\uFEFF${JSON.stringify(claudeDoc(id))}`, { 'content-type': type, 'cache-control': 'no-store' });
      expect((await new CimdResolver({ log: quiet, fetch: fetcher() }).resolve(id)).clientName).toBe('Claude');
    },
  );

  it('reads documents up to 5,120 bytes (draft §8.7 recommends 5 KB; real ones are under 500) and refuses larger ones', async () => {
    const resolver = new CimdResolver({ log: quiet, fetch: fetcher() });
    for (const [host, path, doc] of [
      ['claude.ai', '/oauth/mcp-oauth-client-metadata', claudeDoc],
      ['chatgpt.com', '/oauth/codex/client.json', (id: string) => codexDoc(id)],
    ] as const) {
      expect(Buffer.byteLength(JSON.stringify(doc(url(host, path))))).toBeLessThan(500);
    }
    const padded = (id: string, bytes: number) => {
      const base = JSON.stringify({ ...claudeDoc(id), client_name: 'Claude', pad: '' });
      return base.replace('"pad":""', `"pad":"${'x'.repeat(bytes - Buffer.byteLength(base))}"`);
    };
    const fits = url('claude.ai', '/size/5120');
    publish(fits, padded(fits, 5120), { 'cache-control': 'no-store' });
    expect(Buffer.byteLength(served.get('/size/5120')!.body)).toBe(5120);
    expect((await resolver.resolve(fits)).clientName).toBe('Claude');
    const over = url('claude.ai', '/size/5121');
    publish(over, padded(over, 5121), { 'cache-control': 'no-store' });
    expect(Buffer.byteLength(served.get('/size/5121')!.body)).toBe(5121);
    await rejection(resolver.resolve(over));
  });

  it('honours max-age less Age on the wire, with one fetch while fresh', async () => {
    let now = 0;
    const id = url('chatgpt.com', '/cache/client.json');
    publish(id, codexDoc(id), { 'cache-control': 'public, max-age=600', age: '100' });
    const resolver = new CimdResolver({ log: quiet, fetch: fetcher(), now: () => now });
    const count = () => seen.filter((r) => r.path === '/cache/client.json').length;
    await resolver.resolve(id);
    now = 499_999;
    await resolver.resolve(id);
    expect(count()).toBe(1);
    now = 500_000;
    await resolver.resolve(id);
    expect(count()).toBe(2);
  });

  it('keeps the SSRF rule: the default fetcher refuses the same loopback host before connecting', async () => {
    const id = url('claude.ai', '/oauth/mcp-oauth-client-metadata');
    const before = seen.length;
    await expect(createSafeFetcher(toLoopback)(id, { timeoutMs: 2000, maxBytes: 5120 })).rejects.toThrow(/resolves to 127\.0\.0\.1, which is not a public address/);
    await expect(createSafeFetcher(undefined, { ca: TEST_TLS_CERT })(`https://127.0.0.1:${port}/oauth/mcp-oauth-client-metadata`, { timeoutMs: 2000, maxBytes: 5120 })).rejects.toThrow(/not a public address/);
    // Without the test CA the certificate is not trusted either.
    await expect(createSafeFetcher(toLoopback, { allowAddress: (ip) => ip === '127.0.0.1' })(id, { timeoutMs: 2000, maxBytes: 5120 })).rejects.toThrow(/certificate/);
    expect(seen.length).toBe(before);
  });
});

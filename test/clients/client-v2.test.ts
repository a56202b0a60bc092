/**
 * `@modelcontextprotocol/client` 2.x as a real client, in each of its version-negotiation modes:
 * - default (`'legacy'`): the 2025 `initialize` sequence;
 * - `'auto'` (dual era): probes `server/discover` at 2026-07-28 and falls back to `initialize`
 *   unless the server gives definitive modern evidence;
 * - `{ pin: '2026-07-28' }` (modern): no `initialize`, per-request `_meta`, no fallback.
 * The SDK does discovery from our 401 (RFC 9728 → RFC 8414), registration (DCR, or CIMD when the
 * provider has a clientMetadataUrl: the client's choice), PKCE, checks `iss` (RFC 9207) in
 * finishAuth and exchanges the code; a person approves in headless Chromium. For CIMD the server's
 * download of the document goes to `cimdFetch` (the client's web host; there is no network here).
 */
import {
  Client,
  type OAuthClientProvider,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  type VersionNegotiationMode,
} from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import type { CimdFetcher } from '../../src/oauth/cimd.js';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import {
  MemoryOAuthProvider,
  approveAuthorization,
  expectFullFlow,
  expectOurTools,
  expectSearchAs,
  observingFetch,
  stackAndBrowser,
  startLoopbackCallback,
} from './support.js';

/** Where the CIMD test client "publishes" its client ID metadata document. */
const CIMD_URL = 'https://client.example/oauth/mcp-client-metadata.json';

describe('@modelcontextprotocol/client 2.x', () => {
  /** The documents the client's web host serves: what the server downloads for a CIMD client_id. */
  const documents = new Map<string, unknown>();
  const cimdFetch: CimdFetcher = async (url) => {
    const doc = documents.get(url);
    if (!doc) return { status: 404, headers: {}, body: 'not found' };
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) };
  };
  const env = stackAndBrowser({ stack: { cimdFetch }, resetEach: true });

  /**
   * The whole flow in one negotiation mode; returns the connected client's era and the JSON-RPC
   * methods its authorized connection sent to /mcp.
   */
  async function connectAndSearch(
    mode: VersionNegotiationMode | undefined,
    label: string,
    registration: 'dcr' | 'cimd' = 'dcr',
  ): Promise<{ era: string | undefined; methods: string[] }> {
    const { stack, browser } = env;
    const ws = fakeWorkspace(`SDK two ${label}`);
    const callback = await startLoopbackCallback();
    const provider = new MemoryOAuthProvider(callback.url, `SDK v2 test client (${label})`, registration === 'cimd' ? CIMD_URL : undefined);
    if (registration === 'cimd') documents.set(CIMD_URL, { client_id: CIMD_URL, ...provider.clientMetadata });
    const serverUrl = new URL(`${stack.baseUrl}/mcp`);
    const options = mode === undefined ? {} : { versionNegotiation: { mode } };
    const clients: Client[] = [];
    try {
      const first = new Client({ name: 'sdk-v2-test', version: '2.0.0' }, options);
      clients.push(first);
      const transport1 = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider as unknown as OAuthClientProvider });
      await expect(first.connect(transport1)).rejects.toBeInstanceOf(UnauthorizedError);
      // DCR saves the registered client; with CIMD the URL itself is the client_id.
      expect(provider.clientInfo?.client_id).toEqual(registration === 'cimd' ? CIMD_URL : expect.any(String));

      const query = await approveAuthorization(browser, stack, provider, callback, serverUrl, ws);
      await transport1.finishAuth(query); // validates iss against the discovered issuer
      expect(provider.saved?.access_token).toBeTruthy();

      const client = new Client({ name: 'sdk-v2-test', version: '2.0.0' }, options);
      clients.push(client);
      const observed = observingFetch(serverUrl.href);
      await client.connect(
        new StreamableHTTPClientTransport(serverUrl, { authProvider: provider as unknown as OAuthClientProvider, fetch: observed.fetch }),
      );

      const { tools } = await client.listTools();
      expectOurTools(tools.map((t) => t.name));

      stack.fake.requests.length = 0;
      expectSearchAs(stack, ws, await client.callTool({ name: 'search', arguments: {} }));
      expectFullFlow(stack, registration);
      expect(observed.sent.every((s) => s.bearer)).toBe(true);
      return { era: client.getProtocolEra(), methods: observed.sent.map((s) => s.method) };
    } finally {
      for (const c of clients) await c.close().catch(() => undefined);
      await callback.close();
    }
  }

  it('default mode (legacy era, initialize): full OAuth flow, tools/list, tools/call as the user', async () => {
    const { era, methods } = await connectAndSearch(undefined, 'default');
    expect(era).toBe('legacy');
    expect(methods).toEqual(['initialize', 'notifications/initialized', 'tools/list', 'tools/call']);
  });

  it('default mode with a client ID metadata document (CIMD, no /register): full flow as the user', async () => {
    const { era, methods } = await connectAndSearch(undefined, 'cimd', 'cimd');
    expect(era).toBe('legacy');
    expect(methods).toEqual(['initialize', 'notifications/initialized', 'tools/list', 'tools/call']);
  });

  it('auto mode (dual era): probes server/discover, then speaks 2026-07-28', async () => {
    const { era, methods } = await connectAndSearch('auto', 'auto');
    expect(methods[0]).toBe('server/discover');
    expect(era).toBe('modern');
    expect(methods).not.toContain('initialize');
  });

  it('pinned 2026-07-28 (modern era, no initialize): full OAuth flow, tools/list, tools/call', async () => {
    const { era, methods } = await connectAndSearch({ pin: '2026-07-28' }, 'modern');
    expect(era).toBe('modern');
    expect(methods).toEqual(['server/discover', 'tools/list', 'tools/call']);
  });
});

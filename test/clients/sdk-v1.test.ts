/**
 * `@modelcontextprotocol/sdk` 1.x as a real client (the legacy era: `initialize`, 2025-11-25):
 * its StreamableHTTPClientTransport with an OAuthClientProvider does discovery from our 401,
 * dynamic registration, PKCE and the token exchange; a person approves in headless Chromium.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { describe, expect, it } from 'vitest';
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

describe('@modelcontextprotocol/sdk 1.x client (legacy era)', () => {
  const env = stackAndBrowser();

  it('discovers, registers, gets consent, exchanges the code, lists tools and searches as the user', async () => {
    const { stack, browser } = env;
    const ws = fakeWorkspace('SDK one');
    const callback = await startLoopbackCallback();
    const provider = new MemoryOAuthProvider(callback.url, 'SDK v1 test client');
    const serverUrl = new URL(`${stack.baseUrl}/mcp`);
    const clients: Client[] = [];
    try {
      // First connect: no token, so the transport meets our 401, runs auth() and hands the
      // authorization URL to the provider, then throws UnauthorizedError.
      const first = new Client({ name: 'sdk-v1-test', version: '1.0.0' });
      clients.push(first);
      const transport1 = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider as unknown as OAuthClientProvider });
      await expect(first.connect(transport1)).rejects.toBeInstanceOf(UnauthorizedError);
      expect(provider.clientInfo?.client_id).toBeTruthy(); // registered by DCR

      const query = await approveAuthorization(browser, stack, provider, callback, serverUrl, ws);
      await transport1.finishAuth(query.get('code')!);
      expect(provider.saved?.access_token).toBeTruthy();

      // Second connect with the tokens: initialize, tools/list, tools/call.
      const client = new Client({ name: 'sdk-v1-test', version: '1.0.0' });
      clients.push(client);
      const observed = observingFetch(serverUrl.href);
      await client.connect(
        new StreamableHTTPClientTransport(serverUrl, { authProvider: provider as unknown as OAuthClientProvider, fetch: observed.fetch }),
      );
      expect(client.getServerVersion()?.name).toBeTruthy();

      const { tools } = await client.listTools();
      expectOurTools(tools.map((t) => t.name));

      stack.fake.requests.length = 0;
      expectSearchAs(stack, ws, await client.callTool({ name: 'search', arguments: {} }));
      expectFullFlow(stack, 'dcr');
      expect(observed.sent).toEqual(
        ['initialize', 'notifications/initialized', 'tools/list', 'tools/call'].map((method) => ({ method, bearer: true })),
      );
    } finally {
      for (const c of clients) await c.close().catch(() => undefined);
      await callback.close();
    }
  });
});

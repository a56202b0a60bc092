/**
 * Choosing toolsets on the consent page as a person does: headless Chromium against the real app
 * and a fake Notion; the MCP side (token exchange, tools/list, tool calls) over HTTP.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { CLAUDE_CALLBACK, type RegisteredClient, type TokenSet, authorizeUrl, mcpPost, pkce, register, tokenRequest } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { expectAccessible, launchChromium, screenshots } from './support.js';

const COMMENT = { op: 'get_comments', args: { block_id: '59833787-2cf9-4fdf-8782-e53db20768a5' } };

describe('toolsets on the consent page (Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let claude: RegisteredClient;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  beforeEach(async () => {
    stack.fake.reset();
    claude = await register(stack.baseUrl);
    context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
  });
  afterEach(async () => context?.close());

  /** Approves the open consent page, allows on the fake Notion screen, and exchanges the code Claude gets. */
  async function approveAndConnect(verifier: string): Promise<TokenSet> {
    await page.getByRole('button', { name: /^approve/i }).click();
    await page.waitForURL((u) => u.href.startsWith(`${stack.fake.url}/v1/oauth/authorize?`));
    stack.fake.authorizeAs = fakeWorkspace('A');
    const back = new Promise<URL>((resolve) => page.on('request', (r) => r.url().startsWith(CLAUDE_CALLBACK) && resolve(new URL(r.url()))));
    await page.getByRole('link', { name: 'Allow access' }).click().catch(() => undefined); // the callback host is unreachable
    const code = (await back).searchParams.get('code')!;
    const res = await tokenRequest(stack.baseUrl, claude, { grant_type: 'authorization_code', code, redirect_uri: CLAUDE_CALLBACK, code_verifier: verifier });
    expect(res.status).toBe(200);
    return (await res.json()) as TokenSet;
  }

  const rpc = async (token: string, method: string, params?: unknown) => mcpPost(stack.baseUrl, token, { jsonrpc: '2.0', id: 1, method, params });

  it('unticking Comments: the app lists no comments tool, and a comment call gets a clear tool error', async () => {
    const { verifier, challenge } = pkce();
    await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge }));
    const group = page.getByRole('group', { name: 'What it may use' });
    const boxes = group.getByRole('checkbox');
    expect(await boxes.count()).toBe(5);
    for (const box of await boxes.all()) expect(await box.isChecked()).toBe(true);
    const comments = group.getByRole('checkbox', { name: /^Comments/ });
    // Keyboard: focus it and toggle with Space, as a keyboard user does.
    await comments.focus();
    await page.keyboard.press('Space');
    expect(await comments.isChecked()).toBe(false);
    expect(await page.getByRole('checkbox', { name: /^Only content written by members/ }).isChecked()).toBe(false);
    await expectAccessible(page);
    await screenshots(page, 'consent-toolsets');

    const tokens = await approveAndConnect(verifier);
    expect(tokens.scope).toBe('notion:read notion:write notion:pages notion:databases notion:files notion:users');
    const listed = (await (await rpc(tokens.access_token, 'tools/list')).json()) as { result: { tools: { name: string }[] } };
    const names = listed.result.tools.map((t) => t.name);
    expect(names).not.toContain('comments');
    expect(names).toContain('search');

    stack.fake.reset();
    const res = await rpc(tokens.access_token, 'tools/call', { name: 'comments', arguments: COMMENT });
    expect(res.status).toBe(200);
    const reply = (await res.json()) as { result: { isError: boolean; content: { text: string }[] } };
    expect(reply.result.isError).toBe(true);
    const { error } = JSON.parse(reply.result.content[0]!.text);
    expect(error.code).toBe('toolset_not_allowed');
    expect(error.message).toMatch(/Comments.*Your connections/);
    expect(stack.fake.requests.filter((r) => r.path.startsWith('/v1/comments'))).toEqual([]);
  });

  it('step-up: an app that asked for toolset scopes gets 403 insufficient_scope, and its new request shows those toolsets ticked', async () => {
    const { verifier, challenge } = pkce();
    await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge, scope: 'notion:read notion:write notion:pages' }));
    const group = page.getByRole('group', { name: 'What it may use' });
    expect(await group.getByRole('checkbox', { checked: true }).count()).toBe(1);
    const tokens = await approveAndConnect(verifier);

    const res = await rpc(tokens.access_token, 'tools/call', { name: 'comments', arguments: COMMENT });
    expect(res.status).toBe(403);
    const scope = /scope="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(scope).toBe('notion:read notion:write notion:pages notion:comments');

    await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge: pkce().challenge, scope }));
    const ticked = await page.locator('input[name=toolset]:checked').evaluateAll((els) => els.map((el) => (el as any).value));
    expect(ticked).toEqual(['pages', 'comments']);
  });

  it('step-up to every toolset names each one, so the new consent ticks them all whatever the defaults', async () => {
    const { verifier, challenge } = pkce();
    await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge, scope: 'notion:read notion:pages notion:databases notion:files notion:users' }));
    const tokens = await approveAndConnect(verifier);
    const res = await rpc(tokens.access_token, 'tools/call', { name: 'comments', arguments: COMMENT });
    expect(res.status).toBe(403);
    expect(/scope="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1]).toBe('notion:read notion:pages notion:databases notion:comments notion:files notion:users');
  });
});

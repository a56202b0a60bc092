/**
 * "Your connections" in a real browser: sign in with (fake) Notion, see the grants made through
 * the normal OAuth flow, disconnect one (its token then gets 401 on /mcp), and never see or touch
 * another user's grants.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { connect, mcpPost } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { expectAccessible, launchChromium, signIn } from './support.js';

const ping = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

describe('your connections (Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<Page> {
    const context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    return context.newPage();
  }

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  beforeEach(() => {
    stack.fake.reset();
    stack.fake.authorizeAs = null;
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });

  it('signs in with Notion, lists the grant, disconnects it, and its token then gets 401 on /mcp', async () => {
    const a = fakeWorkspace('A');
    const { tokens } = await connect(stack, a, 'read');
    expect((await mcpPost(stack.baseUrl, tokens.access_token, ping)).status).toBe(200);
    const tokensBefore = new Set(stack.fake.tokens.keys());

    const page = await newPage();
    await signIn(page, stack, a);
    // The sign-in got a Notion token of its own (kept for undo until sign-out, see activity.test.ts)...
    const signInToken = [...stack.fake.tokens.keys()].find((t) => !tokensBefore.has(t));
    expect(signInToken).toBeDefined();
    expect(stack.fake.revoked.has(signInToken!)).toBe(false);
    // ...and the connector's own grant still works.
    expect((await mcpPost(stack.baseUrl, tokens.access_token, ping)).status).toBe(200);

    const items = page.locator('ul.grants > li');
    expect(await items.count()).toBe(1);
    const item = await items.first().innerText();
    expect(item).toContain('Claude');
    expect(item).toContain('Workspace A');
    expect(item).toContain('Read only');
    expect(await page.locator('main').innerText()).toMatch(/Notion → Settings → Connections/);

    await page.getByRole('button', { name: /^Disconnect/ }).click();
    await page.waitForURL(`${stack.baseUrl}/connections?disconnected=1`);
    expect(await page.locator('ul.grants > li').count()).toBe(0);
    expect(await page.getByRole('status').innerText()).toMatch(/Disconnected/);

    expect((await mcpPost(stack.baseUrl, tokens.access_token, ping)).status).toBe(401);
  });

  it('user B never sees A’s grants, and a forged disconnect of A’s grant from B’s session gets 404', async () => {
    const a = fakeWorkspace('Alice');
    const b = fakeWorkspace('Bob');
    const { tokens: aTokens } = await connect(stack, a);
    await connect(stack, b);
    const aGrant = (await stack.app.store.listGrantsByUser(a.user.id))[0]!;

    const pageB = await newPage();
    await signIn(pageB, stack, b);
    const text = await pageB.locator('main').innerText();
    expect(text).toContain('Workspace Bob');
    expect(text).not.toContain('Workspace Alice');
    expect(await pageB.content()).not.toContain(aGrant.id);

    // A well-formed POST from B's session (B's own CSRF token) naming A's grant.
    const csrf = await pageB.locator('input[name="csrf"]').first().inputValue();
    const forged = await pageB.request.post(`${stack.baseUrl}/connections/disconnect`, {
      form: { grant: aGrant.id, csrf },
      headers: { accept: 'text/html' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(404);
    expect(forged.headers()['content-type']).toMatch(/^text\/html/);
    expect(await stack.app.store.getGrant(aGrant.id)).not.toBeNull();
    expect((await mcpPost(stack.baseUrl, aTokens.access_token, ping)).status).toBe(200);

    // Without the session's CSRF token nothing happens either.
    const noCsrf = await pageB.request.post(`${stack.baseUrl}/connections/disconnect`, { form: { grant: aGrant.id }, maxRedirects: 0 });
    expect(noCsrf.status()).toBe(403);
  });

  it('without a session, /connections shows only the sign-in, and a disconnect POST is refused', async () => {
    const page = await newPage();
    await page.goto(`${stack.baseUrl}/connections`);
    expect(await page.getByRole('link', { name: 'Sign in with Notion' }).isVisible()).toBe(true);
    expect(await page.locator('ul.grants').count()).toBe(0);
    const res = await page.request.post(`${stack.baseUrl}/connections/disconnect`, { form: { grant: 'x', csrf: 'y' }, maxRedirects: 0 });
    expect(res.status()).toBe(401);
  });

  it('changes what a connection may use, by keyboard, without reconnecting: the same token lists fewer tools at once', async () => {
    const a = fakeWorkspace('Toolsets');
    const { tokens } = await connect(stack, a, 'write');
    const names = async () =>
      ((await (await mcpPost(stack.baseUrl, tokens.access_token, ping)).json()) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name);
    expect(await names()).toContain('comments');

    const page = await newPage();
    await signIn(page, stack, a);
    const item = page.locator('ul.grants > li').first();
    const comments = item.getByRole('checkbox', { name: /Comments/ });
    const lockdown = item.getByRole('checkbox', { name: /Only content written by members/ });
    expect(await comments.isChecked()).toBe(true);
    expect(await lockdown.isChecked()).toBe(false);
    await comments.focus();
    await page.keyboard.press('Space');
    await lockdown.focus();
    await page.keyboard.press('Space');
    await item.getByRole('button', { name: /^Save/ }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${stack.baseUrl}/connections?saved=1`);
    expect(await page.getByRole('status').innerText()).toMatch(/Saved/);
    await expectAccessible(page);

    // The page shows what was saved, and the app's next call with its same token sees it.
    const after = page.locator('ul.grants > li').first();
    expect(await after.getByRole('checkbox', { name: /Comments/ }).isChecked()).toBe(false);
    expect(await after.getByRole('checkbox', { name: /Only content written by members/ }).isChecked()).toBe(true);
    const listed = await names();
    expect(listed).not.toContain('comments');
    expect(listed).toContain('search');
    const grant = (await stack.app.store.listGrantsByUser(a.user.id))[0]!;
    expect(grant.info.lockdown).toBe('on');
  });

  it('cancel on Notion’s screen during sign-in ends on a human page', async () => {
    const page = await newPage();
    await page.goto(`${stack.baseUrl}/connections`);
    await page.getByRole('link', { name: 'Sign in with Notion' }).click();
    await page.waitForURL((u) => u.href.startsWith(`${stack.fake.url}/v1/oauth/authorize?`));
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL((u) => u.pathname === '/oauth/callback');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toMatch(/cancelled/i);
    expect(await page.getByRole('link', { name: 'Your connections' }).count()).toBeGreaterThan(0);
  });
});

/**
 * The public pages in a real browser: landing (copy button, CSP), consent notes, error pages,
 * accessibility (axe: no serious or critical violations), visible keyboard focus, and the
 * screenshots in docs/screenshots/.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { authorizeUrl, connect, pkce, register } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { expectAccessible, launchChromium, screenshots, signIn } from './support.js';

describe('public pages in a real browser (Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  beforeEach(async () => {
    stack.fake.reset();
    stack.fake.authorizeAs = null;
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.baseUrl });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  it('landing: explains the connector, shows <BASE_URL>/mcp and copies it with the button', async () => {
    const res = await page.goto(`${stack.baseUrl}/`);
    expect(res?.status()).toBe(200);
    const csp = res!.headers()['content-security-policy'] ?? '';
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9_-]+'/);
    expect(csp).not.toContain('unsafe-inline\'; script'); // only styles may be inline
    expect(csp.split(';').find((d) => d.trim().startsWith('script-src'))).not.toContain('unsafe-inline');

    const field = page.getByRole('textbox', { name: 'Connector address' });
    expect(await field.inputValue()).toBe(`${stack.baseUrl}/mcp`);
    const text = await page.locator('main').innerText();
    expect(text).toMatch(/Settings → Connectors/);
    expect(text).toMatch(/Add custom connector/);
    expect(text).toMatch(/Other MCP apps/);
    expect(text).toMatch(/pages you pick on Notion/i);
    expect(await page.getByRole('link', { name: 'Privacy' }).getAttribute('href')).toBe('/privacy');
    expect(await page.getByRole('link', { name: 'Terms' }).getAttribute('href')).toBe('/terms');

    await page.getByRole('button', { name: 'Copy' }).click();
    await expect(page.getByRole('status').innerText()).resolves.toMatch(/copied/i);
    const clip = await page.evaluate(() => (globalThis as any).navigator.clipboard.readText());
    expect(clip).toBe(`${stack.baseUrl}/mcp`);
  });

  it('privacy and terms: a default page when the operator set no URL', async () => {
    for (const path of ['/privacy', '/terms']) {
      const res = await page.goto(`${stack.baseUrl}${path}`);
      expect(res?.status()).toBe(200);
      expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
    }
  });

  it('unknown path: a human 404 page for a browser, JSON for an API client', async () => {
    const res = await page.goto(`${stack.baseUrl}/no/such/page`);
    expect(res?.status()).toBe(404);
    expect(res?.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toMatch(/not found/i);
    const text = await page.locator('body').innerText();
    expect(text).not.toMatch(/"error"|not_found/);
    await expectAccessible(page);

    const api = await fetch(`${stack.baseUrl}/no/such/page`);
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: 'not_found' });
  });

  it('callback with an unknown state: a human page, accessible', async () => {
    const res = await page.goto(`${stack.baseUrl}/oauth/callback?code=x&state=unknown`);
    expect(res?.status()).toBe(400);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toMatch(/expired/i);
    expect(await page.locator('body').innerText()).not.toMatch(/^\s*\{/);
    await expectAccessible(page);
  });

  it('consent: a mild note for a redirect host that is not Claude', async () => {
    const other = await register(stack.baseUrl, {
      client_name: 'Other App',
      redirect_uris: ['https://app.example.com/callback'],
      token_endpoint_auth_method: 'none',
    });
    await page.goto(authorizeUrl(stack.baseUrl, other, { challenge: pkce().challenge }));
    const note = page.getByRole('note');
    expect(await note.count()).toBe(1);
    expect(await note.innerText()).toMatch(/not a Claude address/);
    expect(await note.innerText()).toContain('app.example.com');
    expect(await note.innerText()).not.toMatch(/your own computer/);
  });

  it('keyboard focus is visible on the landing page', async () => {
    await page.goto(`${stack.baseUrl}/`);
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => {
      const w = globalThis as any;
      const el = w.document.activeElement;
      const s = w.getComputedStyle(el);
      return { tag: el.tagName, style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
    });
    expect(outline.tag).not.toBe('BODY');
    expect(outline.style).not.toBe('none');
    expect(outline.width).toBeGreaterThanOrEqual(2);
  });

  it('landing, consent and connections pass axe and are captured at phone and desktop width', async () => {
    await page.goto(`${stack.baseUrl}/`);
    await expectAccessible(page);
    await screenshots(page, 'landing');

    const claude = await register(stack.baseUrl);
    await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge: pkce().challenge }));
    await expectAccessible(page);
    await screenshots(page, 'consent');

    const ws = fakeWorkspace('Shots');
    await connect(stack, ws, 'write');
    await connect(stack, ws, 'read');
    await signIn(page, stack, ws);
    await expectAccessible(page);
    await screenshots(page, 'connections');

    // The signed-out page too.
    await context.clearCookies();
    await page.goto(`${stack.baseUrl}/connections`);
    await expectAccessible(page);
  });
});

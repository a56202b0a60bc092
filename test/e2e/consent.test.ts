/**
 * The consent flow as a person sees it: real headless Chromium (Debian's /usr/bin/chromium via
 * playwright-core) against the real app and a fake Notion. The MCP client side (registration,
 * PKCE, token exchange, tool calls) runs over HTTP with the shared helpers.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import {
  CLAUDE_CALLBACK,
  type RegisteredClient,
  type TokenSet,
  authorizeUrl,
  callTool,
  pkce,
  register,
  tokenRequest,
} from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { launchChromium } from './support.js';

const LOOPBACK_CALLBACK = 'http://127.0.0.1:7777/callback';

/** Resolves with the first request the page makes to `prefix` (the client's redirect URI). */
function captureRequest(page: Page, prefix: string): Promise<URL> {
  return new Promise((resolve) => {
    const onRequest = (r: { url(): string }) => {
      if (r.url().startsWith(prefix)) {
        page.off('request', onRequest);
        resolve(new URL(r.url()));
      }
    };
    page.on('request', onRequest);
  });
}

/** Fails instead of hanging when the expected redirect never comes. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))]);
}

/**
 * Clicks something whose navigation ends at an unreachable client callback and returns that
 * callback URL. The navigation itself fails (nothing listens there); that error is expected.
 */
async function clickToCallback(page: Page, prefix: string, click: () => Promise<void>): Promise<URL> {
  const captured = captureRequest(page, prefix);
  await click().catch(() => undefined);
  return within(captured, 10_000, `a request to ${prefix}`);
}

describe('consent in a real browser (Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let claude: RegisteredClient;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([
      startStack(),
      launchChromium(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  beforeEach(async () => {
    stack.fake.reset();
    stack.fake.authorizeAs = null;
    claude = await register(stack.baseUrl);
    context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  const approveButton = () => page.getByRole('button', { name: /^approve/i });
  const onFakeNotion = () => page.waitForURL((u) => u.href.startsWith(`${stack.fake.url}/v1/oauth/authorize?`));

  async function exchange(client: RegisteredClient, code: string, verifier: string): Promise<TokenSet> {
    const res = await tokenRequest(stack.baseUrl, client, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: client.redirect_uris[0]!,
      code_verifier: verifier,
      resource: `${stack.baseUrl}/mcp`,
    });
    expect(res.status).toBe(200);
    return (await res.json()) as TokenSet;
  }

  it('runs the whole flow as a person: consent → Notion → code at Claude → token → search in workspace A', async () => {
    const { verifier, challenge } = pkce();
    const state = `st-${randomUUID()}`;
    const consent = await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge, state }));
    expect(consent?.status()).toBe(200);

    // The client name stands out, and the user sees where the approval goes.
    const name = page.getByText('Claude', { exact: true });
    await expect(name.isVisible()).resolves.toBe(true);
    // Runs in the page (tsconfig has no DOM lib, hence the `any`).
    const looks = await name.evaluate((el) => {
      const w = globalThis as any;
      const s = w.getComputedStyle(el);
      return { weight: Number(s.fontWeight), size: parseFloat(s.fontSize), body: parseFloat(w.getComputedStyle(w.document.body).fontSize) };
    });
    expect(looks.weight).toBeGreaterThanOrEqual(600);
    expect(looks.size).toBeGreaterThan(looks.body);
    expect(await page.title()).toContain('Claude');
    await expect(page.getByText('claude.ai', { exact: true }).isVisible()).resolves.toBe(true);
    expect(await page.getByRole('note').count()).toBe(0); // no loopback warning for claude.ai
    expect(stack.fake.requests.some((r) => r.path.startsWith('/v1/oauth/authorize'))).toBe(false);

    await approveButton().click();
    await onFakeNotion();
    await expect(page.getByRole('heading', { name: /fake notion/i }).isVisible()).resolves.toBe(true);

    stack.fake.authorizeAs = fakeWorkspace('A');
    const back = await clickToCallback(page, CLAUDE_CALLBACK, () => page.getByRole('link', { name: 'Allow access' }).click());
    expect(back.origin + back.pathname).toBe(CLAUDE_CALLBACK);
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('iss')).toBe(stack.baseUrl);
    expect(back.searchParams.get('error')).toBeNull();
    const code = back.searchParams.get('code');
    expect(code).toBeTruthy();

    const tokens = await exchange(claude, code!, verifier);
    expect(tokens.token_type).toBe('Bearer');
    expect(tokens.scope.split(' ').sort()).toEqual(['notion:read', 'notion:write']);

    const search = await callTool(stack.baseUrl, tokens.access_token, 'search');
    expect(search.isError).toBe(false);
    const results = search.data.results as unknown[];
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) {
      expect(JSON.stringify(r)).toContain('Workspace A');
      expect(JSON.stringify(r)).not.toMatch(/Workspace [B-Z]\b/);
    }
  });

  it('grants notion:read only when the person picks "Read only"', async () => {
    const { verifier, challenge } = pkce();
    await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge, state: 'read-only' }));
    const readOnly = page.getByRole('radio', { name: /read only/i });
    const readWrite = page.getByRole('radio', { name: /read and write/i });
    expect(await readWrite.isChecked()).toBe(true); // the client asked for both; write is offered
    await readOnly.check();
    expect(await readOnly.isChecked()).toBe(true);
    expect(await readWrite.isChecked()).toBe(false);

    await approveButton().click();
    await onFakeNotion();
    stack.fake.authorizeAs = fakeWorkspace('A');
    const back = await clickToCallback(page, CLAUDE_CALLBACK, () => page.getByRole('link', { name: 'Allow access' }).click());
    expect(back.searchParams.get('state')).toBe('read-only');

    const tokens = await exchange(claude, back.searchParams.get('code') ?? '', verifier);
    expect(tokens.scope).toBe('notion:read');
  });

  it('Deny returns access_denied with state and iss, and never sends the person to Notion', async () => {
    const { challenge } = pkce();
    const state = `deny-${randomUUID()}`;
    await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge, state }));

    const back = await clickToCallback(page, CLAUDE_CALLBACK, () => page.getByRole('button', { name: 'Deny' }).click());
    expect(back.origin + back.pathname).toBe(CLAUDE_CALLBACK);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('iss')).toBe(stack.baseUrl);
    expect(back.searchParams.get('code')).toBeNull();
    expect(stack.fake.requests.filter((r) => r.path.startsWith('/v1/oauth/authorize'))).toEqual([]);
  });

  it('Cancel on the Notion screen returns access_denied with the state to the client', async () => {
    const { challenge } = pkce();
    const state = `cancel-${randomUUID()}`;
    await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge, state }));
    await approveButton().click();
    await onFakeNotion();

    const back = await clickToCallback(page, CLAUDE_CALLBACK, () => page.getByRole('link', { name: 'Cancel' }).click());
    expect(back.origin + back.pathname).toBe(CLAUDE_CALLBACK);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('iss')).toBe(stack.baseUrl);
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('shows a human error page (400, heading, no JSON, no stack trace) for an unknown client_id', async () => {
    const { challenge } = pkce();
    const unknown: RegisteredClient = { ...claude, client_id: randomUUID() };
    const res = await page.goto(authorizeUrl(stack.baseUrl, unknown, { challenge }));
    expect(res?.status()).toBe(400);
    expect(res?.headers()['content-type']).toMatch(/^text\/html/);

    const heading = page.getByRole('heading', { level: 1 });
    expect(await heading.count()).toBe(1);
    expect((await heading.innerText()).trim()).toMatch(/not registered/i);
    const text = await page.locator('body').innerText();
    expect(text.trim().length).toBeGreaterThan(20);
    expect(text.trim().startsWith('{')).toBe(false);
    expect(() => JSON.parse(text)).toThrow();
    expect(text).not.toMatch(/"error"|invalid_request|invalid_client/);
    expect(text).not.toMatch(/\bat .+:\d+:\d+|Error:|node_modules|\.ts\b|\.js\b/);
    expect(await page.getByRole('button').count()).toBe(0); // nothing to approve
  });

  it('warns when the approval goes to a program on this computer (loopback redirect)', async () => {
    const local = await register(stack.baseUrl, {
      client_name: 'Local Tool',
      redirect_uris: [LOOPBACK_CALLBACK],
      token_endpoint_auth_method: 'none',
    });
    const { challenge } = pkce();
    const res = await page.goto(authorizeUrl(stack.baseUrl, local, { challenge }));
    expect(res?.status()).toBe(200);
    const warning = page.getByRole('note');
    expect(await warning.count()).toBe(1);
    expect(await warning.isVisible()).toBe(true);
    const text = await warning.innerText();
    expect(text).toMatch(/program on your own computer/i);
    expect(text).toContain('127.0.0.1:7777');
  });

  it('forbids framing of the consent page (X-Frame-Options DENY, frame-ancestors none)', async () => {
    const { challenge } = pkce();
    const res = await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge }));
    expect(res?.status()).toBe(200);
    const headers = res!.headers();
    expect(headers['x-frame-options']).toBe('DENY');
    const csp = headers['content-security-policy'] ?? '';
    const frameAncestors = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('frame-ancestors'));
    expect(frameAncestors).toBe("frame-ancestors 'none'");
  });

  it('lets a keyboard user Tab to Approve and submit with Enter', async () => {
    const { challenge } = pkce();
    await page.goto(authorizeUrl(stack.baseUrl, claude, { challenge }));
    const isApproveFocused = () =>
      page.evaluate(() => {
        const el = (globalThis as any).document.activeElement;
        return el?.tagName === 'BUTTON' && el.name === 'decision' && el.value === 'approve';
      });
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await isApproveFocused();
    }
    expect(reached).toBe(true);
    await Promise.all([onFakeNotion(), page.keyboard.press('Enter')]);
    expect(new URL(page.url()).searchParams.get('owner')).toBe('user');
    expect(stack.fake.requests.filter((r) => r.path === '/v1/oauth/authorize')).toHaveLength(1);
  });
});

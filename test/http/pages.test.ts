/** The page routes over plain HTTP: content negotiation, configured policy links, session cookies. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esc } from '../../src/pages/html.js';
import { type Stack, startStack } from '../helpers/stack.js';

describe('pages over HTTP', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { PRIVACY_URL: 'https://example.com/privacy', TERMS_URL: 'https://example.com/terms' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('sends /privacy and /terms to the operator’s URLs when configured', async () => {
    for (const which of ['privacy', 'terms']) {
      const res = await fetch(`${stack.baseUrl}/${which}`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(`https://example.com/${which}`);
    }
  });

  it('404: a page for Accept: text/html, JSON for API clients', async () => {
    const html = await fetch(`${stack.baseUrl}/nope`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(html.status).toBe(404);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toContain('Page not found');
    for (const accept of [undefined, '*/*', 'application/json']) {
      const res = await fetch(`${stack.baseUrl}/nope`, { headers: accept ? { accept } : {} });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'not_found' });
    }
  });

  it('the landing page allows only its own nonce-tagged script', async () => {
    const res = await fetch(`${stack.baseUrl}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    const html = await res.text();
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).toContain(`value="${esc(`${stack.baseUrl}/mcp`)}"`);
    // Other pages run no script at all.
    const other = await fetch(`${stack.baseUrl}/connections`);
    expect(other.headers.get('content-security-policy')).not.toContain('script-src');
  });

  it('ignores a forged or tampered session cookie', async () => {
    const payload = Buffer.from(JSON.stringify({ sid: 'x', userId: 'someone', userName: 'Mallory', exp: Date.now() + 60_000 })).toString('base64url');
    const res = await fetch(`${stack.baseUrl}/connections`, { headers: { cookie: `nmr_session=${payload}.AAAA` } });
    const html = await res.text();
    expect(html).toContain('Sign in with Notion');
    expect(html).not.toContain('Mallory');
  });

  it('starts sign-in with a fresh state bound to the browser cookie', async () => {
    const res = await fetch(`${stack.baseUrl}/connections/login`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin).toBe(stack.fake.url);
    expect(to.searchParams.get('redirect_uri')).toBe(`${stack.baseUrl}/oauth/callback`);
    expect(to.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('nmr_browser=') && /HttpOnly/i.test(c) && /SameSite=Lax/i.test(c))).toBe(true);
    // The callback from another browser (no cookie) is refused with a page.
    const back = await fetch(`${stack.baseUrl}/oauth/callback?code=c&state=${to.searchParams.get('state')}`);
    expect(back.status).toBe(403);
    expect(await back.text()).toContain('another browser');
  });
});

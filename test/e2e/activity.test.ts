/**
 * The activity log in a real browser: tool calls through the real /mcp are recorded, and the
 * person who signs in to "Your connections" sees them newest first, writes marked, each object
 * linked to Notion, paged with Older / Newest, and undoes a trashing with one keyboard press: the
 * fake Notion gets exactly the restore, made with the sign-in's own token, and the log shows it.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeWorkspace, fakeWorkspace, type RecordedRequest } from '../helpers/fake-notion.js';
import { callTool, connect } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { expectAccessible, launchChromium, screenshots, signIn } from './support.js';

/** A page object as PATCH /v1/pages/{id} answers it (2026-03-11: `in_trash`). */
function pageObject(id: string, ws: FakeWorkspace, inTrash: boolean): Record<string, unknown> {
  const user = { object: 'user', id: ws.user.id };
  return {
    object: 'page',
    id,
    created_time: '2026-01-15T09:30:00.000Z',
    last_edited_time: '2026-12-07T10:00:00.000Z',
    created_by: user,
    last_edited_by: user,
    cover: null,
    icon: null,
    parent: { type: 'workspace', workspace: true },
    in_trash: inTrash,
    is_locked: false,
    properties: { title: { id: 'title', type: 'title', title: [{ type: 'text', text: { content: 'Launch plan', link: null }, annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' }, plain_text: 'Launch plan', href: null }] } },
    url: `https://www.notion.so/Launch-plan-${id.replace(/-/g, '')}`,
    public_url: null,
  };
}

const pageId = (n: number) => `1a2b3c4d-0000-4000-8000-${String(n).padStart(12, '0')}`;
const TRASHED = pageId(99);
const dashless = (id: string) => id.replace(/-/g, '');

describe('activity log on Your connections (Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<Page> {
    const context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    return context.newPage();
  }

  /** Presses Tab until the focused element's accessible text matches, then Enter. */
  async function tabTo(page: Page, name: RegExp): Promise<void> {
    for (let i = 0; i < 200; i++) {
      await page.keyboard.press('Tab');
      const focused = page.locator(':focus');
      const text = (await focused.count()) ? await focused.innerText() : '';
      if (name.test(text)) {
        await page.keyboard.press('Enter');
        return;
      }
    }
    throw new Error(`no focusable element named ${name}`);
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
    stack.fake.setHandler(null);
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });

  it('records reads and a trash, shows them newest first and paged, and undoes the trash with the sign-in token', async () => {
    const ws = fakeWorkspace('Activity');
    const { tokens } = await connect(stack, ws, 'write');
    const grant = (await stack.app.store.listGrantsByUser(ws.user.id))[0]!;
    // Notion's answer to a trash or restore of the page: PATCH /v1/pages/{id} with in_trash.
    stack.fake.setHandler((req) =>
      req.method === 'PATCH' && req.path === `/v1/pages/${TRASHED}`
        ? { status: 200, body: pageObject(TRASHED, ws, (req.body as { in_trash: boolean }).in_trash) }
        : undefined,
    );

    // 22 reads (a page by URL), a read Notion refuses, the trash, one more read: 25 entries.
    for (let i = 1; i <= 22; i++) {
      const r = await callTool(stack.baseUrl, tokens.access_token, 'get_page', { page_id: `https://www.notion.so/Notes-${dashless(pageId(i))}?pvs=4` });
      expect(r.isError).toBe(false);
    }
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_page', { page_id: '00000000-0000-4000-8000-000000000001' })).isError).toBe(true);
    const trash = await callTool(stack.baseUrl, tokens.access_token, 'trash', { ids: [TRASHED], kind: 'page' });
    expect(trash).toEqual({ isError: false, data: { trashed: [{ id: TRASHED, kind: 'page' }] } });
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_page', { page_id: pageId(23) })).isError).toBe(false);
    await stack.app.activity.flush();

    const before = new Set(stack.fake.tokens.keys());
    const page = await newPage();
    await signIn(page, stack, ws);
    // The sign-in's Notion token is kept (sealed in the cookie) for undo, not revoked yet.
    const signInTokens = [...stack.fake.tokens.keys()].filter((t) => !before.has(t));
    expect(signInTokens).toHaveLength(1);
    const signInToken = signInTokens[0]!;
    expect(stack.fake.revoked.has(signInToken)).toBe(false);
    const cookies = JSON.stringify(await page.context().cookies());
    expect(cookies).not.toContain(signInToken);

    const entries = page.locator('ol.activity > li');
    expect(await entries.count()).toBe(20);
    const texts = await entries.allInnerTexts();
    // Newest first: the last read (with the title its result gave), then the trash (a write), then the refused read.
    expect(texts[0]).toMatch(/^READ get_page, done/i);
    expect(texts[0]).toContain(`Page ${pageId(23).slice(0, 8)} of ${ws.name}`);
    expect(texts[1]).toMatch(/^WRITE trash, done/i);
    expect(texts[2]).toMatch(/^READ get_page, failed \(object_not_found\)/i);
    expect(await entries.nth(1).getAttribute('class')).toBe('write');
    expect(await entries.nth(0).getAttribute('class')).toBe('read');
    // Each object links to its page in Notion; the URL the model passed is not kept, only the ID.
    expect(await entries.nth(1).getByRole('link').getAttribute('href')).toBe(`https://www.notion.so/${dashless(TRASHED)}`);
    expect(await entries.nth(3).getByRole('link').getAttribute('href')).toBe(`https://www.notion.so/${dashless(pageId(22))}`);
    const html = await page.content();
    expect(html).not.toContain('pvs=4');
    expect(html).not.toContain(signInToken);
    await expectAccessible(page);
    await screenshots(page, 'activity');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Older, by keyboard: the five oldest entries, then back to the newest.
    await tabTo(page, /^Older/);
    await page.waitForURL((u) => u.searchParams.get('before') !== null && u.searchParams.get('grant') === grant.id);
    const older = await page.locator('ol.activity > li').allInnerTexts();
    expect(older).toHaveLength(5);
    expect(older[0]).toContain(`Page ${pageId(5).slice(0, 8)}`);
    expect(older[4]).toContain(`Page ${pageId(1).slice(0, 8)}`);
    await expectAccessible(page);
    await tabTo(page, /^Newest/);
    await page.waitForURL((u) => u.pathname === '/connections' && u.search === '');

    // Undo, by keyboard: exactly one restore, made with the sign-in's token.
    const sent = stack.fake.requests.length;
    await tabTo(page, /^Undo/);
    await page.waitForURL((u) => u.searchParams.get('undone') === '1');
    const calls: RecordedRequest[] = stack.fake.requests.slice(sent);
    expect(calls.map((r) => `${r.method} ${r.path}`)).toEqual([`PATCH /v1/pages/${TRASHED}`]);
    expect(calls[0]!.body).toEqual({ in_trash: false });
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${signInToken}`);
    expect(await page.getByRole('status').innerText()).toMatch(/Restored from the trash/);
    const after = await page.locator('ol.activity > li').allInnerTexts();
    expect(after[0]).toMatch(/^WRITE Undo: restored from the trash, done/i);
    expect(await page.locator('ol.activity > li').first().getByRole('link').getAttribute('href')).toBe(`https://www.notion.so/${dashless(TRASHED)}`);
    // The trash it undid has no Undo button any more.
    expect(await page.getByRole('button', { name: /^Undo/ }).count()).toBe(0);
    const undo = (await stack.app.store.listActivity(grant.id, 1))[0]!;
    expect(undo).toMatchObject({ tool: 'undo', write: true, outcome: 'ok', objects: [{ id: TRASHED }] });

    // Signing out ends the sign-in's Notion token upstream.
    await tabTo(page, /^Sign out/);
    await page.waitForURL(`${stack.baseUrl}/connections`);
    await page.getByRole('link', { name: 'Sign in with Notion' }).waitFor();
    expect(stack.fake.revoked.has(signInToken)).toBe(true);
  });

  it('another user cannot undo a trashing of A’s connection, even with a well-formed form', async () => {
    const a = fakeWorkspace('Ann');
    const b = fakeWorkspace('Ben');
    const { tokens } = await connect(stack, a, 'write');
    await connect(stack, b, 'write');
    stack.fake.setHandler((req) => (req.method === 'PATCH' ? { status: 200, body: pageObject(TRASHED, a, true) } : undefined));
    expect((await callTool(stack.baseUrl, tokens.access_token, 'archive_page', { page_id: TRASHED })).isError).toBe(false);
    await stack.app.activity.flush();
    const aGrant = (await stack.app.store.listGrantsByUser(a.user.id))[0]!;
    const [entry] = await stack.app.store.listActivity(aGrant.id, 1);
    expect(entry).toMatchObject({ tool: 'archive_page', write: true, objects: [{ id: TRASHED, trashed: 'page' }] });

    const pageB = await newPage();
    await signIn(pageB, stack, b);
    const csrf = await pageB.locator('input[name="csrf"]').first().inputValue();
    const sent = stack.fake.requests.length;
    const forged = await pageB.request.post(`${stack.baseUrl}/connections/undo`, { form: { grant: aGrant.id, entry: entry!.id, csrf }, maxRedirects: 0 });
    expect(forged.status()).toBe(404);
    const noCsrf = await pageB.request.post(`${stack.baseUrl}/connections/undo`, { form: { grant: aGrant.id, entry: entry!.id }, maxRedirects: 0 });
    expect(noCsrf.status()).toBe(403);
    expect(stack.fake.requests.slice(sent).filter((r) => r.method === 'PATCH')).toEqual([]);
  });
});

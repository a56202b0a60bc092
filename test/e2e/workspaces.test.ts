/**
 * Several workspaces in a real browser: the consent page's "add another workspace" step, and the
 * Workspaces list on Your connections (remove and add, by keyboard), at phone and desktop width,
 * with axe and no script. Screenshots: docs/screenshots/add-workspace-*.png and workspaces-*.png
 * (SCREENSHOTS=1).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeWorkspace, fakeWorkspace } from '../helpers/fake-notion.js';
import { authorizeUrl, callTool, exchangeCode, pkce, register } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { connectWorkspaces } from '../helpers/workspaces.js';
import { expectAccessible, launchChromium, screenshots, signIn, VIEWPORTS } from './support.js';

describe('several workspaces (Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  async function newPage(): Promise<Page> {
    const context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    return context.newPage();
  }
  /** These pages carry no script at all (their CSP allows none). */
  const noScript = async (page: Page) => expect(await page.locator('script').count()).toBe(0);

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });

  const noSideScroll = async (page: Page) => {
    for (const size of Object.values(VIEWPORTS)) {
      await page.setViewportSize(size);
      expect(
        await page.evaluate(() => {
          const w = globalThis as any;
          return w.document.documentElement.scrollWidth <= w.innerWidth;
        }),
      ).toBe(true);
    }
  };

  it('consent: "Add more than one workspace", then Add another workspace and Finish, by keyboard', async () => {
    const one = fakeWorkspace('Browser One');
    const two = { ...fakeWorkspace('Browser Two'), user: one.user };
    const client = await register(stack.baseUrl);
    const { verifier, challenge } = pkce();
    const page = await newPage();
    await page.goto(authorizeUrl(stack.baseUrl, client, { challenge }));
    const more = page.getByRole('checkbox', { name: /Add more than one Notion workspace/ });
    await more.focus();
    await page.keyboard.press('Space');
    expect(await more.isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Approve and choose pages' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.href.startsWith(`${stack.fake.url}/v1/oauth/authorize?`));
    stack.fake.authorizeAs = one;
    await page.getByRole('link', { name: 'Allow access' }).click();
    await page.waitForURL(`${stack.baseUrl}/oauth/callback?**`);

    await expect(page.getByRole('heading', { name: 'Add another workspace?' }).isVisible()).resolves.toBe(true);
    expect(await page.getByRole('listitem').allInnerTexts()).toEqual(['Workspace Browser One']);
    await expectAccessible(page);
    await noScript(page);
    await noSideScroll(page);
    await screenshots(page, 'add-workspace');

    await page.getByRole('button', { name: 'Add another workspace' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.href.startsWith(`${stack.fake.url}/v1/oauth/authorize?`));
    stack.fake.authorizeAs = two;
    await page.getByRole('link', { name: 'Allow access' }).click();
    await page.waitForURL(`${stack.baseUrl}/oauth/callback?**`);
    expect(await page.getByRole('listitem').allInnerTexts()).toEqual(['Workspace Browser One', 'Workspace Browser Two']);

    // Finish sends the browser to the app (claude.ai) with our code: stop there and redeem it.
    const toApp = page.waitForRequest((r) => r.url().startsWith(client.redirect_uris[0]!));
    await page.route(`${client.redirect_uris[0]}**`, (route) => route.fulfill({ status: 200, body: 'ok' }));
    await page.getByRole('button', { name: 'Finish' }).focus();
    await page.keyboard.press('Enter');
    const redirect = new URL((await toApp).url());
    const tokens = await exchangeCode(stack, client, { redirect, verifier });
    const res = await callTool(stack.baseUrl, tokens.access_token, 'search', {});
    expect(new Set(res.data.results.map((r: { workspace: string }) => r.workspace))).toEqual(new Set(['Workspace Browser One', 'Workspace Browser Two']));
  });

  it('Your connections: the Workspaces list; remove and add by keyboard', async () => {
    const home: FakeWorkspace = fakeWorkspace('Phone Home');
    const office = { ...fakeWorkspace('Phone Office'), user: home.user };
    const garden = { ...fakeWorkspace('Phone Garden'), user: home.user };
    const { tokens } = await connectWorkspaces(stack, [home, office]);

    const page = await newPage();
    await signIn(page, stack, home);
    const list = page.getByRole('region', { name: 'Workspaces' });
    expect(await list.getByRole('listitem').allInnerTexts()).toEqual([
      expect.stringContaining('Workspace Phone Home'),
      expect.stringContaining('Workspace Phone Office'),
    ]);
    await expectAccessible(page);
    await noScript(page);
    await noSideScroll(page);
    await screenshots(page, 'workspaces');

    const remove = page.getByRole('button', { name: 'Remove Workspace Phone Office from Claude' });
    await remove.focus();
    expect(await remove.evaluate((el) => el === (globalThis as any).document.activeElement)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${stack.baseUrl}/connections?removed=1**`);
    expect(await page.getByRole('status').innerText()).toMatch(/Workspace removed/);
    expect(await list.getByRole('listitem').allInnerTexts()).toEqual([expect.stringContaining('Workspace Phone Home')]);
    // One workspace left: no Remove, Disconnect ends it.
    expect(await page.getByRole('button', { name: /^Remove/ }).count()).toBe(0);
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_self', {})).isError).toBe(false);

    await page.getByRole('button', { name: 'Add a workspace to Claude' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.href.startsWith(`${stack.fake.url}/v1/oauth/authorize?`));
    stack.fake.authorizeAs = garden;
    await page.getByRole('link', { name: 'Allow access' }).click();
    await page.waitForURL(`${stack.baseUrl}/connections?added=1**`);
    expect(await page.getByRole('status').innerText()).toMatch(/Workspace added/);
    expect(await list.innerText()).toContain('Workspace Phone Garden (added: ready at the app’s next call)');
    await expectAccessible(page);

    const res = await callTool(stack.baseUrl, tokens.access_token, 'search', {});
    expect(new Set(res.data.results.map((r: { workspace: string }) => r.workspace))).toEqual(new Set(['Workspace Phone Home', 'Workspace Phone Garden']));
  });
});

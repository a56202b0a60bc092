/** Shared bits of the browser tests: launching Chromium, axe, and signing in to /connections. */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, type Page, chromium } from 'playwright-core';
import { expect } from 'vitest';
import type { FakeWorkspace } from '../helpers/fake-notion.js';
import type { Stack } from '../helpers/stack.js';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Fails with the rule ids and targets when axe finds a serious or critical violation. */
export async function expectAccessible(page: Page): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad).toEqual([]);
}

/**
 * Screenshots go to docs/screenshots/ when SCREENSHOTS=1 (`npm run screenshots`); otherwise to a
 * temporary folder, so an ordinary test run leaves the checked-in images alone.
 */
export const SCREENSHOT_DIR = process.env.SCREENSHOTS === '1'
  ? join(import.meta.dirname, '..', '..', 'docs', 'screenshots')
  : join(tmpdir(), 'notion-mcp-remote-screenshots');
export const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } } as const;

/** Writes docs/screenshots/<name>-phone.png and <name>-desktop.png of the page as it is now. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${label}.png`), fullPage: true });
  }
}

/** Signs in to /connections as `who` through the fake Notion screen; ends on the list page. */
export async function signIn(page: Page, stack: Stack, who: FakeWorkspace): Promise<void> {
  await page.goto(`${stack.baseUrl}/connections`);
  await page.getByRole('link', { name: 'Sign in with Notion' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${stack.fake.url}/v1/oauth/authorize?`));
  stack.fake.authorizeAs = who;
  await page.getByRole('link', { name: 'Allow access' }).click();
  await page.waitForURL(`${stack.baseUrl}/connections`);
  await expect(page.getByText(`Signed in with Notion as ${who.user.name}`).isVisible()).resolves.toBe(true);
}

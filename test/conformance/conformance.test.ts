/**
 * The public MCP conformance suites (@modelcontextprotocol/conformance, pinned in harness.ts) run
 * against the real app (SQLite, fake Notion). Both modes live in this one file on purpose: vitest
 * runs a file's tests one after another, so two `npx` runs never install the same package set into
 * the npx cache at the same time. See docs/reliability.md.
 *
 * server mode (stable and alpha): behind a bearer-injecting loopback proxy. Scenarios that need the
 * suite's "everything server" fixtures are listed, with reasons, in the baseline files; the CLI
 * exits 0 only if every failure is listed and every listed scenario still fails.
 *
 * authorization mode (alpha): metadata (issuer byte-equal to --url, CIMD) and one authorization-code
 * grant for a public client that this test pre-registers through the real /register endpoint. The
 * CLI prints an authorization URL and waits; a real headless Chromium approves it on our consent
 * page and on the fake Notion screen, and the redirect lands on the CLI's callback server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { connect, register } from '../helpers/oauth-client.js';
import { type Stack, freePort, startStack } from '../helpers/stack.js';
import { ALPHA, STABLE, readChecks, runConformance, startBearerProxy, summarize } from './harness.js';
import { launchChromium } from '../e2e/support.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const RUN_TIMEOUT = 200_000;

/** Scenarios a Notion connector must pass outright, whatever the baselines say. */
const MUST_PASS = ['server-initialize', 'ping', 'tools-list', 'tools-call-simple-text', 'tools-call-error', 'dns-rebinding-protection'];
/** The same under 2026-07-28, where initialize and ping are gone. */
const MUST_PASS_2026 = ['tools-list', 'tools-call-simple-text', 'tools-call-error', 'dns-rebinding-protection', 'http-header-validation', 'server-sse-multiple-streams'];

describe('MCP conformance: server mode', () => {
  let stack: Stack;
  let proxy: { url: string; close(): Promise<void> };
  let out: string;

  beforeAll(async () => {
    stack = await startStack();
    const { tokens } = await connect(stack, fakeWorkspace('A'));
    proxy = await startBearerProxy(stack.baseUrl, tokens.access_token);
    out = mkdtempSync(join(process.env.CONFORMANCE_OUT ?? tmpdir(), 'nmr-conformance-'));
  });
  afterAll(async () => {
    await proxy?.close();
    await stack?.close();
    if (out && !process.env.CONFORMANCE_OUT) rmSync(out, { recursive: true, force: true });
  });

  const cases = [
    { name: `stable ${STABLE}`, version: STABLE, baseline: 'baseline-stable.yml', extra: [] as string[], wireSchema: false, modern: false },
    { name: `alpha ${ALPHA} --requirements 2025-11-25`, version: ALPHA, baseline: 'baseline-alpha.yml', extra: ['--requirements', '2025-11-25'], wireSchema: true, modern: false },
    { name: `alpha ${ALPHA} --requirements 2026-07-28`, version: ALPHA, baseline: 'baseline-2026.yml', extra: ['--requirements', '2026-07-28'], wireSchema: true, modern: true },
  ];

  for (const c of cases) {
    it(`passes every scenario outside ${c.baseline} (${c.name})`, async () => {
      const dir = join(out, c.version);
      const res = await runConformance(
        c.version,
        ['server', '--url', `${proxy.url}/mcp`, '--expected-failures', join(here, c.baseline), '-o', dir, ...c.extra],
        { timeoutMs: RUN_TIMEOUT },
      );
      const summary = summarize(res.output);
      console.log(`[conformance server ${c.name}] exit ${res.code} in ${(res.ms / 1000).toFixed(1)} s\n${summary}`);
      expect(res.timedOut, 'conformance run hit its hard timeout').toBe(false);
      expect(res.code, summary).toBe(0);

      const checks = readChecks(dir, 'server');
      for (const scenario of c.modern ? MUST_PASS_2026 : MUST_PASS) {
        const list = checks.get(scenario) ?? [];
        expect(list.length, `${scenario} ran no checks`).toBeGreaterThan(0);
        expect(list.filter((k) => k.status === 'FAILURE' || k.status === 'WARNING'), scenario).toEqual([]);
      }
      if (c.wireSchema) {
        // Every message our server sent, in every scenario (baselined ones too), matched the spec schema.
        const wire = [...checks].flatMap(([scenario, list]) => list.filter((k) => k.id === 'wire-schema-valid').map((k) => ({ scenario, ...k })));
        expect(wire.length).toBeGreaterThan(0);
        expect(wire.filter((k) => k.status !== 'SUCCESS')).toEqual([]);
      }
    }, 240_000);
  }
});

describe('MCP conformance: authorization mode', () => {
  let stack: Stack;
  let browser: Browser;
  let out: string;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([
      startStack(),
      launchChromium(),
    ]);
    out = mkdtempSync(join(process.env.CONFORMANCE_OUT ?? tmpdir(), 'nmr-conformance-auth-'));
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (out && !process.env.CONFORMANCE_OUT) rmSync(out, { recursive: true, force: true });
  });

  /** Approves the printed authorization URL as a person would, in Chromium. */
  async function approveInBrowser(url: string, callback: string): Promise<string> {
    const context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    try {
      const page = await context.newPage();
      const consent = await page.goto(url);
      if (consent?.status() !== 200) throw new Error(`consent page: ${consent?.status()} ${(await page.content()).slice(0, 300)}`);
      await page.getByRole('button', { name: /^approve/i }).click();
      await page.waitForURL((u) => u.href.startsWith(`${stack.fake.url}/v1/oauth/authorize?`));
      stack.fake.authorizeAs = fakeWorkspace('A');
      await page.getByRole('link', { name: 'Allow access' }).click();
      await page.waitForURL((u) => u.href.startsWith(callback));
      return page.url();
    } finally {
      await context.close();
    }
  }

  it(`passes authorization-server-metadata-endpoint and authorization-code-grant (${ALPHA}, --spec-version 2026-07-28)`, async () => {
    // The issuer exactly as our metadata states it (the suite compares byte for byte).
    const meta = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
    expect(meta.issuer).toBe(stack.baseUrl);

    const port = await freePort();
    const callback = `http://127.0.0.1:${port}/callback`;
    const client = await register(stack.baseUrl, {
      client_name: 'MCP conformance suite',
      redirect_uris: [callback],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    expect(client.client_secret).toBeUndefined();

    let approval: Promise<string> | undefined;
    const res = await runConformance(
      ALPHA,
      ['authorization', '--url', meta.issuer, '--client-id', client.client_id, '--resource', `${stack.baseUrl}/mcp`, '-p', String(port), '-o', out, '--spec-version', '2026-07-28'],
      {
        timeoutMs: RUN_TIMEOUT,
        onOutput: (_text, all) => {
          if (approval) return;
          const printed = all.split('\n').find((l) => l.startsWith(`${meta.issuer}/authorize?`));
          // Wait for the callback server to listen before the browser is sent there.
          if (printed && all.includes('Callback server started')) {
            approval = approveInBrowser(printed.trim(), callback);
            approval.catch(() => undefined); // reported below
          }
        },
      },
    );
    const summary = summarize(res.output);
    console.log(`[conformance authorization ${ALPHA}] exit ${res.code} in ${(res.ms / 1000).toFixed(1)} s\n${summary}`);
    expect(approval, `the suite printed no authorization URL:\n${summary}`).toBeDefined();
    const landed = new URL(await approval!);
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(landed.searchParams.get('iss')).toBe(stack.baseUrl);
    expect(res.timedOut, 'conformance run hit its hard timeout').toBe(false);
    expect(res.code, summary).toBe(0);
    expect(summary).toMatch(/✓ authorization-server-metadata-endpoint: \d+ passed, 0 failed/);
    expect(summary).toMatch(/✓ authorization-code-grant: \d+ passed, 0 failed/);
  }, 240_000);
});

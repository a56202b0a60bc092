import type { FakeWorkspace } from './fake-notion.js';
import {
  authorizeUrl,
  consentFields,
  CookieBrowser,
  exchangeCode,
  pkce,
  register,
  type RegisteredClient,
  type TokenSet,
} from './oauth-client.js';
import type { Stack } from './stack.js';

/** The hidden fields of the "add another workspace" page. */
export function nextFields(html: string): { next: string; csrf: string } {
  const unescape = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
  const next = /name="next" value="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!next || !csrf) throw new Error(`no "add another" form in page: ${html.slice(0, 300)}`);
  return { next: unescape(next), csrf: unescape(csrf) };
}

/** Fake Notion's screen: allow as `ws` (or cancel), and follow Notion's redirect to our callback. */
async function throughNotion(stack: Stack, browser: CookieBrowser, toNotion: string, ws: FakeWorkspace | 'cancel'): Promise<Response> {
  if (ws !== 'cancel') stack.fake.authorizeAs = ws;
  const url = toNotion.replace('/v1/oauth/authorize?', ws === 'cancel' ? '/v1/oauth/authorize/cancel?' : '/v1/oauth/authorize/allow?');
  const fromNotion = await browser.get(url);
  const callback = fromNotion.headers.get('location');
  if (!callback) throw new Error(`fake notion did not redirect: ${fromNotion.status}`);
  return browser.get(callback);
}

export interface ManyResult {
  client: RegisteredClient;
  tokens: TokenSet;
  /** The "add another workspace" pages, in order. */
  pages: string[];
}

/**
 * Register as Claude, tick "add more than one workspace" on the consent page, authorize each of
 * `workspaces` on Notion in turn (choosing "Add another workspace" between them, `cancel` to
 * cancel on Notion), then "Finish", and get tokens.
 */
export async function connectWorkspaces(
  stack: Stack,
  workspaces: (FakeWorkspace | 'cancel')[],
  access: 'read' | 'write' = 'write',
  /** More consent form fields, e.g. the settings (`settings: '1'`, `toolset`, `lockdown`). */
  form: Record<string, string> = {},
): Promise<ManyResult> {
  const client = await register(stack.baseUrl);
  const browser = new CookieBrowser();
  const { verifier, challenge } = pkce();
  const page = await browser.get(authorizeUrl(stack.baseUrl, client, { challenge }));
  const fields = consentFields(await page.text());
  const approved = await browser.postForm(`${stack.baseUrl}/authorize`, { ...fields, ...form, decision: 'approve', access, workspaces: 'more' });
  let toNotion = approved.headers.get('location');
  if (approved.status !== 303 || !toNotion) throw new Error(`consent: ${approved.status}`);
  const pages: string[] = [];
  for (let i = 0; ; i++) {
    const back = await throughNotion(stack, browser, toNotion, workspaces[i]!);
    const html = await back.text();
    if (back.status !== 200) throw new Error(`callback: ${back.status} ${html.slice(0, 300)}`);
    pages.push(html);
    const last = i === workspaces.length - 1;
    const chose = await browser.postForm(`${stack.baseUrl}/oauth/callback`, { ...nextFields(html), decision: last ? 'finish' : 'another' });
    const location = chose.headers.get('location');
    if (chose.status !== 303 || !location) throw new Error(`choice: ${chose.status} ${(await chose.text()).slice(0, 300)}`);
    if (last) {
      const tokens = await exchangeCode(stack, client, { redirect: new URL(location), verifier });
      return { client, tokens, pages };
    }
    toNotion = location;
  }
}

import type { FakeNotion, FakeWorkspace } from '../../test/helpers/fake-notion.js';
import {
  authorizeUrl,
  consentFields,
  CookieBrowser,
  pkce,
  register,
  type RegisteredClient,
  tokenRequest,
  type TokenSet,
} from '../../test/helpers/oauth-client.js';

/** A connection made by `connectRemote`: its registered client (for refreshes) and its tokens. */
export interface Connection extends TokenSet {
  client: RegisteredClient;
}

/**
 * The real OAuth flow against a server in another process (startStack cannot be used there):
 * register → /authorize → consent (approve) → Notion's consent screen → /oauth/callback → /token.
 * The Notion consent step issues the code for `workspace` directly (what the fake's /allow link
 * does) rather than through `fake.authorizeAs`, so many flows can run at once without mixing users.
 */
export async function connectRemote(baseUrl: string, fake: FakeNotion, workspace: FakeWorkspace): Promise<Connection> {
  const client = await register(baseUrl);
  const browser = new CookieBrowser();
  const { verifier, challenge } = pkce();
  const page = await browser.get(authorizeUrl(baseUrl, client, { challenge }));
  if (page.status !== 200) throw new Error(`authorize: ${page.status}`);
  const approved = await browser.postForm(`${baseUrl}/authorize`, { ...consentFields(await page.text()), decision: 'approve', access: 'write' });
  const toNotion = approved.headers.get('location');
  if (approved.status !== 303 || !toNotion) throw new Error(`consent: ${approved.status}`);
  const q = new URL(toNotion).searchParams;
  const back = new URL(q.get('redirect_uri') ?? '');
  back.searchParams.set('code', fake.issueCode(workspace, { redirectUri: q.get('redirect_uri') ?? undefined }));
  back.searchParams.set('state', q.get('state') ?? '');
  const final = await browser.get(back.toString());
  const location = final.headers.get('location');
  if (final.status !== 302 || !location) throw new Error(`callback: ${final.status} ${(await final.text()).slice(0, 200)}`);
  const code = new URL(location).searchParams.get('code') ?? '';
  const res = await tokenRequest(baseUrl, client, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: client.redirect_uris[0]!,
    code_verifier: verifier,
    resource: `${baseUrl}/mcp`,
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  return { ...((await res.json()) as TokenSet), client };
}

/** One connection per workspace, `concurrency` flows at a time, in order. */
export async function connectAll(baseUrl: string, fake: FakeNotion, workspaces: FakeWorkspace[], concurrency: number): Promise<Connection[]> {
  const out: Connection[] = new Array(workspaces.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= workspaces.length) return;
        out[i] = await connectRemote(baseUrl, fake, workspaces[i]!);
      }
    }),
  );
  return out;
}

/** `n` grants, `concurrency` flows at a time; returns the access tokens in order. */
export async function connectMany(baseUrl: string, fake: FakeNotion, workspaces: FakeWorkspace[], concurrency: number): Promise<string[]> {
  return (await connectAll(baseUrl, fake, workspaces, concurrency)).map((c) => c.access_token);
}

/**
 * Your connections: adding a workspace to a connection and removing one, black box over HTTP.
 * An added workspace reaches the tools from the app's next call (its credentials wait sealed to the
 * grant's drop box, which only the app's tokens open); a removed one is withheld from the next call
 * on, and that call revokes its Notion token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeWorkspace, fakeWorkspace } from '../helpers/fake-notion.js';
import { callTool, connect, CookieBrowser } from '../helpers/oauth-client.js';
import { startRedis } from '../helpers/redis.js';
import { freePort, type Stack, startStack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { NOTION_RATE_LIMIT_PER_SECOND: '1000', NOTION_RATE_LIMIT_BURST: '1000' } });
});
afterAll(async () => stack?.close());

const unescape = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
const csrfOf = (html: string) => unescape(/name="csrf" value="([^"]+)"/.exec(html)![1]!);
const grantOf = (accessToken: string) => /^nmr_at_([^.]+)\./.exec(accessToken)![1]!;
const tokensOf = (ws: FakeWorkspace) => [...stack.fake.tokens].filter(([, w]) => w === ws).map(([t]) => t);
/** Another workspace of the same person. */
const sameUser = (label: string, of: FakeWorkspace): FakeWorkspace => ({ ...fakeWorkspace(label), user: of.user });

async function signIn(as: FakeWorkspace): Promise<{ browser: CookieBrowser; csrf: string }> {
  const browser = new CookieBrowser();
  const start = await browser.get(`${stack.baseUrl}/connections/login`);
  stack.fake.authorizeAs = as;
  const fromNotion = await browser.get(start.headers.get('location')!.replace('/v1/oauth/authorize?', '/v1/oauth/authorize/allow?'));
  await browser.get(fromNotion.headers.get('location')!);
  return { browser, csrf: csrfOf(await page(browser)) };
}
const page = async (browser: CookieBrowser) => (await browser.get(`${stack.baseUrl}/connections`)).text();
const post = (browser: CookieBrowser, path: string, form: Record<string, string>) => browser.postForm(`${stack.baseUrl}${path}`, form);

/** "Add a workspace" through Notion, authorizing `ws`; returns the final redirect. */
async function add(browser: CookieBrowser, csrf: string, grant: string, ws: FakeWorkspace): Promise<Response> {
  const toNotion = await post(browser, '/connections/workspaces/add', { grant, csrf });
  expect(toNotion.status).toBe(303);
  stack.fake.authorizeAs = ws;
  const fromNotion = await browser.get(toNotion.headers.get('location')!.replace('/v1/oauth/authorize?', '/v1/oauth/authorize/allow?'));
  return browser.get(fromNotion.headers.get('location')!);
}

const searchWorkspaces = async (token: string) => {
  const res = await callTool(stack.baseUrl, token, 'search', {});
  expect(res.isError).toBe(false);
  return (res.data.results as { workspace?: string; title: string }[]).map((r) => r.workspace ?? `(untagged) ${r.title.replace(/^.* of /, '')}`);
};

describe('adding a workspace on Your connections', () => {
  const home = fakeWorkspace('Home');
  const work = sameUser('Work', home);

  it('lists the workspace, adds another through Notion, and the next call spans both', async () => {
    const { tokens } = await connect(stack, home);
    const grant = grantOf(tokens.access_token);
    const { browser, csrf } = await signIn(home);
    const before = await page(browser);
    expect(before).toContain('<h2 id="workspaces-');
    expect(before).toContain('Add a workspace');
    // One workspace: no Remove (Disconnect ends the connection).
    expect(before).not.toContain('/connections/workspaces/remove');

    const done = await add(browser, csrf, grant, work);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/connections?added=1#workspaces-${grant}`);
    const after = await page(browser);
    expect(after).toContain('Workspace Work');
    expect(after).toContain('ready at the app’s next call');

    // Stored sealed: the new Notion token is nowhere in the grant record in clear.
    const [workToken] = tokensOf(work);
    const stored = await stack.app.store.getGrant(grant);
    expect(JSON.stringify(stored)).not.toContain(workToken);
    expect(stored!.info.pending).toBeTruthy();

    expect((await searchWorkspaces(tokens.access_token)).sort()).toEqual(['Workspace Home', 'Workspace Home', 'Workspace Home', 'Workspace Work', 'Workspace Work', 'Workspace Work']);
    const merged = await stack.app.store.getGrant(grant);
    expect(merged!.info.pending).toBeUndefined();
    expect(JSON.parse(merged!.info.workspaces!)).toEqual([
      { id: home.id, name: 'Workspace Home' },
      { id: work.id, name: 'Workspace Work' },
    ]);
    expect(await page(browser)).not.toContain('ready at the app’s next call');
  });

  it('removing a workspace withholds it from the next call, which revokes its token at Notion', async () => {
    const { tokens } = await connect(stack, sameUser('Keep', home));
    const grant = grantOf(tokens.access_token);
    const drop = sameUser('Drop', home);
    const { browser, csrf } = await signIn(home);
    await add(browser, csrf, grant, drop);
    expect(await searchWorkspaces(tokens.access_token)).toContain('Workspace Drop');
    const [dropToken] = tokensOf(drop);

    const html = await page(browser);
    expect(html).toContain('Remove<span class="vh"> Workspace Drop from Claude</span>');
    const removed = await post(browser, '/connections/workspaces/remove', { grant, workspace: drop.id, csrf });
    expect(removed.status).toBe(303);
    expect(removed.headers.get('location')).toBe(`/connections?removed=1#workspaces-${grant}`);

    stack.fake.reset();
    const left = await searchWorkspaces(tokens.access_token);
    expect(left.every((w) => w === '(untagged) Workspace Keep')).toBe(true);
    expect(stack.fake.requests.filter((r) => r.headers.authorization === `Bearer ${dropToken}`)).toHaveLength(0);
    await expect.poll(() => stack.fake.revoked.has(dropToken!)).toBe(true);
    // One workspace again: no `workspace` needed.
    expect((await callTool(stack.baseUrl, tokens.access_token, 'get_self', {})).isError).toBe(false);
    // And the last one cannot be removed.
    const last = await post(browser, '/connections/workspaces/remove', { grant, workspace: sameUser('Keep', home).id, csrf });
    expect(last.status).toBe(409);
  });

  it('a workspace removed before the app used it is revoked at Notion by the next call and never used', async () => {
    const { tokens } = await connect(stack, sameUser('Base', home));
    const grant = grantOf(tokens.access_token);
    const brief = sameUser('Brief', home);
    const { browser, csrf } = await signIn(home);
    await add(browser, csrf, grant, brief);
    const [briefToken] = tokensOf(brief);
    expect((await post(browser, '/connections/workspaces/remove', { grant, workspace: brief.id, csrf })).status).toBe(303);
    expect(await page(browser)).not.toContain('Workspace Brief');
    stack.fake.reset();
    await searchWorkspaces(tokens.access_token);
    expect(stack.fake.requests.filter((r) => r.headers.authorization === `Bearer ${briefToken}`)).toHaveLength(0);
    await expect.poll(() => stack.fake.revoked.has(briefToken!)).toBe(true);
    expect((await stack.app.store.getGrant(grant))!.info.pending).toBeUndefined();
  });
});

describe('Your connections: workspaces of other people', () => {
  const mine = fakeWorkspace('Mine');
  const theirs = fakeWorkspace('Theirs');

  it('another person cannot add to or remove from my connection (404), and an authorization by someone else is refused and revoked', async () => {
    const { tokens } = await connect(stack, mine);
    const grant = grantOf(tokens.access_token);
    await connect(stack, theirs);
    const them = await signIn(theirs);
    expect((await post(them.browser, '/connections/workspaces/add', { grant, csrf: them.csrf })).status).toBe(404);
    expect((await post(them.browser, '/connections/workspaces/remove', { grant, workspace: mine.id, csrf: them.csrf })).status).toBe(404);

    const me = await signIn(mine);
    // Notion signed in as someone else on the second screen: not added, and that token is revoked.
    const other = fakeWorkspace('Other person');
    const revokedBefore = new Set(stack.fake.revoked);
    const res = await add(me.browser, me.csrf, grant, other);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Sign in as the same person');
    // The token Notion issued for it was revoked at once, and no live token of that workspace is left.
    expect([...stack.fake.revoked].filter((t) => !revokedBefore.has(t))).toHaveLength(1);
    expect(tokensOf(other)).toHaveLength(0);
    expect((await stack.app.store.getGrant(grant))!.info.pending).toBeUndefined();
    // A forged CSRF token changes nothing.
    expect((await post(me.browser, '/connections/workspaces/add', { grant, csrf: 'forged' })).status).toBe(403);
    // An unknown workspace id is a page, not a 500.
    await add(me.browser, me.csrf, grant, sameUser('Second', mine));
    expect((await post(me.browser, '/connections/workspaces/remove', { grant, workspace: 'nope', csrf: me.csrf })).status).toBe(404);
  });
});

describe('on Redis, with two instances behind one address', () => {
  it('a workspace added through one instance is used by the next call on the other; a removal there is seen by the first', async () => {
    const redis = await startRedis();
    const a = await startStack({ env: { REDIS_URL: redis.url, NOTION_RATE_LIMIT_PER_SECOND: '1000', NOTION_RATE_LIMIT_BURST: '1000' }, fake: stack.fake });
    const port = await freePort();
    const b = await startStack({
      port,
      env: { REDIS_URL: redis.url, BASE_URL: a.baseUrl, ADDITIONAL_ALLOWED_HOSTS: `127.0.0.1:${port}`, NOTION_RATE_LIMIT_PER_SECOND: '1000', NOTION_RATE_LIMIT_BURST: '1000' },
      fake: stack.fake,
    });
    try {
      const first = fakeWorkspace('Redis One');
      const second = sameUser('Redis Two', first);
      const { tokens } = await connect(a, first);
      const grant = grantOf(tokens.access_token);
      // Warm a's verified-token cache before the change.
      expect((await callTool(a.baseUrl, tokens.access_token, 'get_self', {})).isError).toBe(false);

      const browser = new CookieBrowser();
      const start = await browser.get(`${a.baseUrl}/connections/login`);
      stack.fake.authorizeAs = first;
      const back = await browser.get(start.headers.get('location')!.replace('/v1/oauth/authorize?', '/v1/oauth/authorize/allow?'));
      await browser.get(back.headers.get('location')!);
      const csrf = csrfOf(await (await browser.get(`${a.baseUrl}/connections`)).text());
      const toNotion = await browser.postForm(`${a.baseUrl}/connections/workspaces/add`, { grant, csrf });
      stack.fake.authorizeAs = second;
      const fromNotion = await browser.get(toNotion.headers.get('location')!.replace('/v1/oauth/authorize?', '/v1/oauth/authorize/allow?'));
      expect((await browser.get(fromNotion.headers.get('location')!)).status).toBe(303);

      const onB = await callTool(b.baseUrl, tokens.access_token, 'search', {});
      expect(new Set(onB.data.results.map((r: { workspace: string }) => r.workspace))).toEqual(new Set(['Workspace Redis One', 'Workspace Redis Two']));
      // a's cached context is stale: it sees the merged list at once too.
      expect((await callTool(a.baseUrl, tokens.access_token, 'get_self', {})).data.error.code).toBe('workspace_required');

      const [secondToken] = tokensOf(second);
      expect((await browser.postForm(`${a.baseUrl}/connections/workspaces/remove`, { grant, workspace: second.id, csrf })).status).toBe(303);
      // The next call on b no longer has the second workspace (one left: no `workspace` needed), and revokes it.
      expect((await callTool(b.baseUrl, tokens.access_token, 'get_self', {})).isError).toBe(false);
      await expect.poll(() => stack.fake.revoked.has(secondToken!)).toBe(true);
      expect((await callTool(a.baseUrl, tokens.access_token, 'search', {})).data.results.every((r: { workspace?: string }) => r.workspace === undefined)).toBe(true);
    } finally {
      await b.close();
      await a.close();
      await redis.dispose();
    }
  });
});

describe('the activity log of a connection with several workspaces', () => {
  /** Notion's answer to a trash or restore (PATCH /v1/pages/{id}) of a page of `ws`: 404 for a token of any other workspace. */
  const trashable = (id: string, ws: FakeWorkspace) => (req: { method: string; path: string; headers: Record<string, string>; body: unknown }) => {
    if (req.method !== 'PATCH' || req.path !== `/v1/pages/${id}`) return undefined;
    const owner = stack.fake.tokens.get(req.headers.authorization?.replace('Bearer ', '') ?? '');
    if (owner?.id !== ws.id) return { status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: `Could not find page with ID: ${id}.` } };
    const user = { object: 'user', id: ws.user.id };
    const inTrash = (req.body as { in_trash: boolean }).in_trash;
    const title = { type: 'text', text: { content: 'Plan', link: null }, annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' }, plain_text: 'Plan', href: null };
    return {
      status: 200,
      body: { object: 'page', id, created_time: '2026-01-15T09:30:00.000Z', last_edited_time: '2026-12-07T10:00:00.000Z', created_by: user, last_edited_by: user, cover: null, icon: null, parent: { type: 'workspace', workspace: true }, in_trash: inTrash, is_locked: false, properties: { title: { id: 'title', type: 'title', title: [title] } }, url: `https://www.notion.so/Plan-${id.replace(/-/g, '')}`, public_url: null },
    };
  };

  it('names the workspace of each call, and offers Undo only when signed in to that workspace', async () => {
    const base = fakeWorkspace('Log Base');
    const other = sameUser('Log Other', base);
    const { tokens } = await connect(stack, base);
    const grant = grantOf(tokens.access_token);
    const me = await signIn(base);
    await add(me.browser, me.csrf, grant, other);
    const found = (await callTool(stack.baseUrl, tokens.access_token, 'search', { filter: 'page' })).data.results as { id: string; workspace: string }[];
    const otherPage = found.find((r) => r.workspace === 'Workspace Log Other')!.id;
    stack.fake.setHandler(trashable(otherPage, other));
    try {
      expect((await callTool(stack.baseUrl, tokens.access_token, 'trash', { ids: [otherPage], kind: 'page' })).isError).toBe(false);
      await stack.app.activity.flush();
      const [entry] = await stack.app.store.listActivity(grant, 1);
      expect(entry).toMatchObject({ tool: 'trash', workspace: { id: other.id, name: 'Workspace Log Other' }, objects: [{ id: otherPage, trashed: 'page' }] });
      // A single-workspace connection's entries name none.
      const single = await connect(stack, fakeWorkspace('Log Single'));
      await callTool(stack.baseUrl, single.tokens.access_token, 'get_self', {});
      await stack.app.activity.flush();
      expect((await stack.app.store.listActivity(grantOf(single.tokens.access_token), 1))[0]!.workspace).toBeUndefined();

      // Signed in to the base workspace: the entry names its workspace and says where to sign in to undo it.
      const html = await page(me.browser);
      expect(html).toContain('<code>trash</code> in Workspace Log Other');
      expect(html).toContain('choosing Workspace Log Other');
      expect(html).not.toContain('/connections/undo');
      // Signed in to that workspace: Undo restores it with that sign-in's token.
      const there = await signIn(other);
      const undoForm = /name="entry" value="([^"]+)"/.exec(await page(there.browser));
      expect(undoForm).not.toBeNull();
      const undone = await post(there.browser, '/connections/undo', { grant, entry: unescape(undoForm![1]!), csrf: there.csrf });
      expect(undone.status).toBe(303);
      const patches = stack.fake.requests.filter((r) => r.method === 'PATCH' && r.path === `/v1/pages/${otherPage}`);
      expect((patches.at(-1)!.body as { in_trash: boolean }).in_trash).toBe(false);
    } finally {
      stack.fake.setHandler(null);
    }
  });
});

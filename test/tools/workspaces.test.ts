/**
 * Several Notion workspaces in one connection, black box over HTTP: added during consent, each by
 * its own Notion authorization; search across them, IDs routed to their workspace, the
 * `workspace` argument, revocation of every Notion token, and isolation between users.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeWorkspace, fakePageTitle, fakeWorkspace } from '../helpers/fake-notion.js';
import { callTool, connect, mcpPost } from '../helpers/oauth-client.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { connectWorkspaces } from '../helpers/workspaces.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { NOTION_RATE_LIMIT_PER_SECOND: '1000', NOTION_RATE_LIMIT_BURST: '1000' } });
});
afterAll(async () => stack?.close());

const A = fakeWorkspace('Alpha');
const B = fakeWorkspace('Beta');

/** The Notion access tokens the fake issued for a workspace (by workspace object). */
const tokensOf = (ws: FakeWorkspace) => [...stack.fake.tokens].filter(([, w]) => w === ws).map(([t]) => t);
/** The bearer of each recorded request to `path`. */
const bearers = (path: string) => stack.fake.requests.filter((r) => r.path === path).map((r) => r.headers.authorization?.replace('Bearer ', ''));

/** Page ids a search of one workspace finds, through a single-workspace connection of the same workspace. */
async function pagesOf(token: string): Promise<{ id: string; title: string }[]> {
  const res = await callTool(stack.baseUrl, token, 'search', { filter: 'page' });
  return res.data.results;
}

describe('adding workspaces during consent', () => {
  it('offers another workspace after each Notion authorization, and the connection spans both', async () => {
    const { tokens, pages } = await connectWorkspaces(stack, [A, B]);
    expect(pages[0]).toContain('Workspace Alpha');
    expect(pages[1]).toContain('Workspace Alpha');
    expect(pages[1]).toContain('Workspace Beta');
    // Each workspace went through its own Notion authorization and has its own token.
    expect(tokensOf(A)).toHaveLength(1);
    expect(tokensOf(B)).toHaveLength(1);

    stack.fake.reset();
    const res = await callTool(stack.baseUrl, tokens.access_token, 'search', {});
    expect(res.isError).toBe(false);
    const results = res.data.results as { id: string; title: string; workspace: string }[];
    expect(results.filter((r) => r.workspace === 'Workspace Alpha')).toHaveLength(3);
    expect(results.filter((r) => r.workspace === 'Workspace Beta')).toHaveLength(3);
    for (const r of results) expect(r.title).not.toContain(r.workspace === 'Workspace Alpha' ? 'Beta' : 'Alpha');
    // One search request per workspace, each with that workspace's token.
    expect(bearers('/v1/search').sort()).toEqual([...tokensOf(A), ...tokensOf(B)].sort());
  });

  it('authorizing the same workspace twice keeps one: the connection behaves as a single-workspace one', async () => {
    const { tokens } = await connectWorkspaces(stack, [fakeWorkspace('Twice'), fakeWorkspace('Twice')]);
    const res = await callTool(stack.baseUrl, tokens.access_token, 'search', {});
    expect(res.isError).toBe(false);
    expect(res.data.results).toHaveLength(3);
    expect(res.data.results[0].workspace).toBeUndefined();
    // No workspace needed: get_self answers for the one workspace.
    const self = await callTool(stack.baseUrl, tokens.access_token, 'get_self', {});
    expect(self.isError).toBe(false);
  });

  it('a cancelled later authorization keeps the ones before it', async () => {
    const C = fakeWorkspace('Gamma');
    const { tokens, pages } = await connectWorkspaces(stack, [C, 'cancel']);
    expect(pages[1]).toContain('did not complete');
    const res = await callTool(stack.baseUrl, tokens.access_token, 'search', {});
    expect(res.data.results).toHaveLength(3);
    expect(res.data.results.every((r: { title: string }) => r.title.includes('Gamma'))).toBe(true);
  });

  it('the "add another" form refuses a forged or reused choice', async () => {
    const res = await fetch(`${stack.baseUrl}/oauth/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'next=forged&csrf=x&decision=finish',
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This page has expired');
  });
});

describe('tools across workspaces', () => {
  let token: string;
  let alphaPage: string;
  let betaPage: string;
  beforeAll(async () => {
    token = (await connectWorkspaces(stack, [A, B])).tokens.access_token;
    const found = (await callTool(stack.baseUrl, token, 'search', { filter: 'page' })).data.results as { id: string; workspace: string }[];
    alphaPage = found.find((r) => r.workspace === 'Workspace Alpha')!.id;
    betaPage = found.find((r) => r.workspace === 'Workspace Beta')!.id;
  });

  it('an ID goes to the workspace that owns it, found by search: one Notion request', async () => {
    stack.fake.reset();
    const res = await callTool(stack.baseUrl, token, 'get_page', { page_id: betaPage });
    expect(res.isError).toBe(false);
    expect(JSON.stringify(res.data)).toContain(fakePageTitle(betaPage, B));
    expect(bearers(`/v1/pages/${betaPage}`)).toEqual([tokensOf(B).at(-1)]);
  });

  it('an ID not seen before is tried in the workspaces in turn while Notion answers object_not_found', async () => {
    // A page created in Beta: its own id was never seen (only its parent's), so Alpha is asked first.
    const created = await callTool(stack.baseUrl, token, 'create_page', { parent: { page_id: betaPage }, title: 'New' });
    expect(created.isError).toBe(false);
    const newId = created.data.id as string;
    stack.fake.reset();
    const res = await callTool(stack.baseUrl, token, 'get_page', { page_id: newId });
    expect(res.isError).toBe(false);
    expect(JSON.stringify(res.data)).toContain(fakePageTitle(newId, B));
    expect(bearers(`/v1/pages/${newId}`)).toEqual([tokensOf(A).at(-1), tokensOf(B).at(-1)]);
    // Then remembered: the next call goes to Beta at once.
    stack.fake.reset();
    await callTool(stack.baseUrl, token, 'get_page', { page_id: newId });
    expect(bearers(`/v1/pages/${newId}`)).toEqual([tokensOf(B).at(-1)]);
  });

  it('a page without a parent is ambiguous: `workspace` says where it goes', async () => {
    const res = await callTool(stack.baseUrl, token, 'create_page', { parent: { workspace: true }, title: 'Top' });
    expect(res.data.error.code).toBe('workspace_required');
    stack.fake.reset();
    const made = await callTool(stack.baseUrl, token, 'create_page', { parent: { workspace: true }, title: 'Top', workspace: 'Workspace Beta' });
    expect(made.isError).toBe(false);
    expect(bearers('/v1/pages')).toEqual([tokensOf(B).at(-1)]);
  });

  it('an ID owned by neither workspace is object_not_found after trying each once', async () => {
    stack.fake.reset();
    const C = fakeWorkspace('Elsewhere');
    const other = await connect(stack, C);
    const elsewhere = (await pagesOf(other.tokens.access_token))[0]!.id;
    stack.fake.reset();
    const res = await callTool(stack.baseUrl, token, 'get_page', { page_id: elsewhere });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('object_not_found');
    expect(bearers(`/v1/pages/${elsewhere}`).sort()).toEqual([tokensOf(A).at(-1), tokensOf(B).at(-1)].sort());
  });

  it('a call that names no ID needs `workspace`, and the error names the workspaces', async () => {
    stack.fake.reset();
    const res = await callTool(stack.baseUrl, token, 'get_self', {});
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('workspace_required');
    expect(res.data.error.message).toContain('"Workspace Alpha", "Workspace Beta"');
    expect(stack.fake.requests).toHaveLength(0);
    // A wrong tool name or wrong arguments still get their own error first.
    expect((await callTool(stack.baseUrl, token, 'no_such_tool', {})).data.error.code).toBe('unknown_tool');
    expect((await callTool(stack.baseUrl, token, 'create_page', { parent: { workspace: true }, title: 42 })).data.error.code).toBe('invalid_arguments');
    expect(stack.fake.requests).toHaveLength(0);
  });

  it('`workspace` (a name in any case, or an id) picks the workspace', async () => {
    stack.fake.reset();
    const byName = await callTool(stack.baseUrl, token, 'get_self', { workspace: 'workspace beta' });
    expect(byName.isError).toBe(false);
    expect(JSON.stringify(byName.data)).toContain(B.botId);
    const byId = await callTool(stack.baseUrl, token, 'get_self', { workspace: A.id.replace(/-/g, '') });
    expect(JSON.stringify(byId.data)).toContain(A.botId);
    expect(bearers('/v1/users/me')).toEqual([tokensOf(B).at(-1), tokensOf(A).at(-1)]);
  });

  it('a group op takes `workspace` next to `op` or inside `args`', async () => {
    stack.fake.reset();
    const next = await callTool(stack.baseUrl, token, 'more', { op: 'get_self', workspace: 'Workspace Beta', args: {} });
    expect(next.isError).toBe(false);
    const inside = await callTool(stack.baseUrl, token, 'more', { op: 'get_self', args: { workspace: 'Workspace Alpha' } });
    expect(inside.isError).toBe(false);
    expect(bearers('/v1/users/me')).toEqual([tokensOf(B).at(-1), tokensOf(A).at(-1)]);
    const none = await callTool(stack.baseUrl, token, 'more', { op: 'get_self', args: {} });
    expect(none.data.error.code).toBe('workspace_required');
  });

  it('`workspace` pins the call: an ID of the other workspace is not found there', async () => {
    stack.fake.reset();
    const res = await callTool(stack.baseUrl, token, 'get_page', { page_id: alphaPage, workspace: 'Workspace Beta' });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('object_not_found');
    expect(bearers(`/v1/pages/${alphaPage}`)).toEqual([tokensOf(B).at(-1)]);
  });

  it('an unknown workspace is a clear tool error', async () => {
    const res = await callTool(stack.baseUrl, token, 'get_self', { workspace: 'Nope' });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('unknown_workspace');
    expect(res.data.error.message).toContain('"Workspace Alpha"');
    const bad = await callTool(stack.baseUrl, token, 'get_self', { workspace: 42 });
    expect(bad.data.error.code).toBe('invalid_arguments');
  });

  it('search pages on with one cursor for every workspace with more', async () => {
    const first = await callTool(stack.baseUrl, token, 'search', { page_size: 1 });
    expect(first.data.results.map((r: { workspace: string }) => r.workspace)).toEqual(['Workspace Alpha', 'Workspace Beta']);
    expect(first.data.has_more).toBe(true);
    const seen = new Set(first.data.results.map((r: { id: string }) => r.id));
    let cursor = first.data.next_cursor as string | undefined;
    while (cursor) {
      const more = await callTool(stack.baseUrl, token, 'search', { page_size: 1, start_cursor: cursor });
      expect(more.isError).toBe(false);
      for (const r of more.data.results) seen.add(r.id);
      cursor = more.data.next_cursor;
    }
    expect(seen.size).toBe(6);
    const bad = await callTool(stack.baseUrl, token, 'search', { start_cursor: 'garbage' });
    expect(bad.data.error.code).toBe('invalid_arguments');
  });

  it('the server instructions name the workspaces; a single-workspace connection gets the usual ones', async () => {
    const init = (bearer: string) =>
      mcpPost(stack.baseUrl, bearer, {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }).then(async (r) => ((await r.json()) as { result: { instructions: string } }).result.instructions);
    expect(await init(token)).toContain('"Workspace Alpha", "Workspace Beta"');
    const single = await connect(stack, fakeWorkspace('Solo'));
    expect(await init(single.tokens.access_token)).not.toContain('several');
  });

  it('revoking the connection revokes every workspace token at Notion', async () => {
    const X = fakeWorkspace('Rev X');
    const Y = fakeWorkspace('Rev Y');
    const { client, tokens } = await connectWorkspaces(stack, [X, Y]);
    const notionTokens = [...tokensOf(X), ...tokensOf(Y)];
    expect(notionTokens).toHaveLength(2);
    const revoke = await fetch(`${stack.baseUrl}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.refresh_token, client_id: client.client_id, ...(client.client_secret ? { client_secret: client.client_secret } : {}) }).toString(),
    });
    expect(revoke.status).toBe(200);
    for (const t of notionTokens) expect(stack.fake.revoked.has(t)).toBe(true);
  });

  it('a refused token of the second workspace is refreshed and sealed again; the first keeps its own', async () => {
    const P = fakeWorkspace('Ref P');
    const Q = fakeWorkspace('Ref Q');
    const { tokens } = await connectWorkspaces(stack, [P, Q]);
    const [oldQ] = tokensOf(Q);
    stack.fake.tokens.delete(oldQ!); // Notion no longer accepts it: 401, then a refresh
    const res = await callTool(stack.baseUrl, tokens.access_token, 'get_self', { workspace: 'Workspace Ref Q' });
    expect(res.isError).toBe(false);
    expect(tokensOf(Q)).toHaveLength(1);
    expect(tokensOf(Q)[0]).not.toBe(oldQ);
    // The grant was verified again with the resealed list: both workspaces still answer.
    stack.fake.reset();
    await callTool(stack.baseUrl, tokens.access_token, 'get_self', { workspace: 'Workspace Ref P' });
    await callTool(stack.baseUrl, tokens.access_token, 'get_self', { workspace: 'Workspace Ref Q' });
    expect(bearers('/v1/users/me')).toEqual([tokensOf(P)[0], tokensOf(Q)[0]]);
  });
});

describe('lockdown across workspaces', () => {
  it("each workspace's content is judged against that workspace's own members", async () => {
    const L1 = fakeWorkspace('Lock One');
    const L2 = fakeWorkspace('Lock Two');
    const form = { settings: '1', toolset: 'pages', lockdown: 'on' };
    const { tokens } = await connectWorkspaces(stack, [L1, L2], 'write', form);
    const token = tokens.access_token;
    stack.fake.reset();
    // search: every result kept, each workspace's authors being its members.
    const found = await callTool(stack.baseUrl, token, 'search', { filter: 'page' });
    expect(found.isError).toBe(false);
    expect(found.data.results).toHaveLength(4);
    expect(found.data.withheld).toBeUndefined();
    const twoPage = found.data.results.find((r: { workspace: string }) => r.workspace === 'Workspace Lock Two').id as string;
    // A routed read and a pinned one of the second workspace's page: kept, not withheld as a non-member's.
    for (const args of [{ page_id: twoPage }, { page_id: twoPage, workspace: 'Workspace Lock Two' }]) {
      const res = await callTool(stack.baseUrl, token, 'get_page', args);
      expect(res.isError).toBe(false);
      expect(JSON.stringify(res.data)).toContain(fakePageTitle(twoPage, L2));
    }
    // Each workspace's member list was read with that workspace's own token.
    expect(new Set(bearers('/v1/users'))).toEqual(new Set([tokensOf(L1).at(-1), tokensOf(L2).at(-1)]));
  });
});

describe('lockdown across workspaces: an ID the connection never saw', () => {
  it('fetch judges it by the members of the workspace that has it, not of the first one tried', async () => {
    const L3 = fakeWorkspace('Lock Three');
    const L4 = fakeWorkspace('Lock Four');
    const { tokens } = await connectWorkspaces(stack, [L3, L4], 'write', { settings: '1', toolset: 'pages', lockdown: 'on' });
    // The page's ID, learnt by another connection (the routing memory is per connection).
    const alone = (await connect(stack, L4)).tokens.access_token;
    const page = (await callTool(stack.baseUrl, alone, 'search', { filter: 'page' })).data.results[0].id as string;
    const res = await callTool(stack.baseUrl, tokens.access_token, 'fetch', { id: page });
    expect(res.isError).toBe(false);
    expect(res.data.id).toBe(page);
    expect(res.data.untrusted).toBeUndefined();
    expect(res.data.title).toBe(fakePageTitle(page, L4));
    expect(res.data.text).toBe(`# ${fakePageTitle(page, L4)}`);
  });
});

describe('isolation: two users who share one workspace, and one who does not', () => {
  const shared = fakeWorkspace('Shared');
  const own = fakeWorkspace('Own One');
  // The second user of the shared workspace: same workspace, another person and bot.
  const sharedByTwo: FakeWorkspace = { ...shared, botId: fakeWorkspace('Shared bot 2').botId, user: fakeWorkspace('Second').user };
  const outsider = fakeWorkspace('Outsider');

  it("each user's calls use only their own Notion tokens, and see only their own workspaces", async () => {
    const one = (await connectWorkspaces(stack, [own, shared])).tokens.access_token;
    const two = (await connect(stack, sharedByTwo)).tokens.access_token;
    const three = (await connect(stack, outsider)).tokens.access_token;
    const tokensOne = [...tokensOf(own), ...tokensOf(shared)];
    const tokensTwo = tokensOf(sharedByTwo);
    const tokensThree = tokensOf(outsider);

    const sharedPage = (await pagesOf(two))[0]!.id;
    const ownPage = (await callTool(stack.baseUrl, one, 'search', { filter: 'page' })).data.results.find(
      (r: { workspace: string }) => r.workspace === 'Workspace Own One',
    ).id as string;

    stack.fake.reset();
    // User one reads the shared page (routed to the shared workspace) with their own token.
    expect((await callTool(stack.baseUrl, one, 'get_page', { page_id: sharedPage })).isError).toBe(false);
    expect(tokensOne).toContain(bearers(`/v1/pages/${sharedPage}`).at(-1));
    // User two reads it with theirs, and cannot reach user one's other workspace, even by naming it.
    expect((await callTool(stack.baseUrl, two, 'get_page', { page_id: sharedPage })).isError).toBe(false);
    const reach = await callTool(stack.baseUrl, two, 'get_page', { page_id: ownPage, workspace: 'Workspace Own One' });
    expect(reach.isError).toBe(true);
    expect(reach.data.error.code).toBe('object_not_found');
    // User three reaches neither.
    for (const id of [sharedPage, ownPage]) {
      const res = await callTool(stack.baseUrl, three, 'get_page', { page_id: id, workspace: 'Workspace Shared' });
      expect(res.data.error.code).toBe('object_not_found');
    }
    const searchThree = await callTool(stack.baseUrl, three, 'search', {});
    expect(searchThree.data.results.every((r: { title: string }) => r.title.includes('Outsider'))).toBe(true);

    // Every request of a user carried one of that user's tokens: none crossed over.
    const byUser = new Map<string, string>([
      ...tokensOne.map((t) => [t, 'one'] as [string, string]),
      ...tokensTwo.map((t) => [t, 'two'] as [string, string]),
      ...tokensThree.map((t) => [t, 'three'] as [string, string]),
    ]);
    const pageReads = stack.fake.requests.filter((r) => r.path.startsWith('/v1/pages/'));
    expect(pageReads.length).toBeGreaterThan(0);
    for (const r of pageReads) expect(byUser.has(r.headers.authorization!.replace('Bearer ', ''))).toBe(true);
    expect(bearers(`/v1/pages/${ownPage}`).every((t) => byUser.get(t!) !== 'one')).toBe(true);
  });
});

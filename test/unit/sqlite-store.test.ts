import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { randomSecret, sha256 } from '../../src/lib/crypto.js';
import { credentialRef } from '../../src/oauth/grants.js';
import { bucketOf } from '../../src/store/redis.js';
import { SQLITE_FILE, SqliteStore, StoreOpenError } from '../../src/store/sqlite.js';
import type { ClientRecord, CodeRecord, GrantRecord, Store, TokenKind, TokenRecord } from '../../src/store/types.js';

/**
 * One backend under test. `open` opens (or reopens) the same backing data with a key check value;
 * `dispose` removes the data after the test.
 */
export interface StoreBackend {
  open(keyCheck: string): Promise<Store>;
  dispose(): Promise<void>;
}

const KEY_CHECK = 'key-check-value-A';
const T0 = 1_700_000_000_000;
const MIN = 60_000;
const DAY = 24 * 60 * MIN;

function client(overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    clientId: `client_${randomSecret(8)}`,
    secretHash: sha256(randomSecret()),
    clientName: 'Claude',
    redirectUris: ['https://claude.ai/api/mcp/auth_callback'],
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'client_secret_post',
    metadata: { client_name: 'Claude', nested: { list: [1, 'two', null] } },
    createdAt: T0,
    ...overrides,
  };
}

function grant(overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    id: `grant_${randomSecret(8)}`,
    clientId: 'client_x',
    scope: 'notion:read notion:write',
    resource: 'https://mcp.example.com/mcp',
    notionUserId: `user-${randomSecret(4)}`,
    notionWorkspaceId: 'ws-1',
    info: { workspaceName: 'Workspace A', userName: 'Ada', userEmail: null },
    sealedNotion: `sealed.${randomSecret()}`,
    createdAt: T0,
    lastUsedAt: null,
    ...overrides,
  };
}

function code(grantId: string, overrides: Partial<CodeRecord> = {}): CodeRecord {
  return {
    hash: sha256(randomSecret()),
    grantId,
    clientId: 'client_x',
    redirectUri: 'https://claude.ai/api/mcp/auth_callback',
    codeChallenge: randomSecret(),
    resource: 'https://mcp.example.com/mcp',
    scope: 'notion:read notion:write',
    wrappedKey: `kid.${randomSecret(40)}`,
    expiresAt: T0 + 10 * MIN,
    usedAt: null,
    answer: null,
    ...overrides,
  };
}

function token(grantId: string, kind: TokenKind, overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    hash: sha256(randomSecret()),
    grantId,
    kind,
    scope: 'notion:read notion:write',
    wrappedKey: `kid.${randomSecret(40)}`,
    expiresAt: T0 + (kind === 'access' ? 30 : 90) * DAY,
    createdAt: T0,
    replacedAt: null,
    answer: null,
    ...overrides,
  };
}

/**
 * The guarantees of the Store interface (src/store/types.ts), for any backend: run it with
 * `storeContract('redis', makeRedisBackend)` once another backend exists.
 */
export function storeContract(name: string, makeStore: () => Promise<StoreBackend>): void {
  describe(`Store contract: ${name}`, () => {
    let backend: StoreBackend;
    let store: Store;

    beforeEach(async () => {
      backend = await makeStore();
      store = await backend.open(KEY_CHECK);
    });
    afterEach(async () => {
      await store.close();
      await backend.dispose();
    });

    /** A grant with its code, stored; returns both. */
    async function seedGrant(g: Partial<GrantRecord> = {}, c: Partial<CodeRecord> = {}) {
      const gr = grant(g);
      const co = code(gr.id, c);
      await store.createGrant(gr, co);
      return { grant: gr, code: co };
    }

    /** A grant whose code was redeemed for an access and a refresh token at `at`. */
    async function seedTokens(at = T0) {
      const { grant: gr, code: co } = await seedGrant();
      const access = token(gr.id, 'access', { createdAt: at });
      const refresh = token(gr.id, 'refresh', { createdAt: at });
      expect(await store.redeemCode(co, at, [access, refresh], 'answer')).toEqual({ status: 'issued' });
      return { grant: gr, code: co, access, refresh };
    }

    describe('ping and clients', () => {
      it('answers ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('round-trips a client record, and returns null for an unknown id', async () => {
        const c = client();
        await store.createClient(c);
        expect(await store.getClient(c.clientId)).toEqual(c);
        expect(await store.getClient('client_unknown')).toBeNull();
      });

      it('round-trips a public client without secretHash', async () => {
        const c = client({ tokenEndpointAuthMethod: 'none' });
        delete c.secretHash;
        await store.createClient(c);
        const got = await store.getClient(c.clientId);
        expect(got).toEqual(c);
        expect(got).not.toHaveProperty('secretHash');
      });

      it('refuses a second client with the same id', async () => {
        const c = client();
        await store.createClient(c);
        await expect(store.createClient({ ...c, clientName: 'Impostor' })).rejects.toThrow();
        expect((await store.getClient(c.clientId))?.clientName).toBe('Claude');
      });

      it('with maxUnused keeps that many never-used clients, deleting the oldest first; clients that got a grant never count and stay', async () => {
        const used = [client({ createdAt: T0 - 3 }), client({ createdAt: T0 - 2 })];
        for (const c of used) {
          await store.createClient(c, 2);
          const g = grant({ clientId: c.clientId });
          await store.createGrant(g, code(g.id));
        }
        const unused = [0, 1, 2, 3].map((i) => client({ createdAt: T0 + i }));
        for (const c of unused) await store.createClient(c, 2);
        // The two oldest never-used clients made way; the used ones, although older, did not.
        expect(await store.getClient(unused[0]!.clientId)).toBeNull();
        expect(await store.getClient(unused[1]!.clientId)).toBeNull();
        for (const c of [...used, unused[2]!, unused[3]!]) expect(await store.getClient(c.clientId)).not.toBeNull();
        expect(await store.countClients()).toBe(4);
        // Without maxUnused nothing is evicted.
        await store.createClient(client({ createdAt: T0 + 9 }));
        expect(await store.countClients()).toBe(5);
      });
    });

    describe('flows', () => {
      it('returns the flow data once, then null', async () => {
        const data = { clientId: 'c', state: 'xyz', nested: { a: [1, 2] } };
        await store.putFlow('flow-1', 'consent', data, T0 + 10 * MIN);
        expect(await store.takeFlow('flow-1', 'consent', T0)).toEqual(data);
        expect(await store.takeFlow('flow-1', 'consent', T0)).toBeNull();
      });

      it('does not hand a flow out under another kind', async () => {
        await store.putFlow('flow-2', 'notion', { n: 1 }, T0 + 10 * MIN);
        expect(await store.takeFlow('flow-2', 'consent', T0)).toBeNull();
        expect(await store.takeFlow('unknown', 'notion', T0)).toBeNull();
      });

      it('refuses an expired flow, also at exactly its expiry, and does not hand it out later', async () => {
        await store.putFlow('flow-3', 'consent', { n: 3 }, T0 + 10 * MIN);
        expect(await store.takeFlow('flow-3', 'consent', T0 + 10 * MIN + 1)).toBeNull();
        // Even with a clock that went back, the expired flow was consumed.
        expect(await store.takeFlow('flow-3', 'consent', T0)).toBeNull();
        await store.putFlow('flow-4', 'consent', { n: 4 }, T0 + 10 * MIN);
        expect(await store.takeFlow('flow-4', 'consent', T0 + 10 * MIN)).toBeNull();
      });

      it('gives a flow taken concurrently to one caller only', async () => {
        await store.putFlow('flow-5', 'notion', { n: 5 }, T0 + 10 * MIN);
        const results = await Promise.all([
          store.takeFlow('flow-5', 'notion', T0),
          store.takeFlow('flow-5', 'notion', T0),
          store.takeFlow('flow-5', 'notion', T0),
        ]);
        expect(results.filter((r) => r !== null)).toEqual([{ n: 5 }]);
      });
    });

    describe('grants and codes', () => {
      it('stores the grant with its code; getCode returns the code and getCode of an unknown hash null', async () => {
        const { code: co } = await seedGrant();
        expect(await store.getCode(co)).toEqual(co);
        expect(await store.getCode(credentialRef('unknown'))).toBeNull();
      });

      it('is atomic: a code that cannot be stored leaves no grant behind', async () => {
        const first = await seedGrant();
        // In the same Redis bucket as the first (a hash is unique within one; codes name their grant).
        let g = grant();
        while (bucketOf(g.id) !== bucketOf(first.grant.id)) g = grant();
        // Same code hash as an existing code: the insert of the code fails.
        await expect(store.createGrant(g, code(g.id, { hash: first.code.hash }))).rejects.toThrow();
        expect((await store.stats(T0)).grants).toBe(1);
        expect(await store.countLiveCredentials(g.id, T0)).toBe(0);
      });

      it('redeems a code once: stores the tokens, marks the code used, empties its wrapped key, keeps the answer; a second redeem gets that answer', async () => {
        const { grant: gr, code: co } = await seedGrant();
        const access = token(gr.id, 'access');
        const refresh = token(gr.id, 'refresh');
        expect(await store.redeemCode(co, T0 + MIN, [access, refresh], 'answer-1')).toEqual({ status: 'issued' });
        expect(await store.getCode(co)).toMatchObject({ usedAt: T0 + MIN, wrappedKey: '', answer: 'answer-1' });
        const got = await store.getToken(access);
        expect(got?.token).toEqual(access);
        expect(got?.grant).toEqual(gr);
        expect((await store.getToken(refresh))?.token).toEqual(refresh);

        // A re-sent command (same tokens) and a second request (new tokens) both get the first answer.
        const replayAccess = token(gr.id, 'access');
        for (const tokens of [[access, refresh], [replayAccess]]) {
          expect(await store.redeemCode(co, T0 + 2 * MIN, tokens, 'answer-2')).toEqual({ status: 'again', answer: 'answer-1' });
        }
        expect(await store.getToken(replayAccess)).toBeNull();
        expect((await store.getCode(co))?.usedAt).toBe(T0 + MIN);
      });

      it('redeems a code once when two redemptions race; the other gets the winner\'s answer', async () => {
        const { grant: gr, code: co } = await seedGrant();
        const a = token(gr.id, 'access');
        const b = token(gr.id, 'access');
        const results = await Promise.all([store.redeemCode(co, T0, [a], 'A'), store.redeemCode(co, T0, [b], 'B')]);
        const aWon = results[0]!.status === 'issued';
        expect(results).toContainEqual({ status: 'issued' });
        expect(results).toContainEqual({ status: 'again', answer: aWon ? 'A' : 'B' });
        const stored = [await store.getToken(a), await store.getToken(b)].filter(Boolean);
        expect(stored).toHaveLength(1);
        expect(stored[0]?.token.hash).toBe(aWon ? a.hash : b.hash);
      });

      it('a used code with no answer kept (written before answers were kept) is spent', async () => {
        const { code: co } = await seedGrant({}, { usedAt: T0 });
        expect(await store.redeemCode(co, T0 + 1, [], 'x')).toEqual({ status: 'spent' });
      });

      it('refuses to redeem an expired or unknown code', async () => {
        const { grant: gr, code: co } = await seedGrant({}, { expiresAt: T0 + MIN });
        const t = token(gr.id, 'access');
        expect(await store.redeemCode(co, T0 + MIN, [t], 'a')).toEqual({ status: 'invalid' });
        expect(await store.getToken(t)).toBeNull();
        expect((await store.getCode(co))?.usedAt).toBeNull();
        expect(await store.redeemCode(credentialRef('nope'), T0, [token(gr.id, 'access')], 'a')).toEqual({ status: 'invalid' });
      });

      it('updates the sealed Notion credentials and last use of a grant', async () => {
        const { access, grant: gr } = await seedTokens();
        await store.updateGrantNotion(gr.id, 'sealed.new');
        await store.touchGrant(gr.id, T0 + 5 * MIN);
        const got = await store.getToken(access);
        expect(got?.grant.sealedNotion).toBe('sealed.new');
        expect(got?.grant.lastUsedAt).toBe(T0 + 5 * MIN);
      });

      it('deleteToken removes just that token', async () => {
        const { access, refresh } = await seedTokens();
        await store.deleteToken(access);
        expect(await store.getToken(access)).toBeNull();
        expect(await store.getToken(refresh)).not.toBeNull();
      });
    });

    describe('rotateRefreshToken', () => {
      const ISSUED = { status: 'issued' } as const;

      it('makes the old token the previous one (replaced, wrapped key emptied, answer kept) and stores the new tokens', async () => {
        const { grant: gr, refresh } = await seedTokens();
        const at = T0 + DAY;
        const next = [token(gr.id, 'access', { createdAt: at }), token(gr.id, 'refresh', { createdAt: at })];
        expect(await store.rotateRefreshToken(refresh, at, next, 'answer-1')).toEqual(ISSUED);
        const old = await store.getToken(refresh);
        expect(old?.token).toMatchObject({ replacedAt: at, wrappedKey: '', answer: 'answer-1', expiresAt: refresh.expiresAt });
        for (const t of next) expect((await store.getToken(t))?.token).toEqual(t);
      });

      it('answers every later request with the previous token with the kept answer, storing nothing', async () => {
        const { grant: gr, refresh } = await seedTokens();
        const successor = token(gr.id, 'refresh', { createdAt: T0 + DAY });
        expect(await store.rotateRefreshToken(refresh, T0 + DAY, [successor], 'answer-1')).toEqual(ISSUED);
        for (const at of [T0 + DAY, T0 + DAY + MIN, T0 + 30 * DAY]) {
          const extra = token(gr.id, 'refresh', { createdAt: at });
          // A re-sent command carries the same tokens; a second request carries new ones. Same answer.
          for (const tokens of [[successor], [extra]]) {
            expect(await store.rotateRefreshToken(refresh, at, tokens, 'answer-2')).toEqual({ status: 'again', answer: 'answer-1' });
          }
          expect(await store.getToken(extra)).toBeNull();
        }
        expect((await store.getToken(successor))?.token).toEqual(successor);
        expect(await store.countLiveCredentials(gr.id, T0 + DAY)).toBe(2 /* first access + successor */);
      });

      it('a caller that saw the token replaced passes no answer; a current token is then not rotated', async () => {
        const { grant: gr, refresh } = await seedTokens();
        const t = token(gr.id, 'refresh');
        expect(await store.rotateRefreshToken(refresh, T0, [t], null)).toEqual({ status: 'invalid' });
        expect(await store.getToken(t)).toBeNull();
        expect((await store.getToken(refresh))?.token.replacedAt).toBeNull();
      });

      it('rotating the successor deletes the previous token, so the grant keeps one current and one previous', async () => {
        const { grant: gr, refresh } = await seedTokens();
        const r1 = token(gr.id, 'refresh', { createdAt: T0 + DAY });
        expect(await store.rotateRefreshToken(refresh, T0 + DAY, [r1], 'a1')).toEqual(ISSUED);
        const r2 = token(gr.id, 'refresh', { createdAt: T0 + DAY + 1000 });
        expect(await store.rotateRefreshToken(r1, T0 + DAY + 1000, [r2], 'a2')).toEqual(ISSUED);
        expect(await store.getToken(refresh)).toBeNull();
        expect(await store.rotateRefreshToken(refresh, T0 + DAY + 2000, [token(gr.id, 'refresh')], 'a3')).toEqual({ status: 'invalid' });
        expect((await store.getToken(r1))?.token).toMatchObject({ replacedAt: T0 + DAY + 1000, answer: 'a2' });
        expect((await store.getToken(r2))?.token.replacedAt).toBeNull();
      });

      it('a replaced token with no answer kept (written before answers were kept) is spent', async () => {
        const { grant: gr } = await seedGrant();
        const { code: co } = await seedGrant({ id: `${gr.id}-2` });
        const legacy = token(`${gr.id}-2`, 'refresh', { replacedAt: T0 });
        expect(await store.redeemCode(co, T0, [legacy], 'x')).toEqual(ISSUED);
        expect(await store.rotateRefreshToken(legacy, T0 + 1, [token(gr.id, 'refresh')], 'y')).toEqual({ status: 'spent' });
      });

      it('returns invalid for an unknown hash, an access token and an expired refresh token, storing nothing', async () => {
        const { grant: gr, access, refresh } = await seedTokens();
        const t = token(gr.id, 'refresh');
        expect(await store.rotateRefreshToken(credentialRef('unknown'), T0, [t], 'a')).toEqual({ status: 'invalid' });
        expect(await store.rotateRefreshToken(access, T0, [t], 'a')).toEqual({ status: 'invalid' });
        expect(await store.rotateRefreshToken(refresh, refresh.expiresAt, [t], 'a')).toEqual({ status: 'invalid' });
        expect(await store.getToken(t)).toBeNull();
        expect((await store.getToken(access))?.token.replacedAt).toBeNull();
        expect((await store.getToken(refresh))?.token.replacedAt).toBeNull();
      });

      it('one of two racing rotations is issued and the other gets its answer', async () => {
        const { grant: gr, refresh } = await seedTokens();
        const a = token(gr.id, 'refresh');
        const b = token(gr.id, 'refresh');
        const results = await Promise.all([store.rotateRefreshToken(refresh, T0, [a], 'A'), store.rotateRefreshToken(refresh, T0, [b], 'B')]);
        const winner = results[0]!.status === 'issued' ? 'A' : 'B';
        expect(results).toContainEqual(ISSUED);
        expect(results).toContainEqual({ status: 'again', answer: winner });
        expect([await store.getToken(a), await store.getToken(b)].filter(Boolean)).toHaveLength(1);
      });
    });
    describe('countLiveCredentials', () => {
      it('counts unused, unexpired codes and unreplaced, unexpired tokens only', async () => {
        const { grant: gr, code: co } = await seedGrant();
        expect(await store.countLiveCredentials(gr.id, T0)).toBe(1); // the unused code
        expect(await store.countLiveCredentials(gr.id, co.expiresAt)).toBe(0); // expired code

        const access = token(gr.id, 'access', { expiresAt: T0 + 30 * MIN });
        const refresh = token(gr.id, 'refresh');
        expect(await store.redeemCode(co, T0, [access, refresh], 'a')).toEqual({ status: 'issued' });
        expect(await store.countLiveCredentials(gr.id, T0)).toBe(2); // used code no longer counts
        expect(await store.countLiveCredentials(gr.id, T0 + 30 * MIN)).toBe(1); // access expired

        const next = token(gr.id, 'refresh', { createdAt: T0 + MIN });
        expect(await store.rotateRefreshToken(refresh, T0 + MIN, [next], 'a')).toEqual({ status: 'issued' });
        // The previous token still answers retries but does not count.
        expect(await store.countLiveCredentials(gr.id, T0 + MIN)).toBe(2);
        expect(await store.countLiveCredentials('grant_unknown', T0)).toBe(0);
      });
    });

    describe('deleteGrant', () => {
      it('removes the grant with all its tokens and codes, leaving other grants alone', async () => {
        const a = await seedTokens();
        const b = await seedTokens();
        await store.deleteGrant(a.grant.id);
        expect(await store.getToken(a.access)).toBeNull();
        expect(await store.getToken(a.refresh)).toBeNull();
        expect(await store.getCode(a.code)).toBeNull();
        expect(await store.countLiveCredentials(a.grant.id, T0)).toBe(0);
        expect((await store.getToken(b.access))?.grant.id).toBe(b.grant.id);
        expect(await store.getCode(b.code)).not.toBeNull();
        expect((await store.stats(T0)).grants).toBe(1);
      });
    });

    describe('revocationMark', () => {
      /** The mark once the store can tell (Redis: once its subscription is confirmed). */
      async function known(s: Store): Promise<number> {
        await vi.waitFor(() => expect(s.revocationMark()).not.toBeNull(), { timeout: 2000 });
        return s.revocationMark()!;
      }

      it('stays the same over reads, other writes and deletions of nothing, and changes at once after deleteToken and after deleteGrant', async () => {
        const { grant: gr, access, refresh } = await seedTokens();
        const m0 = await known(store);
        await store.getToken(access);
        await store.touchGrant(gr.id, T0 + 1);
        await store.updateGrantNotion(gr.id, 'sealed.refreshed');
        await store.rotateRefreshToken(refresh, T0 + 2, [token(gr.id, 'refresh')], 'a');
        await store.deleteToken(credentialRef('not a stored token'));
        await store.deleteGrant('grant_unknown');
        await new Promise((r) => setTimeout(r, 50)); // time for a (wrong) Redis announcement to arrive
        expect(store.revocationMark()).toBe(m0);
        await store.deleteToken(access);
        const m1 = store.revocationMark();
        expect(m1).not.toBe(m0);
        await store.deleteGrant(gr.id);
        expect(store.revocationMark()).not.toBe(m1);
      });

      it('changes after a deletion made through another connection to the same data', async () => {
        const { grant: gr, access } = await seedTokens();
        const other = await backend.open(KEY_CHECK);
        try {
          const m0 = await known(store);
          await other.deleteGrant(gr.id);
          await vi.waitFor(() => expect(store.revocationMark()).not.toBe(m0), { timeout: 2000 });
          expect(await store.getToken(access)).toBeNull();
        } finally {
          await other.close();
        }
      });
    });

    describe('sweep and stats', () => {
      it('removes expired flows, tokens and codes and orphan grants, and keeps live ones', async () => {
        const now = T0 + DAY;
        await store.createClient(client());
        await store.putFlow('live-flow', 'consent', { live: true }, now + MIN);
        await store.putFlow('dead-flow', 'notion', { live: false }, now - 1);

        // A grant with a live access token and an expired refresh token.
        const live = await seedGrant();
        const liveAccess = token(live.grant.id, 'access', { expiresAt: now + DAY });
        const deadRefresh = token(live.grant.id, 'refresh', { expiresAt: now - 1 });
        expect(await store.redeemCode(live.code, T0, [liveAccess, deadRefresh], 'a')).toEqual({ status: 'issued' });

        // A grant whose only code has expired: an orphan after the sweep.
        const orphan = await seedGrant({}, { expiresAt: now - 1 });
        // A grant with an unused live code.
        const pending = await seedGrant({}, { expiresAt: now + MIN });
        // A grant whose tokens all expired.
        const expired = await seedGrant({}, { expiresAt: now - 1 });
        expect(await store.redeemCode(expired.code, T0, [token(expired.grant.id, 'access', { expiresAt: now - 1 })], 'a')).toEqual({ status: 'issued' });

        expect(await store.stats(now)).toEqual({ clients: 1, grants: 4, liveTokens: 1, pendingFlows: 1 });

        const removed = await store.sweep(now);
        // dead flow, expired refresh, expired access, 3 expired codes (live, orphan, expired grants), 2 orphan grants
        expect(removed).toBe(8);

        expect(await store.takeFlow('dead-flow', 'notion', T0)).toBeNull();
        expect(await store.takeFlow('live-flow', 'consent', now)).toEqual({ live: true });
        expect((await store.getToken(liveAccess))?.grant.id).toBe(live.grant.id);
        expect(await store.getToken(deadRefresh)).toBeNull();
        expect(await store.getCode(orphan.code)).toBeNull();
        expect(await store.getCode(pending.code)).toEqual(pending.code);
        expect(await store.stats(now)).toEqual({ clients: 1, grants: 2, liveTokens: 1, pendingFlows: 0 });

        // Nothing left to remove.
        expect(await store.sweep(now)).toBe(0);
      });

      it('counts clients, grants, live tokens (including a previous refresh token) and pending flows', async () => {
        expect(await store.stats(T0)).toEqual({ clients: 0, grants: 0, liveTokens: 0, pendingFlows: 0 });
        await store.createClient(client());
        await store.createClient(client());
        await store.putFlow('f', 'consent', {}, T0 + MIN);
        const { grant: gr, refresh } = await seedTokens();
        expect(await store.rotateRefreshToken(refresh, T0, [token(gr.id, 'refresh')], 'a')).toEqual({ status: 'issued' });
        expect(await store.stats(T0)).toEqual({ clients: 2, grants: 1, liveTokens: 3, pendingFlows: 1 });
        expect(await store.stats(T0 + MIN)).toEqual({ clients: 2, grants: 1, liveTokens: 3, pendingFlows: 0 });
      });
    });

    describe('opening', () => {
      it('refuses to open data written with another key check', async () => {
        const c = client();
        await store.createClient(c);
        await store.close();
        await expect(backend.open('key-check-value-B')).rejects.toThrow(StoreOpenError);
        await expect(backend.open('key-check-value-B')).rejects.toThrow(/SESSION_SECRET/);
        // The refused open did not wipe anything.
        store = await backend.open(KEY_CHECK);
        expect(await store.getClient(c.clientId)).toEqual(c);
      });

      it('keeps everything across close and reopen', async () => {
        const c = client();
        await store.createClient(c);
        await store.putFlow('persist', 'notion', { x: 1 }, T0 + MIN);
        const { grant: gr, code: co, access, refresh } = await seedTokens();
        await store.close();

        store = await backend.open(KEY_CHECK);
        expect(await store.getClient(c.clientId)).toEqual(c);
        expect(await store.getCode(co)).toEqual({ ...co, usedAt: T0, wrappedKey: '', answer: 'answer' });
        expect(await store.getToken(access)).toEqual({ token: access, grant: gr });
        expect((await store.getToken(refresh))?.token).toEqual(refresh);
        expect(await store.takeFlow('persist', 'notion', T0)).toEqual({ x: 1 });
        // A redeemed code stays redeemed.
        expect(await store.redeemCode(co, T0, [], 'other')).toEqual({ status: 'again', answer: 'answer' });
      });
    });
  });
}

function sqliteBackend(): Promise<StoreBackend> {
  const dir = mkdtempSync(join(tmpdir(), 'nmr-store-'));
  const dataDir = join(dir, 'data');
  return Promise.resolve({
    open: async (keyCheck: string) => SqliteStore.open(dataDir, keyCheck),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  });
}

storeContract('sqlite', sqliteBackend);

describe('SqliteStore specifics', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nmr-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('upgrades a version 1 store in place: answers and client use are added, nothing is lost', async () => {
    const file = join(dir, SQLITE_FILE);
    const v1 = new Database(file);
    v1.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE clients (client_id TEXT PRIMARY KEY, record TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE flows (id TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE grants (id TEXT PRIMARY KEY, client_id TEXT NOT NULL, scope TEXT NOT NULL, resource TEXT NOT NULL, notion_user_id TEXT,
        notion_workspace_id TEXT, info TEXT NOT NULL, sealed_notion TEXT NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER);
      CREATE TABLE codes (hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE, client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL, code_challenge TEXT NOT NULL, resource TEXT NOT NULL, scope TEXT NOT NULL, wrapped_key TEXT NOT NULL,
        expires_at INTEGER NOT NULL, used_at INTEGER);
      CREATE TABLE tokens (hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE, kind TEXT NOT NULL,
        scope TEXT NOT NULL, wrapped_key TEXT NOT NULL, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL, replaced_at INTEGER);
      INSERT INTO meta VALUES ('schema_version', '1'), ('key_check', '${KEY_CHECK}');
    `);
    const used = client();
    const idle = client();
    const g = grant({ clientId: used.clientId });
    const t = token(g.id, 'refresh');
    for (const c of [used, idle]) v1.prepare('INSERT INTO clients VALUES (?, ?, ?)').run(c.clientId, JSON.stringify(c), c.createdAt);
    v1.prepare('INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(g.id, g.clientId, g.scope, g.resource, g.notionUserId, g.notionWorkspaceId, JSON.stringify(g.info), g.sealedNotion, g.createdAt, null);
    v1.prepare('INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(t.hash, g.id, t.kind, t.scope, t.wrappedKey, t.expiresAt, t.createdAt, null);
    v1.close();

    const store = SqliteStore.open(dir, KEY_CHECK);
    try {
      expect((await store.getToken(t))?.token).toEqual(t);
      expect(await store.rotateRefreshToken(t, T0, [token(g.id, 'refresh')], 'answer')).toEqual({ status: 'issued' });
      // The client with a grant is marked used: a cap of one never-used client evicts only the idle one.
      await store.createClient(client({ createdAt: T0 + 1 }), 1);
      expect(await store.getClient(used.clientId)).not.toBeNull();
      expect(await store.getClient(idle.clientId)).toBeNull();
    } finally {
      await store.close();
    }
    const after = new Database(file, { readonly: true });
    expect(after.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe('2');
    after.close();
  });

  it('an instance with 100,000 connections still registers new clients, and no connection\'s client is deleted', async () => {
    const store = SqliteStore.open(dir, KEY_CHECK);
    try {
      // 100,000 clients that each got a grant, written directly for speed.
      const db = new Database(join(dir, SQLITE_FILE));
      db.transaction(() => {
        const c = db.prepare('INSERT INTO clients (client_id, record, created_at, used) VALUES (?, ?, ?, 1)');
        const g = db.prepare("INSERT INTO grants (id, client_id, scope, resource, info, sealed_notion, created_at) VALUES (?, ?, 's', 'r', '{}', 'x', ?)");
        for (let i = 0; i < 100_000; i++) {
          c.run(`c${i}`, '{}', T0 - i);
          g.run(`g${i}`, `c${i}`, T0);
        }
      })();
      db.close();
      for (let i = 0; i < 20; i++) await store.createClient(client({ createdAt: T0 + i }), 10);
      expect(await store.countClients()).toBe(100_010);
      expect(await store.getClient('c99999')).not.toBeNull();
    } finally {
      await store.close();
    }
  });

  it('creates a nested DATA_DIR and the database file in it', async () => {
    const dataDir = join(dir, 'a', 'b');
    const store = SqliteStore.open(dataDir, KEY_CHECK);
    await store.ping();
    await store.close();
    expect(existsSync(join(dataDir, SQLITE_FILE))).toBe(true);
  });

  it('throws StoreOpenError naming the path when DATA_DIR cannot be created', () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'not a directory');
    expect(() => SqliteStore.open(join(file, 'data'), KEY_CHECK)).toThrow(StoreOpenError);
    expect(() => SqliteStore.open(join(file, 'data'), KEY_CHECK)).toThrow(/DATA_DIR/);
  });

  it('throws StoreOpenError on a file that is not a database, and leaves it as it was', () => {
    const garbage = Buffer.from('this is not a SQLite database '.repeat(200));
    writeFileSync(join(dir, SQLITE_FILE), garbage);
    expect(() => SqliteStore.open(dir, KEY_CHECK)).toThrow(StoreOpenError);
    expect(Buffer.compare(readFileSync(join(dir, SQLITE_FILE)), garbage)).toBe(0);
  });

  it('refuses another key check without touching the file, even in rollback-journal mode', async () => {
    const store = SqliteStore.open(dir, KEY_CHECK);
    await store.close();
    const file = join(dir, SQLITE_FILE);
    const db = new Database(file);
    db.pragma('journal_mode = DELETE');
    db.close();
    const before = readFileSync(file);
    expect(() => SqliteStore.open(dir, 'another-key-check')).toThrow(StoreOpenError);
    expect(Buffer.compare(readFileSync(file), before)).toBe(0);
    // The right key check opens it (and may switch it to WAL).
    await SqliteStore.open(dir, KEY_CHECK).close();
  });

  it('refuses a store written by another schema version, naming both versions', async () => {
    const store = SqliteStore.open(dir, KEY_CHECK);
    await store.close();
    const db = new Database(join(dir, SQLITE_FILE));
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    db.close();
    expect(() => SqliteStore.open(dir, KEY_CHECK)).toThrow(StoreOpenError);
    expect(() => SqliteStore.open(dir, KEY_CHECK)).toThrow(/schema version 99.*version 2/);
  });

  it('sweeps in batches and lets the event loop run between them', async () => {
    const store = SqliteStore.open(dir, KEY_CHECK);
    const now = T0 + DAY;
    for (let i = 0; i < 20; i++) {
      const gr = grant();
      await store.createGrant(gr, code(gr.id, { expiresAt: now - 1 }));
    }
    const g = grant();
    await store.createGrant(g, code(g.id, { expiresAt: now + MIN }));
    const db = new Database(join(dir, SQLITE_FILE));
    const insert = db.prepare('INSERT INTO flows (id, kind, data, expires_at) VALUES (?, ?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 5000; i++) insert.run(`f${i}`, 'consent', '{}', now - 1);
    })();
    db.close();
    let ticks = 0;
    let ticking = true;
    const tick = () => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const removed = await store.sweep(now);
    ticking = false;
    // 5,000 flows, 20 expired codes and their 20 grants.
    expect(removed).toBe(5040);
    // At most 500 rows a batch: the loop ran at least once per batch of flows.
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect(await store.stats(now)).toMatchObject({ grants: 1, pendingFlows: 0 });
    await store.close();
  });

  it('fails ping once closed', async () => {
    const store = SqliteStore.open(dir, KEY_CHECK);
    await store.close();
    await expect(store.ping()).rejects.toThrow();
    // Closing twice is harmless.
    await store.close();
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { dropOpen, dropSeal, Keyring, newDropKeys, seal } from '../../src/lib/crypto.js';
import { credentialRef, Grants } from '../../src/oauth/grants.js';
import { withPending } from '../../src/oauth/workspaces.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { CredentialRef, Store } from '../../src/store/types.js';
import { TEST_SECRET } from '../helpers/stack.js';

/**
 * The bearer check's verified-token cache, on a real SQLite file: a token seen before is served
 * without reading the store, yet a deletion (through this store or another connection to the
 * file, as the admin CLI makes) is refused on the very next request.
 */

let dir: string;
let store: SqliteStore;
let reads: number;
let clock: number;
let grants: Grants;

const config = () =>
  loadConfig({
    NOTION_OAUTH_CLIENT_ID: 'notion-client',
    NOTION_OAUTH_CLIENT_SECRET: 'notion-secret',
    BASE_URL: 'https://mcp.example.com',
    SESSION_SECRET: TEST_SECRET,
    DATA_DIR: join(dir, 'data'),
  });

/** The real store, counting the bearer check's reads. */
function counting(inner: Store): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'getToken') {
        return (ref: CredentialRef) => {
          reads++;
          return target.getToken(ref);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A grant with a redeemed code: returns its id and access token. */
async function connect(): Promise<{ grantId: string; accessToken: string }> {
  const code = await grants.createWithCode({
    clientId: 'client_x',
    redirectUri: 'https://claude.ai/api/mcp/auth_callback',
    codeChallenge: 'challenge',
    resource: 'https://mcp.example.com/mcp',
    scope: 'notion:read notion:write',
    workspaces: [{ id: 'ws-1', name: 'WS', accessToken: 'ntn_user', refreshToken: null }],
    notionUserId: 'user-1',
    notionWorkspaceId: 'ws-1',
    info: { workspaceName: 'WS' },
  });
  const record = (await store.getCode(credentialRef(code)))!;
  const issued = grants.mintPair(record.grantId, grants.openKey(code, record.wrappedKey), record.scope, record.scope);
  expect(await store.redeemCode(record, clock, issued.records, 'answer')).toEqual({ status: 'issued' });
  return { grantId: record.grantId, accessToken: issued.answer.accessToken };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nmr-grants-'));
  const cfg = config();
  const keyring = new Keyring(TEST_SECRET);
  store = SqliteStore.open(cfg.dataDir, keyring.checkValues());
  reads = 0;
  clock = Date.now();
  grants = new Grants(counting(store), keyring, cfg, () => clock);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('verified-token cache', () => {
  it('reads the store once for repeated requests, and again only after a deletion anywhere in the store', async () => {
    const a = await connect();
    const b = await connect();
    for (let i = 0; i < 5; i++) expect((await grants.verifyAccessToken(a.accessToken))?.grantId).toBe(a.grantId);
    expect(reads).toBe(1);
    // Another grant's revocation: the token is read once more, still valid, then served from the cache again.
    await store.deleteGrant(b.grantId);
    expect((await grants.verifyAccessToken(a.accessToken))?.grantId).toBe(a.grantId);
    expect((await grants.verifyAccessToken(a.accessToken))?.grantId).toBe(a.grantId);
    expect(reads).toBe(2);
    expect(await grants.verifyAccessToken(b.accessToken)).toBeNull();
  });

  it('refuses a token on the next request after its deletion through this store', async () => {
    const a = await connect();
    expect(await grants.verifyAccessToken(a.accessToken)).not.toBeNull();
    await store.deleteToken(credentialRef(a.accessToken));
    expect(await grants.verifyAccessToken(a.accessToken)).toBeNull();
  });

  it('refuses a token on the next request after its grant was deleted through another connection to the file', async () => {
    const a = await connect();
    expect(await grants.verifyAccessToken(a.accessToken)).not.toBeNull();
    const other = SqliteStore.open(config().dataDir, new Keyring(TEST_SECRET).checkValues());
    try {
      await other.deleteGrant(a.grantId);
    } finally {
      await other.close();
    }
    await new Promise((r) => setImmediate(r)); // the next request comes in a later event-loop turn
    expect(await grants.verifyAccessToken(a.accessToken)).toBeNull();
  });

  it('verifies in full again after 30 s, and never serves a token past its expiry', async () => {
    const a = await connect();
    await grants.verifyAccessToken(a.accessToken);
    clock += 29_000;
    await grants.verifyAccessToken(a.accessToken);
    expect(reads).toBe(1);
    clock += 2_000;
    expect(await grants.verifyAccessToken(a.accessToken)).not.toBeNull();
    expect(reads).toBe(2);
    clock += config().ttl.accessTokenS * 1000;
    expect(await grants.verifyAccessToken(a.accessToken)).toBeNull();
  });
});

describe('workspaces of a grant', () => {
  it('a grant sealed before workspaces existed opens as its one workspace, and its first request gives it a drop box', async () => {
    const a = await connect();
    // As stored before: the single-credential form, no drop box in `info`.
    const grant = (await store.getGrant(a.grantId))!;
    const key = grants.openKey(a.accessToken, (await store.getToken(credentialRef(a.accessToken)))!.token.wrappedKey);
    const legacy = seal(key, JSON.stringify({ accessToken: 'ntn_legacy', refreshToken: 'nrt_legacy' }), grant.id);
    const { addKey: _k, addKeySealed: _s, ...oldInfo } = grant.info;
    await store.updateGrantNotion(grant.id, legacy);
    await store.updateGrantSettings(grant.id, grant.scope, oldInfo);

    const auth = (await grants.verifyAccessToken(a.accessToken))!;
    expect(auth.notion).toEqual({ accessToken: 'ntn_legacy', refreshToken: 'nrt_legacy' });
    expect(auth.workspaces).toBeUndefined();
    const after = (await store.getGrant(a.grantId))!;
    expect(after.sealedNotion).toBe(legacy); // the credentials are left as they were
    expect(after.info.addKey).toBeTruthy();
    expect(after.info.workspaceName).toBe('WS');

    // What Your connections drops in opens only with the grant key: merged by the next verification.
    const info = withPending(after, { id: 'ws-2', name: 'Second', accessToken: 'ntn_second', refreshToken: null });
    expect(JSON.stringify(info)).not.toContain('ntn_second');
    await store.updateGrantSettings(after.id, after.scope, info);
    const merged = (await grants.verifyAccessToken(a.accessToken))!;
    expect(merged.workspaces?.map((w) => [w.workspaceId, w.name, w.notion.accessToken])).toEqual([
      ['ws-1', 'WS', 'ntn_legacy'],
      ['ws-2', 'Second', 'ntn_second'],
    ]);
    expect((await store.getGrant(a.grantId))!.info.pending).toBeUndefined();
  });

  it('a dropped value opens only with its private key and for its own record', () => {
    const keys = newDropKeys();
    const sealed = dropSeal(keys.publicKey, 'secret', 'grant-1:pending');
    expect(dropOpen(keys.privateKey, sealed, 'grant-1:pending')).toBe('secret');
    expect(() => dropOpen(keys.privateKey, sealed, 'grant-2:pending')).toThrow();
    expect(() => dropOpen(newDropKeys().privateKey, sealed, 'grant-1:pending')).toThrow();
  });
});

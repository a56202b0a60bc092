import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Keyring, sha256 } from '../../src/lib/crypto.js';
import { credentialRef } from '../../src/oauth/grants.js';
import { RedisStore } from '../../src/store/redis.js';
import { SqliteStore, StoreOpenError } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { type FakeNotion, fakeWorkspace, startFakeNotion } from '../helpers/fake-notion.js';
import { callTool, connect, mcpPost, tokenRequest } from '../helpers/oauth-client.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';
import { startAgain } from './support.js';

/** SESSION_SECRET rotation with SESSION_SECRET_PREVIOUS, end to end and at the store. */

const NEW_SECRET = '7c2e9a4f1b8d3e6a0c5f2b9e4d7a1c8f3e6b0d9a2c5f8e1b4d7a0c3f6e9b2d5a';
const OTHER_SECRET = '5e8b2d7f0a3c6e9b1d4f7a0c3e6b9d2f5a8c1e4b7d0a3f6c9e2b5d8a1f4c7e0b';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nmr-rotation-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const TOOLS_LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

describe('SESSION_SECRET rotation end to end (SQLite)', () => {
  let fake: FakeNotion;
  let stack: Stack | undefined;
  beforeAll(async () => {
    fake = await startFakeNotion();
  });
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });
  afterAll(async () => fake.close());

  it('keeps old tokens working after a rotation and issues new ones under the new key id', async () => {
    const dataDir = tempDir();
    stack = await startStack({ fake, dataDir });
    const { client, tokens } = await connect(stack, fakeWorkspace('A'));
    const oldKeyId = new Keyring(TEST_SECRET).keyId;
    const before = await stack.app.store.getToken(credentialRef(tokens.access_token));
    expect(before?.token.wrappedKey.startsWith(`${oldKeyId}.`)).toBe(true);
    await stack.close();

    const first = { baseUrl: stack.baseUrl };
    stack = await startAgain(first, { fake, dataDir, env: { SESSION_SECRET: NEW_SECRET, SESSION_SECRET_PREVIOUS: TEST_SECRET } });
    // The old access token still opens its grant and the user's Notion token.
    expect((await mcpPost(stack.baseUrl, tokens.access_token, TOOLS_LIST)).status).toBe(200);
    expect((await callTool(stack.baseUrl, tokens.access_token, 'search', { query: 'Page' })).isError).toBe(false);

    // Its refresh works, and what it issues is wrapped under the new key.
    const refreshed = await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    const pair = (await refreshed.json()) as { access_token: string; refresh_token: string };
    const newKeyId = new Keyring(NEW_SECRET).keyId;
    expect(newKeyId).not.toBe(oldKeyId);
    for (const t of [pair.access_token, pair.refresh_token]) {
      const found = await stack.app.store.getToken(credentialRef(t));
      expect(found?.token.wrappedKey.startsWith(`${newKeyId}.`)).toBe(true);
    }
    expect((await callTool(stack.baseUrl, pair.access_token, 'search', { query: 'Page' })).isError).toBe(false);

    // A connection made after the rotation carries the new key id from its first token.
    const fresh = await connect(stack, fakeWorkspace('B'));
    expect((await stack.app.store.getToken(credentialRef(fresh.tokens.access_token)))?.token.wrappedKey.startsWith(`${newKeyId}.`)).toBe(true);
    await stack.close();

    // The store recorded the new secret: it now starts without the previous one. Tokens under the
    // new key work; the old access token (its secret dropped) no longer opens its grant.
    stack = await startAgain(first, { fake, dataDir, env: { SESSION_SECRET: NEW_SECRET } });
    expect((await mcpPost(stack.baseUrl, pair.access_token, TOOLS_LIST)).status).toBe(200);
    expect((await mcpPost(stack.baseUrl, fresh.tokens.access_token, TOOLS_LIST)).status).toBe(200);
    expect((await mcpPost(stack.baseUrl, tokens.access_token, TOOLS_LIST)).status).toBe(401);
  });

  it('refuses to start with a secret that is neither the current nor a previous one, with the same error', async () => {
    const dataDir = tempDir();
    stack = await startStack({ fake, dataDir });
    await stack.close();
    stack = undefined;
    await expect(startStack({ fake, dataDir, env: { SESSION_SECRET: NEW_SECRET, SESSION_SECRET_PREVIOUS: OTHER_SECRET } })).rejects.toThrow(
      /SESSION_SECRET does not match/,
    );
    // Nothing was overwritten: the original secret still opens it.
    stack = await startStack({ fake, dataDir });
  });
});

/** The start-up key check of each backend: accept current or previous, then record the current. */
function keyCheckContract(name: string, open: (checks: string[]) => Promise<Store>) {
  const oldK = new Keyring(TEST_SECRET);
  const rotated = new Keyring(NEW_SECRET, [TEST_SECRET]);
  const other = new Keyring(OTHER_SECRET);

  describe(`${name}: key check across a rotation`, () => {
    it('opens data of the previous secret, records the current one, and refuses any other secret', async () => {
      await (await open(oldK.checkValues())).close();
      // A secret that is neither the stored one nor listed: refused, nothing recorded.
      await expect(open(other.checkValues())).rejects.toBeInstanceOf(StoreOpenError);
      await expect(open(new Keyring(NEW_SECRET).checkValues())).rejects.toThrow(/SESSION_SECRET does not match/);
      // Rotated: opens, and records the new check value.
      await (await open(rotated.checkValues())).close();
      // From now on the new secret alone opens it, and the old one alone is refused.
      await (await open(new Keyring(NEW_SECRET).checkValues())).close();
      await expect(open(oldK.checkValues())).rejects.toThrow(/SESSION_SECRET does not match/);
      // Rolling back keeps working while the new secret is listed as previous.
      await (await open(new Keyring(TEST_SECRET, [NEW_SECRET]).checkValues())).close();
    });
  });
}

let sqliteDir = '';
let redis: RedisServer | undefined;
beforeAll(async () => {
  sqliteDir = tempDir();
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.dispose();
});

keyCheckContract('sqlite', async (checks) => SqliteStore.open(sqliteDir, checks));
keyCheckContract('redis', (checks) => RedisStore.open(redis!.url, checks, { prefix: 'rot:' }));

describe('listGrants on both backends', () => {
  it('lists every grant newest first (SQLite and Redis)', async () => {
    const checks = new Keyring(TEST_SECRET).checkValues();
    const stores: Store[] = [SqliteStore.open(tempDir(), checks), await RedisStore.open(redis!.url, checks, { prefix: 'lg:' })];
    for (const store of stores) {
      expect(await store.listGrants()).toEqual([]);
      for (const [i, id] of ['g-old', 'g-new', 'g-mid'].entries()) {
        const createdAt = [1000, 3000, 2000][i]!;
        await store.createGrant(
          {
            id,
            clientId: 'c1',
            scope: 'notion:read',
            resource: 'https://mcp.example.com/mcp',
            notionUserId: `u-${id}`,
            notionWorkspaceId: 'ws-1',
            info: { clientName: 'Claude', workspaceName: 'W', userName: null },
            sealedNotion: 'sealed',
            createdAt,
            lastUsedAt: null,
          },
          {
            hash: sha256(`code-${id}`),
            grantId: id,
            clientId: 'c1',
            redirectUri: 'https://claude.ai/api/mcp/auth_callback',
            codeChallenge: 'x',
            resource: 'https://mcp.example.com/mcp',
            scope: 'notion:read',
            wrappedKey: 'k.x',
            expiresAt: Date.now() + 600_000,
            usedAt: null,
            answer: null,
          },
        );
      }
      const listed = await store.listGrants();
      expect(listed.map((g) => g.id)).toEqual(['g-new', 'g-mid', 'g-old']);
      expect(listed[0]).toMatchObject({ notionUserId: 'u-g-new', notionWorkspaceId: 'ws-1', info: { clientName: 'Claude' } });
      await store.deleteGrant('g-mid');
      expect((await store.listGrants()).map((g) => g.id)).toEqual(['g-new', 'g-old']);
      await store.close();
    }
  });
});

describe('SESSION_SECRET_PREVIOUS configuration', () => {
  const base = {
    NOTION_OAUTH_CLIENT_ID: 'id',
    NOTION_OAUTH_CLIENT_SECRET: 'secret',
    BASE_URL: 'https://mcp.example.com',
    SESSION_SECRET: NEW_SECRET,
  };

  it('is optional and takes comma-separated older secrets in order', () => {
    expect(loadConfig(base).sessionSecretPrevious).toEqual([]);
    expect(loadConfig({ ...base, SESSION_SECRET_PREVIOUS: '' }).sessionSecretPrevious).toEqual([]);
    expect(loadConfig({ ...base, SESSION_SECRET_PREVIOUS: ` ${TEST_SECRET} , ${OTHER_SECRET},` }).sessionSecretPrevious).toEqual([
      TEST_SECRET,
      OTHER_SECRET,
    ]);
  });

  it('checks each entry like SESSION_SECRET, naming the entry but never its value', () => {
    const weak = 'short-and-weak';
    let message = '';
    try {
      loadConfig({ ...base, SESSION_SECRET_PREVIOUS: `${TEST_SECRET},${weak}` });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/SESSION_SECRET_PREVIOUS entry 2 must hold at least 32 bytes of entropy/);
    expect(message).not.toContain(weak);
  });
});

import { randomUUID } from 'node:crypto';
import { type Config, loadConfig } from '../../src/config.js';
import { Keyring, pkceS256, randomSecret } from '../../src/lib/crypto.js';
import { credentialRef, Grants } from '../../src/oauth/grants.js';
import { ALL_SCOPES_STRING } from '../../src/oauth/scopes.js';
import { RedisStore } from '../../src/store/redis.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { TEST_SECRET } from '../../test/helpers/stack.js';

/**
 * Grants written to a store (Redis or SQLite) through the product's own code path:
 * Grants.createWithCode as the Notion callback calls it, then the store calls of /token (redeem
 * the code, rotate the refresh token, touch the grant), with records of the sizes real users produce.
 */
export interface Connector<S extends Store = Store> {
  store: S;
  grants: Grants;
  config: Config;
  /** The clock Grants mints with (epoch ms); set it back to write already-expired records. */
  clock: { now: number };
}

function connector<S extends Store>(store: S, keyring: Keyring, env: Record<string, string>): Connector<S> {
  const config = loadConfig({
    NOTION_OAUTH_CLIENT_ID: 'notion-client',
    NOTION_OAUTH_CLIENT_SECRET: 'notion-secret',
    BASE_URL: 'https://mcp.example.com',
    SESSION_SECRET: TEST_SECRET,
    ...env,
  });
  const clock = { now: Date.now() };
  return { store, grants: new Grants(store, keyring, config, () => clock.now), config, clock };
}

export async function openConnector(url: string, prefix = 'nmr:'): Promise<Connector<RedisStore>> {
  const keyring = new Keyring(TEST_SECRET);
  return connector(await RedisStore.open(url, keyring.checkValues(), { prefix }), keyring, { REDIS_URL: url });
}

/** The same on the embedded SQLite store in `dataDir`. */
export function openSqliteConnector(dataDir: string): Connector<SqliteStore> {
  const keyring = new Keyring(TEST_SECRET);
  return connector(SqliteStore.open(dataDir, keyring.checkValues()), keyring, { DATA_DIR: dataDir });
}

/** One user's connection: Notion callback, then the code exchange of /token. Returns the refresh token. */
export async function connectOne(c: Connector, clientId: string): Promise<string> {
  const verifier = randomSecret();
  const workspaceId = randomUUID();
  const code = await c.grants.createWithCode({
    clientId,
    redirectUri: 'https://claude.ai/api/mcp/auth_callback',
    codeChallenge: pkceS256(verifier),
    resource: c.config.resource,
    scope: ALL_SCOPES_STRING,
    // Notion's tokens are `ntn_` plus 46 characters.
    workspaces: [{ id: workspaceId, name: 'Acme Corp Workspace', accessToken: `ntn_${randomSecret(35).slice(0, 46)}`, refreshToken: `ntn_${randomSecret(35).slice(0, 46)}` }],
    notionUserId: randomUUID(),
    notionWorkspaceId: workspaceId,
    info: { clientName: 'Claude', workspaceName: 'Acme Corp Workspace', botId: randomUUID(), userName: 'Ada Lovelace', userEmail: 'ada.lovelace@example.com' },
  });
  const ref = credentialRef(code);
  const { hash } = ref;
  const record = (await c.store.getCode(ref))!;
  const issued = c.grants.mintPair(record.grantId, c.grants.openKey(code, record.wrappedKey), record.scope, record.scope);
  const sealed = c.grants.sealAnswer(`${code} ${verifier}`, issued.answer, hash);
  const result = await c.store.redeemCode(ref, c.clock.now, issued.records, sealed);
  if (result.status !== 'issued') throw new Error(`redeem: ${result.status}`);
  await c.store.touchGrant(record.grantId, c.clock.now);
  return issued.answer.refreshToken;
}

/** One refresh as /token makes it. Returns the new refresh token. */
export async function refreshOne(c: Connector, token: string): Promise<string> {
  const ref = credentialRef(token);
  const { hash } = ref;
  const found = (await c.store.getToken(ref))!;
  const { token: record, grant } = found;
  const issued = c.grants.mintPair(grant.id, c.grants.openKey(token, record.wrappedKey), grant.scope, grant.scope);
  const sealed = c.grants.sealAnswer(token, issued.answer, hash);
  const result = await c.store.rotateRefreshToken(ref, c.clock.now, issued.records, sealed);
  if (result.status !== 'issued') throw new Error(`rotate: ${result.status}`);
  await c.store.touchGrant(grant.id, c.clock.now);
  return issued.answer.refreshToken;
}

/** Runs `fn(i)` for i in [0, n) with `parallel` calls in flight (ioredis pipelines them). */
export async function inParallel<T>(n: number, parallel: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) out[i] = await fn(i);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return out;
}

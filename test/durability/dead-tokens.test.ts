import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Keyring, sha256 } from '../../src/lib/crypto.js';
import { SQLITE_FILE } from '../../src/store/sqlite.js';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { authorizeHeadless, exchangeCode, mcpPost, register, type TokenSet, tokenRequest } from '../helpers/oauth-client.js';
import { type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';

/**
 * The README's promise: a copy of DATA_DIR plus SESSION_SECRET opens nothing without one of the
 * user's live tokens. Here the copy is taken after a code was redeemed, refresh tokens were
 * rotated and an access token was revoked, and every dead credential is tried against every
 * wrapped key found anywhere in the copied files (the database, its WAL and shared memory).
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

/** The wrapped key stored for a hash right now (read over a separate read-only connection). */
function wrappedKeyOf(table: 'codes' | 'tokens', hash: string): string {
  const db = new Database(join(stack.dataDir, SQLITE_FILE), { readonly: true });
  try {
    return (db.prepare(`SELECT wrapped_key FROM ${table} WHERE hash = ?`).get(hash) as { wrapped_key: string }).wrapped_key;
  } finally {
    db.close();
  }
}

/** Every string shaped like a wrapped grant key (`<key id>.<40 bytes of AES-KW, base64url>`) in the copied files. */
function wrappedKeysInCopy(): string[] {
  const found = new Set<string>();
  for (const name of readdirSync(stack.dataDir)) {
    const text = readFileSync(join(stack.dataDir, name)).toString('latin1');
    for (const m of text.matchAll(/[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{54}/g)) found.add(m[0]);
  }
  return [...found];
}

const refresh = async (client: Awaited<ReturnType<typeof register>>, token: string): Promise<TokenSet> => {
  const res = await tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: token });
  expect(res.status).toBe(200);
  return (await res.json()) as TokenSet;
};

it('no redeemed code, rotated refresh token or revoked access token opens the grant key from a later copy of DATA_DIR', async () => {
  const keyring = new Keyring(TEST_SECRET);
  const client = await register(stack.baseUrl);
  const auth = await authorizeHeadless(stack, client, { workspace: fakeWorkspace('A') });
  const code = auth.redirect.searchParams.get('code')!;
  const codeKey = wrappedKeyOf('codes', sha256(code));
  expect(keyring.unwrapGrantKey(code, codeKey)).toHaveLength(32); // the key the copy must not give away

  const t0 = await exchangeCode(stack, client, auth);
  const t1 = await refresh(client, t0.refresh_token);
  const t2 = await refresh(client, t1.refresh_token); // t0's refresh token is now gone, t1's is the previous one
  const revoked = await fetch(`${stack.baseUrl}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: client.client_id, client_secret: client.client_secret ?? '', token: t2.access_token }).toString(),
  });
  expect(revoked.status).toBe(200);
  const live = await mcpPost(stack.baseUrl, t1.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' });
  expect(live.status).toBe(200); // the grant itself is alive

  const dead = { code, 'rotated refresh t0': t0.refresh_token, 'rotated refresh t1': t1.refresh_token, 'revoked access t2': t2.access_token };
  const candidates = wrappedKeysInCopy();
  // The scan does find wrapped keys: those of the live tokens.
  const opens = (token: string) =>
    candidates.filter((wrapped) => {
      try {
        keyring.unwrapGrantKey(token, wrapped);
        return true;
      } catch {
        return false;
      }
    });
  expect(opens(t2.refresh_token)).toHaveLength(1);
  expect(opens(t1.access_token)).toHaveLength(1);
  for (const [what, token] of Object.entries(dead)) expect(opens(token), what).toEqual([]);
  expect(candidates).not.toContain(codeKey);
});

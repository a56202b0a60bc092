import type { Request, Response } from 'express';
import { OAuthError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NotionOAuth } from '../notion/oauth.js';
import type { GrantRecord, Store, TokenRecord } from '../store/types.js';
import type { Clients } from './clients.js';
import { credentialRef, type Grants } from './grants.js';

export interface RevokeDeps {
  store: Store;
  clients: Clients;
  grants: Grants;
  notion: NotionOAuth;
  log: Logger;
  now: () => number;
}

/**
 * Ends a grant: deletes it with all its tokens, then revokes the Notion token upstream.
 * Needs a live token of the grant, because only that can open the sealed Notion credentials.
 */
export async function endGrant(deps: RevokeDeps, grant: GrantRecord, token: string, wrappedKey: string): Promise<void> {
  let notionTokens: string[] = [];
  try {
    notionTokens = deps.grants.openWorkspaces(grant, deps.grants.openKey(token, wrappedKey)).map((w) => w.accessToken);
  } catch {
    deps.log.warn({ grantId: grant.id }, 'could not open grant for upstream revocation');
  }
  await deps.store.deleteGrant(grant.id);
  // Every workspace of the connection has its own Notion token.
  await Promise.all(
    notionTokens.map(async (notionToken) => {
      try {
        await deps.notion.revoke(notionToken);
      } catch (err) {
        // Our side is already revoked; Notion keeps the page access until the user removes it there.
        deps.log.warn({ grantId: grant.id, status: (err as { status?: number }).status }, 'notion token revocation failed');
      }
    }),
  );
}

/**
 * The token and wrapped key that open the grant. A previous refresh token has no wrapped key left;
 * it opens the grant through its successor, which the answer of its rotation holds.
 */
async function grantOpener(deps: RevokeDeps, token: string, record: TokenRecord): Promise<{ token: string; wrappedKey: string }> {
  const answer = record.wrappedKey === '' && record.answer !== null ? deps.grants.openAnswer(token, record.answer, record.hash) : null;
  const successor = answer && (await deps.store.getToken(credentialRef(answer.refreshToken)));
  return successor ? { token: answer.refreshToken, wrappedKey: successor.token.wrappedKey } : { token, wrappedKey: record.wrappedKey };
}

/**
 * POST /revoke (RFC 7009). Revoking a refresh token ends the whole grant (§2.1); revoking an
 * access token ends the grant once nothing else of it is alive. Unknown tokens and tokens of
 * other clients get the same 200, so the endpoint tells nothing about tokens it did not issue
 * to the caller, and never revokes them.
 */
export function createRevokeHandler(deps: RevokeDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    res.set('Cache-Control', 'no-store');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const client = await deps.clients.authenticate(req);
    if (typeof body.token !== 'string' || !body.token) throw new OAuthError('invalid_request', 'token is required');
    const token = body.token;
    const found = await deps.store.getToken(credentialRef(token));
    if (found && found.grant.clientId === client.clientId) {
      const { token: record, grant } = found;
      res.locals.oauthEvent = 'revocation';
      if (record.kind === 'refresh') {
        const opener = await grantOpener(deps, token, record);
        await endGrant(deps, grant, opener.token, opener.wrappedKey);
      } else {
        await deps.store.deleteToken(record);
        if ((await deps.store.countLiveCredentials(grant.id, deps.now())) === 0) {
          await endGrant(deps, grant, token, record.wrappedKey);
        }
      }
    }
    res.status(200).json({});
  };
}

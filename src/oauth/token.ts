import type { Request, Response } from 'express';
import { OAuthError } from '../errors.js';
import type { Logger } from '../log.js';
import { pkceS256, safeEqual } from '../lib/crypto.js';
import type { ClientRecord, Store } from '../store/types.js';
import type { Clients } from './clients.js';
import { credentialRef, type Grants, type IssuedTokens, type TokenAnswer } from './grants.js';
import type { Toolset } from './scopes.js';
import { accessPart, downscope } from './scopes.js';
import { resourceProblem } from './uris.js';

export interface TokenDeps {
  log: Logger;
  store: Store;
  clients: Clients;
  grants: Grants;
  /** TOOLSETS_MAX: a refresh may not ask for a toolset beyond it. */
  toolsets: readonly Toolset[];
  now: () => number;
}

const param = (body: Record<string, unknown>, name: string): string | undefined => {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new OAuthError('invalid_request', `${name} must be a string`);
  return v;
};

const required = (body: Record<string, unknown>, name: string): string => {
  const v = param(body, name);
  if (!v) throw new OAuthError('invalid_request', `${name} is required`);
  return v;
};

/** POST /token: authorization_code and refresh_token grants (OAuth 2.1 §4.1.3, §4.3). */
export function createTokenHandler(deps: TokenDeps) {
  const checkResource = (body: Record<string, unknown>, bound: string) => {
    const resource = param(body, 'resource');
    if (resource === undefined) return;
    const problem = resourceProblem(resource, bound);
    if (problem) throw new OAuthError('invalid_target', problem);
  };

  const send = (res: Response, answer: TokenAnswer) => {
    res.status(200).json({
      access_token: answer.accessToken,
      token_type: 'Bearer',
      // A retry gets the first answer again, with what is left of its access token's life.
      expires_in: Math.max(0, Math.ceil((answer.accessExpiresAt - deps.now()) / 1000)),
      refresh_token: answer.refreshToken,
      scope: answer.scope,
    });
  };

  const replay = async (grantId: string): Promise<never> => {
    // RFC 6749 §4.1.2: a replayed code revokes everything issued from it.
    await deps.store.deleteGrant(grantId);
    throw new OAuthError('invalid_grant', 'the code was already used; its tokens are revoked');
  };

  /**
   * RFC 9700 §4.14.2: a refresh token that was rotated and whose successor has been used can no
   * longer be in legitimate use, so presenting it ends the grant. It is recognised by its
   * signature, since the store keeps no record of it.
   */
  const refreshReuse = async (token: string): Promise<void> => {
    const grantId = deps.grants.grantOfRefreshToken(token);
    if (grantId === null || (await deps.store.getGrant(grantId)) === null) return;
    await deps.store.deleteGrant(grantId);
    deps.log.warn({ grantId }, 'a rotated refresh token was used again; the grant is ended');
    throw new OAuthError('invalid_grant', 'this refresh token was already replaced; the connection is ended because the token may have been copied. Connect again');
  };

  async function authorizationCode(res: Response, client: ClientRecord, body: Record<string, unknown>) {
    const code = required(body, 'code');
    const ref = credentialRef(code);
    const { hash } = ref;
    const record = await deps.store.getCode(ref);
    if (!record || record.expiresAt <= deps.now()) throw new OAuthError('invalid_grant', 'the code is invalid or expired');
    // Only the holder of the code and its PKCE verifier can open the kept answer.
    const answerFor = (verifier: string) => `${code} ${verifier}`;
    if (record.usedAt !== null) {
      // The same client retrying the same exchange (its response was lost) gets the same tokens;
      // anything else is a replay.
      const verifier = param(body, 'code_verifier');
      const same =
        verifier !== undefined &&
        record.answer !== null &&
        record.clientId === client.clientId &&
        param(body, 'redirect_uri') === record.redirectUri &&
        safeEqual(pkceS256(verifier), record.codeChallenge);
      const answer = same ? deps.grants.openAnswer(answerFor(verifier), record.answer!, hash) : null;
      if (answer) return send(res, answer);
      return replay(record.grantId);
    }
    // Nothing below consumes the code: a mismatch leaves it usable by its rightful client.
    if (record.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'the code was issued to another client');
    const redirectUri = required(body, 'redirect_uri');
    if (redirectUri !== record.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
    const verifier = required(body, 'code_verifier');
    if (!safeEqual(pkceS256(verifier), record.codeChallenge)) throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
    checkResource(body, record.resource);

    const grantKey = deps.grants.openKey(code, record.wrappedKey);
    // The access token restricts no toolset: the grant's, as they are at each use, apply (Your connections changes them).
    const issued = deps.grants.mintPair(record.grantId, grantKey, record.scope, record.scope, accessPart(record.scope));
    const sealed = deps.grants.sealAnswer(answerFor(verifier), issued.answer, hash);
    const result = await deps.store.redeemCode(ref, deps.now(), issued.records, sealed);
    if (result.status === 'invalid') throw new OAuthError('invalid_grant', 'the code is invalid or expired');
    // `again`: a parallel exchange of the same code, or a re-sent store command, got there first.
    const answer = result.status === 'issued' ? issued.answer : result.status === 'again' ? deps.grants.openAnswer(answerFor(verifier), result.answer, hash) : null;
    if (!answer) return replay(record.grantId);
    await deps.store.touchGrant(record.grantId, deps.now());
    send(res, answer);
  }

  /**
   * Rotation keeps one previous refresh token per grant, valid until its successor is used: every
   * request with it (concurrent processes sharing one token, a retry after a lost response) gets
   * the one same answer, so whichever response a client keeps, its refresh token works.
   */
  async function refreshToken(res: Response, client: ClientRecord, body: Record<string, unknown>) {
    const token = required(body, 'refresh_token');
    const ref = credentialRef(token);
    const { hash } = ref;
    const invalid = new OAuthError('invalid_grant', 'the refresh token is invalid, expired or revoked');
    const found = await deps.store.getToken(ref);
    if (!found) {
      await refreshReuse(token);
      throw invalid;
    }
    if (found.token.kind !== 'refresh' || found.token.expiresAt <= deps.now()) throw invalid;
    const { token: record, grant } = found;
    if (grant.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'the refresh token was issued to another client');
    checkResource(body, grant.resource);
    // Read from the grant as it is now: a toolset removed on Your connections does not come back.
    const requested = param(body, 'scope');
    const scope = downscope(grant.scope, requested, deps.toolsets);
    // A previous token has no wrapped key left: the store answers with what its rotation gave.
    let issued: IssuedTokens | null = null;
    let sealed: string | null = null;
    if (record.replacedAt === null) {
      // Only a scope the client asked for narrows the token's toolsets; else it follows the grant's.
      const restriction = requested ? scope : accessPart(scope);
      issued = deps.grants.mintPair(grant.id, deps.grants.openKey(token, record.wrappedKey), scope, grant.scope, restriction);
      sealed = deps.grants.sealAnswer(token, issued.answer, hash);
    }
    const result = await deps.store.rotateRefreshToken(ref, deps.now(), issued?.records ?? [], sealed);
    if (result.status === 'invalid') await refreshReuse(token); // deleted meanwhile: its successor was used
    const answer = result.status === 'issued' ? issued!.answer : result.status === 'again' ? deps.grants.openAnswer(token, result.answer, hash) : null;
    if (!answer) throw invalid;
    await deps.store.touchGrant(grant.id, deps.now());
    res.locals.oauthEvent = 'refresh';
    send(res, answer);
  }

  return async (req: Request, res: Response): Promise<void> => {
    // RFC 6749 §5.1: token responses must never be cached.
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    const body = (req.body ?? {}) as Record<string, unknown>;
    const grantType = required(body, 'grant_type');
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
    }
    const client = await deps.clients.authenticate(req);
    if (!client.grantTypes.includes(grantType)) throw new OAuthError('unauthorized_client', `this client may not use ${grantType}`);
    if (grantType === 'authorization_code') await authorizationCode(res, client, body);
    else await refreshToken(res, client, body);
  };
}

import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { OAuthError } from '../errors.js';
import { pkceS256, safeEqual, sha256 } from '../lib/crypto.js';
import type { ClientRecord, Store } from '../store/types.js';
import type { Clients } from './clients.js';
import type { Grants, IssuedTokens } from './grants.js';
import { downscope } from './scopes.js';
import { resourceProblem } from './uris.js';

export interface TokenDeps {
  config: Config;
  store: Store;
  clients: Clients;
  grants: Grants;
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
  const { config } = deps;

  const checkResource = (body: Record<string, unknown>, bound: string) => {
    const resource = param(body, 'resource');
    if (resource === undefined) return;
    const problem = resourceProblem(resource, bound);
    if (problem) throw new OAuthError('invalid_target', problem);
  };

  const send = (res: Response, issued: IssuedTokens, scope: string) => {
    res.status(200).json({
      access_token: issued.accessToken,
      token_type: 'Bearer',
      expires_in: config.ttl.accessTokenS,
      refresh_token: issued.refreshToken,
      scope,
    });
  };

  async function authorizationCode(res: Response, client: ClientRecord, body: Record<string, unknown>) {
    const code = required(body, 'code');
    const hash = sha256(code);
    const record = await deps.store.getCode(hash);
    if (!record || record.expiresAt <= deps.now()) throw new OAuthError('invalid_grant', 'the code is invalid or expired');
    if (record.usedAt !== null) {
      // RFC 6749 §4.1.2: a replayed code revokes everything issued from it.
      await deps.store.deleteGrant(record.grantId);
      throw new OAuthError('invalid_grant', 'the code was already used; its tokens are revoked');
    }
    // Nothing below consumes the code: a mismatch leaves it usable by its rightful client.
    if (record.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'the code was issued to another client');
    const redirectUri = required(body, 'redirect_uri');
    if (redirectUri !== record.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
    const verifier = required(body, 'code_verifier');
    if (!safeEqual(pkceS256(verifier), record.codeChallenge)) throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
    checkResource(body, record.resource);

    const grantKey = deps.grants.openKey(code, record.wrappedKey);
    const issued = deps.grants.mintPair(record.grantId, grantKey, record.scope, record.scope);
    if (!(await deps.store.redeemCode(hash, deps.now(), issued.records))) {
      // Lost a race against a parallel exchange of the same code: that is a replay too.
      await deps.store.deleteGrant(record.grantId);
      throw new OAuthError('invalid_grant', 'the code was already used; its tokens are revoked');
    }
    await deps.store.touchGrant(record.grantId, deps.now());
    send(res, issued, record.scope);
  }

  async function refreshToken(res: Response, client: ClientRecord, body: Record<string, unknown>) {
    const token = required(body, 'refresh_token');
    const found = await deps.store.getToken(sha256(token));
    if (!found || found.token.kind !== 'refresh' || found.token.expiresAt <= deps.now()) {
      throw new OAuthError('invalid_grant', 'the refresh token is invalid, expired or revoked');
    }
    const { token: record, grant } = found;
    if (grant.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'the refresh token was issued to another client');
    checkResource(body, grant.resource);
    const scope = downscope(grant.scope, param(body, 'scope'));
    const grantKey = deps.grants.openKey(token, record.wrappedKey);
    const issued = deps.grants.mintPair(grant.id, grantKey, scope, grant.scope);
    if (!(await deps.store.rotateRefreshToken(record.hash, deps.now(), config.ttl.refreshGraceS * 1000, issued.records))) {
      throw new OAuthError('invalid_grant', 'the refresh token is invalid, expired or revoked');
    }
    await deps.store.touchGrant(grant.id, deps.now());
    res.locals.oauthEvent = 'refresh';
    send(res, issued, scope);
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

import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { OAuthError } from '../errors.js';
import { randomSecret, sha256 } from '../lib/crypto.js';
import type { ClientRecord, Store, TokenEndpointAuthMethod } from '../store/types.js';
import { parseRequestedScope } from './scopes.js';
import { redirectUriProblem } from './uris.js';

export const AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['none', 'client_secret_post', 'client_secret_basic'];
const GRANT_TYPES = ['authorization_code', 'refresh_token'];
const STRING_FIELDS = ['client_name', 'client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'software_id', 'software_version'] as const;

const bad = (description: string) => new OAuthError('invalid_client_metadata', description);

/**
 * Dynamic client registration (RFC 7591). Every call makes a new client, so a duplicate
 * registration is harmless (Claude registers twice per connection). Secrets never expire.
 * Registration never stops for lack of room: beyond `maxUnusedClients` clients that never got a
 * grant, the oldest of those make way (docs/reliability.md, "Registration floods").
 */
export function createRegisterHandler(deps: { store: Store; now: () => number; maxUnusedClients: number }) {
  return async (req: Request, res: Response): Promise<void> => {
    const client = parseRegistration(req.body);
    const clientId = randomUUID();
    const clientSecret = client.tokenEndpointAuthMethod === 'none' ? undefined : `nmr_cs_${randomSecret()}`;
    const issuedAt = Math.floor(deps.now() / 1000);
    const record: ClientRecord = {
      ...client,
      clientId,
      ...(clientSecret ? { secretHash: sha256(clientSecret) } : {}),
      createdAt: deps.now(),
    };
    await deps.store.createClient(record, deps.maxUnusedClients);
    res.locals.oauthEvent = 'registration';
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .json({
        client_id: clientId,
        client_id_issued_at: issuedAt,
        ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
        ...client.metadata,
      });
  };
}

type ParsedRegistration = Omit<ClientRecord, 'clientId' | 'secretHash' | 'createdAt'>;

export function parseRegistration(body: unknown): ParsedRegistration {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('the request body must be a JSON object of client metadata');
  }
  const b = body as Record<string, unknown>;

  const uris = b.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0) throw bad('redirect_uris is required: a non-empty array of URLs');
  if (uris.length > 10) throw bad('redirect_uris may hold at most 10 URLs');
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new OAuthError('invalid_client_metadata', `redirect_uri ${JSON.stringify(uri).slice(0, 200)} ${problem}`);
  }

  // RFC 7591 §2: the default method is client_secret_basic.
  const method = (b.token_endpoint_auth_method ?? 'client_secret_basic') as TokenEndpointAuthMethod;
  if (!AUTH_METHODS.includes(method)) {
    throw bad(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  }
  // RFC 7591 §3.2.1: the server may replace requested values, and answers with what it registered.
  // So, as for client metadata documents (cimd.ts), a client listing grants we do not offer next to
  // authorization_code (VS Code's device_code, Claude's jwt-bearer, client_credentials) gets the
  // part we support, never more than it asked for; without authorization_code it is refused.
  const requestedGrants = b.grant_types ?? ['authorization_code', 'refresh_token'];
  if (!isStringArray(requestedGrants) || requestedGrants.length === 0) throw bad('grant_types must be a non-empty array of strings');
  const grantTypes = GRANT_TYPES.filter((g) => requestedGrants.includes(g));
  if (!grantTypes.includes('authorization_code')) {
    throw bad(`grant_types must include authorization_code; this server supports only ${GRANT_TYPES.join(', ')}`);
  }
  const requestedResponses = b.response_types ?? ['code'];
  if (!isStringArray(requestedResponses) || !requestedResponses.includes('code')) {
    throw bad('response_types must include code, the only response type supported');
  }
  const responseTypes = ['code'];
  if (b.jwks !== undefined || b.jwks_uri !== undefined) throw bad('jwks and jwks_uri are not supported');
  if (b.scope !== undefined) {
    try {
      parseRequestedScope(b.scope);
    } catch (err) {
      throw bad((err as OAuthError).description);
    }
  }

  const metadata: Record<string, unknown> = {
    redirect_uris: uris,
    grant_types: grantTypes,
    response_types: responseTypes,
    token_endpoint_auth_method: method,
  };
  for (const field of STRING_FIELDS) {
    const value = b[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length > 500) throw bad(`${field} must be a string of at most 500 characters`);
    metadata[field] = value;
  }
  if (typeof b.scope === 'string') metadata.scope = b.scope;

  return {
    clientName: typeof metadata.client_name === 'string' ? metadata.client_name.slice(0, 100) : undefined,
    redirectUris: uris as string[],
    grantTypes,
    tokenEndpointAuthMethod: method,
    metadata,
  };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

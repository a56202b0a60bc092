import type { Request } from 'express';
import { OAuthError } from '../errors.js';
import { safeEqual, sha256 } from '../lib/crypto.js';
import type { ClientRecord, Store } from '../store/types.js';
import { type CimdResolver, isCimdClientId } from './cimd.js';

export interface ClientCredentials {
  clientId: string;
  clientSecret?: string;
}

/** Looks clients up: registered ones in the store, URL client IDs through their metadata document. */
export class Clients {
  constructor(
    private readonly store: Store,
    private readonly cimd: CimdResolver,
  ) {}

  /** Null for an unknown registered client; CIMD failures throw OAuthError('invalid_client'). */
  async get(clientId: string): Promise<ClientRecord | null> {
    if (isCimdClientId(clientId)) return this.cimd.resolve(clientId);
    if (clientId.length > 200) return null;
    return this.store.getClient(clientId);
  }

  /**
   * Client authentication at /token and /revoke (RFC 6749 §2.3): client_secret_basic,
   * client_secret_post, or none for public clients. Every failure is 401 invalid_client.
   */
  async authenticate(req: Request): Promise<ClientRecord> {
    const creds = readCredentials(req);
    const client = await this.get(creds.clientId);
    if (!client) throw new OAuthError('invalid_client', 'unknown client; register again');
    if (client.secretHash) {
      if (!creds.clientSecret || !safeEqual(sha256(creds.clientSecret), client.secretHash)) {
        throw new OAuthError('invalid_client', 'client authentication failed');
      }
    }
    return client;
  }
}

function readCredentials(req: Request): ClientCredentials {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const header = req.get('authorization');
  if (header && /^basic /i.test(header)) {
    if (body.client_secret !== undefined) {
      throw new OAuthError('invalid_request', 'use one client authentication method, not two');
    }
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new OAuthError('invalid_client', 'malformed Basic credentials');
    try {
      // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
      const clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      const clientSecret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
      if (typeof body.client_id === 'string' && body.client_id !== clientId) {
        throw new OAuthError('invalid_client', 'client_id does not match the Basic credentials');
      }
      return { clientId, clientSecret };
    } catch (err) {
      if (err instanceof OAuthError) throw err;
      throw new OAuthError('invalid_client', 'malformed Basic credentials');
    }
  }
  if (typeof body.client_id !== 'string' || body.client_id === '') {
    throw new OAuthError('invalid_client', 'client_id is required');
  }
  if (body.client_secret !== undefined && typeof body.client_secret !== 'string') {
    throw new OAuthError('invalid_client', 'client_secret must be a string');
  }
  return { clientId: body.client_id, clientSecret: body.client_secret as string | undefined };
}

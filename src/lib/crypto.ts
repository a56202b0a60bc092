import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/**
 * Crypto for data at rest.
 *
 * Our own tokens (access, refresh, codes, client secrets) are stored only as SHA-256
 * hashes: they are 256-bit random values, so a plain hash cannot be brute-forced.
 *
 * A grant's Notion credentials are sealed with AES-256-GCM under a random per-grant key.
 * That key is stored only wrapped (AES-KW, RFC 3394) under HMAC-SHA256(wrapRoot, token),
 * once per live token of the grant. So the data directory plus SESSION_SECRET cannot open
 * a grant: one of that user's live tokens is needed too (as in workers-oauth-provider).
 */

const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex'); // RFC 3394 default IV
const SALT = Buffer.from('notion-mcp-remote');

export const b64u = (buf: Buffer): string => buf.toString('base64url');

export function randomSecret(bytes = 32): string {
  return b64u(randomBytes(bytes));
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

function derive(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, SALT, info, 32));
}

/** Keys derived from SESSION_SECRET. Each key has an id so a later rotation can tell them apart. */
export class Keyring {
  readonly keyId: string;
  private readonly wrapRoot: Buffer;
  private readonly signKey: Buffer;

  constructor(sessionSecret: string) {
    this.wrapRoot = derive(sessionSecret, 'token-wrap/v1');
    this.signKey = derive(sessionSecret, 'sign/v1');
    this.keyId = b64u(derive(sessionSecret, 'key-id/v1').subarray(0, 6));
  }

  /** A value stored once per data directory, to detect a changed SESSION_SECRET at start-up. */
  checkValue(): string {
    return b64u(createHmac('sha256', this.signKey).update('key-check').digest());
  }

  sign(value: string): string {
    return b64u(createHmac('sha256', this.signKey).update(value).digest());
  }

  /** Wraps a per-grant key so only the holder of `token` can unwrap it. */
  wrapGrantKey(token: string, grantKey: Buffer): string {
    const cipher = createCipheriv('id-aes256-wrap', this.kek(token), AES_KW_IV);
    return `${this.keyId}.${b64u(Buffer.concat([cipher.update(grantKey), cipher.final()]))}`;
  }

  /** Throws when the token or the key does not match (AES-KW integrity check). */
  unwrapGrantKey(token: string, wrapped: string): Buffer {
    const [kid, body] = wrapped.split('.');
    if (kid !== this.keyId || !body) throw new Error('wrapped key was made with another SESSION_SECRET');
    const decipher = createDecipheriv('id-aes256-wrap', this.kek(token), AES_KW_IV);
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
  }

  private kek(token: string): Buffer {
    return createHmac('sha256', this.wrapRoot).update(token).digest();
  }
}

export function newGrantKey(): Buffer {
  return randomBytes(32);
}

/** AES-256-GCM with a random 96-bit IV; `aad` binds the ciphertext to its record. */
export function seal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return b64u(Buffer.concat([iv, cipher.getAuthTag(), body]));
}

export function open(key: Buffer, sealed: string, aad: string): string {
  const raw = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

/** PKCE S256 (RFC 7636 §4.6). */
export function pkceS256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

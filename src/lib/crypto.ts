import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hash,
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
  return hash('sha256', value, 'base64url'); // one-shot: no Hash object per bearer check
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

function derive(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, SALT, info, 32));
}

/** The keys derived from one SESSION_SECRET. */
interface KeySet {
  readonly keyId: string;
  readonly wrapRoot: Buffer;
  readonly signKey: Buffer;
}

function keySetOf(secret: string): KeySet {
  return {
    wrapRoot: derive(secret, 'token-wrap/v1'),
    signKey: derive(secret, 'sign/v1'),
    keyId: b64u(derive(secret, 'key-id/v1').subarray(0, 6)),
  };
}

const hmac = (key: Buffer, value: string): string => b64u(createHmac('sha256', key).update(value).digest());

/**
 * Keys derived from SESSION_SECRET and, during a rotation, from the older secrets in
 * SESSION_SECRET_PREVIOUS. Wrapping and signing always use the current key set; a wrapped key is
 * opened with the key set its `<keyId>.` prefix names, and a signature made with any of them
 * verifies. So data written before a rotation stays readable while its secret is still listed.
 */
export class Keyring {
  /** Id of the current key set: the prefix of every key wrapped from now on. */
  readonly keyId: string;
  private readonly current: KeySet;
  /** Current first, then the previous ones in the order given; no key id twice. */
  private readonly sets: readonly KeySet[];

  constructor(sessionSecret: string, previousSecrets: readonly string[] = []) {
    this.current = keySetOf(sessionSecret);
    this.keyId = this.current.keyId;
    const sets = [this.current];
    for (const secret of previousSecrets) {
      const set = keySetOf(secret);
      if (!sets.some((s) => s.keyId === set.keyId)) sets.push(set);
    }
    this.sets = sets;
  }

  /** Key ids this keyring can unwrap, the current one first. */
  get keyIds(): readonly string[] {
    return this.sets.map((s) => s.keyId);
  }

  /** A value stored once per data directory, to detect a changed SESSION_SECRET at start-up. */
  checkValue(): string {
    return hmac(this.current.signKey, 'key-check');
  }

  /**
   * The check values of every secret this keyring accepts, the current one first. The store opens
   * data written under any of them and then records the first.
   */
  checkValues(): string[] {
    return this.sets.map((s) => hmac(s.signKey, 'key-check'));
  }

  /** Signs with the current key. */
  sign(value: string): string {
    return hmac(this.current.signKey, value);
  }

  /** True when `signature` is `value` signed with the current or a previous key. */
  verify(value: string, signature: string): boolean {
    let ok = false;
    // Every key is tried, so the time taken does not tell which one matched.
    for (const s of this.sets) ok = safeEqual(signature, hmac(s.signKey, value)) || ok;
    return ok;
  }

  /** Wraps a per-grant key under the current key set, so only the holder of `token` can unwrap it. */
  wrapGrantKey(token: string, grantKey: Buffer): string {
    const cipher = createCipheriv('id-aes256-wrap', kek(this.current, token), AES_KW_IV);
    return `${this.keyId}.${b64u(Buffer.concat([cipher.update(grantKey), cipher.final()]))}`;
  }

  /**
   * Unwraps with the key set the `<keyId>.` prefix names. Throws when that key set is not in the
   * keyring (its secret was dropped from SESSION_SECRET_PREVIOUS) or when the token or the key does
   * not match (AES-KW integrity check).
   */
  unwrapGrantKey(token: string, wrapped: string): Buffer {
    const [kid, body] = wrapped.split('.');
    const set = this.sets.find((s) => s.keyId === kid);
    if (!set || !body) throw new Error('wrapped key was made with a SESSION_SECRET that is no longer configured');
    const decipher = createDecipheriv('id-aes256-wrap', kek(set, token), AES_KW_IV);
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
  }

  /**
   * Seals a value so that only the holder of `secret` (a token, or a code with its PKCE verifier)
   * can open it, under the current key set. The store keeps the answer of a token request sealed
   * this way, so that a retry of the same request gets the same answer (docs/storage.md).
   */
  sealFor(secret: string, plaintext: string, aad: string): string {
    return `${this.keyId}.${seal(answerKey(this.current, secret), plaintext, aad)}`;
  }

  /** Opens what sealFor sealed; throws when the secret, the record or the key set does not match. */
  openFor(secret: string, sealed: string, aad: string): string {
    const dot = sealed.indexOf('.');
    const set = this.sets.find((s) => s.keyId === sealed.slice(0, dot));
    if (!set) throw new Error('sealed with a SESSION_SECRET that is no longer configured');
    return open(answerKey(set, secret), sealed.slice(dot + 1), aad);
  }
}

/** Key of a sealed answer: separate from the token's wrapping key (another HMAC input). */
const answerKey = (set: KeySet, secret: string): Buffer => createHmac('sha256', set.wrapRoot).update('answer/v1\0').update(secret).digest();

function kek(set: KeySet, token: string): Buffer {
  return createHmac('sha256', set.wrapRoot).update(token).digest();
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
  return sha256(verifier);
}

/**
 * A grant's drop box: Your connections adds a workspace to a grant without its key. Each grant
 * has an X25519 key pair; the public key is stored in clear, the private key only sealed under the
 * grant key. `dropSeal` seals to the public key (an ephemeral X25519 agreement, HKDF, AES-256-GCM),
 * so what is dropped opens only with the grant key, as the grant's own credentials do: the data
 * directory plus SESSION_SECRET cannot open it.
 */
export function newDropKeys(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    publicKey: b64u(publicKey.export({ type: 'spki', format: 'der' })),
    privateKey: b64u(privateKey.export({ type: 'pkcs8', format: 'der' })),
  };
}

const dropKey = (shared: Buffer, ephemeral: string, aad: string) => Buffer.from(hkdfSync('sha256', shared, Buffer.from(ephemeral), `drop/v1\0${aad}`, 32));
const publicKeyOf = (spki: string) => createPublicKey({ key: Buffer.from(spki, 'base64url'), format: 'der', type: 'spki' });

/** Seals `plaintext` so that only the holder of the private key of `publicKey` (newDropKeys) opens it. */
export function dropSeal(publicKey: string, plaintext: string, aad: string): string {
  const eph = generateKeyPairSync('x25519');
  const ephemeral = b64u(eph.publicKey.export({ type: 'spki', format: 'der' }));
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: publicKeyOf(publicKey) });
  return `${ephemeral}.${seal(dropKey(shared, ephemeral, aad), plaintext, aad)}`;
}

/** Opens what dropSeal sealed; throws when the key or the record does not match. */
export function dropOpen(privateKey: string, sealed: string, aad: string): string {
  const [ephemeral, body] = sealed.split('.');
  if (!ephemeral || !body) throw new Error('not a dropped value');
  const key = createPrivateKey({ key: Buffer.from(privateKey, 'base64url'), format: 'der', type: 'pkcs8' });
  const shared = diffieHellman({ privateKey: key, publicKey: publicKeyOf(ephemeral) });
  return open(dropKey(shared, ephemeral, aad), body, aad);
}

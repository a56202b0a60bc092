import { describe, expect, it } from 'vitest';
import { Keyring, newGrantKey, randomSecret } from '../../src/lib/crypto.js';

const OLD = 'a3f1c9e07b2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f';
const OLDER = '5e8b2d7f0a3c6e9b1d4f7a0c3e6b9d2f5a8c1e4b7d0a3f6c9e2b5d8a1f4c7e0b';
const NEW = '7c2e9a4f1b8d3e6a0c5f2b9e4d7a1c8f3e6b0d9a2c5f8e1b4d7a0c3f6e9b2d5a';

describe('Keyring key rotation', () => {
  it('unwraps a key wrapped under the old secret after rotating to a new one', () => {
    const token = `nmr_at_${randomSecret()}`;
    const grantKey = newGrantKey();
    const wrapped = new Keyring(OLD).wrapGrantKey(token, grantKey);
    const rotated = new Keyring(NEW, [OLD]);
    expect(rotated.unwrapGrantKey(token, wrapped).equals(grantKey)).toBe(true);
    // The token still matters: another token cannot open it under any key.
    expect(() => rotated.unwrapGrantKey(`nmr_at_${randomSecret()}`, wrapped)).toThrow();
  });

  it('wraps new keys under the new key id, which the old keyring cannot open', () => {
    const old = new Keyring(OLD);
    const rotated = new Keyring(NEW, [OLD]);
    expect(rotated.keyId).toBe(new Keyring(NEW).keyId);
    expect(rotated.keyId).not.toBe(old.keyId);
    expect(rotated.keyIds).toEqual([rotated.keyId, old.keyId]);
    const token = `nmr_rt_${randomSecret()}`;
    const grantKey = newGrantKey();
    const wrapped = rotated.wrapGrantKey(token, grantKey);
    expect(wrapped.startsWith(`${rotated.keyId}.`)).toBe(true);
    expect(new Keyring(NEW).unwrapGrantKey(token, wrapped).equals(grantKey)).toBe(true);
    expect(() => old.unwrapGrantKey(token, wrapped)).toThrow(/no longer configured/);
  });

  it('can no longer unwrap once the previous secret is removed', () => {
    const token = `nmr_at_${randomSecret()}`;
    const wrapped = new Keyring(OLD).wrapGrantKey(token, newGrantKey());
    expect(() => new Keyring(NEW).unwrapGrantKey(token, wrapped)).toThrow(/no longer configured/);
    expect(() => new Keyring(NEW, [OLDER]).unwrapGrantKey(token, wrapped)).toThrow(/no longer configured/);
    // A forged prefix naming the new key id does not help either: AES-KW integrity fails.
    const forged = `${new Keyring(NEW).keyId}.${wrapped.split('.')[1]}`;
    expect(() => new Keyring(NEW).unwrapGrantKey(token, forged)).toThrow();
  });

  it('keeps several previous secrets, each opening its own wrapped keys', () => {
    const token = `nmr_at_${randomSecret()}`;
    const k1 = newGrantKey();
    const k2 = newGrantKey();
    const w1 = new Keyring(OLDER).wrapGrantKey(token, k1);
    const w2 = new Keyring(OLD, [OLDER]).wrapGrantKey(token, k2);
    const ring = new Keyring(NEW, [OLD, OLDER, OLD, NEW]);
    expect(ring.keyIds).toHaveLength(3);
    expect(ring.unwrapGrantKey(token, w1).equals(k1)).toBe(true);
    expect(ring.unwrapGrantKey(token, w2).equals(k2)).toBe(true);
  });

  it('signs with the current key and verifies signatures of the current and previous keys', () => {
    const old = new Keyring(OLD);
    const rotated = new Keyring(NEW, [OLD]);
    const value = 'session:payload';
    expect(rotated.sign(value)).toBe(new Keyring(NEW).sign(value));
    expect(rotated.sign(value)).not.toBe(old.sign(value));
    expect(rotated.verify(value, rotated.sign(value))).toBe(true);
    expect(rotated.verify(value, old.sign(value))).toBe(true);
    expect(rotated.verify('session:other', old.sign(value))).toBe(false);
    expect(rotated.verify(value, new Keyring(OLDER).sign(value))).toBe(false);
    expect(rotated.verify(value, '')).toBe(false);
    // Without the previous secret, old signatures fail; the old keyring does not accept new ones.
    expect(new Keyring(NEW).verify(value, old.sign(value))).toBe(false);
    expect(old.verify(value, rotated.sign(value))).toBe(false);
  });

  it('lists the check values of every accepted secret, the current one first', () => {
    const rotated = new Keyring(NEW, [OLD]);
    expect(rotated.checkValue()).toBe(new Keyring(NEW).checkValue());
    expect(rotated.checkValues()).toEqual([new Keyring(NEW).checkValue(), new Keyring(OLD).checkValue()]);
    expect(new Keyring(NEW).checkValues()).toEqual([new Keyring(NEW).checkValue()]);
  });
});

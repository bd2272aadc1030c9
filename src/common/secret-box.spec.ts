import { randomBytes } from 'node:crypto';
import { sealUnbound } from '../../test/support/unbound-seal';
import { SecretBox } from './secret-box';
import { constantTimeEqual, hashSecret, verifySecret } from './passwords';

describe('SecretBox', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const place = 'installations/7/42/refresh_token';

  it('round-trips and never stores the plaintext', () => {
    const box = new SecretBox(newKey);
    const sealed = box.encrypt('refresh-token-123', place);
    expect(sealed).not.toContain('refresh-token-123');
    expect(box.decrypt(sealed, place)).toBe('refresh-token-123');
    expect(box.encrypt('same', place)).not.toBe(box.encrypt('same', place));
  });

  it('a value opens only in the place it was sealed for', () => {
    const box = new SecretBox(newKey);
    const sealed = box.encrypt('refresh-token-123', place);
    expect(() => box.decrypt(sealed, 'installations/7/43/refresh_token')).toThrow(/does not open/);
    expect(() => box.decrypt(sealed, 'installations/7/42/access_token')).toThrow(/does not open/);
    expect(() => box.decrypt(sealed, 'esign_connections/7/refresh_token')).toThrow(/does not open/);
  });

  it('decrypts values sealed with a previous key after rotation and flags them stale', () => {
    const sealed = new SecretBox(oldKey).encrypt('secret', place);
    const rotated = new SecretBox(newKey, [oldKey]);
    expect(rotated.decrypt(sealed, place)).toBe('secret');
    expect(rotated.isStale(sealed)).toBe(true);
    expect(rotated.isStale(rotated.encrypt('secret', place))).toBe(false);
  });

  it('still opens values sealed before they were bound to a place, and flags them stale', () => {
    const box = new SecretBox(newKey);
    const unbound = sealUnbound(newKey, 'legacy-secret');
    expect(box.decrypt(unbound, place)).toBe('legacy-secret');
    expect(box.isStale(unbound)).toBe(true);
  });

  it('rejects tampered ciphertext and unknown keys', () => {
    const box = new SecretBox(newKey);
    const sealed = box.encrypt('secret', place);
    const parts = sealed.split('.');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => box.decrypt(parts.join('.'), place)).toThrow(/does not open/);
    expect(() => new SecretBox(randomBytes(32)).decrypt(sealed, place)).toThrow(/no encryption key/);
    expect(() => box.decrypt('plain-token', place)).toThrow(/not a sealed secret/);
  });
});

describe('secrets at rest', () => {
  it('hashes a generated secret and verifies only that secret', async () => {
    const secret = 'kX3v9-generated-24-random-bytes';
    const hash = hashSecret(secret);
    expect(hash).toMatch(/^sha256\$[\w-]{43}$/);
    expect(hash).not.toContain(secret);
    expect(await verifySecret(secret, hash)).toBe(true);
    expect(await verifySecret(`${secret}x`, hash)).toBe(false);
    expect(await verifySecret(secret, 'garbage')).toBe(false);
    expect(await verifySecret(secret, 'sha256$')).toBe(false);
  });

  it('still verifies the scrypt hashes stored before 12-03', async () => {
    const stored = 'scrypt$16384$8$1$MDEyMzQ1Njc4OWFiY2RlZg$_-DNxMdI06CEZ_7htOAmuG_oc1baW8rT1HqH7HSCLos';
    expect(await verifySecret('legacy-webhook-password', stored)).toBe(true);
    expect(await verifySecret('legacy-webhook-passwore', stored)).toBe(false);
  });

  it('compares strings of any length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});

import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';
import { constantTimeEqual, hashSecret, verifySecret } from './passwords';

describe('SecretBox', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);

  it('round-trips and never stores the plaintext', () => {
    const box = new SecretBox(newKey);
    const sealed = box.encrypt('refresh-token-123');
    expect(sealed).not.toContain('refresh-token-123');
    expect(box.decrypt(sealed)).toBe('refresh-token-123');
    expect(box.encrypt('same')).not.toBe(box.encrypt('same'));
  });

  it('decrypts values sealed with a previous key after rotation and flags them stale', () => {
    const sealed = new SecretBox(oldKey).encrypt('secret');
    const rotated = new SecretBox(newKey, [oldKey]);
    expect(rotated.decrypt(sealed)).toBe('secret');
    expect(rotated.isStale(sealed)).toBe(true);
    expect(rotated.isStale(rotated.encrypt('secret'))).toBe(false);
  });

  it('rejects tampered ciphertext and unknown keys', () => {
    const box = new SecretBox(newKey);
    const sealed = box.encrypt('secret');
    const parts = sealed.split('.');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => box.decrypt(parts.join('.'))).toThrow();
    expect(() => new SecretBox(randomBytes(32)).decrypt(sealed)).toThrow(/no encryption key/);
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

import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';
import { constantTimeEqual, hashPassword, verifyPassword } from './passwords';

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

describe('passwords', () => {
  it('hashes with a salt and verifies only the right password', async () => {
    const hash = await hashPassword('hunter2');
    expect(hash).toMatch(/^scrypt\$/);
    expect(hash).not.toContain('hunter2');
    expect(await hashPassword('hunter2')).not.toBe(hash);
    expect(await verifyPassword('hunter2', hash)).toBe(true);
    expect(await verifyPassword('hunter3', hash)).toBe(false);
    expect(await verifyPassword('hunter2', 'garbage')).toBe(false);
  });

  it('compares strings of any length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});

import { boundedKey } from './bounded-key';

describe('boundedKey', () => {
  it('keeps a short key as it is, and turns a long one into the same SHA-256 every time, distinct from another long key', () => {
    expect(boundedKey('991:completed:1700000000:pia@customer.test')).toBe('991:completed:1700000000:pia@customer.test');
    const long = `declined:${'a'.repeat(5000)}`;
    expect(boundedKey(long)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(boundedKey(long)).toBe(boundedKey(`declined:${'a'.repeat(5000)}`));
    expect(boundedKey(long)).not.toBe(boundedKey(`${long}b`));
  });
});

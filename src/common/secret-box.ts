import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v2';
/** Sealed before values were bound to their place: read (no associated data), re-sealed by the daily job. */
const UNBOUND_VERSION = 'v1';

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * AES-256-GCM for secrets at rest. The ciphertext names the key that made it, so keys can rotate:
 * encrypt with the current key, decrypt with whichever key the value names. A value is bound to its place (table,
 * row and column, as associated data): copied into another company's row it does not open.
 * Format: `v2.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts).
 */
export class SecretBox {
  private readonly current: { id: string; key: Buffer };
  private readonly keys = new Map<string, Buffer>();

  constructor(currentKey: Buffer, previousKeys: Buffer[] = []) {
    for (const key of [currentKey, ...previousKeys]) {
      if (key.length !== 32) throw new Error('encryption keys must be 32 bytes');
      this.keys.set(keyId(key), key);
    }
    this.current = { id: keyId(currentKey), key: currentKey };
  }

  encrypt(plaintext: string, place: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(place, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'));
    return [this.currentHeader, ...parts].join('.');
  }

  decrypt(sealed: string, place: string): string {
    const [version, id, iv, tag, ciphertext] = sealed.split('.');
    if ((version !== VERSION && version !== UNBOUND_VERSION) || ciphertext === undefined) throw new Error('not a sealed secret');
    const key = this.keys.get(id);
    if (!key) throw new Error(`no encryption key with id ${id}`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    if (version === VERSION) decipher.setAAD(Buffer.from(place, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(`the secret sealed for ${place} does not open: altered, or sealed for another place`);
    }
  }

  /** `<version>.<keyId>`: how every value sealed now begins. */
  get currentHeader(): string {
    return `${VERSION}.${this.current.id}`;
  }

  /** True when the value was sealed with an older key or format and should be sealed again. */
  isStale(sealed: string): boolean {
    return !sealed.startsWith(`${this.currentHeader}.`);
  }
}

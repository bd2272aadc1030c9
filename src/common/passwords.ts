import { createHash, scrypt, timingSafeEqual } from 'node:crypto';

const KEY_LENGTH = 32;

function derive(secret: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LENGTH, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

/**
 * `sha256$hash` of a secret we generated ourselves (at least 128 random bits): no guess list can reach it, so a
 * deliberately slow hash adds nothing but cost. scrypt took 16 MB and tens of milliseconds of CPU per call.
 * Never use this for a secret a person chose.
 */
export function hashSecret(secret: string): string {
  return `sha256$${createHash('sha256').update(secret, 'utf8').digest('base64url')}`;
}

/** Checks a secret against `hashSecret`'s form, or the `scrypt$N$r$p$salt$hash` form stored before 12-03. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, ...parts] = stored.split('$');
  if (scheme === 'sha256' && parts.length === 1) return constantTimeEqual(hashSecret(secret), stored);
  if (scheme !== 'scrypt' || parts.length !== 5) return false;
  const [n, r, p, salt, hash] = parts;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await derive(secret, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Compares secrets without leaking, through timing, how much of a guess was right. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

// Payment-password hashing (C3 data): peppered scrypt with a per-card salt, and the 6-digit rules.
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AppError } from '../app/errors.ts';

/** scrypt cost: N = 2^14, r = 8, p = 1 (≈ 16 MiB, tens of ms): slow enough offline, fine per request. */
const SCRYPT_N = 16_384;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const SCHEME = 'scrypt';

function scrypt(password: Buffer, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

/**
 * The pepper (a secret outside the database) keys an HMAC of the password before scrypt, so a
 * stolen table alone cannot be brute-forced even though 6-digit passwords have only 10^6 values.
 */
function peppered(password: string, pepper: string): Buffer {
  return createHmac('sha256', pepper).update(password, 'utf8').digest();
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>`: the parameters travel with the hash so they can be raised later. */
export async function hashSecret(secret: string, pepper: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(peppered(secret, pepper), salt, HASH_BYTES, { N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P });
  return [SCHEME, SCRYPT_N, SCRYPT_R, SCRYPT_P, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** Constant-time check of a secret against a stored hash; a malformed hash never matches. */
export async function verifySecret(secret: string, stored: string, pepper: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== SCHEME) return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0) || n > 1 << 20) return false;
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (expected.length !== HASH_BYTES) return false;
  const actual = await scrypt(peppered(secret, pepper), salt, HASH_BYTES, { N: n, r, p, maxmem: 256 * n * r * 2 });
  return timingSafeEqual(actual, expected);
}

export const PAYMENT_PASSWORD_DIGITS = 6;

/** True for passwords banks refuse: one digit repeated, or a straight run up or down (123456, 987654). */
export function isWeakPaymentPassword(pw: string): boolean {
  if (/^(\d)\1+$/.test(pw)) return true;
  let up = true;
  let down = true;
  for (let i = 1; i < pw.length; i++) {
    const d = pw.charCodeAt(i) - pw.charCodeAt(i - 1);
    if (d !== 1) up = false;
    if (d !== -1) down = false;
  }
  return up || down;
}

/** Throws `validation_failed` unless `pw` is 6 digits and not trivially guessable. Never echoes it. */
export function assertPaymentPassword(pw: unknown, field = 'paymentPassword'): string {
  if (typeof pw !== 'string' || !/^\d{6}$/.test(pw)) {
    throw AppError.validation([{ field, message: `must be ${PAYMENT_PASSWORD_DIGITS} digits` }]);
  }
  if (isWeakPaymentPassword(pw)) {
    throw AppError.validation([{ field, message: 'is too easy to guess (repeated or consecutive digits)' }]);
  }
  return pw;
}

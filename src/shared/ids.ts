// Opaque identifiers: a type prefix and 128 random bits in Crockford base32, never sequential.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** 26 base32 characters of randomness (130 bits, top bits zero). */
export function randomToken(bytes = 16): string {
  const buf = randomBytes(bytes);
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of buf) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** `newId('tr')` → `tr_…`. Prefixes name the resource kind in logs and support tickets. */
export function newId(prefix: string): string {
  return `${prefix}_${randomToken()}`;
}

// The proof-of-work search the server's captcha asks for: the first base-36 nonce whose sha256(prefix + nonce) has enough leading zero bits.
import { leadingZeroBits, sha256 } from './sha256.ts';

/** Hashes between progress reports (and between checks for a cancel). */
export const POW_REPORT_EVERY = 16_384;
/** Give up long after any difficulty the server issues (2^18 expected tries at 18 bits). */
export const POW_MAX_TRIES = 2 ** 26;

/**
 * Same nonce sequence as the server's reference solver (`i.toString(36)` from 0), so a test can
 * compare the two. `onProgress` gets the tries so far and may return false to stop.
 */
export function solvePow(prefix: string, difficultyBits: number, onProgress?: (tries: number) => boolean | void, maxTries = POW_MAX_TRIES): string | undefined {
  const enc = new TextEncoder();
  const head = enc.encode(prefix);
  const buf = new Uint8Array(head.length + 16);
  buf.set(head);
  for (let i = 0; i < maxTries; i++) {
    const nonce = i.toString(36);
    for (let j = 0; j < nonce.length; j++) buf[head.length + j] = nonce.charCodeAt(j);
    if (leadingZeroBits(sha256(buf.subarray(0, head.length + nonce.length))) >= difficultyBits) return nonce;
    if (onProgress && i > 0 && i % POW_REPORT_EVERY === 0 && onProgress(i) === false) return undefined;
  }
  return undefined;
}

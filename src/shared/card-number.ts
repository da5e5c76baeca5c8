// Bank card numbers: normalisation, length and Luhn checks (UnionPay-aware), BIN labels, masking, demo numbers.
import { lookupBin, networkOfPrefix, type BinInfo, type CardNetwork } from './bins.ts';
import { maskCardNumber } from './mask.ts';

/** Chinese bank cards are 16–19 digits (UnionPay debit usually 19, credit usually 16). */
export const CARD_MIN_DIGITS = 16;
export const CARD_MAX_DIGITS = 19;
/** Raw input longer than this is rejected before any work (spaces and dashes included). */
const MAX_RAW_CARD_CHARS = 64;

/**
 * `pass`: the Luhn (ISO/IEC 7812-1) check digit is right.
 * `fail-unionpay-check-with-bank`: a 62-card whose check digit does not verify. Some genuine
 * UnionPay cards were issued without a Luhn check digit, so this is not proof of a typo: let the
 * bank's element verification (card, name, ID, phone) decide, and only then call it wrong.
 */
export type LuhnStatus = 'pass' | 'fail-unionpay-check-with-bank';

export type CardRejectReason = 'empty' | 'too_long' | 'not_digits' | 'length' | 'luhn';

export type CardCheck =
  | { ok: true; number: string; luhn: LuhnStatus; network?: CardNetwork; bin?: BinInfo }
  | { ok: false; reason: CardRejectReason; message: string };

const REJECT_MESSAGES: Record<CardRejectReason, string> = {
  empty: 'a card number is required',
  too_long: 'the card number is too long',
  not_digits: 'a card number has digits only',
  length: `a card number has ${CARD_MIN_DIGITS}–${CARD_MAX_DIGITS} digits`,
  luhn: 'the card number is mistyped (its check digit does not match)',
};

const FULLWIDTH_DIGIT = /[\uFF10-\uFF19]/g;

/** Full-width digits (０-９, typed with a Chinese IME) become ASCII digits. */
export function toAsciiDigits(s: string): string {
  return s.replace(FULLWIDTH_DIGIT, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 48));
}

/**
 * Removes the grouping people type or paste: spaces (incl. full-width and no-break), dashes,
 * and turns full-width digits into ASCII. Does not validate.
 */
export function normaliseCardNumber(raw: string): string {
  return toAsciiDigits(raw).replace(/[\s\u3000\u00a0\-\u2010-\u2015\uFF0D]/g, '');
}

/** Luhn (mod 10) check over a string of ASCII digits. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  return luhnSum(digits, false) % 10 === 0;
}

/** The check digit that makes `partial + digit` pass Luhn. */
export function luhnCheckDigit(partial: string): number {
  if (!/^\d*$/.test(partial)) throw new TypeError('luhnCheckDigit: digits only');
  return (10 - (luhnSum(partial, true) % 10)) % 10;
}

// Sum with every second digit from the right doubled; `forCheckDigit` shifts the pattern by one
// because the check digit is not there yet.
function luhnSum(digits: string, forCheckDigit: boolean): number {
  let sum = 0;
  let double = forCheckDigit;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum;
}

/**
 * Checks a card number as typed: `{ ok: true, number, luhn, network?, bin? }` or `{ ok: false, reason }`.
 * A Luhn failure is an error only for non-UnionPay cards; on a 62-card it is `fail-unionpay-check-with-bank`
 * (see LuhnStatus). Messages never contain the number.
 */
export function validateCardNumber(raw: string): CardCheck {
  const reject = (reason: CardRejectReason): CardCheck => ({ ok: false, reason, message: REJECT_MESSAGES[reason] });
  if (typeof raw !== 'string') return reject('not_digits');
  if (raw.length > MAX_RAW_CARD_CHARS) return reject('too_long');
  const number = normaliseCardNumber(raw);
  if (number === '') return reject('empty');
  if (!/^\d+$/.test(number)) return reject('not_digits');
  if (number.length < CARD_MIN_DIGITS || number.length > CARD_MAX_DIGITS) return reject('length');
  let luhn: LuhnStatus = 'pass';
  if (!luhnValid(number)) {
    if (!number.startsWith('62')) return reject('luhn');
    luhn = 'fail-unionpay-check-with-bank';
  }
  const bin = lookupBin(number);
  const network = bin?.network ?? networkOfPrefix(number);
  return { ok: true, number, luhn, ...(network ? { network } : {}), ...(bin ? { bin } : {}) };
}

/** Display form: first 6 and last 4 (`622848*********8903`). */
export function maskCard(number: string): string {
  return maskCardNumber(normaliseCardNumber(number));
}

/** A source of uniform numbers in [0, 1), like Math.random. */
export type RandomSource = () => number;

/**
 * A deterministic RandomSource from a 32-bit seed (mulberry32): the same seed gives the same demo
 * data on every run and machine. Not for secrets (use node:crypto for those).
 */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in [0, n). */
export function randomInt(random: RandomSource, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}

/**
 * A fictitious, Luhn-correct card number starting with `bin`, for demo data and tests only.
 * Deterministic for a seeded `random`. It may coincide with a real card, so it must never be used
 * outside the sandbox and test data (and is treated as sensitive like any number).
 */
export function generateCardNumber(bin: string, random: RandomSource, length = CARD_MAX_DIGITS): string {
  if (!/^\d{1,10}$/.test(bin)) throw new TypeError('generateCardNumber: BIN must be 1–10 digits');
  if (!Number.isInteger(length) || length < CARD_MIN_DIGITS || length > CARD_MAX_DIGITS) {
    throw new RangeError(`generateCardNumber: length must be ${CARD_MIN_DIGITS}–${CARD_MAX_DIGITS}`);
  }
  let body = bin;
  while (body.length < length - 1) body += String(randomInt(random, 10));
  return body + String(luhnCheckDigit(body));
}

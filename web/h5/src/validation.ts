// Field checks of the binding and quick-balance forms: the server's own card and ID validators, and its phone and name rules.
// The card-number and ID-document modules are imported from src/shared, so a number the page accepts is one the server accepts.
import { validateCardNumber, normaliseCardNumber } from '../../../src/shared/card-number.ts';
import { detectIdType, validateIdDocument, type IdType } from '../../../src/shared/id-document.ts';

export type { IdType };
export { detectIdType, normaliseCardNumber };

/** Mainland mobile numbers (src/shared/sensitive.ts `normaliseChinaMobile`): 1, then 3–9, then 9 digits. */
const CHINA_MOBILE = /^1[3-9]\d{9}$/;
/** Names (src/shared/sensitive.ts `PersonName`): letters of any script, marks, and the separators names use. */
const NAME_CHARS = /^[\p{L}\p{M}][\p{L}\p{M}·•・.\-'’ ]*$/u;
export const MAX_NAME_CHARS = 64;

/** A check's outcome: ok, or an i18n key under `bind.errors`. */
export type Check = { ok: true; value: string; hint?: string } | { ok: false; key: string };

export function checkCard(raw: string): Check {
  const r = validateCardNumber(raw);
  if (!r.ok) return { ok: false, key: `card.${r.reason}` };
  // A UnionPay card that fails Luhn may still be genuine: the bank's check decides (DOMAIN.md).
  return { ok: true, value: r.number, ...(r.luhn === 'fail-unionpay-check-with-bank' ? { hint: 'unionpayCheck' } : {}) };
}

export function checkId(type: IdType, raw: string, today: Date = new Date()): Check {
  const r = validateIdDocument(type, raw, today);
  if (!r.ok) return { ok: false, key: `id.${r.reason}` };
  return { ok: true, value: r.number };
}

export function normalisePhone(raw: string): string | undefined {
  if (raw.length > 32) return undefined;
  const p = raw.replace(/[\s\u3000\-()（）]/g, '').replace(/^(?:\+86|0086|86)(?=\d{11}$)/, '');
  return CHINA_MOBILE.test(p) ? p : undefined;
}

export function checkPhone(raw: string): Check {
  const p = normalisePhone(raw);
  return p ? { ok: true, value: p } : { ok: false, key: raw.trim() ? 'phone.format' : 'phone.empty' };
}

export function checkName(raw: string): Check {
  const n = raw.normalize('NFC').trim().replace(/\s+/g, ' ');
  if (n === '') return { ok: false, key: 'name.empty' };
  if ([...n].length > MAX_NAME_CHARS) return { ok: false, key: 'name.too_long' };
  if (!NAME_CHARS.test(n)) return { ok: false, key: 'name.format' };
  return { ok: true, value: n };
}

export function checkOtp(raw: string): Check {
  const s = raw.trim();
  return /^\d{6}$/.test(s) ? { ok: true, value: s } : { ok: false, key: 'otp.format' };
}

export function checkPaymentPassword(raw: string): Check {
  return /^\d{6}$/.test(raw) ? { ok: true, value: raw } : { ok: false, key: 'password.format' };
}

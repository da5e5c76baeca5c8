// Amounts as they are read aloud in Chinese (voice broadcast, screen readers): the shared spoken formatter plus other currencies.
import { fenToSpokenChinese, MAX_JSON_FEN } from '../shared/money.ts';

/** Currencies the voice broadcast names; others are read with their ISO code. */
const CURRENCY_NAMES: Readonly<Record<string, string>> = {
  USD: '美元',
  HKD: '港元',
  MOP: '澳门元',
  TWD: '新台币',
  EUR: '欧元',
  GBP: '英镑',
  JPY: '日元',
  KRW: '韩元',
  SGD: '新加坡元',
  AUD: '澳大利亚元',
  CAD: '加拿大元',
};

/** ISO 4217 minor units where they are not 2 (amounts in the API are in minor units). */
const MINOR_UNITS: Readonly<Record<string, number>> = { JPY: 0, KRW: 0 };

const SPOKEN_DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'] as const;

export const CURRENCY_PATTERN = /^[A-Z]{3}$/;

/** A whole number in spoken Chinese (`1234n` → `一千二百三十四`), through the shared money formatter. */
function spokenInteger(n: bigint): string {
  // fenToSpokenChinese reads fen; a whole number of yuan ends in 元, which is the unit we replace.
  return fenToSpokenChinese(n * 100n).replace(/元$/, '');
}

/**
 * `123456n, 'CNY'` → `一千二百三十四元五角六分` (the shared formatter's spoken form);
 * `123456n, 'USD'` → `一千二百三十四点五六美元`: other currencies are said as a decimal and their name,
 * as Chinese speakers say foreign amounts. Throws RangeError beyond what JSON carries exactly.
 */
export function spokenAmount(minor: bigint, currency: string): string {
  if (minor > MAX_JSON_FEN || minor < -MAX_JSON_FEN) throw new RangeError('amount too large to read');
  if (!CURRENCY_PATTERN.test(currency)) throw new RangeError('currency must be an ISO 4217 code');
  if (currency === 'CNY') return fenToSpokenChinese(minor);
  const digits = MINOR_UNITS[currency] ?? 2;
  const sign = minor < 0n ? '负' : '';
  const abs = minor < 0n ? -minor : minor;
  const scale = 10n ** BigInt(digits);
  const whole = abs / scale;
  const frac = digits === 0 ? '' : (abs % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  const name = CURRENCY_NAMES[currency] ?? currency;
  const fracSpoken = frac ? `点${[...frac].map((d) => SPOKEN_DIGITS[Number(d)]).join('')}` : '';
  return `${sign}${spokenInteger(whole)}${fracSpoken}${name}`;
}

// Pure currency arithmetic: minor-unit exponents, CNY equivalents at an integer-scaled rate (round half to even), amounts as text.

/**
 * Rates are CNY per one unit of the foreign currency, stored as integers scaled by 10^8: the PBOC
 * central parity (人民币汇率中间价) is published with 4 decimals, per 100 units for JPY and KRW
 * (`4.7512 CNY per 100 JPY` is 0.047512 per yen, 6 decimals), so 8 leaves room and stays exact.
 */
export const RATE_DECIMALS = 8;
export const RATE_SCALE = 10n ** BigInt(RATE_DECIMALS);
/** A rate above 10,000 CNY per unit is a typing error (no currency trades there), not a rate. */
export const MAX_RATE_SCALED = 10_000n * RATE_SCALE;

/**
 * ISO 4217 minor-unit exponents of the currencies wecard accounts are kept in (the ledger's
 * "fen" of an account is its currency's minor unit: cents for USD, whole yen for JPY).
 */
const EXPONENTS: Readonly<Record<string, number>> = Object.freeze({
  CNY: 2,
  USD: 2,
  EUR: 2,
  GBP: 2,
  HKD: 2,
  MOP: 2,
  TWD: 2,
  AUD: 2,
  CAD: 2,
  SGD: 2,
  CHF: 2,
  NZD: 2,
  JPY: 0,
  KRW: 0,
});

/** The minor-unit exponent of a currency, or undefined for one wecard does not know. */
export function currencyExponent(currency: string): number | undefined {
  return Object.hasOwn(EXPONENTS, currency) ? EXPONENTS[currency] : undefined;
}

export function isKnownCurrency(currency: string): boolean {
  return currencyExponent(currency) !== undefined;
}

/** `n / d` rounded to the nearest integer, ties to the even neighbour (banker's rounding), for any signs. */
export function divideHalfEven(n: bigint, d: bigint): bigint {
  if (d === 0n) throw new RangeError('division by zero');
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const q = n / d; // truncates toward zero
  const r = n % d; // same sign as n
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice < d) return q;
  const away = n < 0n ? q - 1n : q + 1n;
  if (twice > d) return away;
  return q % 2n === 0n ? q : away;
}

/**
 * The CNY equivalent, in fen, of `amountMinor` minor units of `currency` at `rateScaled` (CNY per
 * unit × RATE_SCALE), rounded half to even once at the end: no intermediate rounding, so summing
 * converted amounts differs from converting the sum by at most a fen per item, never more.
 * CNY converts to itself whatever the rate. Throws RangeError for an unknown currency.
 */
export function toCnyFen(amountMinor: bigint, currency: string, rateScaled: bigint): bigint {
  if (currency === 'CNY') return amountMinor;
  const exp = currencyExponent(currency);
  if (exp === undefined) throw new RangeError(`no minor-unit exponent for ${currency}`);
  if (rateScaled <= 0n || rateScaled > MAX_RATE_SCALED) throw new RangeError('rate out of range');
  // amount / 10^exp units × rate / RATE_SCALE CNY × 100 fen/CNY.
  return divideHalfEven(amountMinor * rateScaled * 100n, 10n ** BigInt(exp) * RATE_SCALE);
}

/** `"7.1234"` → 712_340_000n (scaled by 10^8); undefined when malformed, zero, too precise or absurd. */
export function parseRate(text: string): bigint | undefined {
  const m = /^(\d{1,5})(?:\.(\d{1,8}))?$/.exec(text);
  if (!m) return undefined;
  const scaled = BigInt(m[1]!) * RATE_SCALE + BigInt((m[2] ?? '').padEnd(RATE_DECIMALS, '0') || '0');
  return scaled > 0n && scaled <= MAX_RATE_SCALED ? scaled : undefined;
}

/** 712_340_000n → `"7.1234"`: the rate as a decimal string without trailing zeros. */
export function formatRate(scaled: bigint): string {
  const whole = scaled / RATE_SCALE;
  const frac = (scaled % RATE_SCALE).toString().padStart(RATE_DECIMALS, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole.toString();
}

/**
 * An amount in minor units as plain decimal text in its currency (`-3500` USD → `"-35.00"`,
 * `1200` JPY → `"1200"`): what the CSV export shows. Unknown currencies show two decimals.
 */
export function formatMinor(amountMinor: bigint, currency: string): string {
  const exp = currencyExponent(currency) ?? 2;
  const neg = amountMinor < 0n;
  const a = neg ? -amountMinor : amountMinor;
  if (exp === 0) return `${neg ? '-' : ''}${a}`;
  const unit = 10n ** BigInt(exp);
  return `${neg ? '-' : ''}${a / unit}.${(a % unit).toString().padStart(exp, '0')}`;
}

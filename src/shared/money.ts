// Money as integer fen (bigint): strict parsing of yuan text, display forms, 大写 amounts, JSON-safe conversion.
import { AppError } from '../app/errors.ts';

/** An amount in fen (1 yuan = 100 fen). Always a bigint; never a float. */
export type Fen = bigint;

export const FEN_PER_YUAN = 100n;

/** The largest amount JSON (a JavaScript number) can carry exactly: 2^53 − 1 fen ≈ ¥90 trillion. */
export const MAX_JSON_FEN: Fen = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Upper bound of any amount this module parses or writes in 大写: below 1 万万亿 yuan (10^16 yuan),
 * so the largest unit ever needed is 万亿. Far above any real balance; it bounds input length.
 */
export const MAX_FEN: Fen = 10n ** 18n - 1n;

/** Integer digits of a yuan amount that `parseYuan` accepts (matches MAX_FEN). */
const MAX_YUAN_INTEGER_DIGITS = 16;

export type MoneyErrorReason = 'empty' | 'malformed' | 'exponent' | 'too_many_decimals' | 'negative' | 'too_large' | 'not_integer';

const REASON_MESSAGES: Record<MoneyErrorReason, string> = {
  empty: 'an amount is required',
  malformed: 'not an amount: use digits with an optional decimal point, like 1234.56',
  exponent: 'exponent notation is not accepted; write the amount out in full',
  too_many_decimals: 'at most 2 decimal places (fen)',
  negative: 'the amount must not be negative',
  too_large: 'the amount is too large',
  not_integer: 'the amount must be a whole number of fen',
};

/**
 * A malformed amount from outside (a form, a query string, a JSON body). It is a `validation_failed`
 * AppError, so a route that lets it propagate answers 400 naming the field. Its message never
 * repeats the input.
 */
export class MoneyError extends AppError {
  readonly reason: MoneyErrorReason;
  constructor(reason: MoneyErrorReason, field = 'amount') {
    const message = REASON_MESSAGES[reason];
    super('validation_failed', `${field}: ${message}`, { errors: [{ field, message }] });
    this.name = 'MoneyError';
    this.reason = reason;
  }
}

// Canonical yuan text: no leading zeros (except a lone 0), 1–2 decimals after a point.
const YUAN_TEXT = /^(-)?(0|[1-9]\d*)(?:\.(\d{1,2}))?$/;

export interface ParseYuanOptions {
  /** Accept a leading `-` (adjustments, reversals). Off by default: user-entered amounts are positive. */
  allowNegative?: boolean;
  /** Field name for the validation error, e.g. `amount` or `body.amount`. */
  field?: string;
}

/**
 * Parses yuan text into fen: `"1234.56"` → `123456n`, `"5"` → `500n`, `"0.5"` → `50n`.
 * Strict: surrounding whitespace is ignored, but no thousands separators, currency signs, exponents,
 * leading zeros, bare points (`".5"`, `"5."`) or a third decimal (which would silently round money).
 */
export function parseYuan(text: string, opts: ParseYuanOptions = {}): Fen {
  const field = opts.field ?? 'amount';
  if (typeof text !== 'string') throw new MoneyError('malformed', field);
  const s = text.trim();
  if (s === '') throw new MoneyError('empty', field);
  const m = YUAN_TEXT.exec(s);
  if (!m) {
    if (/^-?[\d.]+[eE][+-]?\d+$/.test(s)) throw new MoneyError('exponent', field);
    if (/^-?(0|[1-9]\d*)\.\d{3,}$/.test(s)) throw new MoneyError('too_many_decimals', field);
    throw new MoneyError('malformed', field);
  }
  const [, minus, int = '0', frac = ''] = m;
  if (int.length > MAX_YUAN_INTEGER_DIGITS) throw new MoneyError('too_large', field);
  const fen = BigInt(int) * FEN_PER_YUAN + BigInt(frac.padEnd(2, '0'));
  if (minus) {
    if (!opts.allowNegative) throw new MoneyError('negative', field);
    return -fen;
  }
  return fen;
}

function absFen(fen: Fen): Fen {
  return fen < 0n ? -fen : fen;
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `123456n` → `"1234.56"`, `-5n` → `"-0.05"`: plain yuan with 2 decimals (CSV, SMS, inputs). */
export function formatFenPlain(fen: Fen): string {
  assertFen(fen);
  const a = absFen(fen);
  return `${fen < 0n ? '-' : ''}${a / FEN_PER_YUAN}.${(a % FEN_PER_YUAN).toString().padStart(2, '0')}`;
}

/** `123456n` → `"¥1,234.56"`, `-123456n` → `"-¥1,234.56"`: display form with thousands separators. */
export function formatFen(fen: Fen): string {
  assertFen(fen);
  const a = absFen(fen);
  const yuan = groupThousands((a / FEN_PER_YUAN).toString());
  return `${fen < 0n ? '-' : ''}¥${yuan}.${(a % FEN_PER_YUAN).toString().padStart(2, '0')}`;
}

const UPPER_DIGITS = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'] as const;
const UPPER_SMALL_UNITS = ['', '拾', '佰', '仟'] as const;
const SPOKEN_DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'] as const;
const SPOKEN_SMALL_UNITS = ['', '十', '百', '千'] as const;

/**
 * Chinese numerals for a whole number of yuan (< 10^16), grouped by 万 and 亿 as in 壹万零壹 and
 * 壹万亿. Every run of zeros between two non-zero digits becomes one 零 (`pendingZero`).
 * Returns the text and whether the units digit (元位) was zero, so the caller continues the rule
 * across the decimal point.
 */
function integerChinese(
  yuan: bigint,
  digitChars: readonly string[],
  unitChars: readonly string[],
  spoken: boolean,
): { text: string; pendingZero: boolean } {
  const digits = yuan.toString();
  const n = digits.length;
  let out = '';
  let pendingZero = false;
  for (let i = 0; i < n; i++) {
    const p = n - 1 - i; // power of ten of this digit
    const d = digits.charCodeAt(i) - 48;
    if (d !== 0) {
      if (pendingZero) out += '零';
      // Spoken Chinese says 十五 / 十万, not 一十五: only when 十 opens the whole number.
      const dropOne = spoken && d === 1 && p % 4 === 1 && out === '';
      out += (dropOne ? '' : digitChars[d]!) + unitChars[p % 4]!;
      pendingZero = false;
    } else if (out !== '') {
      pendingZero = true;
    }
    // Section markers: 万 after the 万 group and after the 万亿 group, 亿 after everything above it.
    if (p === 4 && /[1-9]/.test(digits.slice(Math.max(0, n - 8), n - 4))) out += '万';
    if (p === 12 && /[1-9]/.test(digits.slice(Math.max(0, n - 16), n - 12))) out += '万';
    if (p === 8 && /[1-9]/.test(digits.slice(0, n - 8))) out += '亿';
  }
  return { text: out, pendingZero };
}

function checkChineseRange(fen: Fen): void {
  assertFen(fen);
  if (absFen(fen) > MAX_FEN) throw new RangeError('amount too large for Chinese numerals (limit: below 1 万万亿 yuan)');
}

/**
 * 中文大写金额 for cheques, receipts and vouchers: `123456n` → `壹仟贰佰叁拾肆元伍角陆分`.
 *
 * Rules from 中国人民银行《支付结算办法》(银发〔1997〕393号) 附件一《正确填写票据和结算凭证的基本规定》:
 * - 大写 digits 壹贰叁肆伍陆柒捌玖, units 拾佰仟万亿元角分, 零 and 整; 10 is 壹拾 (not 拾).
 * - An amount ending at 元 is followed by 整 (壹元整); one with 角 or 分 gets no 整 (the rule leaves
 *   整 after 角 optional; we omit it).
 * - A zero between digits is written 零 (¥1,409.50 → 壹仟肆佰零玖元伍角); a run of zeros is one 零
 *   (¥6,007.14 → 陆仟零柒元壹角肆分); 角 zero with 分 non-zero needs 零 after 元 (¥325.04 →
 *   叁佰贰拾伍元零肆分).
 * - Where the rule lets the writer choose (万位 or 元位 zero with 仟位 / 角位 non-zero: ¥1,680.32,
 *   ¥107,000.53), we always write the 零, the choice that resists alteration: 壹仟陆佰捌拾元零叁角贰分,
 *   壹拾万零柒仟元零伍角叁分. One rule everywhere: each run of zeros between two non-zero digits is one 零.
 * - Zero is 零元整; a negative amount is prefixed 负; below one yuan starts at 角 or 分 (伍角, 贰分).
 * Throws RangeError at or above 1 万万亿 yuan (MAX_FEN).
 */
export function fenToChineseUpper(fen: Fen): string {
  checkChineseRange(fen);
  if (fen === 0n) return '零元整';
  const sign = fen < 0n ? '负' : '';
  const a = absFen(fen);
  const yuan = a / FEN_PER_YUAN;
  const jiao = Number((a % FEN_PER_YUAN) / 10n);
  const fenDigit = Number(a % 10n);
  let { text, pendingZero } = integerChinese(yuan, UPPER_DIGITS, UPPER_SMALL_UNITS, false);
  if (yuan > 0n) text += '元';
  if (jiao === 0 && fenDigit === 0) return `${sign}${text}整`;
  if (jiao !== 0) {
    if (pendingZero && yuan > 0n) text += '零';
    text += `${UPPER_DIGITS[jiao]}角`;
    pendingZero = false;
  } else if (yuan > 0n) {
    pendingZero = true;
  }
  if (fenDigit !== 0) {
    if (pendingZero) text += '零';
    text += `${UPPER_DIGITS[fenDigit]}分`;
  }
  return sign + text;
}

/**
 * The amount as it is read aloud (voice broadcast, elderly mode, screen readers):
 * `123456n` → `一千二百三十四元五角六分`, `1500n` → `十五元`, `105n` → `一元零五分`, `0n` → `零元`.
 * Same zero rule as the 大写 form; no 整; a leading 一十 is said 十. Throws RangeError above MAX_FEN.
 */
export function fenToSpokenChinese(fen: Fen): string {
  checkChineseRange(fen);
  if (fen === 0n) return '零元';
  const sign = fen < 0n ? '负' : '';
  const a = absFen(fen);
  const yuan = a / FEN_PER_YUAN;
  const jiao = Number((a % FEN_PER_YUAN) / 10n);
  const fenDigit = Number(a % 10n);
  let { text, pendingZero } = integerChinese(yuan, SPOKEN_DIGITS, SPOKEN_SMALL_UNITS, true);
  if (yuan > 0n) text += '元';
  if (jiao !== 0) {
    if (pendingZero && yuan > 0n) text += '零';
    text += `${SPOKEN_DIGITS[jiao]}角`;
    pendingZero = false;
  } else if (yuan > 0n) {
    pendingZero = true;
  }
  if (fenDigit !== 0) {
    if (pendingZero) text += '零';
    text += `${SPOKEN_DIGITS[fenDigit]}分`;
  }
  return sign + text;
}

/** True for a bigint within ±MAX_FEN. */
export function isFen(value: unknown): value is Fen {
  return typeof value === 'bigint' && value <= MAX_FEN && value >= -MAX_FEN;
}

/**
 * Invariant check for code paths (not user input): the value is a bigint amount within ±MAX_FEN.
 * A number here is a programming error (floats lose fen), hence TypeError/RangeError, which the
 * problem handler answers as 500.
 */
export function assertFen(value: unknown, name = 'amountFen'): asserts value is Fen {
  if (typeof value !== 'bigint') throw new TypeError(`${name} must be a bigint amount in fen, got ${typeof value}`);
  if (value > MAX_FEN || value < -MAX_FEN) throw new RangeError(`${name} is outside ±${MAX_FEN} fen`);
}

/** Invariant: an amount strictly above zero (transfers, top-ups, refunds). */
export function assertPositiveFen(value: unknown, name = 'amountFen'): asserts value is Fen {
  assertFen(value, name);
  if (value <= 0n) throw new RangeError(`${name} must be > 0`);
}

/** Invariant: an amount of zero or more (balances of no-overdraft accounts, fees). */
export function assertNonNegativeFen(value: unknown, name = 'amountFen'): asserts value is Fen {
  assertFen(value, name);
  if (value < 0n) throw new RangeError(`${name} must be ≥ 0`);
}

/**
 * Fen for a JSON answer (API amounts are integers in fen). Throws RangeError if the amount does
 * not fit a JSON number exactly (|fen| > 2^53 − 1), rather than sending a rounded amount.
 */
export function fenToJsonNumber(fen: Fen): number {
  assertFen(fen);
  if (fen > MAX_JSON_FEN || fen < -MAX_JSON_FEN) throw new RangeError('amount does not fit a JSON number exactly');
  return Number(fen);
}

/**
 * Fen from a JSON request value: a safe integer number (`12345`), or a string of digits (`"12345"`,
 * for clients that send int64 as strings). Rejects floats, NaN, unsafe integers and anything else
 * with a MoneyError (400 validation_failed naming `field`).
 */
export function fenFromJson(value: unknown, field = 'amount', opts: { allowNegative?: boolean } = {}): Fen {
  let fen: Fen;
  if (value === undefined || value === null || value === '') {
    throw new MoneyError('empty', field);
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new MoneyError('malformed', field);
    if (!Number.isInteger(value)) throw new MoneyError('not_integer', field);
    if (!Number.isSafeInteger(value)) throw new MoneyError('too_large', field);
    fen = BigInt(value);
  } else if (typeof value === 'string') {
    if (!/^-?(0|[1-9]\d{0,17})$/.test(value)) throw new MoneyError(/^-?\d+\.\d*$/.test(value) ? 'not_integer' : 'malformed', field);
    fen = BigInt(value);
    if (fen > MAX_JSON_FEN || fen < -MAX_JSON_FEN) throw new MoneyError('too_large', field);
  } else {
    throw new MoneyError('malformed', field);
  }
  if (fen < 0n && !opts.allowNegative) throw new MoneyError('negative', field);
  return fen;
}

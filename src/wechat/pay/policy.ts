// Pure WeChat Pay v3 rules: the replay window, field limits of orders and refunds, bill yuan text to exact fen.
import type { FieldError } from '../../app/errors.ts';
import { MoneyError, parseYuan, type Fen } from '../../shared/money.ts';

/**
 * A signed response or notification whose timestamp is further than this from our clock is refused
 * (wechatpay-php MAXIMUM_CLOCK_OFFSET, wechatpay-go FiveMinute: §4.3).
 */
export const TIMESTAMP_WINDOW_S = 300;
const TIMESTAMP_TEXT = /^[0-9]{1,12}$/;

/** True when `timestamp` (unix seconds, decimal) is within the window of `now`, in either direction. */
export function timestampWithinWindow(timestamp: string | undefined, now: Date, windowS = TIMESTAMP_WINDOW_S): boolean {
  if (typeof timestamp !== 'string' || !TIMESTAMP_TEXT.test(timestamp)) return false;
  return Math.abs(Number(timestamp) - Math.floor(now.getTime() / 1000)) <= windowS;
}

/** out_trade_no / out_refund_no: 6–32 characters of `[0-9A-Za-z_\-|*]`, unique per mchid (§4.6). */
export const OUT_NO_PATTERN = /^[0-9A-Za-z_\-*|]{6,32}$/;
export const DESCRIPTION_MAX_CHARS = 127;
export const ATTACH_MAX_CHARS = 128;
export const NOTIFY_URL_MAX_CHARS = 255;
export const REFUND_REASON_MAX_CHARS = 80;
/** An openid is 28 characters today; bounded generously. */
export const OPENID_PATTERN = /^[A-Za-z0-9_-]{6,128}$/;
export const APP_ID_PATTERN = /^wx[0-9a-f]{16}$/;
/** WeChat Pay carries amounts as JSON integers; we keep them exact in a JavaScript number. */
export const MAX_AMOUNT_FEN = Number.MAX_SAFE_INTEGER;

const chars = (s: string) => [...s].length;

export function isAmountFen(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_AMOUNT_FEN;
}

/** notify_url: absolute http(s), no query or fragment ("不能携带参数"), at most 255 characters. */
export function notifyUrlProblem(url: string): string | undefined {
  if (typeof url !== 'string' || url.length === 0 || url.length > NOTIFY_URL_MAX_CHARS) return `must be 1–${NOTIFY_URL_MAX_CHARS} characters`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not an absolute URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL';
  if (u.search !== '' || u.hash !== '' || url.includes('?') || url.includes('#')) return 'must not carry a query string or fragment';
  return undefined;
}

export interface JsapiOrderInput {
  appId: string;
  description: string;
  outTradeNo: string;
  amountFen: number;
  payerOpenid: string;
  notifyUrl: string;
  timeExpire?: Date;
  attach?: string;
}

export function jsapiOrderProblems(o: JsapiOrderInput): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof o.appId !== 'string' || !APP_ID_PATTERN.test(o.appId)) errors.push({ field: 'appId', message: 'is not a WeChat app id' });
  if (typeof o.description !== 'string' || chars(o.description.trim()) === 0 || chars(o.description) > DESCRIPTION_MAX_CHARS) {
    errors.push({ field: 'description', message: `must be 1–${DESCRIPTION_MAX_CHARS} characters` });
  }
  if (typeof o.outTradeNo !== 'string' || !OUT_NO_PATTERN.test(o.outTradeNo)) errors.push({ field: 'outTradeNo', message: 'must be 6–32 letters, digits, "_", "-", "|" or "*"' });
  if (!isAmountFen(o.amountFen) || o.amountFen < 1) errors.push({ field: 'amountFen', message: 'must be a whole number of fen, at least 1' });
  if (typeof o.payerOpenid !== 'string' || !OPENID_PATTERN.test(o.payerOpenid)) errors.push({ field: 'payerOpenid', message: 'is not an openid' });
  const urlProblem = notifyUrlProblem(o.notifyUrl);
  if (urlProblem) errors.push({ field: 'notifyUrl', message: urlProblem });
  if (o.attach !== undefined && (typeof o.attach !== 'string' || chars(o.attach) > ATTACH_MAX_CHARS)) errors.push({ field: 'attach', message: `must be at most ${ATTACH_MAX_CHARS} characters` });
  if (o.timeExpire !== undefined && !(o.timeExpire instanceof Date && Number.isFinite(o.timeExpire.getTime()))) errors.push({ field: 'timeExpire', message: 'is not a time' });
  return errors;
}

export interface RefundInput {
  outTradeNo: string;
  outRefundNo: string;
  refundFen: number;
  totalFen: number;
  reason?: string;
  notifyUrl?: string;
}

export function refundProblems(r: RefundInput): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof r.outTradeNo !== 'string' || !OUT_NO_PATTERN.test(r.outTradeNo)) errors.push({ field: 'outTradeNo', message: 'is not an out_trade_no' });
  if (typeof r.outRefundNo !== 'string' || !OUT_NO_PATTERN.test(r.outRefundNo)) errors.push({ field: 'outRefundNo', message: 'must be 6–32 letters, digits, "_", "-", "|" or "*"' });
  if (!isAmountFen(r.totalFen) || r.totalFen < 1) errors.push({ field: 'totalFen', message: 'must be a whole number of fen, at least 1' });
  if (!isAmountFen(r.refundFen) || r.refundFen < 1) errors.push({ field: 'refundFen', message: 'must be a whole number of fen, at least 1' });
  else if (isAmountFen(r.totalFen) && r.refundFen > r.totalFen) errors.push({ field: 'refundFen', message: 'must not exceed the order total' });
  if (r.reason !== undefined && (typeof r.reason !== 'string' || chars(r.reason) > REFUND_REASON_MAX_CHARS)) errors.push({ field: 'reason', message: `must be at most ${REFUND_REASON_MAX_CHARS} characters` });
  if (r.notifyUrl !== undefined) {
    const p = notifyUrlProblem(r.notifyUrl);
    if (p) errors.push({ field: 'notifyUrl', message: p });
  }
  return errors;
}

/**
 * Yuan text of a trade bill to exact fen. Bills write detail amounts with 2 decimals (`0.01`), fees
 * with 5 (`0.01000`) and summary totals however Java prints a double (`0.0`, `45.0`): trailing zeros
 * past the fen are dropped; a non-zero digit past the fen is refused rather than rounded, since a
 * reconciliation must never be off by a rounding.
 */
export function billYuanToFen(text: string, field = 'amount'): Fen {
  if (typeof text !== 'string') throw new MoneyError('malformed', field);
  const m = /^(-?\d+)\.(\d{2})(\d*)$/.exec(text);
  if (m) {
    if (/[1-9]/.test(m[3]!)) throw new MoneyError('not_integer', field);
    return parseYuan(`${m[1]}.${m[2]}`, { allowNegative: true, field });
  }
  return parseYuan(text, { allowNegative: true, field });
}

/** Fen to the bill's yuan text with 2 decimals (`1` → `0.01`). */
export function fenToBillYuan(fen: Fen | number, decimals = 2): string {
  const f = BigInt(fen);
  const neg = f < 0n;
  const a = neg ? -f : f;
  const text = `${a / 100n}.${(a % 100n).toString().padStart(2, '0')}`;
  return `${neg ? '-' : ''}${text}${'0'.repeat(Math.max(0, decimals - 2))}`;
}

// Pure top-up rules: PBOC stored-value caps, citizen-card status, method limits and fees, the order's timings. No I/O, no clock.
import { AppError } from '../app/errors.ts';
import { topupFeeFen, topupLimits, type Policy, type TopupMethod } from '../tenants/index.ts';
import type { TopupStatus } from './topup.table.ts';

const YUAN = 100n;

/**
 * Stored-value caps of prepaid cards: 《支付机构预付卡业务管理办法》(中国人民银行公告〔2012〕第12号)
 * 第九条 — 单张记名预付卡资金限额不得超过5000元，单张不记名预付卡资金限额不得超过1000元. A top-up may
 * never take a card's balance (posted plus loads still to be written) above its cap.
 */
export const REGISTERED_CARD_CAP_FEN = 5_000n * YUAN;
export const ANONYMOUS_CARD_CAP_FEN = 1_000n * YUAN;

export function storedValueCapFen(realName: boolean): bigint {
  return realName ? REGISTERED_CARD_CAP_FEN : ANONYMOUS_CARD_CAP_FEN;
}

/** How long a WeChat Pay order of ours can be paid (time_expire). */
export const ATTEMPT_TTL_MS = 15 * 60_000;
/** A top-up order takes payment attempts this long; then it fails if unpaid. */
export const ORDER_TTL_MS = 2 * 60 * 60_000;
/**
 * When no notification came, the order is asked for at these delays after the attempt was placed
 * (WeChat's advice: query when the notification is late); the last one runs after time_expire.
 */
export const QUERY_DELAYS_MS: readonly number[] = [60_000, 3 * 60_000, 8 * 60_000, ATTEMPT_TTL_MS + 60_000];
/** Query rounds after time_expire before the attempt is closed regardless (bounded). */
export const QUERY_ROUNDS_MAX = QUERY_DELAYS_MS.length + 4;

/** The citizen card's status as the top-up pages show it. */
export type CitizenCardStatus = 'normal' | 'lost' | 'cancelled';

export function citizenStatusOf(coreStatus: string): CitizenCardStatus {
  if (coreStatus === 'lost') return 'lost';
  if (coreStatus === 'cancelled') return 'cancelled';
  return 'normal';
}

/** The refusal for topping up a card in this core status, if any (a dormant stored-value card wakes on top-up). */
export function cardStatusRefusal(coreStatus: string): AppError | undefined {
  if (coreStatus === 'lost') return new AppError('card_lost', 'the citizen card is reported lost; top-ups go to the replacement card');
  if (coreStatus === 'cancelled') return new AppError('card_cancelled', 'the citizen card is cancelled');
  if (coreStatus === 'frozen') return new AppError('card_frozen', 'the citizen card is frozen');
  return undefined;
}

export interface Quote {
  method: TopupMethod;
  amountFen: bigint;
  feeFen: bigint;
  totalFen: bigint;
}

export interface QuoteInput {
  method: TopupMethod;
  amountFen: bigint;
  realName: boolean;
  /** The card's balance now: posted plus pending loads. */
  storedFen: bigint;
  /** Open orders for the card not yet credited (they may still be paid). */
  openOrdersFen: bigint;
}

/**
 * Checks an amount against the method's limits and the card's stored-value cap, and prices it.
 * `amount_out_of_range` carries `min` and `max` for this card now (max is the smaller of the
 * method's maximum and the room under the cap, never negative).
 */
export function quoteTopup(policy: Policy, q: QuoteInput): Quote {
  const limits = topupLimits(policy, q.method);
  if (!limits.enabled) throw AppError.validation([{ field: 'method', message: 'is not offered by this card operator' }]);
  const room = storedValueCapFen(q.realName) - q.storedFen - q.openOrdersFen;
  const max = room < limits.maxFen ? (room > 0n ? room : 0n) : limits.maxFen;
  if (q.amountFen < limits.minFen || q.amountFen > max) {
    const capBound = max < limits.maxFen;
    throw new AppError(
      'amount_out_of_range',
      capBound
        ? `the amount must be between ${limits.minFen} and ${max} fen: the card may hold at most ${storedValueCapFen(q.realName)} fen`
        : `the amount must be between ${limits.minFen} and ${max} fen for ${q.method}`,
      { min: Number(limits.minFen), max: Number(max), ...(capBound ? { reason: 'stored_value_limit' } : {}) },
    );
  }
  const feeFen = topupFeeFen(limits.fee, q.amountFen);
  return { method: q.method, amountFen: q.amountFen, feeFen, totalFen: q.amountFen + feeFen };
}

/** Whether crediting `amountFen` keeps the card within its cap (re-checked when the payment arrives). */
export function withinCap(realName: boolean, storedFen: bigint, amountFen: bigint): boolean {
  return storedFen + amountFen <= storedValueCapFen(realName);
}

/** Statuses in which the order's money sits on the card (posted or as a pending load). */
export const CREDITED_STATUSES: readonly TopupStatus[] = ['credited', 'settling', 'completed'];
/** Statuses no event moves any more. */
export const FINAL_STATUSES: readonly TopupStatus[] = ['completed', 'refunded', 'failed'];

/** The delay before query round `round` (0-based) after the attempt was placed. */
export function queryDelayMs(round: number): number {
  return QUERY_DELAYS_MS[Math.min(round, QUERY_DELAYS_MS.length - 1)]!;
}

/** How a bank_type from WeChat reads: a credit card, a debit card or the 零钱 balance. */
export function instrumentOf(bankType: string | undefined): 'credit_card' | 'bank_card' | 'wechat_balance' {
  if (!bankType || bankType === 'OTHERS' || bankType === 'CFT') return 'wechat_balance';
  return /_CREDIT$|^CREDIT/.test(bankType) ? 'credit_card' : 'bank_card';
}

/** Yuan text for messages: 12345 → "123.45". */
export function yuanText(fen: bigint): string {
  const neg = fen < 0n;
  const a = neg ? -fen : fen;
  return `${neg ? '-' : ''}${a / 100n}.${(a % 100n).toString().padStart(2, '0')}`;
}

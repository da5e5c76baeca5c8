// Monthly income and expense of a bound card for up to 24 calendar months (Asia/Shanghai), summed from its statement.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { MAX_TRANSACTIONS_PAGE, readTransactions } from '../core/index.ts';
import type { ReadOptions } from './balance.ts';
import { cachedTenant, usableCard, type Reader } from './hot-state.ts';
import { addToBuckets, monthBuckets, trendMonthCount } from './policy.ts';
import { gateBeforeRead, recordRead } from './query-gate.ts';

/** Statement pages one trend may read (50,000 entries at 100 a page): a bound on one request's work. */
export const TREND_MAX_PAGES = 500;

export interface TrendMonth {
  /** `YYYY-MM` (Asia/Shanghai). */
  month: string;
  /** Money in, in the account currency's minor units (≥ 0). */
  incomeFen: bigint;
  /** Money out, in the account currency's minor units (≥ 0). */
  expenseFen: bigint;
  currency: string;
}

export interface Trends {
  cardId: string;
  maskedNumber: string;
  currency: string;
  months: TrendMonth[];
  asOf: Date;
  stale: boolean;
}

/**
 * `GET /api/v1/cards/{cardId}/trends?months=12`: income and expense per calendar month, oldest
 * first, the current month included (so far). Posted entries only: a hold counts once it is
 * booked. One bound query (captcha, risk signal, quota) and one audit entry.
 */
export async function trendsForUser(ctx: AppContext, who: Reader, cardId: string, months: number | undefined, opts: ReadOptions = {}): Promise<Trends> {
  const now = ctx.clock.now();
  const count = trendMonthCount(months);
  const tenant = await cachedTenant(ctx, who.tenantId);
  const { card, core } = await usableCard(ctx, who, cardId, 'transactions');
  await gateBeforeRead(ctx, { tenantId: who.tenantId, policy: tenant.policy, userId: who.userId, core, captchaAnswer: opts.captchaAnswer, ip: opts.meta?.ip, now });
  const buckets = monthBuckets(count, now);
  let cursor: string | undefined;
  let asOf = now;
  let stale = false;
  for (let pages = 0; ; pages++) {
    if (pages >= TREND_MAX_PAGES) {
      throw AppError.validation([{ field: 'months', message: 'this card has too many transactions to chart that far back; ask for fewer months' }]);
    }
    const page = await readTransactions(ctx, { tenantId: who.tenantId, card: core, from: buckets[0]!.start, to: now, limit: MAX_TRANSACTIONS_PAGE, ...(cursor ? { cursor } : {}), now });
    if (page.stale) {
      stale = true;
      asOf = page.asOf;
    }
    for (const t of page.items) if (t.state === 'posted') addToBuckets(buckets, t);
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  await recordRead(ctx, {
    tenantId: who.tenantId,
    policy: tenant.policy,
    userId: who.userId,
    cardId: card.cardId,
    action: 'trends.read',
    counts: true,
    detail: { maskedNumber: card.maskedNumber, months: count, stale, ...(opts.channel ? { channel: opts.channel } : {}) },
    meta: opts.meta ?? {},
    now,
  });
  return {
    cardId: card.cardId,
    maskedNumber: card.maskedNumber,
    currency: core.currency,
    months: buckets.map((b) => ({ month: b.month, incomeFen: b.incomeFen, expenseFen: b.expenseFen, currency: core.currency })),
    asOf,
    stale,
  };
}

// Statements of a bound card: pages in the tenant's window (stable cursors), the last few entries for channels, and the CSV export's rows.
import type { AppContext } from '../app/context.ts';
import { readTransactions, type CoreTransaction, type Direction } from '../core/index.ts';
import { billRefsFor, transactionSourceId } from '../contact/index.ts';
import { scrubText } from '../shared/mask.ts';
import type { ReadOptions } from './balance.ts';
import { cachedTenant, usableCard, type Reader, type UsableCard } from './hot-state.ts';
import { statementRange, type RangeQuery, type StatementRange } from './policy.ts';
import { gateBeforeRead, recordRead, type ReadAction } from './query-gate.ts';
import { loadRateBook, type CnyEquivalent } from './rates.ts';

/** The page size the CSV export reads with (the port's largest page). */
export const EXPORT_PAGE = 100;
/** Rows one export carries at most; a longer statement ends with a note row saying so. */
export const EXPORT_MAX_ROWS = 50_000;
/** Channels (OA chat 明细, SMS MX) show at most this many entries. */
export const RECENT_MAX = 10;

export interface StatementQuery extends RangeQuery {
  cursor?: string | undefined;
  limit?: number | undefined;
  direction?: Direction | undefined;
}

export interface StatementItem {
  id: string;
  bookedAt: Date;
  /** Signed, in the account currency's minor units: + money in (credit), − money out (debit). */
  amountFen: bigint;
  currency: string;
  direction: Direction;
  counterparty: string | null;
  description: string;
  /** The posted balance after the entry; null for a hold not yet settled. */
  balanceAfterFen: bigint | null;
  state: 'posted' | 'pending';
  /** With `cny`: the amount at the rate in force on the booking day; null without one. */
  cnyEquivalent?: CnyEquivalent | null;
  /**
   * The bill reference for "contact customer service" (`GET /api/v1/bills/{billRef}`): on the
   * entries of a bound card's statement; not on quick-balance entries (the card is not the caller's).
   */
  billRef?: string;
}

export interface StatementPage {
  cardId: string;
  maskedNumber: string;
  items: StatementItem[];
  nextCursor: string | null;
  /** Now for a live page; while the core is down, when the kept statement was last filled. */
  asOf: Date;
  stale: boolean;
  range: StatementRange;
}

/** Free text from the core is shown masked too: a card, ID or phone number in a memo never leaves whole. */
export function toItem(t: CoreTransaction): StatementItem {
  return {
    id: t.id,
    bookedAt: t.bookedAt,
    amountFen: t.amountFen,
    currency: t.currency,
    direction: t.direction,
    counterparty: t.counterparty === null ? null : scrubText(t.counterparty),
    description: scrubText(t.description),
    balanceAfterFen: t.balanceAfterFen,
    state: t.state,
  };
}

async function withCny(ctx: AppContext, items: StatementItem[]): Promise<void> {
  if (items.length === 0) return;
  let min = items[0]!.bookedAt;
  let max = min;
  for (const i of items) {
    if (i.bookedAt < min) min = i.bookedAt;
    if (i.bookedAt > max) max = i.bookedAt;
  }
  const book = await loadRateBook(ctx.db, items.map((i) => i.currency), min, max);
  for (const i of items) i.cnyEquivalent = book.cny(i.amountFen, i.currency, i.bookedAt) ?? null;
}

/**
 * Puts contact's bill ref on each entry of a bound card's page (stored idempotently: the same
 * entry always gets the same ref). A page is at most 100 entries, contact's batch bound.
 */
async function withBillRefs(ctx: AppContext, who: Reader, cardId: string, items: StatementItem[]): Promise<void> {
  if (items.length === 0) return;
  const refs = await billRefsFor(
    ctx,
    items.map((i) => ({ tenantId: who.tenantId, userId: who.userId, kind: 'transaction' as const, sourceId: transactionSourceId({ cardId, transactionId: i.id, bookedAt: i.bookedAt }) })),
  );
  items.forEach((i, k) => {
    i.billRef = refs[k]!;
  });
}

interface Opened {
  uc: UsableCard;
  range: StatementRange;
  policy: Awaited<ReturnType<typeof cachedTenant>>['policy'];
}

async function open(ctx: AppContext, who: Reader, cardId: string, q: StatementQuery, first: boolean, opts: ReadOptions, now: Date): Promise<Opened> {
  const tenant = await cachedTenant(ctx, who.tenantId);
  const uc = await usableCard(ctx, who, cardId, 'transactions');
  const range = statementRange(tenant.policy.statements, q, now);
  if (first) {
    await gateBeforeRead(ctx, { tenantId: who.tenantId, policy: tenant.policy, userId: who.userId, core: uc.core, captchaAnswer: opts.captchaAnswer, ip: opts.meta?.ip, now });
  }
  return { uc, range, policy: tenant.policy };
}

async function record(ctx: AppContext, who: Reader, o: Opened, action: ReadAction, first: boolean, detail: Record<string, unknown>, opts: ReadOptions, now: Date): Promise<void> {
  await recordRead(ctx, {
    tenantId: who.tenantId,
    policy: o.policy,
    userId: who.userId,
    cardId: o.uc.card.cardId,
    action,
    // Opening a statement is one query; its next pages are the same query.
    counts: first,
    detail: { maskedNumber: o.uc.card.maskedNumber, ...detail, ...(opts.channel ? { channel: opts.channel } : {}) },
    meta: opts.meta ?? {},
    now,
  });
}

/**
 * `GET /api/v1/cards/{cardId}/transactions`: one page, newest first, inside the tenant's window.
 * The cursor is the core's position (for the built-in core the ledger's (bookedAt, posting
 * sequence)), so postings booked while a client pages never shift a page: nothing is seen twice
 * or skipped. The first page is a bound query (captcha, risk signal, quota); every page is audited.
 * Each entry carries its `billRef` (contact customer service about it).
 */
export async function transactionsForUser(ctx: AppContext, who: Reader, cardId: string, q: StatementQuery, opts: ReadOptions = {}): Promise<StatementPage> {
  const now = ctx.clock.now();
  const first = q.cursor === undefined;
  const o = await open(ctx, who, cardId, q, first, opts, now);
  const page = await readTransactions(ctx, {
    tenantId: who.tenantId,
    card: o.uc.core,
    from: o.range.from,
    to: o.range.to,
    ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    ...(q.limit !== undefined ? { limit: q.limit } : {}),
    ...(q.direction !== undefined ? { direction: q.direction } : {}),
    now,
  });
  await record(ctx, who, o, 'transactions.read', first, { page: first ? 'first' : 'next', items: page.items.length, stale: page.stale }, opts, now);
  const items = page.items.map(toItem);
  await withBillRefs(ctx, who, o.uc.card.cardId, items);
  if (opts.cny) await withCny(ctx, items);
  return { cardId: o.uc.card.cardId, maskedNumber: o.uc.card.maskedNumber, items, nextCursor: page.nextCursor, asOf: page.asOf, stale: page.stale, range: o.range };
}

/** The last `count` (≤ RECENT_MAX) entries of a card, for the OA chat's 明细 and SMS banking's MX: one bound query. */
export async function recentTransactions(ctx: AppContext, who: Reader, cardId: string, count: number, opts: ReadOptions = {}): Promise<StatementPage> {
  return transactionsForUser(ctx, who, cardId, { limit: Math.min(Math.max(Math.trunc(count), 1), RECENT_MAX) }, opts);
}

export interface StatementExport {
  cardId: string;
  maskedNumber: string;
  range: StatementRange;
  stale: boolean;
  /** The entries, newest first, page by page as they are read; ends early at EXPORT_MAX_ROWS (`truncated`). */
  items: AsyncGenerator<StatementItem, { truncated: boolean }>;
}

/**
 * `GET /api/v1/cards/{cardId}/transactions.csv`: the same window and filter as the JSON pages.
 * The first page is read before anything is sent (a refusal is still a problem+json answer);
 * the export is then recorded (one bound query, audit `transactions.export`) and the rest is read
 * page by page while the file streams, so memory stays one page whatever the statement's length.
 */
export async function exportTransactions(ctx: AppContext, who: Reader, cardId: string, q: Omit<StatementQuery, 'cursor' | 'limit'>, opts: ReadOptions = {}): Promise<StatementExport> {
  const now = ctx.clock.now();
  const o = await open(ctx, who, cardId, q, true, opts, now);
  const read = (cursor: string | undefined) =>
    readTransactions(ctx, {
      tenantId: who.tenantId,
      card: o.uc.core,
      from: o.range.from,
      to: o.range.to,
      limit: EXPORT_PAGE,
      ...(cursor !== undefined ? { cursor } : {}),
      ...(q.direction !== undefined ? { direction: q.direction } : {}),
      now,
    });
  const firstPage = await read(undefined);
  await record(ctx, who, o, 'transactions.export', true, { from: o.range.from.toISOString(), to: o.range.to.toISOString(), stale: firstPage.stale }, opts, now);
  const cny = opts.cny === true;
  async function* items(): AsyncGenerator<StatementItem, { truncated: boolean }> {
    let page = firstPage;
    let rows = 0;
    for (;;) {
      const batch = page.items.map(toItem);
      if (cny) await withCny(ctx, batch);
      for (const item of batch) {
        if (rows >= EXPORT_MAX_ROWS) return { truncated: true };
        rows++;
        yield item;
      }
      if (page.nextCursor === null) return { truncated: false };
      page = await read(page.nextCursor);
    }
  }
  return { cardId: o.uc.card.cardId, maskedNumber: o.uc.card.maskedNumber, range: o.range, stale: firstPage.stale, items: items() };
}

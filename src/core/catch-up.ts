// Catch-up (补登) after the core was unreachable: mirror the postings missed, correct kept balances, clear the card's dirty mark.
import type { AppContext } from '../app/context.ts';
import { enqueueJob, type JobContext, type JobOptions } from '../app/jobs.ts';
import { keepBalance, keyString, readKept } from './cache.ts';
import { t1Point } from './business-day.ts';
import { dirtyCards, finishCatchUp, markFollowedDirty, mirrorTransactions, syncState, type SyncState } from './mirror.ts';
import { CoreError, isCoreDown, MAX_TRANSACTIONS_PAGE, type CardKey, type CoreBanking } from './port.ts';
import { runtimeOf } from './runtime.ts';

export const CATCH_UP_TOPIC = 'core.catch-up';
/** Cards one job run catches up; more wait for the continuation job. */
export const CATCH_UP_CARDS_PER_RUN = 50;
/** Cards caught up at once: the core just came back and should not be stampeded. */
export const CATCH_UP_CONCURRENCY = 4;
/** Statement pages read per card per run (100 each): 5,000 missed postings. */
export const CATCH_UP_MAX_PAGES = 50;
/**
 * Catch-up reads back from the card's last contact with the core less this margin: bookings in
 * flight at that moment and small clock differences between wecard and the core.
 */
export const CATCH_UP_OVERLAP_MS = 10 * 60_000;
/** Never further back than this from the dirty mark, however old the last contact. */
export const CATCH_UP_MAX_LOOKBACK_MS = 7 * 24 * 3_600_000;
/** A read that found the core down schedules catch-up this much later (the core may be back by then). */
export const CATCH_UP_AFTER_FAILURE_DELAY_MS = 5_000;
/** Catch-up jobs enqueued within one such window (by any instance, for one reason) are one job. */
export const CATCH_UP_DEDUPE_WINDOW_MS = 60_000;

/**
 * When the core comes back, the cards whose balance was kept this long before it went away are
 * caught up too, read during the outage or not: postings booked meanwhile are mirrored for them.
 */
export const CATCH_UP_FOLLOWED_WINDOW_MS = 24 * 3_600_000;
/** At most this many such cards per recovery (the most recently read first); the rest refresh when next read. */
export const CATCH_UP_FOLLOWED_MAX_CARDS = 10_000;

/** While the core stays down, the job retries every minute at most, for about half an hour. */
export const CATCH_UP_JOB_OPTIONS: JobOptions = {
  maxAttempts: 30,
  retryDelayMs: (attempt) => Math.min(2_000 * 2 ** (attempt - 1), 60_000),
};

/** Schedules a catch-up run; `reason` and the time window make one job per window per reason. */
export async function enqueueCatchUp(ctx: AppContext, reason: 'recovered' | 'dirty' | 'more', now: Date, suffix = ''): Promise<void> {
  const bucket = Math.floor(now.getTime() / CATCH_UP_DEDUPE_WINDOW_MS);
  await enqueueJob(ctx.db, {
    topic: CATCH_UP_TOPIC,
    payload: { reason },
    dedupeKey: `${CATCH_UP_TOPIC}:${reason}:${bucket}${suffix}`,
    runAfter: reason === 'dirty' ? new Date(now.getTime() + CATCH_UP_AFTER_FAILURE_DELAY_MS) : now,
  });
}

/**
 * On recovery: marks the cards in use when the outage began (kept within CATCH_UP_FOLLOWED_WINDOW_MS
 * before `outageStartedAt`) and schedules catch-up.
 */
export async function scheduleRecoveryCatchUp(ctx: AppContext, outageStartedAt: Date, now: Date): Promise<void> {
  await markFollowedDirty(ctx.db, {
    followedSince: new Date(outageStartedAt.getTime() - CATCH_UP_FOLLOWED_WINDOW_MS),
    dirtySince: outageStartedAt,
    now,
    limit: CATCH_UP_FOLLOWED_MAX_CARDS,
  });
  await enqueueCatchUp(ctx, 'recovered', now);
}

export interface CatchUpReport {
  cards: number;
  transactions: number;
  /** True when the run took a full batch (a continuation is scheduled). */
  more: boolean;
}

/** Where catch-up of a card starts reading: its last contact with the core before the dirty mark, less the overlap. */
export function catchUpFrom(dirtySince: Date, lastContacts: ReadonlyArray<Date | null | undefined>): Date {
  let last: number | undefined;
  for (const c of lastContacts) {
    if (!c || c.getTime() > dirtySince.getTime()) continue;
    if (last === undefined || c.getTime() > last) last = c.getTime();
  }
  const from = (last ?? dirtySince.getTime()) - CATCH_UP_OVERLAP_MS;
  return new Date(Math.max(from, dirtySince.getTime() - CATCH_UP_MAX_LOOKBACK_MS));
}

async function catchUpCard(ctx: AppContext, core: CoreBanking, s: SyncState, now: Date): Promise<number> {
  const card: CardKey = { id: s.cardId, tenantId: s.tenantId };
  const rt = runtimeOf(core);
  const currentKey = { tenantId: s.tenantId, cardId: s.cardId, kind: 'current' as const };
  const kept = await readKept(ctx.db, currentKey);
  const from = catchUpFrom(s.dirtySince ?? now, [kept?.fetchedAt, s.mirroredAt, s.syncedThrough]);
  let mirrored = 0;
  let truncated = false;
  try {
    let cursor: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= CATCH_UP_MAX_PAGES) {
        truncated = true;
        break;
      }
      const p = await core.transactions(card, { from, to: now, cursor, limit: MAX_TRANSACTIONS_PAGE });
      mirrored += await mirrorTransactions(ctx.db, s.tenantId, s.cardId, p.items, 'catch_up', now);
      if (!p.nextCursor) break;
      cursor = p.nextCursor;
    }
    // The balance now, and the T+1 value if one is kept: a back-dated booking may have changed it.
    const b = await core.balance(card);
    const fresh = { ...b, fetchedAt: now };
    await keepBalance(ctx.db, currentKey, fresh, 'catch_up');
    rt.memory.set(keyString(currentKey), fresh);
    const t1Key = { ...currentKey, kind: 't1' as const };
    if (await readKept(ctx.db, t1Key)) {
      const t1 = t1Point(now);
      const v = { ...(await core.balance(card, { asOf: t1.asOf })), fetchedAt: now };
      await keepBalance(ctx.db, t1Key, v, 'catch_up');
      rt.memory.set(keyString(t1Key), v);
    }
  } catch (err) {
    if (isCoreDown(err)) throw err;
    if (err instanceof CoreError) {
      // The core answered, but not for this card (closed, moved, or a contract bug): nothing to wait for.
      ctx.log.warn({ tenantId: s.tenantId, cardId: s.cardId, reason: err.reason }, 'catch-up of a card refused by the core');
      await finishCatchUp(ctx.db, s, now, now, `${err.kind}: ${err.message}`);
      return mirrored;
    }
    throw err;
  }
  if (truncated) ctx.log.warn({ tenantId: s.tenantId, cardId: s.cardId, pages: CATCH_UP_MAX_PAGES }, 'catch-up window had more postings than one run reads; older ones are not mirrored');
  await finishCatchUp(ctx.db, s, now, now, truncated ? 'window truncated' : null);
  return mirrored;
}

/**
 * One catch-up run over the cards marked dirty (any instance's), longest-waiting first. A core
 * still down aborts the run with the error, so the job retries with backoff; cards finished
 * before that stay finished. Idempotent: the mirror keeps each core transaction once.
 */
export async function catchUp(ctx: AppContext, core: CoreBanking, now: Date = ctx.clock.now()): Promise<CatchUpReport> {
  const batch = await dirtyCards(ctx.db, CATCH_UP_CARDS_PER_RUN);
  let transactions = 0;
  let cards = 0;
  for (let i = 0; i < batch.length; i += CATCH_UP_CONCURRENCY) {
    const counts = await Promise.all(batch.slice(i, i + CATCH_UP_CONCURRENCY).map((s) => catchUpCard(ctx, core, s, now)));
    cards += counts.length;
    transactions += counts.reduce((a, b) => a + b, 0);
  }
  runtimeOf(core).metrics?.caughtUp(cards, transactions);
  if (cards > 0) ctx.log.info({ cards, transactions }, 'caught up with the core');
  return { cards, transactions, more: batch.length === CATCH_UP_CARDS_PER_RUN };
}

/** The `core.catch-up` job handler: one run, then a continuation while a full batch was taken. */
export async function runCatchUpJob(ctx: AppContext, core: CoreBanking, job: JobContext): Promise<void> {
  const report = await catchUp(ctx, core, job.now);
  if (report.more) await enqueueCatchUp(ctx, 'more', job.now, `:${job.id}`);
}

/** Catch-up of one card now (ops console; tests). */
export async function catchUpOne(ctx: AppContext, core: CoreBanking, tenantId: string, cardId: string, now: Date = ctx.clock.now()): Promise<number> {
  const s = await syncState(ctx.db, tenantId, cardId);
  if (!s || s.dirtySince === null) return 0;
  return catchUpCard(ctx, core, s, now);
}

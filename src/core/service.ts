// What the accounts module calls: balances under the tenant's freshness, with last-known fallbacks while the core is down, and card checks.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import type { CardElements } from './card-state.ts';
import { keepBalance, keyString, readKept, type KeptKey } from './cache.ts';
import { t1Point, type T1Point } from './business-day.ts';
import { enqueueCatchUp } from './catch-up.ts';
import { freshnessPlan, isStaleFallback, newest, servable, type Freshness, type FreshnessLabel, type FreshnessPlan, type KeptBalance } from './freshness.ts';
import { markDirty } from './mirror.ts';
import { CoreError, isCoreDown, type CardKey, type CoreBanking, type CoreCardStatus, type ElementCheck } from './port.ts';
import { coreOf, runtimeOf, type CoreRuntime } from './runtime.ts';

/**
 * A real-time tenant's last-known value is rewritten at most this often while it does not change:
 * a fallback may then report an `asOf` up to this much older than the last live answer, which is
 * still true (the value held then) and saves a write per balance read.
 */
export const LAST_KNOWN_WRITE_INTERVAL_MS = 5_000;
/** One instance marks a card as having missed the core at most this often. */
export const DIRTY_MARK_INTERVAL_MS = 30_000;

export interface ReadBalanceInput {
  tenantId: string;
  /** The core card (a CoreCard, or `{ id, tenantId }` with the core's card id). */
  card: CardKey;
  /** policy.balance.freshness for bound cards; 't+1' (policy.noBind.freshness) for no-bind answers. */
  freshness: Freshness;
  now: Date;
}

/** API.md's balance answer; amounts are integer fen. */
export interface BalanceAnswer {
  available: bigint;
  ledger: bigint;
  currency: string;
  asOf: Date;
  freshness: FreshnessLabel;
  /** True when the core could not be asked and the value is older than the tenant's freshness allows. */
  stale: boolean;
}

function answer(v: KeptBalance, plan: FreshnessPlan, stale: boolean): BalanceAnswer {
  return { available: v.availableFen, ledger: v.ledgerFen, currency: v.currency, asOf: v.asOf, freshness: plan.label, stale };
}

/** A core refusal as the API error it means (`core_unavailable` is decided by the caller). */
export function coreErrorToApp(err: unknown): unknown {
  if (!(err instanceof CoreError)) return err;
  switch (err.kind) {
    case 'not_found':
      return new AppError('not_found', 'no such card at this institution');
    case 'rejected':
      return new AppError('validation_failed', err.message);
    default:
      return new AppError('core_unavailable', 'core banking is unreachable');
  }
}

function t1For(ctx: AppContext, rt: CoreRuntime, now: Date): T1Point {
  const t1 = t1Point(now);
  if (!t1.calendarCovered) {
    rt.metrics?.calendarUncovered();
    const year = Number(t1.date.slice(0, 4));
    if (!rt.warnedYears.has(year)) {
      rt.warnedYears.add(year);
      // DOMAIN.md: never guess silently past the table's years; the operator must update it.
      ctx.log.warn({ year }, 'the holiday table has no official schedule for this year; T+1 uses weekends and fixed-date holidays only (update chinese-days)');
    }
  }
  return t1;
}

/** Records, at most once per interval per instance, that a card missed the core, and schedules catch-up. */
export async function noteMissed(ctx: AppContext, core: CoreBanking, tenantId: string, cardId: string, now: Date): Promise<void> {
  if (!core.remote) return;
  const rt = runtimeOf(core);
  const k = `${tenantId}\u0000${cardId}`;
  const last = rt.dirtyMarkedAt.get(k);
  if (last !== undefined && now.getTime() - last < DIRTY_MARK_INTERVAL_MS && now.getTime() >= last) return;
  rt.dirtyMarkedAt.set(k, now.getTime());
  try {
    await markDirty(ctx.db, tenantId, cardId, now);
    await enqueueCatchUp(ctx, 'dirty', now);
  } catch (err) {
    // The answer the user gets does not depend on this bookkeeping; the next miss marks again.
    rt.dirtyMarkedAt.delete(k);
    ctx.log.warn({ err, tenantId, cardId }, 'could not record a missed core read');
  }
}

/** Writes a fresh value to the shared table (throttled for real-time tenants whose value did not change). */
async function remember(ctx: AppContext, rt: CoreRuntime, key: KeptKey, ks: string, v: KeptBalance, plan: FreshnessPlan): Promise<void> {
  if (plan.mode === 'realtime') {
    const w = rt.written.get(ks);
    const same = w && w.availableFen === v.availableFen && w.ledgerFen === v.ledgerFen && w.currency === v.currency;
    const age = w ? v.fetchedAt.getTime() - w.fetchedAtMs : Infinity;
    if (same && age >= 0 && age < LAST_KNOWN_WRITE_INTERVAL_MS) return;
    rt.written.set(ks, { availableFen: v.availableFen, ledgerFen: v.ledgerFen, currency: v.currency, fetchedAtMs: v.fetchedAt.getTime() });
  }
  try {
    await keepBalance(ctx.db, key, v, 'read');
  } catch (err) {
    rt.written.delete(ks);
    ctx.log.warn({ err, tenantId: key.tenantId, cardId: key.cardId }, 'could not keep a balance read from the core');
  }
}

/**
 * A card's balance under the tenant's freshness:
 * - real time: the core is asked every time;
 * - 30 s / 60 s (any max age): a kept value fetched within that age answers, else the core is asked
 *   and the value kept (PostgreSQL is shared by all instances; process memory sits in front);
 * - T+1: the balance at the end of the previous business day (Asia/Shanghai), kept per cut-off.
 * When the core cannot be asked, the last known value answers with its true `asOf` and
 * `stale: true` (unless still within the tenant's freshness); with nothing kept, `core_unavailable`.
 */
export async function readBalance(ctx: AppContext, input: ReadBalanceInput, core: CoreBanking = coreOf(ctx)): Promise<BalanceAnswer> {
  const { tenantId, card, now } = input;
  if (card.tenantId !== tenantId) throw new AppError('not_found', 'no such card at this institution');
  const plan = freshnessPlan(input.freshness);
  const rt = runtimeOf(core);
  const t1 = plan.mode === 't+1' ? t1For(ctx, rt, now) : undefined;
  const key: KeptKey = { tenantId, cardId: card.id, kind: t1 ? 't1' : 'current' };
  const ks = keyString(key);
  // The built-in core in real time is the ledger itself: nothing to keep, nothing to fall back to.
  const keeps = core.remote || plan.mode !== 'realtime';

  if (plan.mode !== 'realtime') {
    let v = rt.memory.get(ks);
    if (!servable(v, plan, now, t1?.asOf)) {
      const row = await readKept(ctx.db, key);
      if (row) rt.memory.set(ks, row);
      // Memory keeps the newer: a fetch by a reader of the same burst may have landed meanwhile.
      v = rt.memory.get(ks);
    }
    if (servable(v, plan, now, t1?.asOf)) {
      rt.metrics?.answer('balance', 'cache');
      return answer(v, plan, false);
    }
  }

  let fresh: KeptBalance;
  try {
    // One core call per card per instance at a time; its value is kept once, before any waiter resumes.
    fresh = await rt.flights.run(t1 ? `${ks}@${t1.asOf.getTime()}` : ks, async () => {
      const v: KeptBalance = { ...(await core.balance(card, t1 ? { asOf: t1.asOf } : {})), fetchedAt: now };
      if (keeps) {
        rt.memory.set(ks, v);
        await remember(ctx, rt, key, ks, v, plan);
      }
      return v;
    });
  } catch (err) {
    if (!isCoreDown(err)) throw coreErrorToApp(err);
    return fallback(ctx, core, rt, { key, ks, plan, now, t1, reason: err.reason });
  }
  rt.metrics?.answer('balance', 'core');
  return answer(fresh, plan, false);
}

async function fallback(
  ctx: AppContext,
  core: CoreBanking,
  rt: CoreRuntime,
  f: { key: KeptKey; ks: string; plan: FreshnessPlan; now: Date; t1: T1Point | undefined; reason: string },
): Promise<BalanceAnswer> {
  const last = newest(rt.memory.get(f.ks), await readKept(ctx.db, f.key));
  await noteMissed(ctx, core, f.key.tenantId, f.key.cardId, f.now);
  if (!last) {
    rt.metrics?.answer('balance', 'unavailable');
    throw new AppError('core_unavailable', 'core banking is unreachable and no earlier balance of this card is kept');
  }
  rt.memory.set(f.ks, last);
  const stale = isStaleFallback(last, f.plan, f.now, f.t1?.asOf);
  rt.metrics?.answer('balance', stale ? 'stale' : 'cache');
  ctx.log.debug({ tenantId: f.key.tenantId, cardId: f.key.cardId, reason: f.reason, stale }, 'balance answered from the kept value: the core is unavailable');
  return answer(last, f.plan, stale);
}

/** The card's state at the core (status, cross-border lock, activity); `core_unavailable` when it cannot be asked. */
export async function readCardStatus(ctx: AppContext, input: { tenantId: string; card: CardKey }, core: CoreBanking = coreOf(ctx)): Promise<CoreCardStatus> {
  if (input.card.tenantId !== input.tenantId) throw new AppError('not_found', 'no such card at this institution');
  try {
    return await core.cardStatus(input.card);
  } catch (err) {
    throw coreErrorToApp(err);
  }
}

/** The four-element check at the core; `core_unavailable` when it cannot be asked. */
export async function verifyElementsAtCore(ctx: AppContext, tenantId: string, elements: CardElements, core: CoreBanking = coreOf(ctx)): Promise<ElementCheck> {
  try {
    return await core.verifyElements(tenantId, elements);
  } catch (err) {
    throw coreErrorToApp(err);
  }
}

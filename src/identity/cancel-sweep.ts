// The daily sweep (job `identity.cancel-sweep`): closes any channel access left for cancelled cards, within the policy's working days at the latest.
import type { AppContext } from '../app/context.ts';
import { enqueueJob } from '../app/jobs.ts';
import type { Db, Tx } from '../db/tx.ts';
import { inTx } from '../db/tx.ts';
import { getCard } from './core-link.ts';
import { getTenant } from '../tenants/index.ts';
import { revokeCancelledCard } from './lifecycle.ts';
import { cancellationAccessDeadline, nextDailyRunAt, shanghaiDay } from './working-days.ts';

export const CANCEL_SWEEP_TOPIC = 'identity.cancel-sweep';
/** Bindings read per batch. */
export const CANCEL_SWEEP_BATCH = 500;
/** Bindings one run looks at; the rest wait for the next run (logged). */
export const CANCEL_SWEEP_MAX_PER_RUN = 200_000;

/** Schedules the run for the next 02:00 Asia/Shanghai after `now` (one row per day: the dedupe key is the day). */
export async function scheduleCancelSweep(db: Db | Tx, now: Date): Promise<void> {
  const runAfter = nextDailyRunAt(now);
  await enqueueJob(db, { topic: CANCEL_SWEEP_TOPIC, payload: { day: shanghaiDay(runAfter) }, dedupeKey: `${CANCEL_SWEEP_TOPIC}:${shanghaiDay(runAfter)}`, runAfter });
}

export interface SweepResult {
  checked: number;
  revoked: number;
  /** Revoked after their deadline had passed (the status feed missed them): an operator should look. */
  overdue: number;
  /** Deadlines computed partly with the fallback calendar (the year's schedule is not in the table). */
  uncoveredCalendar: number;
}

/**
 * Walks every live binding (keyset pages) and revokes those whose card the core reports
 * cancelled. The status feed revokes at once; this catches what it missed. A revocation past the
 * tenant's deadline (policy.cancellation.accessCutoffWorkingDays working days) is counted and
 * logged as overdue; idempotent (a revoked binding is not live any more).
 */
export async function sweepCancelledCards(ctx: AppContext, now: Date): Promise<SweepResult> {
  const result: SweepResult = { checked: 0, revoked: 0, overdue: 0, uncoveredCalendar: 0 };
  let after = '';
  while (result.checked < CANCEL_SWEEP_MAX_PER_RUN) {
    const page = await ctx.db
      .selectFrom('identity_cards')
      .select(['id', 'tenant_id', 'core_card_id'])
      .where('unbound_at', 'is', null)
      .where('id', '>', after)
      .orderBy('id')
      .limit(CANCEL_SWEEP_BATCH)
      .execute();
    if (page.length === 0) break;
    after = page[page.length - 1]!.id;
    for (const b of page) {
      result.checked++;
      const core = await getCard(ctx.db, b.core_card_id);
      if (core && core.status !== 'cancelled') continue;
      const tenant = await getTenant(ctx.db, b.tenant_id);
      const days = tenant?.policy.cancellation.accessCutoffWorkingDays ?? 7;
      const { deadline, covered } = cancellationAccessDeadline(core?.statusChangedAt ?? now, days);
      const overdue = now.getTime() >= deadline.getTime();
      const n = await inTx(ctx.db, (tx) =>
        revokeCancelledCard(tx, b.core_card_id, b.tenant_id, 'cancel_sweep', now, { deadline: deadline.toISOString(), overdue, calendarCovered: covered }),
      );
      result.revoked += n;
      if (n > 0 && overdue) result.overdue += n;
      if (!covered) result.uncoveredCalendar++;
    }
  }
  if (result.checked >= CANCEL_SWEEP_MAX_PER_RUN) ctx.log.warn({ checked: result.checked }, 'cancel sweep stopped at its per-run bound; the rest waits for the next run');
  if (result.overdue > 0) ctx.log.warn({ overdue: result.overdue }, 'cancelled cards kept channel access past their deadline; check the card status feed');
  if (result.uncoveredCalendar > 0) {
    ctx.log.warn({ cards: result.uncoveredCalendar }, 'working-day deadlines used the fallback calendar: update chinese-days with the official holiday schedule');
  }
  return result;
}

/** Registers the daily job and makes sure the next run is scheduled (each run schedules the one after). */
export async function registerCancelSweep(ctx: AppContext): Promise<void> {
  ctx.jobs.register(
    CANCEL_SWEEP_TOPIC,
    async (c, _payload, job) => {
      const r = await sweepCancelledCards(c, job.now);
      c.log.info({ ...r }, 'cancel sweep done');
      await scheduleCancelSweep(c.db, job.now);
    },
    { maxAttempts: 5, retryDelayMs: (n) => Math.min(60_000 * 2 ** (n - 1), 3_600_000) },
  );
  await scheduleCancelSweep(ctx.db, ctx.clock.now());
}

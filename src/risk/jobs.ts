// Bounded retention of risk data: a daily job deletes old signals, quota counters, spent captchas and stale locations in batches.
import type { AppContext } from '../app/context.ts';
import { enqueueJob } from '../app/jobs.ts';
import type { Db } from '../db/tx.ts';
import { businessDay, DAY_MS, startOfBusinessDay } from './policy.ts';
import { pruneBatch } from './store.ts';

/** Signals older than this no longer count toward anything (the scoring window is a day). */
export const RISK_SIGNAL_RETENTION_DAYS = 30;
/** Quota counters are kept a week, for operators' "who hit the limit" questions. */
export const QUOTA_RETENTION_DAYS = 7;
/** A country not queried from in this long is no longer one of the user's usual locations. */
export const LOCATION_RETENTION_DAYS = 180;
/** Spent or expired challenges are kept this long after expiry (support look-ups), then deleted. */
const CAPTCHA_RETENTION_MS = 60 * 60 * 1000;
/** Rows deleted per statement, and statements per table per run: a run never holds locks for long. */
export const PRUNE_BATCH_ROWS = 5_000;
export const PRUNE_MAX_BATCHES = 20;
/** The prune runs each day at this hour after 00:00 Asia/Shanghai (quiet hours). */
const PRUNE_HOUR_OFFSET_MS = 3 * 60 * 60 * 1000;
export const RISK_PRUNE_TOPIC = 'risk.prune';

export async function pruneRiskData(db: Db, now: Date): Promise<Record<string, number>> {
  const cutoffs = {
    signalsBefore: new Date(now.getTime() - RISK_SIGNAL_RETENTION_DAYS * DAY_MS),
    quotaDaysBefore: businessDay(new Date(now.getTime() - QUOTA_RETENTION_DAYS * DAY_MS)),
    captchasBefore: new Date(now.getTime() - CAPTCHA_RETENTION_MS),
    locationsBefore: new Date(now.getTime() - LOCATION_RETENTION_DAYS * DAY_MS),
    // A subject whose last signal is older than any signal kept has nothing left to score.
    subjectsBefore: new Date(now.getTime() - RISK_SIGNAL_RETENTION_DAYS * DAY_MS),
  };
  const total: Record<string, number> = {};
  for (let i = 0; i < PRUNE_MAX_BATCHES; i++) {
    const n = await pruneBatch(db, cutoffs, PRUNE_BATCH_ROWS);
    for (const [k, v] of Object.entries(n)) total[k] = (total[k] ?? 0) + v;
    if (Object.values(n).every((v) => v < PRUNE_BATCH_ROWS)) break;
  }
  return total;
}

/** The next prune time strictly after `now`: 03:00 Asia/Shanghai today or tomorrow. */
export function nextPruneAt(now: Date): Date {
  const today = startOfBusinessDay(now).getTime() + PRUNE_HOUR_OFFSET_MS;
  return new Date(today > now.getTime() ? today : today + DAY_MS);
}

/**
 * Enqueues the next prune (at most one per business day: the dedupe key names the day), so every
 * instance may call this on start and the job re-enqueues itself after each run.
 */
export async function schedulePrune(db: Db, now: Date): Promise<void> {
  const at = nextPruneAt(now);
  await enqueueJob(db, { topic: RISK_PRUNE_TOPIC, payload: {}, dedupeKey: `${RISK_PRUNE_TOPIC}:${businessDay(at)}`, runAfter: at });
}

export function registerRiskJobs(ctx: AppContext): void {
  ctx.jobs.register(RISK_PRUNE_TOPIC, async (c, _payload, job) => {
    const removed = await pruneRiskData(c.db, job.now);
    c.log.info({ removed }, 'risk data pruned');
    await schedulePrune(c.db, job.now);
  });
}

// Keeps the transaction mirror bounded: a daily job deletes mirrored postings older than the retention.
import { sql } from 'kysely';
import type { AppContext } from '../app/context.ts';
import { enqueueJob } from '../app/jobs.ts';
import { shanghaiDate, startOfShanghaiDay, addDays } from './business-day.ts';

export const MIRROR_PRUNE_TOPIC = 'core.mirror-prune';
/**
 * The mirror only answers statements while the core is down; a little over a year covers the
 * usual 12-month statement range (policy.statements.maxMonths), longer ranges show what is kept,
 * marked stale.
 */
export const MIRROR_RETENTION_MS = 400 * 86_400_000;
/** Rows one prune statement deletes; a backlog continues in an immediate follow-up job. */
export const MIRROR_PRUNE_BATCH = 10_000;
/** Runs at 03:00 Asia/Shanghai, away from the day's traffic. */
const PRUNE_HOUR_MS = 3 * 3_600_000;

/** Deletes up to MIRROR_PRUNE_BATCH mirrored postings booked before the retention; returns how many. */
export async function pruneMirror(ctx: AppContext, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - MIRROR_RETENTION_MS);
  const r = await sql`
    delete from core_transactions where seq in (
      select seq from core_transactions where booked_at < ${cutoff} limit ${MIRROR_PRUNE_BATCH}
    )`.execute(ctx.db);
  return Number(r.numAffectedRows ?? 0n);
}

/** Schedules the next daily prune (one job per day whichever instance asks). */
export async function scheduleMirrorPrune(ctx: AppContext, now: Date): Promise<void> {
  const next = addDays(shanghaiDate(now), 1);
  await enqueueJob(ctx.db, {
    topic: MIRROR_PRUNE_TOPIC,
    payload: {},
    dedupeKey: `${MIRROR_PRUNE_TOPIC}:${next}`,
    runAfter: new Date(startOfShanghaiDay(next).getTime() + PRUNE_HOUR_MS),
  });
}

/** The job: one batch, a follow-up while the batch was full, and tomorrow's run. */
export async function runMirrorPruneJob(ctx: AppContext, now: Date, jobId: string): Promise<void> {
  const n = await pruneMirror(ctx, now);
  if (n > 0) ctx.log.info({ deleted: n }, 'pruned mirrored core transactions past retention');
  if (n >= MIRROR_PRUNE_BATCH) await enqueueJob(ctx.db, { topic: MIRROR_PRUNE_TOPIC, payload: {}, dedupeKey: `${MIRROR_PRUNE_TOPIC}:more:${jobId}`, runAfter: now });
  await scheduleMirrorPrune(ctx, now);
}

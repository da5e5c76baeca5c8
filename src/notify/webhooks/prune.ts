// The daily prune of partner webhooks (job `notify.webhook-prune`): delivered deliveries and their events past the retention go; dead letters stay until an operator acts.
import { sql } from 'kysely';
import type { AppContext } from '../../app/context.ts';
import { enqueueJob, type JobContext } from '../../app/jobs.ts';
import type { Db, Tx } from '../../db/tx.ts';

export const WEBHOOK_PRUNE_TOPIC = 'notify.webhook-prune';
/** Delivered events are kept this long for the console and partner questions. */
export const WEBHOOK_RETENTION_MS = 90 * 86_400_000;
/** Rows one statement deletes; a backlog is worked off over later days. */
export const WEBHOOK_PRUNE_BATCH = 10_000;
const DAY_MS = 86_400_000;

export async function scheduleWebhookPrune(db: Db | Tx, now: Date): Promise<void> {
  const at = new Date((Math.floor(now.getTime() / DAY_MS) + 1) * DAY_MS + 3 * 3_600_000);
  await enqueueJob(db, { topic: WEBHOOK_PRUNE_TOPIC, payload: {}, dedupeKey: `${WEBHOOK_PRUNE_TOPIC}:${at.toISOString()}`, runAfter: at });
}

/** Deletes up to a batch of old delivered deliveries, then events no delivery refers to any more; returns rows deleted. */
export async function pruneWebhooks(db: Db, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - WEBHOOK_RETENTION_MS);
  const a = await sql`delete from notify_webhook_deliveries where id in (
      select id from notify_webhook_deliveries where status = 'delivered' and created_at < ${cutoff} limit ${WEBHOOK_PRUNE_BATCH})`.execute(db);
  const b = await sql`delete from notify_events where id in (
      select e.id from notify_events e where e.created_at < ${cutoff}
        and not exists (select 1 from notify_webhook_deliveries d where d.event_id = e.id)
      limit ${WEBHOOK_PRUNE_BATCH})`.execute(db);
  return Number(a.numAffectedRows ?? 0n) + Number(b.numAffectedRows ?? 0n);
}

export async function webhookPruneJob(ctx: AppContext, _payload: unknown, job: JobContext): Promise<void> {
  await scheduleWebhookPrune(ctx.db, job.now);
  const n = await pruneWebhooks(ctx.db, job.now);
  if (n > 0) ctx.log.info({ deleted: n }, 'old webhook deliveries pruned');
}

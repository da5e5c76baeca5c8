// Background work of the Pay module: retention of the notification de-duplication record.
import type { AppContext } from '../../app/context.ts';
import type { JobContext } from '../../app/jobs.ts';
import { pruneNotifications } from './store.ts';

export const PRUNE_NOTIFICATIONS_TOPIC = 'wechat.pay.prune_notifications';
/**
 * How long a processed notification is remembered. WeChat stops retrying after 24 h 4 min; the
 * record is kept far longer because it is also the trail that a payment was applied once.
 */
export const PAY_NOTIFICATION_RETENTION_MS = 400 * 24 * 60 * 60 * 1000;
export const PRUNE_BATCH_ROWS = 5_000;
/** Batches per run; what is left goes with the next day's run. */
export const PRUNE_MAX_BATCHES = 20;

export async function pruneNotificationsJob(ctx: AppContext, _payload: unknown, job: JobContext): Promise<void> {
  const before = new Date(job.now.getTime() - PAY_NOTIFICATION_RETENTION_MS);
  for (let i = 0; i < PRUNE_MAX_BATCHES; i++) {
    const deleted = await pruneNotifications(ctx.db, before, PRUNE_BATCH_ROWS);
    if (deleted < PRUNE_BATCH_ROWS) return;
  }
}

// Background work of the WeCom module: retention of the callback de-duplication record.
import type { AppContext } from '../../app/context.ts';
import type { JobContext } from '../../app/jobs.ts';
import { pruneEvents } from './store.ts';

export const PRUNE_EVENTS_TOPIC = 'wecom.prune_events';
/**
 * How long a received event is kept. WeCom retries within a minute and a callback older than the
 * 5-minute timestamp window is refused anyway, so this is only the record's useful life for support.
 */
export const WECOM_EVENT_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
export const PRUNE_BATCH_ROWS = 5_000;
/** Batches per run; what is left goes with the next day's run. */
export const PRUNE_MAX_BATCHES = 20;

export async function pruneEventsJob(ctx: AppContext, _payload: unknown, job: JobContext): Promise<void> {
  const before = new Date(job.now.getTime() - WECOM_EVENT_RETENTION_MS);
  for (let i = 0; i < PRUNE_MAX_BATCHES; i++) {
    const deleted = await pruneEvents(ctx.db, before, PRUNE_BATCH_ROWS);
    if (deleted < PRUNE_BATCH_ROWS) return;
  }
}

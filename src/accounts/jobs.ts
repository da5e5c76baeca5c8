// The accounts module's background work: a daily prune of old quick-balance queries.
import type { AppContext } from '../app/context.ts';
import { enqueueJob } from '../app/jobs.ts';
import type { Db } from '../db/tx.ts';
import { businessDay, startOfBusinessDay } from '../risk/index.ts';
import { pruneQuickQueries } from './store.ts';

/** Quick-balance queries are kept this long (support look-ups: "did I get a code?"), then deleted. */
export const QUICK_QUERY_RETENTION_DAYS = 30;
/** Rows one statement deletes, and statements per run: a run never holds locks for long. */
export const ACCOUNTS_PRUNE_BATCH_ROWS = 5_000;
export const ACCOUNTS_PRUNE_MAX_BATCHES = 20;
export const ACCOUNTS_PRUNE_TOPIC = 'accounts.prune';
const DAY_MS = 86_400_000;
/** 04:00 Asia/Shanghai: after the risk prune (03:00), in quiet hours. */
const PRUNE_AFTER_MIDNIGHT_MS = 4 * 3_600_000;

export async function pruneAccountsData(db: Db, now: Date): Promise<number> {
  const before = new Date(now.getTime() - QUICK_QUERY_RETENTION_DAYS * DAY_MS);
  let total = 0;
  for (let i = 0; i < ACCOUNTS_PRUNE_MAX_BATCHES; i++) {
    const n = await pruneQuickQueries(db, before, ACCOUNTS_PRUNE_BATCH_ROWS);
    total += n;
    if (n < ACCOUNTS_PRUNE_BATCH_ROWS) break;
  }
  return total;
}

/** Enqueues the next run (one per business day: the dedupe key names it), so every instance may call this on start. */
export async function scheduleAccountsPrune(db: Db, now: Date): Promise<void> {
  const today = startOfBusinessDay(now).getTime() + PRUNE_AFTER_MIDNIGHT_MS;
  const at = new Date(today > now.getTime() ? today : today + DAY_MS);
  await enqueueJob(db, { topic: ACCOUNTS_PRUNE_TOPIC, payload: {}, dedupeKey: `${ACCOUNTS_PRUNE_TOPIC}:${businessDay(at)}`, runAfter: at });
}

export function registerAccountsJobs(ctx: AppContext): void {
  ctx.jobs.register(ACCOUNTS_PRUNE_TOPIC, async (c, _payload, job) => {
    const removed = await pruneAccountsData(c.db, job.now);
    c.log.info({ removed }, 'quick-balance queries pruned');
    await scheduleAccountsPrune(c.db, job.now);
  });
}

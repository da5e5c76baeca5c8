// The job `notify.card-sync` (every 15 minutes, one run per slot across instances): requests full snapshots when due, flags feeds without one for too long, prunes old feed rows.
import { Gauge } from 'prom-client';
import { sql } from 'kysely';
import type { AppContext } from '../../app/context.ts';
import { enqueueJob, type JobContext } from '../../app/jobs.ts';
import type { Db, Tx } from '../../db/tx.ts';
import { enabledLinks } from './links.ts';
import { CARD_SYNC_INTERVAL_MS, syncVerdict } from './policy.ts';
import type { CardStatusFeed } from './feed.ts';

export const CARD_SYNC_TOPIC = 'notify.card-sync';
/** Links one run looks at (tenants per deployment stay far below this). */
export const CARD_SYNC_LINKS_PER_RUN = 1_000;
/** Seen event ids and finished snapshots are kept this long (redeliveries come within minutes). */
export const CARDSYS_RETENTION_MS = 7 * 86_400_000;
/** Rows one prune statement deletes; a backlog is worked off over later runs. */
export const CARDSYS_PRUNE_BATCH = 5_000;
/** A failed run is retried a little later; the next slot's run catches up anyway. */
export const CARD_SYNC_MAX_ATTEMPTS = 3;
export const CARD_SYNC_RETRY_MS = 30_000;

function slotAfter(now: Date): Date {
  return new Date((Math.floor(now.getTime() / CARD_SYNC_INTERVAL_MS) + 1) * CARD_SYNC_INTERVAL_MS);
}

/** Enqueues the run of the next 15-minute slot; every instance may call it (the slot is the dedupe key). */
export async function scheduleCardSync(db: Db | Tx, now: Date): Promise<void> {
  const at = slotAfter(now);
  await enqueueJob(db, { topic: CARD_SYNC_TOPIC, payload: {}, dedupeKey: `${CARD_SYNC_TOPIC}:${at.toISOString()}`, runAfter: at });
}

/** A catch-up run now, forcing sync requests (after the broker link came back); one per minute at most. */
export async function enqueueCatchUpSync(db: Db | Tx, now: Date): Promise<void> {
  const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  await enqueueJob(db, { topic: CARD_SYNC_TOPIC, payload: { force: true }, dedupeKey: `${CARD_SYNC_TOPIC}:catch-up:${minute.toISOString()}` });
}

function ageGauge(ctx: AppContext): Gauge<'tenant'> {
  const name = 'wecard_cardsys_full_sync_age_seconds';
  const existing = ctx.metrics.getSingleMetric(name);
  if (existing) return existing as Gauge<'tenant'>;
  return new Gauge({ name, help: 'Age of the last complete card-status snapshot per tenant', labelNames: ['tenant'] as const, registers: [ctx.metrics] });
}

export interface CardSyncRun {
  requested: string[];
  /** Tenants newly flagged as drifting in this run. */
  flagged: string[];
  failed: string[];
  pruned: number;
}

/** One run: what the job does, callable directly by tests and the console. */
export async function runCardSync(ctx: AppContext, feed: CardStatusFeed, now: Date, o: { force?: boolean } = {}): Promise<CardSyncRun> {
  const run: CardSyncRun = { requested: [], flagged: [], failed: [], pruned: 0 };
  const gauge = ageGauge(ctx);
  for (const link of await enabledLinks(ctx.db, CARD_SYNC_LINKS_PER_RUN)) {
    const v = syncVerdict({ now, linkCreatedAt: link.created_at, lastFullSyncAt: link.last_full_sync_at, force: o.force });
    if (link.last_full_sync_at) gauge.set({ tenant: link.tenant_id }, Math.max(0, (now.getTime() - link.last_full_sync_at.getTime()) / 1000));
    if (v.stale && link.drift_flagged_at === null) {
      await ctx.db.updateTable('notify_cardsys_links').set({ drift_flagged_at: now }).where('tenant_id', '=', link.tenant_id).where('drift_flagged_at', 'is', null).execute();
      run.flagged.push(link.tenant_id);
      ctx.log.warn({ tenantId: link.tenant_id, lastFullSyncAt: link.last_full_sync_at?.toISOString() ?? null }, 'card status feed drifting: no complete snapshot from the card system for too long');
    }
    if (!v.request) continue;
    try {
      const requestId = await feed.requestSync(link.tenant_id, now);
      if (!requestId) continue;
      await ctx.db.updateTable('notify_cardsys_links').set({ last_sync_requested_at: now }).where('tenant_id', '=', link.tenant_id).execute();
      run.requested.push(link.tenant_id);
    } catch (err) {
      run.failed.push(link.tenant_id);
      ctx.log.warn({ tenantId: link.tenant_id, err: { message: (err as Error).message } }, 'full sync request could not be sent');
    }
  }
  run.pruned = await pruneFeed(ctx.db, now);
  return run;
}

/** Deletes seen event ids and snapshot bookkeeping past the retention, a bounded batch per table. */
export async function pruneFeed(db: Db, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - CARDSYS_RETENTION_MS);
  const a = await sql`delete from notify_cardsys_events where (tenant_id, event_id) in (
      select tenant_id, event_id from notify_cardsys_events where received_at < ${cutoff} limit ${CARDSYS_PRUNE_BATCH})`.execute(db);
  const old = sql`select tenant_id, snapshot_id from notify_cardsys_syncs where started_at < ${cutoff} limit ${CARDSYS_PRUNE_BATCH}`;
  const b = await sql`delete from notify_cardsys_sync_parts where (tenant_id, snapshot_id) in (${old})`.execute(db);
  const c = await sql`delete from notify_cardsys_syncs where (tenant_id, snapshot_id) in (${old})`.execute(db);
  return Number(a.numAffectedRows ?? 0n) + Number(b.numAffectedRows ?? 0n) + Number(c.numAffectedRows ?? 0n);
}

/**
 * The job handler: schedules the next slot first (a failing run must not stop the cycle), then
 * runs. Drift is flagged even while the broker is down (that is when it matters); requests that
 * could not be sent fail the run, so it is retried.
 */
export async function cardSyncJob(ctx: AppContext, feed: CardStatusFeed, payload: { force?: boolean } | null, job: JobContext): Promise<void> {
  if (!payload?.force) await scheduleCardSync(ctx.db, job.now);
  const r = await runCardSync(ctx, feed, job.now, { force: payload?.force === true });
  if (r.failed.length > 0) throw new Error(`sync requests failed for ${r.failed.length} tenant(s)`);
}

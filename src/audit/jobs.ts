// The recurring seal job: one outbox row per time slot (deduplicated across instances), each run seals what is ripe.
import { enqueueJob, type JobHandler } from '../app/jobs.ts';
import type { ModulePlugin } from '../app/server.ts';
import type { Db, Tx } from '../db/tx.ts';
import { sealAudit } from './seal.ts';

export const AUDIT_SEAL_TOPIC = 'audit.seal';
/** How often the sealer runs; rows are sealed within this plus the safety margin of being written. */
export const AUDIT_SEAL_INTERVAL_MS = 10_000;
/** A failed seal run is retried a few times; the next slot's run catches up anyway. */
const AUDIT_SEAL_MAX_ATTEMPTS = 3;

function slotAfter(now: Date): Date {
  return new Date((Math.floor(now.getTime() / AUDIT_SEAL_INTERVAL_MS) + 1) * AUDIT_SEAL_INTERVAL_MS);
}

/**
 * Enqueues the seal run of the slot after `now`. Every instance may call it: the dedupe key is
 * the slot, so each slot has one row and one run.
 */
export async function scheduleAuditSeal(db: Db | Tx, now: Date): Promise<void> {
  const at = slotAfter(now);
  await enqueueJob(db, { topic: AUDIT_SEAL_TOPIC, payload: {}, dedupeKey: `${AUDIT_SEAL_TOPIC}:${at.toISOString()}`, runAfter: at });
}

/** Schedules the next slot first, so a failing seal does not stop the cycle, then seals. */
export const sealJob: JobHandler = async (ctx, _payload, job) => {
  await scheduleAuditSeal(ctx.db, job.now);
  const r = await sealAudit(ctx, { now: job.now });
  if (r.sealed > 0) ctx.log.debug({ sealed: r.sealed, batches: r.batches, sealedThrough: r.sealedThrough.toString() }, 'audit rows sealed');
};

/** Registers the seal job and schedules its first run (mount once per instance; the lead wires it in modules.ts). */
export const auditJobs: ModulePlugin = async (_app, ctx) => {
  ctx.jobs.register(AUDIT_SEAL_TOPIC, sealJob, { maxAttempts: AUDIT_SEAL_MAX_ATTEMPTS });
  await scheduleAuditSeal(ctx.db, ctx.clock.now());
};

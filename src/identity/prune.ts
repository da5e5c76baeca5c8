// Retention (job `identity.prune`, daily): old OTP challenges and failures, bindings, step-ups, ended sessions and used face tokens are deleted in bounded batches.
import { sql } from 'kysely';
import type { AppContext } from '../app/context.ts';
import { enqueueJob } from '../app/jobs.ts';
import type { Db, Tx } from '../db/tx.ts';
import { PHONE_OTP_FAILURE_WINDOW_MS } from './policy.ts';
import { nextDailyRunAt, shanghaiDay } from './working-days.ts';

export const IDENTITY_PRUNE_TOPIC = 'identity.prune';
/**
 * How long finished challenges, bindings, step-ups and ended sessions are kept (for support and
 * disputes; the audit log keeps the events for its own, longer retention).
 */
export const IDENTITY_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** Rows one DELETE removes; a run repeats it at most PRUNE_MAX_BATCHES times per table. */
export const PRUNE_BATCH_ROWS = 5_000;
export const PRUNE_MAX_BATCHES = 40;
const PRUNE_HOUR_SHANGHAI = 3;

type Deleter = (db: Db, limit: number) => Promise<number>;

async function repeat(db: Db, del: Deleter): Promise<number> {
  let total = 0;
  for (let i = 0; i < PRUNE_MAX_BATCHES; i++) {
    const n = await del(db, PRUNE_BATCH_ROWS);
    total += n;
    if (n < PRUNE_BATCH_ROWS) break;
  }
  return total;
}

const count = (r: { numAffectedRows?: bigint }) => Number(r.numAffectedRows ?? 0n);

/** Deletes what is past retention; returns the rows removed per table. Idempotent, bounded. */
export async function pruneIdentity(ctx: AppContext, now: Date): Promise<Record<string, number>> {
  const cutoff = new Date(now.getTime() - IDENTITY_RETENTION_MS);
  const failureCutoff = new Date(now.getTime() - PHONE_OTP_FAILURE_WINDOW_MS);
  const out: Record<string, number> = {};
  // Children before parents: bindings point at challenges, step-ups at sessions.
  out.bindings = await repeat(ctx.db, async (db, limit) =>
    count(await sql`delete from identity_bindings where id in (select id from identity_bindings where created_at < ${cutoff} limit ${limit})`.execute(db)),
  );
  out.stepUps = await repeat(ctx.db, async (db, limit) =>
    count(
      await sql`delete from identity_step_ups where id in (
        select su.id from identity_step_ups su join identity_sessions s on s.id = su.session_id
        where su.created_at < ${cutoff} or s.absolute_expires_at < ${cutoff} limit ${limit})`.execute(db),
    ),
  );
  out.otpChallenges = await repeat(ctx.db, async (db, limit) =>
    count(
      await sql`delete from identity_otp_challenges where id in (
        select c.id from identity_otp_challenges c where c.created_at < ${cutoff}
        and not exists (select 1 from identity_bindings b where b.challenge_id = c.id) limit ${limit})`.execute(db),
    ),
  );
  out.otpFailures = await repeat(ctx.db, async (db, limit) =>
    count(await sql`delete from identity_otp_failures where id in (select id from identity_otp_failures where at < ${failureCutoff} limit ${limit})`.execute(db)),
  );
  out.sessions = await repeat(ctx.db, async (db, limit) =>
    count(
      await sql`delete from identity_sessions where id in (
        select s.id from identity_sessions s where s.absolute_expires_at < ${cutoff}
        and not exists (select 1 from identity_step_ups su where su.session_id = s.id) limit ${limit})`.execute(db),
    ),
  );
  out.faceTokens = await repeat(ctx.db, async (db, limit) =>
    count(await sql`delete from sandbox_face_tokens where token_hash in (select token_hash from sandbox_face_tokens where expires_at < ${cutoff} limit ${limit})`.execute(db)),
  );
  return out;
}

export async function schedulePrune(db: Db | Tx, now: Date): Promise<void> {
  const runAfter = nextDailyRunAt(now, PRUNE_HOUR_SHANGHAI);
  await enqueueJob(db, { topic: IDENTITY_PRUNE_TOPIC, payload: {}, dedupeKey: `${IDENTITY_PRUNE_TOPIC}:${shanghaiDay(runAfter)}`, runAfter });
}

/** Registers the daily prune; each run schedules the next. */
export async function registerPrune(ctx: AppContext): Promise<void> {
  ctx.jobs.register(
    IDENTITY_PRUNE_TOPIC,
    async (c, _payload, job) => {
      const removed = await pruneIdentity(c, job.now);
      c.log.info({ removed }, 'identity prune done');
      await schedulePrune(c.db, job.now);
    },
    { maxAttempts: 5, retryDelayMs: (n) => Math.min(60_000 * 2 ** (n - 1), 3_600_000) },
  );
  await schedulePrune(ctx.db, ctx.clock.now());
}

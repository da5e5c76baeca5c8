// Background jobs as outbox rows: enqueued in the caller's transaction, claimed with FOR UPDATE SKIP LOCKED by any instance.
import { sql, type RawBuilder } from 'kysely';
import type { AppContext } from './context.ts';
import type { Db, Tx } from '../db/tx.ts';

/** How long a claimed job is ours; a crashed instance's job is claimed again after this. */
export const JOB_LEASE_MS = 60_000;
/** Jobs claimed by one `runDue` call. */
export const JOB_CLAIM_BATCH = 20;
/** Claim rounds one poll runs at most (each after one that ran something): bounds a poll's length. */
export const JOB_ROUNDS_PER_POLL = 50;
/** Jobs of one batch that run at once. */
export const JOB_CONCURRENCY = 4;
/** Finished jobs are kept this long (for operators and idempotency of dedupe keys), then pruned. */
export const JOB_DONE_RETENTION_MS = 7 * 86_400_000;
/** Rows one prune statement deletes; a backlog is worked off over several polls. */
const JOB_PRUNE_BATCH = 5_000;
/** How often a polling runner prunes finished jobs. */
const JOB_PRUNE_INTERVAL_MS = 3_600_000;
/** Longest error text kept on a row. */
const LAST_ERROR_MAX_CHARS = 1_000;

export interface JobContext {
  id: string;
  topic: string;
  /** 1 on the first run. */
  attempts: number;
  now: Date;
}

export type JobHandler = (ctx: AppContext, payload: any, job: JobContext) => Promise<void>;

export interface JobOptions {
  maxAttempts: number;
  /** Delay before attempt n+1 after attempt n failed (n ≥ 1). */
  retryDelayMs: (attempt: number) => number;
}

/** Exponential backoff from 1 s, capped at 10 minutes, 8 attempts: for calls to services that come back. */
export const DEFAULT_JOB_OPTIONS: JobOptions = {
  maxAttempts: 8,
  retryDelayMs: (attempt) => Math.min(1_000 * 2 ** (attempt - 1), 600_000),
};

export interface NewJob {
  topic: string;
  payload: unknown;
  /** One row per key: enqueuing the same key twice is a no-op (an event announced once). */
  dedupeKey?: string;
  /** Not before; default: due at once. */
  runAfter?: Date;
}

/** Due at once: before any scheduled time, whatever clock the caller runs on. */
const DUE_AT_ONCE = new Date(0);

const TOPIC_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

/** Writes the job in the caller's transaction, so it exists exactly when the change it follows commits. */
export async function enqueueJob(db: Tx | Db, job: NewJob): Promise<void> {
  await enqueueJobs(db, [job]);
}

/**
 * The outbox insert of `jobs` as a statement of its own or a WITH item of a caller's statement
 * (several writes in one round trip). Same rules as enqueueJob; a key repeated within `jobs` keeps
 * its first. Columns travel as one array each: one statement text for any number of jobs.
 */
export function outboxInsert(jobs: readonly NewJob[]): RawBuilder<unknown> {
  for (const job of jobs) if (!TOPIC_PATTERN.test(job.topic)) throw new Error(`bad job topic ${job.topic}`);
  const keys = new Set<string>();
  const rows = jobs.filter((job) => job.dedupeKey === undefined || (!keys.has(job.dedupeKey) && keys.add(job.dedupeKey)));
  return sql`
    insert into outbox (topic, payload, dedupe_key, run_after)
    select v.topic, v.payload, v.dedupe_key, v.run_after
    from unnest(${rows.map((j) => j.topic)}::text[], ${rows.map((j) => JSON.stringify(j.payload ?? null))}::jsonb[],
                ${rows.map((j) => j.dedupeKey ?? null)}::text[], ${rows.map((j) => (j.runAfter ?? DUE_AT_ONCE).toISOString())}::timestamptz[])
         with ordinality as v(topic, payload, dedupe_key, run_after, ord)
    order by v.ord
    on conflict (dedupe_key) do nothing`;
}

/** Several jobs in one statement (same rules as enqueueJob; a key repeated within `jobs` keeps its first). */
export async function enqueueJobs(db: Tx | Db, jobs: readonly NewJob[]): Promise<void> {
  if (jobs.length === 0) return;
  await outboxInsert(jobs).execute(db);
}

interface Registered {
  handler: JobHandler;
  opts: JobOptions;
}

interface ClaimedRow {
  id: bigint | string;
  topic: string;
  payload: unknown;
  attempts: number;
}

/**
 * Runs the jobs of the topics registered on it. Every instance has one; rows are claimed with
 * `FOR UPDATE SKIP LOCKED` and a lease, so a job runs on one instance at a time and a crashed
 * instance's job is picked up again. Handlers must be idempotent: a job can run twice when an
 * instance dies between the handler's effect and the row's completion.
 */
export class JobRunner {
  private readonly handlers = new Map<string, Registered>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private ctx: AppContext | undefined;

  /** The context handlers receive; set once by createContext. */
  bind(ctx: AppContext): void {
    this.ctx = ctx;
  }

  register(topic: string, handler: JobHandler, opts: Partial<JobOptions> = {}): void {
    if (this.handlers.has(topic)) throw new Error(`job topic ${topic} registered twice`);
    this.handlers.set(topic, { handler, opts: { ...DEFAULT_JOB_OPTIONS, ...opts } });
  }

  topics(): string[] {
    return [...this.handlers.keys()];
  }

  /** Claims the due jobs of the registered topics, runs them and records each outcome; returns how many ran. */
  async runDue(opts: { now?: Date; limit?: number; topics?: string[] } = {}): Promise<number> {
    const ctx = this.ctx;
    if (!ctx) throw new Error('JobRunner is not bound to a context');
    const topics = (opts.topics ?? this.topics()).filter((t) => this.handlers.has(t));
    if (topics.length === 0) return 0;
    const now = opts.now ?? ctx.clock.now();
    const limit = Math.min(opts.limit ?? JOB_CLAIM_BATCH, JOB_CLAIM_BATCH);
    const leaseUntil = new Date(now.getTime() + JOB_LEASE_MS);
    const claimed = await sql<ClaimedRow>`
      update outbox o set locked_until = ${leaseUntil}, attempts = o.attempts + 1
      from (
        select id from outbox
        where done_at is null and dead_at is null and topic = any(${topics}::text[]) and run_after <= ${now}
          and (locked_until is null or locked_until <= ${now})
        order by run_after, id
        limit ${limit}
        for update skip locked
      ) due
      where o.id = due.id
      returning o.id, o.topic, o.payload, o.attempts`.execute(ctx.db);
    const rows = claimed.rows;
    for (let i = 0; i < rows.length; i += JOB_CONCURRENCY) {
      await Promise.all(rows.slice(i, i + JOB_CONCURRENCY).map((r) => this.runOne(ctx, r, now)));
    }
    return rows.length;
  }

  private async runOne(ctx: AppContext, row: ClaimedRow, now: Date): Promise<void> {
    const { handler, opts } = this.handlers.get(row.topic)!;
    const id = String(row.id);
    const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
    try {
      await handler(ctx, payload, { id, topic: row.topic, attempts: row.attempts, now });
      await ctx.db.updateTable('outbox').set({ done_at: ctx.clock.now(), locked_until: null, last_error: null }).where('id', '=', BigInt(id)).execute();
    } catch (err) {
      const message = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, LAST_ERROR_MAX_CHARS);
      if (row.attempts >= opts.maxAttempts) {
        ctx.log.error({ jobId: id, topic: row.topic, attempts: row.attempts, err }, 'job failed for the last time; kept as dead letter');
        await ctx.db.updateTable('outbox').set({ dead_at: ctx.clock.now(), locked_until: null, last_error: message }).where('id', '=', BigInt(id)).execute();
      } else {
        const delayMs = opts.retryDelayMs(row.attempts);
        ctx.log.warn({ jobId: id, topic: row.topic, attempts: row.attempts, retryInMs: delayMs, err }, 'job failed; will retry');
        await ctx.db
          .updateTable('outbox')
          .set({ run_after: new Date(now.getTime() + delayMs), locked_until: null, last_error: message })
          .where('id', '=', BigInt(id))
          .execute();
      }
    }
  }

  /**
   * Deletes finished jobs older than the retention, at most JOB_PRUNE_BATCH rows; returns how many.
   * Dead letters stay until an operator resolves them.
   */
  async pruneDone(opts: { now?: Date } = {}): Promise<number> {
    const ctx = this.ctx;
    if (!ctx) throw new Error('JobRunner is not bound to a context');
    const cutoff = new Date((opts.now ?? ctx.clock.now()).getTime() - JOB_DONE_RETENTION_MS);
    const r = await sql`
      delete from outbox where id in (
        select id from outbox where done_at is not null and done_at < ${cutoff} limit ${JOB_PRUNE_BATCH}
      )`.execute(ctx.db);
    return Number(r.numAffectedRows ?? 0n);
  }

  /** Polls every `intervalMs` until stopped; one poll at a time; prunes finished jobs now and then. */
  start(intervalMs: number): void {
    if (this.timer) return;
    let lastPruneMs = 0;
    this.timer = setInterval(() => {
      if (this.running) return;
      const prune = Date.now() - lastPruneMs >= JOB_PRUNE_INTERVAL_MS;
      if (prune) lastPruneMs = Date.now();
      this.running = (prune ? this.pruneDone().then(() => this.runRounds()) : this.runRounds())
        .catch((err) => this.ctx?.log.error({ err }, 'job poll failed'))
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  /**
   * One poll: rounds of runDue while the last one ran something, so a full claim batch is followed
   * at once by the rest of the backlog, and jobs the round's jobs queued (an alert scan's sends, a
   * payment's messages) run in the same poll rather than the next.
   */
  private async runRounds(): Promise<void> {
    for (let round = 0; round < JOB_ROUNDS_PER_POLL && this.timer; round++) {
      if ((await this.runDue()) === 0) return;
    }
  }

  /** Stops polling and waits for the poll in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

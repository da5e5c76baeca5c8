// Background jobs: enqueued with a transaction, run once, retried with backoff, dead-lettered, claimed by one runner at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { enqueueJob, JOB_DONE_RETENTION_MS, JOB_LEASE_MS } from '../../../src/app/jobs.ts';
import { inTx } from '../../../src/db/tx.ts';
import { ManualClock } from '../../../src/shared/clock.ts';

let t: TestApp;
let clock: ManualClock;
const seen: { topic: string; payload: unknown; attempts: number }[] = [];
let failUntilAttempt = 0;

beforeAll(async () => {
  clock = new ManualClock('2026-03-01T00:00:00Z');
  t = await startTestApp({
    clock,
    modules: [
      (_app, ctx) => {
        ctx.jobs.register('test.ok', async (_c, payload, job) => {
          seen.push({ topic: job.topic, payload, attempts: job.attempts });
        });
        ctx.jobs.register(
          'test.flaky',
          async (_c, payload, job) => {
            seen.push({ topic: job.topic, payload, attempts: job.attempts });
            if (job.attempts < failUntilAttempt) throw new Error(`attempt ${job.attempts} failed`);
          },
          { maxAttempts: 3, retryDelayMs: (n) => n * 60_000 },
        );
      },
    ],
  });
});
afterAll(async () => {
  await t?.close();
});

async function row(topic: string) {
  return t.ctx.db.selectFrom('outbox').selectAll().where('topic', '=', topic).orderBy('id', 'desc').executeTakeFirstOrThrow();
}

describe('background jobs', () => {
  it('runs a job enqueued in a committed transaction once, and never one whose transaction rolled back', async () => {
    await inTx(t.ctx.db, (tx) => enqueueJob(tx, { topic: 'test.ok', payload: { n: 1 } }));
    await inTx(t.ctx.db, async (tx) => {
      await enqueueJob(tx, { topic: 'test.ok', payload: { n: 2 } });
      throw new Error('rollback');
    }).catch(() => undefined);
    expect(await t.ctx.jobs.runDue()).toBe(1);
    expect(await t.ctx.jobs.runDue()).toBe(0);
    expect(seen.filter((s) => s.topic === 'test.ok')).toEqual([{ topic: 'test.ok', payload: { n: 1 }, attempts: 1 }]);
    expect((await row('test.ok')).done_at).not.toBeNull();
  });

  it('writes one row per dedupe key', async () => {
    await enqueueJob(t.ctx.db, { topic: 'test.ok', payload: { n: 3 }, dedupeKey: 'once' });
    await enqueueJob(t.ctx.db, { topic: 'test.ok', payload: { n: 4 }, dedupeKey: 'once' });
    const rows = await t.ctx.db.selectFrom('outbox').select('payload').where('dedupe_key', '=', 'once').execute();
    expect(rows).toHaveLength(1);
    await t.ctx.jobs.runDue();
  });

  it('waits for runAfter on the injected clock', async () => {
    await enqueueJob(t.ctx.db, { topic: 'test.ok', payload: { n: 5 }, runAfter: new Date(clock.now().getTime() + 10_000) });
    expect(await t.ctx.jobs.runDue()).toBe(0);
    clock.advance(10_000);
    expect(await t.ctx.jobs.runDue()).toBe(1);
  });

  it('retries a failing job after its backoff and succeeds on a later attempt', async () => {
    failUntilAttempt = 2;
    await enqueueJob(t.ctx.db, { topic: 'test.flaky', payload: { n: 6 } });
    expect(await t.ctx.jobs.runDue()).toBe(1);
    const failed = await row('test.flaky');
    expect(failed.done_at).toBeNull();
    expect(failed.last_error).toContain('attempt 1 failed');
    expect(await t.ctx.jobs.runDue()).toBe(0);
    clock.advance(60_000);
    expect(await t.ctx.jobs.runDue()).toBe(1);
    expect((await row('test.flaky')).done_at).not.toBeNull();
  });

  it('keeps a job that failed its last attempt as a dead letter and never runs it again', async () => {
    failUntilAttempt = 99;
    await enqueueJob(t.ctx.db, { topic: 'test.flaky', payload: { n: 7 } });
    for (let i = 0; i < 5; i++) {
      await t.ctx.jobs.runDue();
      clock.advance(10 * 60_000);
    }
    const dead = await row('test.flaky');
    expect(dead.attempts).toBe(3);
    expect(dead.dead_at).not.toBeNull();
    expect(dead.done_at).toBeNull();
    expect(seen.filter((s) => (s.payload as { n: number }).n === 7).map((s) => s.attempts)).toEqual([1, 2, 3]);
  });

  it('leaves a job claimed by another runner alone until its lease runs out', async () => {
    await enqueueJob(t.ctx.db, { topic: 'test.ok', payload: { n: 8 } });
    // Another instance claimed it a moment ago.
    await sql`update outbox set locked_until = ${new Date(clock.now().getTime() + JOB_LEASE_MS)}, attempts = 1 where topic = 'test.ok' and done_at is null`.execute(t.ctx.db);
    expect(await t.ctx.jobs.runDue()).toBe(0);
    clock.advance(JOB_LEASE_MS);
    expect(await t.ctx.jobs.runDue()).toBe(1);
    expect(seen.at(-1)).toEqual({ topic: 'test.ok', payload: { n: 8 }, attempts: 2 });
  });

  it('does not claim topics this runner has no handler for', async () => {
    await enqueueJob(t.ctx.db, { topic: 'test.other', payload: {} });
    expect(await t.ctx.jobs.runDue()).toBe(0);
    expect((await row('test.other')).attempts).toBe(0);
  });

  it('prunes finished jobs past the retention and keeps dead letters and pending jobs', async () => {
    await enqueueJob(t.ctx.db, { topic: 'test.ok', payload: { n: 9 } });
    await t.ctx.jobs.runDue();
    const before = await t.ctx.db.selectFrom('outbox').select(({ fn }) => fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(await t.ctx.jobs.pruneDone()).toBe(0);
    const pruned = await t.ctx.jobs.pruneDone({ now: new Date(clock.now().getTime() + JOB_DONE_RETENTION_MS + 60 * 60_000) });
    expect(pruned).toBeGreaterThan(0);
    const left = await t.ctx.db.selectFrom('outbox').select(['topic', 'done_at', 'dead_at']).execute();
    expect(left.every((r) => r.done_at === null)).toBe(true);
    expect(left.some((r) => r.dead_at !== null)).toBe(true);
    expect(left.length).toBe(Number(before.n) - pruned);
  });
});

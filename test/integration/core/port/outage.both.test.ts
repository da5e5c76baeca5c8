// Fault injection: the external core stops mid-traffic, wecard answers from kept values (stale, true asOf) or core_unavailable, then catches up (补登) exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { testDbKind } from '../../../helpers/db.ts';
import { coreOf } from '../../../../src/core/runtime.ts';
import { readBalance, type BalanceAnswer } from '../../../../src/core/service.ts';
import { readTransactions } from '../../../../src/core/transactions.ts';
import { readKept } from '../../../../src/core/cache.ts';
import { catchUp } from '../../../../src/core/catch-up.ts';
import { markDirty, mirroredIds, syncState } from '../../../../src/core/mirror.ts';
import type { AppContext } from '../../../../src/app/context.ts';
import { expectAppError, ledgerIds, newCard, post, SECOND_MS, setupBank, startCorePlatform, T0, type Bank, type CorePlatform, type TestCard } from './fixtures.ts';

// Two instances sharing one PostgreSQL when there is one (PGlite is single-process).
const INSTANCES = testDbKind() === 'postgres' ? 2 : 1;
const WORKERS_PER_INSTANCE = 8;
const ANSWERS_BEFORE = 100;
const STALE_ANSWERS_AFTER = 100;

let p: CorePlatform;
let clock: ManualClock;
let ctxs: AppContext[];
let realtime: Bank;
let cached: Bank;

beforeAll(async () => {
  clock = new ManualClock(T0);
  p = await startCorePlatform({ clock, instances: INSTANCES });
  ctxs = p.servers.map((s) => s.ctx);
  realtime = await setupBank(ctxs[0]!.db, ctxs[0]!, { preset: 'unlimited-realtime', now: T0 });
  cached = await setupBank(ctxs[0]!.db, ctxs[0]!, { preset: 'daily-10', now: T0 });
}, 120_000);

afterAll(async () => {
  await p?.close();
});

const now = () => clock.now();
/** Yields to the event loop until `cond` holds (bounded by the test's timeout, not by a clock). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

interface Recorded {
  instance: number;
  card: 'realtime' | 'cached';
  afterSwitch: boolean;
  answer?: BalanceAnswer;
  error?: unknown;
}

describe('core outage', { timeout: 120_000 }, () => {
  it('keeps answering from kept values while the core is stopped mid-traffic, refuses cards never read, and catches up every missed posting exactly once when it returns', async () => {
    const db = ctxs[0]!.db;
    const rtCard: TestCard = await newCard(db, ctxs[0]!, realtime, now());
    const cachedCard: TestCard = await newCard(db, ctxs[0]!, cached, now());
    const neverRead: TestCard = await newCard(db, ctxs[0]!, realtime, now());
    // Read before the outage, not during it: caught up all the same when the core returns.
    const followed: TestCard = await newCard(db, ctxs[0]!, realtime, now());
    await post(db, realtime, followed, 3_000n, now(), 'opening');
    await post(db, realtime, rtCard, 100_000n, now(), 'opening');
    await post(db, cached, cachedCard, 50_000n, now(), 'opening');
    await post(db, realtime, neverRead, 1_000n, now(), 'opening');
    const rtRead = (i: number) => readBalance(ctxs[i]!, { tenantId: realtime.tenantId, card: rtCard, freshness: 'realtime', now: now() });
    const cachedRead = (i: number) => readBalance(ctxs[i]!, { tenantId: cached.tenantId, card: cachedCard, freshness: 30, now: now() });

    // Before the outage: a statement read (mirrored) and balances that change once more at T0 + 1 s.
    await readTransactions(ctxs[0]!, { tenantId: realtime.tenantId, card: rtCard, limit: 100, now: now() });
    await rtRead(0);
    await readBalance(ctxs[0]!, { tenantId: realtime.tenantId, card: followed, freshness: 'realtime', now: now() });
    clock.advance(SECOND_MS);
    await post(db, realtime, rtCard, 500n, now(), 'top-up');
    const lastAsOf = now();
    expect(await rtRead(0)).toMatchObject({ available: 100_500n, asOf: lastAsOf, stale: false });
    expect(await cachedRead(0)).toMatchObject({ available: 50_000n, asOf: lastAsOf, stale: false });

    // Traffic on every instance; the core is switched off in the middle of it.
    const recorded: Recorded[] = [];
    let afterSwitch = false;
    let stop = false;
    const worker = async (instance: number) => {
      while (!stop) {
        for (const [name, read] of [['realtime', rtRead], ['cached', cachedRead]] as const) {
          const r: Recorded = { instance, card: name, afterSwitch };
          try {
            r.answer = await read(instance);
          } catch (error) {
            r.error = error;
          }
          recorded.push(r);
        }
        // Kept answers need no I/O (and PGlite's is in-process): yield so timers and the switch run.
        await new Promise((r) => setImmediate(r));
      }
    };
    const workers = ctxs.flatMap((_, i) => Array.from({ length: WORKERS_PER_INSTANCE }, () => worker(i)));
    await until(() => recorded.length >= ANSWERS_BEFORE);
    await p.setFaults({ mode: 'down', downAs: 'reset' });
    afterSwitch = true;
    await until(() => recorded.filter((r) => r.afterSwitch && r.answer?.stale && r.instance === INSTANCES - 1).length >= STALE_ANSWERS_AFTER);
    stop = true;
    await Promise.all(workers);

    // Every answer is a balance (no errors); each is the last known value with the last asOf.
    expect(recorded.filter((r) => r.error !== undefined).map((r) => String(r.error))).toEqual([]);
    for (const r of recorded.filter((x) => x.card === 'realtime')) {
      expect(r.answer).toMatchObject({ available: 100_500n, ledger: 100_500n, asOf: lastAsOf, freshness: 'realtime' });
    }
    // The 30 s tier is still within its age: answered from the cache, not stale.
    for (const r of recorded.filter((x) => x.card === 'cached')) {
      expect(r.answer).toEqual({ available: 50_000n, ledger: 50_000n, currency: 'CNY', asOf: lastAsOf, freshness: 'cached', stale: false });
    }
    for (let i = 0; i < INSTANCES; i++) {
      expect(recorded.some((r) => r.instance === i && r.afterSwitch && r.answer?.stale === true)).toBe(true);
      expect(coreOf(ctxs[i]!).breaker?.state).toBe('open');
    }

    // A card nobody read before the outage has no kept value.
    await expectAppError(() => readBalance(ctxs[0]!, { tenantId: realtime.tenantId, card: neverRead, freshness: 'realtime', now: now() }), 'core_unavailable');

    // The core keeps booking while wecard cannot see it; time passes beyond the 30 s tier.
    clock.advance(40 * SECOND_MS);
    const missed = [
      await post(db, realtime, rtCard, -20_000n, now(), 'rent'),
      await post(db, realtime, rtCard, 5_000n, now(), 'refund'),
      await post(db, cached, cachedCard, 7_000n, now(), 'salary'),
    ];
    const missedByFollowed = await post(db, realtime, followed, -1_200n, now(), 'groceries');
    expect(await rtRead(0)).toMatchObject({ available: 100_500n, asOf: lastAsOf, stale: true });
    expect(await cachedRead(INSTANCES - 1)).toMatchObject({ available: 50_000n, asOf: lastAsOf, freshness: 'cached', stale: true });
    const keptStatement = await readTransactions(ctxs[0]!, { tenantId: realtime.tenantId, card: rtCard, limit: 100, now: now() });
    expect(keptStatement).toMatchObject({ stale: true, source: 'mirror' });
    expect(keptStatement.items.map((i) => i.description)).toEqual(['opening']);
    expect((await syncState(db, realtime.tenantId, rtCard.id))?.dirtySince).not.toBeNull();
    expect((await syncState(db, cached.tenantId, cachedCard.id))?.dirtySince).not.toBeNull();

    // Catch-up while the core is still down changes nothing and will be retried.
    expect(await ctxs[0]!.jobs.runDue()).toBeGreaterThan(0);
    expect((await mirroredIds(db, realtime.tenantId, rtCard.id)).size).toBe(1);

    // The core comes back. That catch-up attempt was the breaker's probe and re-opened it, so the
    // next probe is due after another cool-down; it succeeds and schedules catch-up.
    await p.setFaults({ mode: 'none' });
    clock.advance(10 * SECOND_MS);
    for (let i = 0; i < INSTANCES; i++) {
      expect(await rtRead(i)).toMatchObject({ available: 85_500n, asOf: now(), stale: false });
      expect(coreOf(ctxs[i]!).breaker?.state).toBe('closed');
    }
    const recoveredJob = () => db.selectFrom('outbox').select('id').where('topic', '=', 'core.catch-up').where('dedupe_key', 'like', '%:recovered:%').where('done_at', 'is', null).execute();
    await expect.poll(async () => (await recoveredJob()).length).toBeGreaterThan(0);
    await ctxs[INSTANCES - 1]!.jobs.runDue();

    // Every posting the core booked is mirrored exactly once; kept balances are corrected.
    for (const [bank, c] of [[realtime, rtCard], [cached, cachedCard], [realtime, followed]] as const) {
      const ids = await mirroredIds(db, bank.tenantId, c.id);
      const booked = await ledgerIds(db, c);
      expect([...ids.keys()].sort()).toEqual([...booked].sort());
      expect([...ids.values()].every((n) => n === 1)).toBe(true);
      expect((await syncState(db, bank.tenantId, c.id))?.dirtySince).toBeNull();
    }
    for (const t of missed) expect((await mirroredIds(db, t.tenantId, t.creditAccountId === rtCard.ledgerAccountId || t.debitAccountId === rtCard.ledgerAccountId ? rtCard.id : cachedCard.id)).get(t.id)).toBe(1);
    expect(await readKept(db, { tenantId: cached.tenantId, cardId: cachedCard.id, kind: 'current' })).toMatchObject({ availableFen: 57_000n, fetchedAt: now() });
    expect((await mirroredIds(db, realtime.tenantId, followed.id)).get(missedByFollowed.id)).toBe(1);
    expect(await readKept(db, { tenantId: realtime.tenantId, cardId: followed.id, kind: 'current' })).toMatchObject({ availableFen: 1_800n, fetchedAt: now() });
    const requests = (await p.faultState()).requests;
    expect(await cachedRead(0)).toEqual({ available: 57_000n, ledger: 57_000n, currency: 'CNY', asOf: now(), freshness: 'cached', stale: false });
    expect((await p.faultState()).requests).toBe(requests);
    const statement = await readTransactions(ctxs[0]!, { tenantId: realtime.tenantId, card: rtCard, limit: 100, now: now() });
    expect(statement).toMatchObject({ stale: false, source: 'core' });
    expect(statement.items.map((i) => i.description)).toEqual(['refund', 'rent', 'top-up', 'opening']);
    const mirrorSum = (await db.selectFrom('core_transactions').select('amount_fen').where('card_id', '=', rtCard.id).execute()).reduce((s, r) => s + BigInt(r.amount_fen), 0n);
    expect(mirrorSum).toBe(85_500n);

    // Catching up again (a second outage mark, a duplicate job) adds nothing.
    await markDirty(db, realtime.tenantId, rtCard.id, now());
    await markDirty(db, cached.tenantId, cachedCard.id, now());
    await markDirty(db, realtime.tenantId, followed.id, now());
    const again = await catchUp(ctxs[0]!, coreOf(ctxs[0]!), now());
    expect(again).toMatchObject({ cards: 3, transactions: 0 });
    expect([...(await mirroredIds(db, realtime.tenantId, rtCard.id)).values()]).toEqual([1, 1, 1, 1]);
  });
});

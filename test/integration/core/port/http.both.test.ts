// The HTTP adapter against the sandbox's simulated core over real HTTP: contract fidelity, retries, timeouts, the breaker, caching, the statement mirror.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { inTx } from '../../../../src/db/tx.ts';
import { transfer } from '../../../../src/ledger/index.ts';
import { createBuiltinCore } from '../../../../src/core/builtin-adapter.ts';
import { coreOf } from '../../../../src/core/runtime.ts';
import { createCoreBanking } from '../../../../src/core/setup.ts';
import { readBalance, verifyElementsAtCore } from '../../../../src/core/service.ts';
import { readTransactions } from '../../../../src/core/transactions.ts';
import { mirroredIds, mirrorTransactions } from '../../../../src/core/mirror.ts';
import { MIRROR_RETENTION_MS } from '../../../../src/core/mirror-prune.ts';
import type { CoreBanking } from '../../../../src/core/port.ts';
import type { AppContext } from '../../../../src/app/context.ts';
import { expectAppError, FAST_CORE, ledgerIds, newCard, post, RESERVED_PHONE, SECOND_MS, setupBank, startCorePlatform, T0, type Bank, type CorePlatform } from './fixtures.ts';

let p: CorePlatform;
let ctx: AppContext;
let clock: ManualClock;
let bank: Bank;

beforeAll(async () => {
  clock = new ManualClock(T0);
  p = await startCorePlatform({ clock });
  ctx = p.servers[0]!.ctx;
  bank = await setupBank(ctx.db, ctx, { preset: 'daily-10', now: T0 });
}, 120_000);

afterAll(async () => {
  await p?.close();
});

afterEach(async () => {
  await p.setFaults({ mode: 'none' });
});

const now = () => clock.now();
const card = () => newCard(ctx.db, ctx, bank, now());

describe('core port over HTTP (sandbox core)', { timeout: 60_000 }, () => {
  it('chooses the HTTP adapter when CORE_BANKING_URL is configured', () => {
    expect(coreOf(ctx).kind).toBe('http');
    expect(coreOf(ctx).remote).toBe(true);
  });

  it('answers balances, statements, card status and element checks over the contract exactly as the built-in core does', async () => {
    const c = await card();
    await post(ctx.db, bank, c, 123_456n, now(), '工资');
    await post(ctx.db, bank, c, -3_800n, now(), '外卖');
    // A hold: pending on the statement, counted in the available balance only.
    await inTx(ctx.db, (tx) =>
      transfer(tx, { idempotencyId: `hold-${c.id}`, debitAccountId: c.ledgerAccountId, creditAccountId: bank.funding.id, amountFen: 1_000n, kind: 'hold', description: '预授权', pending: true, now: now() }),
    );
    const http = coreOf(ctx);
    const builtin = createBuiltinCore(ctx);
    const key = { id: c.id, tenantId: bank.tenantId };
    expect(await http.balance(key)).toEqual(await builtin.balance(key));
    expect((await http.balance(key)).availableFen).toBe(118_656n);
    const monday = new Date('2026-01-05T15:59:59.999Z');
    expect(await http.balance(key, { asOf: monday })).toEqual(await builtin.balance(key, { asOf: monday }));
    expect(await http.transactions(key, { limit: 100 })).toEqual(await builtin.transactions(key, { limit: 100 }));
    expect(await http.transactions(key, { limit: 1, direction: 'credit' })).toEqual(await builtin.transactions(key, { limit: 1, direction: 'credit' }));
    expect(await http.cardStatus(key)).toEqual(await builtin.cardStatus(key));
    const elements = { cardNumber: c.number, holderName: '王小明', idType: 'resident_id' as const, idNumber: '110101199003077758', phone: RESERVED_PHONE };
    expect(await verifyElementsAtCore(ctx, bank.tenantId, elements)).toEqual(await builtin.verifyElements(bank.tenantId, elements));
    expect(await verifyElementsAtCore(ctx, bank.tenantId, { ...elements, holderName: '王小红' })).toEqual({ match: false });
    await expectAppError(() => readBalance(ctx, { tenantId: bank.tenantId, card: { id: 'card_nope', tenantId: bank.tenantId }, freshness: 'realtime', now: now() }), 'not_found');
  });

  it('keeps the last known value of a real-time read of an external core', async () => {
    const c = await card();
    await post(ctx.db, bank, c, 5_000n, now());
    const a = await readBalance(ctx, { tenantId: bank.tenantId, card: c, freshness: 'realtime', now: now() });
    expect(a).toEqual({ available: 5_000n, ledger: 5_000n, currency: 'CNY', asOf: now(), freshness: 'realtime', stale: false });
    const kept = await ctx.db.selectFrom('core_balance_cache').selectAll().where('card_id', '=', c.id).executeTakeFirstOrThrow();
    expect(kept).toMatchObject({ kind: 'current', source: 'read', as_of: now() });
  });

  it('retries a flaky core (every second request fails) and still answers live', async () => {
    const c = await card();
    await post(ctx.db, bank, c, 7_000n, now());
    await p.setFaults({ mode: 'flaky', every: 2 });
    const before = await p.faultState();
    for (let i = 0; i < 6; i++) {
      expect(await readBalance(ctx, { tenantId: bank.tenantId, card: c, freshness: 'realtime', now: now() })).toMatchObject({ available: 7_000n, stale: false });
    }
    const after = await p.faultState();
    expect(after.requests - before.requests).toBeGreaterThan(after.served - before.served);
  });

  it('answers from the kept value, stale with its true asOf, when the core is slower than the timeout', async () => {
    const core = createCoreBanking(ctx, { attemptTimeoutMs: 150, deadlineMs: 400, maxAttempts: 2, backoff: { baseMs: 5, capMs: 20 } });
    const c = await card();
    await post(ctx.db, bank, c, 9_000n, now());
    const seenAt = now();
    await readBalance(ctx, { tenantId: bank.tenantId, card: c, freshness: 'realtime', now: now() }, core);
    clock.advance(SECOND_MS);
    await p.setFaults({ mode: 'slow', delayMs: 2_000 });
    const stale = await readBalance(ctx, { tenantId: bank.tenantId, card: c, freshness: 'realtime', now: now() }, core);
    expect(stale).toEqual({ available: 9_000n, ledger: 9_000n, currency: 'CNY', asOf: seenAt, freshness: 'realtime', stale: true });
  });

  it('answers from the kept value when the last attempt gets less than a full attempt’s time (a fraction of a millisecond left over)', async () => {
    // 150 + backoff + 150 ms leave about 90.x ms of the 400 ms deadline for the third attempt.
    const core = createCoreBanking(ctx, { attemptTimeoutMs: 150, deadlineMs: 400, maxAttempts: 3, backoff: { baseMs: 5, capMs: 5 } });
    const c = await card();
    await post(ctx.db, bank, c, 7_000n, now());
    const seenAt = now();
    await readBalance(ctx, { tenantId: bank.tenantId, card: c, freshness: 'realtime', now: now() }, core);
    clock.advance(SECOND_MS);
    await p.setFaults({ mode: 'slow', delayMs: 2_000 });
    const stale = await readBalance(ctx, { tenantId: bank.tenantId, card: c, freshness: 'realtime', now: now() }, core);
    expect(stale).toEqual({ available: 7_000n, ledger: 7_000n, currency: 'CNY', asOf: seenAt, freshness: 'realtime', stale: true });
  });

  it('opens the breaker after five failed calls, stops calling the core, probes after the cool-down and schedules catch-up on recovery', async () => {
    const core: CoreBanking = createCoreBanking(ctx, FAST_CORE);
    const c = await card();
    await post(ctx.db, bank, c, 11_000n, now());
    const read = () => readBalance(ctx, { tenantId: bank.tenantId, card: c, freshness: 'realtime', now: now() }, core);
    await read();
    await p.setFaults({ mode: 'down', downAs: '503' });
    for (let i = 0; i < 5; i++) expect(await read()).toMatchObject({ available: 11_000n, stale: true });
    expect(core.breaker?.state).toBe('open');
    const requests = (await p.faultState()).requests;
    for (let i = 0; i < 3; i++) expect(await read()).toMatchObject({ stale: true });
    expect((await p.faultState()).requests).toBe(requests);

    clock.advance(10 * SECOND_MS);
    expect(await read()).toMatchObject({ stale: true });
    expect((await p.faultState()).requests).toBeGreaterThan(requests);
    expect(core.breaker?.state).toBe('open');

    await p.setFaults({ mode: 'none' });
    clock.advance(10 * SECOND_MS);
    expect(await read()).toMatchObject({ available: 11_000n, stale: false, asOf: now() });
    expect(core.breaker?.state).toBe('closed');
    // The recovery enqueues catch-up (asynchronously, from the breaker's listener).
    await expect.poll(async () => (await ctx.db.selectFrom('outbox').select('dedupe_key').where('topic', '=', 'core.catch-up').execute()).map((r) => r.dedupe_key)).toEqual(
      expect.arrayContaining([expect.stringContaining(':recovered:')]),
    );
    const metrics = await ctx.metrics.metrics();
    expect(metrics).toContain('wecard_core_breaker_state{state="closed"} 1');
    expect(metrics).toMatch(/wecard_core_breaker_transitions_total\{to="open"\} [1-9]/);
    expect(metrics).toMatch(/wecard_core_answers_total\{kind="balance",source="stale"\} [1-9]/);
  });

  it('treats a refused token as an outage: kept values answer, cards never read are core_unavailable', async () => {
    const bad = createCoreBanking(ctx, { ...FAST_CORE, token: 'not-the-token' });
    const known = await card();
    await post(ctx.db, bank, known, 1_500n, now());
    await readBalance(ctx, { tenantId: bank.tenantId, card: known, freshness: 'realtime', now: now() });
    expect(await readBalance(ctx, { tenantId: bank.tenantId, card: known, freshness: 'realtime', now: now() }, bad)).toMatchObject({ available: 1_500n, stale: true });
    const unknown = await card();
    await expectAppError(() => readBalance(ctx, { tenantId: bank.tenantId, card: unknown, freshness: 'realtime', now: now() }, bad), 'core_unavailable');
  });

  it('answers a burst of 30 s-tier reads with one core request, and none more within the 30 s', async () => {
    const c = await card();
    await post(ctx.db, bank, c, 2_500n, now());
    const read = () => readBalance(ctx, { tenantId: bank.tenantId, card: c, freshness: 30, now: now() });
    const before = (await p.faultState()).requests;
    const answers = await Promise.all(Array.from({ length: 20 }, read));
    expect(new Set(answers.map((a) => `${a.available}:${a.asOf.toISOString()}:${a.freshness}:${a.stale}`))).toEqual(new Set([`2500:${now().toISOString()}:cached:false`]));
    clock.advance(29 * SECOND_MS);
    await Promise.all(Array.from({ length: 10 }, read));
    expect((await p.faultState()).requests - before).toBe(1);
  });

  it('serves statements from the mirror, stale, while the core is down, paging within the mirror', async () => {
    const core = createCoreBanking(ctx, FAST_CORE);
    const c = await card();
    for (let i = 0; i < 15; i++) await post(ctx.db, bank, c, 1_000n + BigInt(i), new Date(T0.getTime() + i * SECOND_MS), `p${i}`, new Date(T0.getTime() + i * SECOND_MS));
    const live = await readTransactions(ctx, { tenantId: bank.tenantId, card: c, limit: 10, now: now() }, core);
    expect(live).toMatchObject({ stale: false, source: 'core' });
    expect(live.nextCursor).toMatch(/^c\./);
    await readTransactions(ctx, { tenantId: bank.tenantId, card: c, cursor: live.nextCursor!, limit: 10, now: now() }, core);
    const readAt = now();
    clock.advance(SECOND_MS);

    await p.setFaults({ mode: 'down' });
    const first = await readTransactions(ctx, { tenantId: bank.tenantId, card: c, limit: 10, now: now() }, core);
    expect(first).toMatchObject({ stale: true, source: 'mirror', asOf: readAt });
    expect(first.items).toEqual(live.items);
    const second = await readTransactions(ctx, { tenantId: bank.tenantId, card: c, cursor: first.nextCursor!, limit: 10, now: now() }, core);
    expect(second.nextCursor).toBeNull();
    expect([...first.items, ...second.items].map((i) => i.id)).toEqual(await ledgerIds(ctx.db, c));
    // A live cursor cannot continue in the mirror; a card never read has nothing kept.
    await expectAppError(() => readTransactions(ctx, { tenantId: bank.tenantId, card: c, cursor: live.nextCursor!, limit: 10, now: now() }, core), 'core_unavailable');
    await expectAppError(async () => readTransactions(ctx, { tenantId: bank.tenantId, card: await card(), now: now() }, core), 'core_unavailable');
  });
  it('prunes mirrored transactions past the retention and schedules the next daily prune', async () => {
    const c = await card();
    const old = new Date(T0.getTime() - MIRROR_RETENTION_MS - 1);
    const txn = (id: string, bookedAt: Date) => ({ id, bookedAt, amountFen: 100n, currency: 'CNY', direction: 'credit' as const, counterparty: null, description: 'x', balanceAfterFen: 100n, state: 'posted' as const });
    expect(await mirrorTransactions(ctx.db, bank.tenantId, c.id, [txn('old', old), txn('recent', T0)], 'read', now())).toBe(2);
    const due = await ctx.db.selectFrom('outbox').select(['dedupe_key', 'run_after']).where('topic', '=', 'core.mirror-prune').where('done_at', 'is', null).execute();
    expect(due).toEqual([{ dedupe_key: 'core.mirror-prune:2026-01-07', run_after: new Date('2026-01-06T19:00:00Z') }]);
    const at = clock.now();
    clock.set('2026-01-06T19:00:00Z');
    try {
      expect(await ctx.jobs.runDue({ topics: ['core.mirror-prune'] })).toBe(1);
    } finally {
      clock.set(at);
    }
    expect([...(await mirroredIds(ctx.db, bank.tenantId, c.id)).keys()]).toEqual(['recent']);
    expect((await ctx.db.selectFrom('outbox').select('dedupe_key').where('topic', '=', 'core.mirror-prune').where('done_at', 'is', null).execute()).map((r) => r.dedupe_key)).toEqual(['core.mirror-prune:2026-01-08']);
  });
});

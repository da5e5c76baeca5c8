// The port over the built-in core: real-time, 30 s / 60 s and T+1 balances under a controllable clock, statements, card checks, refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../helpers/app.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { corePort, createCoreBanking } from '../../../../src/core/setup.ts';
import { coreOf } from '../../../../src/core/runtime.ts';
import { readBalance, readCardStatus, verifyElementsAtCore } from '../../../../src/core/service.ts';
import { readTransactions, encodeMirrorCursor } from '../../../../src/core/transactions.ts';
import { T1_REFRESH_MS } from '../../../../src/core/freshness.ts';
import { expectAppError, ledgerIds, newCard, post, RESERVED_PHONE, SECOND_MS, setupBank, T0, type Bank } from './fixtures.ts';

let t: TestApp;
let clock: ManualClock;
let bank: Bank;

beforeAll(async () => {
  clock = new ManualClock(T0);
  t = await startTestApp({ modules: [corePort()], clock });
  bank = await setupBank(t.ctx.db, t.ctx, { preset: 'unlimited-realtime', now: T0 });
}, 120_000);

afterAll(async () => {
  await t?.close();
});

const now = () => clock.now();

describe('core port over the built-in core', { timeout: 60_000 }, () => {
  it('chooses the built-in core when no CORE_BANKING_URL is configured', () => {
    expect(coreOf(t.ctx).kind).toBe('builtin');
    expect(coreOf(t.ctx).breaker).toBeUndefined();
  });

  it('answers a real-time balance from the ledger at once after each posting, and keeps nothing', async () => {
    const card = await newCard(t.ctx.db, t.ctx, bank, now());
    await post(t.ctx.db, bank, card, 100_000n, now());
    const first = await readBalance(t.ctx, { tenantId: bank.tenantId, card, freshness: 'realtime', now: now() });
    expect(first).toEqual({ available: 100_000n, ledger: 100_000n, currency: 'CNY', asOf: now(), freshness: 'realtime', stale: false });
    await post(t.ctx.db, bank, card, -30_000n, now());
    const second = await readBalance(t.ctx, { tenantId: bank.tenantId, card: { id: card.id, tenantId: bank.tenantId }, freshness: 'realtime', now: now() });
    expect(second.available).toBe(70_000n);
    const kept = await t.ctx.db.selectFrom('core_balance_cache').selectAll().where('card_id', '=', card.id).execute();
    expect(kept).toEqual([]);
  });

  for (const seconds of [30, 60]) {
    it(`reflects a posting in the next balance answer within ${seconds} s, and not before the kept value is ${seconds} s old`, async () => {
      const start = now();
      const card = await newCard(t.ctx.db, t.ctx, bank, now());
      await post(t.ctx.db, bank, card, 50_000n, now());
      const read = () => readBalance(t.ctx, { tenantId: bank.tenantId, card, freshness: seconds, now: now() });
      const first = await read();
      expect(first).toMatchObject({ available: 50_000n, freshness: 'cached', stale: false, asOf: start });
      await post(t.ctx.db, bank, card, 20_000n, now());
      clock.advance(seconds * SECOND_MS);
      expect(await read()).toMatchObject({ available: 50_000n, asOf: start, stale: false });
      // Another instance shares the kept value through PostgreSQL, not through this process's memory.
      const other = createCoreBanking(t.ctx);
      expect(await readBalance(t.ctx, { tenantId: bank.tenantId, card, freshness: seconds, now: now() }, other)).toMatchObject({ available: 50_000n, asOf: start });
      clock.advance(1);
      const after = await read();
      expect(after).toMatchObject({ available: 70_000n, asOf: now(), stale: false });
    });
  }

  it('answers T+1 with the balance at the end of the previous business day, leaving later postings out', async () => {
    clock.set(T0);
    const card = await newCard(t.ctx.db, t.ctx, bank, new Date('2026-01-01T00:00:00Z'));
    await post(t.ctx.db, bank, card, 80_000n, now(), 'Friday salary', new Date('2026-01-02T03:00:00Z'));
    await post(t.ctx.db, bank, card, -5_000n, now(), 'Monday lunch', new Date('2026-01-05T04:00:00Z'));
    await post(t.ctx.db, bank, card, -1_000n, now(), 'Tuesday coffee', new Date('2026-01-06T01:00:00Z'));
    const read = () => readBalance(t.ctx, { tenantId: bank.tenantId, card, freshness: 't+1', now: now() });
    const a = await read();
    expect(a).toEqual({ available: 75_000n, ledger: 75_000n, currency: 'CNY', asOf: new Date('2026-01-05T15:59:59.999Z'), freshness: 't+1', stale: false });
    // A back-dated booking (补登) into Monday shows once the kept T+1 value is re-read.
    await post(t.ctx.db, bank, card, 2_000n, now(), 'late refund', new Date('2026-01-05T08:00:00Z'));
    expect((await read()).available).toBe(75_000n);
    clock.advance(T1_REFRESH_MS + 1);
    expect((await read()).available).toBe(77_000n);
    // The next day moves the cut-off to Tuesday's end.
    clock.set('2026-01-07T02:00:00Z');
    expect(await read()).toMatchObject({ available: 76_000n, asOf: new Date('2026-01-06T15:59:59.999Z') });
    clock.set(T0);
  });

  it('pages a statement through the ledger newest first, each transaction exactly once, with the direction filter', async () => {
    const card = await newCard(t.ctx.db, t.ctx, bank, now());
    for (let i = 0; i < 25; i++) await post(t.ctx.db, bank, card, i % 3 === 1 ? -100n : 1_000n, new Date(T0.getTime() + i * SECOND_MS), `p${i}`, new Date(T0.getTime() + i * SECOND_MS));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await readTransactions(t.ctx, { tenantId: bank.tenantId, card, cursor, limit: 10, now: now() });
      expect(page.stale).toBe(false);
      expect(page.source).toBe('core');
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(await ledgerIds(t.ctx.db, card));
    expect(new Set(seen).size).toBe(25);
    const debits = await readTransactions(t.ctx, { tenantId: bank.tenantId, card, direction: 'debit', limit: 100, now: now() });
    expect(debits.items).toHaveLength(8);
    expect(debits.items.every((i) => i.direction === 'debit' && i.amountFen === -100n)).toBe(true);
    const newest = (await readTransactions(t.ctx, { tenantId: bank.tenantId, card, limit: 1, now: now() })).items[0]!;
    expect(newest).toMatchObject({ description: 'p24', amountFen: 1_000n, currency: 'CNY', counterparty: '测试商户', state: 'posted' });
  });

  it('refuses foreign, unknown and forged references', async () => {
    const card = await newCard(t.ctx.db, t.ctx, bank, now());
    await expectAppError(() => readBalance(t.ctx, { tenantId: 'other-bank', card, freshness: 'realtime', now: now() }), 'not_found');
    await expectAppError(() => readBalance(t.ctx, { tenantId: bank.tenantId, card: { id: 'card_unknown', tenantId: bank.tenantId }, freshness: 30, now: now() }), 'not_found');
    await expectAppError(() => readTransactions(t.ctx, { tenantId: bank.tenantId, card, cursor: 'not-a-cursor', now: now() }), 'validation_failed');
    // A mirror cursor means nothing to the built-in core, whose statements are always live.
    await expectAppError(() => readTransactions(t.ctx, { tenantId: bank.tenantId, card, cursor: encodeMirrorCursor({ bookedAt: T0, seq: 1n }), now: now() }), 'validation_failed');
    await expectAppError(() => readTransactions(t.ctx, { tenantId: bank.tenantId, card, limit: 101, now: now() }), 'validation_failed');
    await expectAppError(() => readCardStatus(t.ctx, { tenantId: bank.tenantId, card: { id: 'card_unknown', tenantId: bank.tenantId } }), 'not_found');
  });

  it("checks card elements and reads card status from the built-in core's records", async () => {
    const card = await newCard(t.ctx.db, t.ctx, bank, now());
    const elements = { cardNumber: card.number, holderName: '王小明', idType: 'resident_id' as const, idNumber: '110101199003077758', phone: RESERVED_PHONE };
    const ok = await verifyElementsAtCore(t.ctx, bank.tenantId, elements);
    expect(ok).toMatchObject({ match: true, card: { id: card.id, status: 'active', maskedNumber: card.maskedNumber } });
    expect(await verifyElementsAtCore(t.ctx, bank.tenantId, { ...elements, phone: '13800009999' })).toEqual({ match: false });
    expect(await readCardStatus(t.ctx, { tenantId: bank.tenantId, card })).toMatchObject({ id: card.id, status: 'active', kind: 'debit', crossBorderLock: true });
  });
});

// Ledger reads on the database: history pages (order, cursor, filters, balance-after) and balances as of a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx } from '../../../src/db/tx.ts';
import {
  getBalance,
  history,
  MAX_HISTORY_PAGE,
  postPending,
  reverse,
  transfer,
  transferMany,
  voidPending,
  type Entry,
  type HistoryOptions,
  type LedgerAccount,
  type TransferInput,
} from '../../../src/ledger/index.ts';
import { at, expectAppError, freshTenant, openAccount } from './fixtures.ts';

let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => {
  await db?.close();
});

function tr(debit: LedgerAccount, credit: LedgerAccount, amountFen: bigint, idempotencyId: string, minute: number, extra: Partial<TransferInput> = {}): TransferInput {
  return { idempotencyId, debitAccountId: debit.id, creditAccountId: credit.id, amountFen, kind: 'k', description: idempotencyId, bookedAt: at(minute), now: at(minute), ...extra };
}

async function allPages(accountId: string, opts: Omit<HistoryOptions, 'cursor'> = {}): Promise<Entry[]> {
  const out: Entry[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1_000; guard++) {
    const page = await history(db.db, accountId, { ...opts, ...(cursor ? { cursor } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(opts.limit ?? 20);
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
  throw new Error('history never ended');
}

/** The posted balance after each posted entry, computed independently: oldest first, running sum. */
function runningBalances(entries: Entry[]): Map<string, bigint> {
  const posted = entries.filter((e) => e.state === 'posted').reverse();
  const out = new Map<string, bigint>();
  let sum = 0n;
  for (const e of posted) {
    sum += e.amountFen;
    out.set(e.transferId, sum);
  }
  return out;
}

describe('history', () => {
  it('lists entries newest first with the counter account, signed amounts and balance-after, across pages without gaps or repeats', async () => {
    const tenantId = freshTenant();
    const me = await openAccount(db.db, tenantId);
    const other = await openAccount(db.db, tenantId, { kind: 'clearing' });
    const inputs: TransferInput[] = [];
    for (let i = 0; i < 23; i++) {
      // Three per minute: ties on bookedAt are ordered by booking sequence.
      const minute = Math.floor(i / 3);
      inputs.push(i % 4 === 3 ? tr(me, other, BigInt(i + 1), `t${i}`, minute, { counterparty: 'shop' }) : tr(other, me, BigInt(100 + i), `t${i}`, minute));
    }
    const booked = await inTx(db.db, (tx) => transferMany(tx, inputs));
    const entries = await allPages(me.id, { limit: 4 });
    expect(entries.map((e) => e.transferId)).toEqual(booked.map((t) => t.id).reverse());
    const first = entries.at(-1)!;
    expect(first).toEqual({
      transferId: booked[0]!.id,
      bookedAt: at(0),
      amountFen: 100n,
      direction: 'credit',
      kind: 'k',
      description: 't0',
      counterparty: null,
      counterAccountId: other.id,
      state: 'posted',
      balanceAfterFen: 100n,
    });
    const spend = entries.find((e) => e.transferId === booked[3]!.id)!;
    expect(spend).toMatchObject({ amountFen: -4n, direction: 'debit', counterparty: 'shop', counterAccountId: other.id });
    const expected = runningBalances(entries);
    for (const e of entries) expect(e.balanceAfterFen).toBe(expected.get(e.transferId));
    expect(entries[0]!.balanceAfterFen).toBe((await getBalance(db.db, me.id)).postedFen);
    // The default page size, and the last page has no cursor.
    const firstPage = await history(db.db, me.id, {});
    expect(firstPage.items).toHaveLength(20);
    expect(firstPage.nextCursor).not.toBeNull();
    expect((await history(db.db, me.id, { limit: MAX_HISTORY_PAGE })).nextCursor).toBeNull();
  });

  it('filters by an inclusive date range and by direction, keeping balance-after of the whole account', async () => {
    const tenantId = freshTenant();
    const me = await openAccount(db.db, tenantId);
    const other = await openAccount(db.db, tenantId, { kind: 'clearing' });
    const inputs = Array.from({ length: 12 }, (_, i) => (i % 3 === 2 ? tr(me, other, 10n, `t${i}`, i * 10) : tr(other, me, 100n, `t${i}`, i * 10)));
    await inTx(db.db, (tx) => transferMany(tx, inputs));
    const all = await allPages(me.id, { limit: 100 });
    const expected = runningBalances(all);

    const ranged = await allPages(me.id, { from: at(20), to: at(60), limit: 2 });
    expect(ranged.map((e) => e.description)).toEqual(['t6', 't5', 't4', 't3', 't2']);
    for (const e of ranged) expect(e.balanceAfterFen).toBe(expected.get(e.transferId));

    const debits = await allPages(me.id, { direction: 'debit', limit: 3 });
    expect(debits.map((e) => e.description)).toEqual(['t11', 't8', 't5', 't2']);
    for (const e of debits) {
      expect(e.direction).toBe('debit');
      expect(e.balanceAfterFen).toBe(expected.get(e.transferId));
    }
    const credits = await allPages(me.id, { direction: 'credit', from: at(100) });
    expect(credits.map((e) => e.description)).toEqual(['t10']);
  });

  it('places a back-dated booking (补登) at its value date and recomputes balance-after around it', async () => {
    const tenantId = freshTenant();
    const me = await openAccount(db.db, tenantId);
    const other = await openAccount(db.db, tenantId, { kind: 'clearing' });
    await inTx(db.db, (tx) => transferMany(tx, [tr(other, me, 100n, 'a', 0), tr(other, me, 200n, 'b', 10), tr(other, me, 300n, 'c', 20)]));
    await inTx(db.db, (tx) => transfer(tx, { ...tr(other, me, 5n, 'late', 5), now: at(30) }));
    const entries = await allPages(me.id, { limit: 2 });
    expect(entries.map((e) => [e.description, e.balanceAfterFen])).toEqual([
      ['c', 605n],
      ['b', 305n],
      ['late', 105n],
      ['a', 100n],
    ]);
  });

  it('shows an open hold as pending without balance-after, and replaces it by its posting when posted', async () => {
    const tenantId = freshTenant();
    const me = await openAccount(db.db, tenantId);
    const other = await openAccount(db.db, tenantId, { kind: 'clearing' });
    await inTx(db.db, (tx) => transfer(tx, tr(other, me, 1_000n, 'fund', 0)));
    const hold = (await inTx(db.db, (tx) => transfer(tx, tr(me, other, 300n, 'hold', 1, { pending: true })))).transfer;
    const hold2 = (await inTx(db.db, (tx) => transfer(tx, tr(me, other, 50n, 'hold2', 2, { pending: true })))).transfer;
    let entries = await allPages(me.id);
    expect(entries.map((e) => [e.transferId, e.state, e.amountFen, e.balanceAfterFen])).toEqual([
      [hold2.id, 'pending', -50n, null],
      [hold.id, 'pending', -300n, null],
      [entries[2]!.transferId, 'posted', 1_000n, 1_000n],
    ]);
    const post = (await inTx(db.db, (tx) => postPending(tx, { idempotencyId: 'post', pendingId: hold.id, amountFen: 250n, now: at(5) }))).transfer;
    await inTx(db.db, (tx) => voidPending(tx, { idempotencyId: 'void', pendingId: hold2.id, now: at(6) }));
    entries = await allPages(me.id);
    expect(entries.map((e) => [e.transferId, e.state, e.amountFen, e.balanceAfterFen, e.bookedAt])).toEqual([
      [post.id, 'posted', -250n, 750n, at(5)],
      [entries[1]!.transferId, 'posted', 1_000n, 1_000n, at(0)],
    ]);
    const rev = (await inTx(db.db, (tx) => reverse(tx, { idempotencyId: 'rev', transferId: post.id, reason: '退款', now: at(7) }))).transfer;
    entries = await allPages(me.id);
    expect(entries[0]).toMatchObject({ transferId: rev.id, kind: 'reversal', description: '退款', amountFen: 250n, balanceAfterFen: 1_000n });
  });

  it('answers an empty page for an account without entries', async () => {
    const me = await openAccount(db.db, freshTenant());
    expect(await history(db.db, me.id, {})).toEqual({ items: [], nextCursor: null });
  });

  it('refuses a forged cursor, a cursor of another account, a bad limit, a bad direction and an inverted range', async () => {
    const tenantId = freshTenant();
    const me = await openAccount(db.db, tenantId);
    const other = await openAccount(db.db, tenantId, { kind: 'clearing' });
    await inTx(db.db, (tx) => transferMany(tx, [tr(other, me, 1n, 'a', 0), tr(other, me, 1n, 'b', 1)]));
    const page = await history(db.db, me.id, { limit: 1 });
    expect(page.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const third = await openAccount(db.db, tenantId);
    for (const bad of ['', 'not a cursor', Buffer.from('h1:0').toString('base64url'), Buffer.from('h2:5').toString('base64url'), 'x'.repeat(100)]) {
      await expectAppError(() => history(db.db, me.id, { cursor: bad }), 'validation_failed');
    }
    await expectAppError(() => history(db.db, third.id, { cursor: page.nextCursor! }), 'validation_failed');
    for (const limit of [0, MAX_HISTORY_PAGE + 1, 1.5]) await expectAppError(() => history(db.db, me.id, { limit }), 'validation_failed');
    await expectAppError(() => history(db.db, me.id, { direction: 'up' as never }), 'validation_failed');
    await expectAppError(() => history(db.db, me.id, { from: at(2), to: at(1) }), 'validation_failed');
  });
});

describe('balance as of a time', () => {
  it('sums the postings booked up to the instant, holds included until released', async () => {
    const tenantId = freshTenant();
    const me = await openAccount(db.db, tenantId, { noOverdraft: true });
    const other = await openAccount(db.db, tenantId, { kind: 'clearing' });
    await inTx(db.db, (tx) => transfer(tx, tr(other, me, 1_000n, 'fund', 10)));
    const hold = (await inTx(db.db, (tx) => transfer(tx, tr(me, other, 400n, 'hold', 20, { pending: true })))).transfer;
    await inTx(db.db, (tx) => postPending(tx, { idempotencyId: 'post', pendingId: hold.id, amountFen: 300n, now: at(30) }));
    // Booked late, dated early (补登).
    await inTx(db.db, (tx) => transfer(tx, { ...tr(other, me, 7n, 'late', 5), now: at(40) }));

    const asOf = (minute: number) => getBalance(db.db, me.id, { asOf: at(minute) });
    expect(await asOf(0)).toEqual({ accountId: me.id, currency: 'CNY', postedFen: 0n, pendingDebitFen: 0n, pendingCreditFen: 0n, availableFen: 0n, asOf: at(0) });
    expect(await asOf(5)).toMatchObject({ postedFen: 7n, availableFen: 7n });
    expect(await asOf(10)).toMatchObject({ postedFen: 1_007n, availableFen: 1_007n });
    expect(await asOf(25)).toMatchObject({ postedFen: 1_007n, pendingDebitFen: 400n, availableFen: 607n });
    expect(await asOf(30)).toMatchObject({ postedFen: 707n, pendingDebitFen: 0n, availableFen: 707n });
    const live = await getBalance(db.db, me.id, { now: at(99) });
    expect(live).toMatchObject({ postedFen: 707n, availableFen: 707n, asOf: at(99) });
    expect(await getBalance(db.db, other.id, { asOf: at(25) })).toMatchObject({ postedFen: -1_007n, pendingCreditFen: 400n });
    await expectAppError(() => getBalance(db.db, me.id, { asOf: new Date('x') }), 'validation_failed');
  });
});

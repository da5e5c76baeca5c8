// Ledger writes on the database: accounts, transfers, idempotent replays, validation, no-overdraft, holds, reversals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx } from '../../../src/db/tx.ts';
import {
  createAccount,
  findAccountByCode,
  findTransferByIdempotencyId,
  getAccount,
  getBalance,
  getTransfer,
  MAX_TRANSFER_FEN,
  postPending,
  reverse,
  transfer,
  transferMany,
  verifyInvariants,
  voidPending,
  type LedgerAccount,
  type TransferInput,
} from '../../../src/ledger/index.ts';
import { at, expectAppError, freshTenant, openAccount, T0 } from './fixtures.ts';

let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => {
  await db?.close();
});

/** A tenant with a no-overdraft customer account, an overdraft-allowed clearing account and a settlement account. */
async function world() {
  const tenantId = freshTenant();
  const customer = await openAccount(db.db, tenantId, { code: 'customer', noOverdraft: true });
  const clearing = await openAccount(db.db, tenantId, { code: 'clearing', kind: 'clearing' });
  const settlement = await openAccount(db.db, tenantId, { code: 'settlement', kind: 'settlement' });
  return { tenantId, customer, clearing, settlement };
}

function tr(debit: LedgerAccount, credit: LedgerAccount, amountFen: bigint, idempotencyId: string, extra: Partial<TransferInput> = {}): TransferInput {
  return { idempotencyId, debitAccountId: debit.id, creditAccountId: credit.id, amountFen, kind: 'topup', description: '充值', now: T0, ...extra };
}

const book = (input: TransferInput) => inTx(db.db, (tx) => transfer(tx, input));
const posted = async (a: LedgerAccount) => (await getBalance(db.db, a.id)).postedFen;

async function expectSound(tenantId: string) {
  const report = await verifyInvariants(db.db, { tenantId });
  expect(report.violations).toEqual([]);
  expect(report.ok).toBe(true);
}

describe('accounts', () => {
  it('creates an account with zero balances and finds it by id and by code', async () => {
    const tenantId = freshTenant();
    const a = await openAccount(db.db, tenantId, { code: 'c-1', noOverdraft: true });
    expect(a.id).toMatch(/^la_/);
    expect(a).toMatchObject({ tenantId, code: 'c-1', currency: 'CNY', kind: 'customer', noOverdraft: true });
    expect(await getAccount(db.db, a.id)).toEqual(a);
    expect(await findAccountByCode(db.db, tenantId, 'c-1')).toEqual(a);
    expect(await findAccountByCode(db.db, freshTenant(), 'c-1')).toBeUndefined();
    expect(await getAccount(db.db, 'la_missing')).toBeUndefined();
    const b = await getBalance(db.db, a.id, { now: T0 });
    expect(b).toEqual({ accountId: a.id, currency: 'CNY', postedFen: 0n, pendingDebitFen: 0n, pendingCreditFen: 0n, availableFen: 0n, asOf: T0 });
  });

  it('refuses a second account with the same code in the same tenant as a conflict, but allows it in another tenant', async () => {
    const tenantId = freshTenant();
    await openAccount(db.db, tenantId, { code: 'dup' });
    await expectAppError(() => openAccount(db.db, tenantId, { code: 'dup' }), 'conflict');
    await openAccount(db.db, freshTenant(), { code: 'dup' });
  });

  it('refuses malformed accounts with validation_failed naming the field', async () => {
    const tenantId = freshTenant();
    const e1 = await expectAppError(() => openAccount(db.db, tenantId, { currency: 'cny' }), 'validation_failed');
    expect(e1.extra.errors).toEqual([expect.objectContaining({ field: 'currency' })]);
    const e2 = await expectAppError(() => openAccount(db.db, tenantId, { kind: 'wallet' as never }), 'validation_failed');
    expect(e2.extra.errors).toEqual([expect.objectContaining({ field: 'kind' })]);
    const e3 = await expectAppError(() => inTx(db.db, (tx) => createAccount(tx, { tenantId, code: '', name: 'x', currency: 'CNY', kind: 'fee' })), 'validation_failed');
    expect(e3.extra.errors).toEqual([expect.objectContaining({ field: 'code' })]);
  });

  it('answers not_found for the balance of an unknown account', async () => {
    await expectAppError(() => getBalance(db.db, 'la_nope'), 'not_found');
    await expectAppError(() => getBalance(db.db, 'la_nope', { asOf: T0 }), 'not_found');
  });
});

describe('transfers', () => {
  it('moves money from the debit to the credit account and keeps the sum at zero', async () => {
    const w = await world();
    const r = await book(tr(w.clearing, w.customer, 10_000n, 'in-1', { counterparty: '微信支付', metadata: { orderNo: 'A1', n: 2 } }));
    expect(r.replayed).toBe(false);
    expect(r.transfer).toMatchObject({
      idempotencyId: 'in-1',
      tenantId: w.tenantId,
      debitAccountId: w.clearing.id,
      creditAccountId: w.customer.id,
      amountFen: 10_000n,
      currency: 'CNY',
      kind: 'topup',
      description: '充值',
      counterparty: '微信支付',
      state: 'posted',
      pendingId: null,
      reversesId: null,
      bookedAt: T0,
      createdAt: T0,
      metadata: { orderNo: 'A1', n: 2 },
    });
    expect(r.transfer.id).toMatch(/^tr_/);
    expect(await getTransfer(db.db, r.transfer.id)).toEqual(r.transfer);
    expect(await findTransferByIdempotencyId(db.db, w.tenantId, 'in-1')).toEqual(r.transfer);
    expect(await posted(w.customer)).toBe(10_000n);
    expect(await posted(w.clearing)).toBe(-10_000n);
    await expectSound(w.tenantId);
  });

  it('returns the original transfer on a replay with the same fields and changes nothing', async () => {
    const w = await world();
    const first = await book(tr(w.clearing, w.customer, 500n, 'same', { metadata: { a: 1, b: [1, 2] } }));
    // Later clock, metadata keys in another order, value date left out: still the same request.
    const again = await book(tr(w.clearing, w.customer, 500n, 'same', { now: at(5), metadata: { b: [1, 2], a: 1 } }));
    expect(again).toEqual({ transfer: first.transfer, replayed: true });
    expect(await posted(w.customer)).toBe(500n);
    await expectSound(w.tenantId);
  });

  it('rejects the same idempotency id with different fields as idempotency_conflict, naming the fields', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 500n, 'key'));
    const e = await expectAppError(() => book(tr(w.clearing, w.customer, 501n, 'key')), 'idempotency_conflict');
    expect(e.message).toContain('amountFen');
    await expectAppError(() => book(tr(w.clearing, w.settlement, 500n, 'key')), 'idempotency_conflict');
    await expectAppError(() => book(tr(w.clearing, w.customer, 500n, 'key', { description: 'other' })), 'idempotency_conflict');
    await expectAppError(() => book(tr(w.clearing, w.customer, 500n, 'key', { pending: true })), 'idempotency_conflict');
    await expectAppError(() => book(tr(w.clearing, w.customer, 500n, 'key', { bookedAt: at(-60) })), 'idempotency_conflict');
    await expectAppError(() => book(tr(w.clearing, w.customer, 500n, 'key', { metadata: { x: 1 } })), 'idempotency_conflict');
    expect(await posted(w.customer)).toBe(500n);
  });

  it('scopes idempotency ids per tenant', async () => {
    const a = await world();
    const b = await world();
    await book(tr(a.clearing, a.customer, 1n, 'shared-key'));
    const r = await book(tr(b.clearing, b.customer, 2n, 'shared-key'));
    expect(r.replayed).toBe(false);
  });

  it('refuses zero, negative, too large and non-bigint amounts', async () => {
    const w = await world();
    for (const amountFen of [0n, -1n, MAX_TRANSFER_FEN + 1n, 100 as unknown as bigint]) {
      const e = await expectAppError(() => book(tr(w.clearing, w.customer, amountFen, `bad-${String(amountFen)}`)), 'validation_failed');
      expect(e.extra.errors).toEqual([expect.objectContaining({ field: 'amountFen' })]);
    }
  });

  it('refuses a transfer from an account to itself, to a missing account, across tenants or across currencies', async () => {
    const w = await world();
    const other = await world();
    const usd = await openAccount(db.db, w.tenantId, { currency: 'USD' });
    await expectAppError(() => book(tr(w.clearing, w.clearing, 1n, 'self')), 'validation_failed');
    const missing = await expectAppError(() => book({ ...tr(w.clearing, w.customer, 1n, 'missing'), creditAccountId: 'la_missing' }), 'validation_failed');
    expect(missing.extra.errors).toEqual([{ field: 'creditAccountId', message: 'no such account' }]);
    await expectAppError(() => book(tr(w.clearing, other.customer, 1n, 'cross-tenant')), 'validation_failed');
    await expectAppError(() => book(tr(w.clearing, usd, 1n, 'cross-currency')), 'validation_failed');
    await expectSound(w.tenantId);
  });

  it('refuses control characters, over-long texts, bad dates and oversized metadata', async () => {
    const w = await world();
    const base = tr(w.clearing, w.customer, 1n, 'fields');
    await expectAppError(() => book({ ...base, description: 'a\nb' }), 'validation_failed');
    await expectAppError(() => book({ ...base, kind: '' }), 'validation_failed');
    await expectAppError(() => book({ ...base, idempotencyId: 'x'.repeat(129) }), 'validation_failed');
    await expectAppError(() => book({ ...base, counterparty: 'y'.repeat(201) }), 'validation_failed');
    await expectAppError(() => book({ ...base, now: new Date(Number.NaN) }), 'validation_failed');
    await expectAppError(() => book({ ...base, bookedAt: new Date('nope') }), 'validation_failed');
    await expectAppError(() => book({ ...base, metadata: { blob: 'z'.repeat(5_000) } }), 'validation_failed');
    await expectAppError(() => book({ ...base, metadata: [] as unknown as Record<string, unknown> }), 'validation_failed');
  });

  it('refuses with insufficient_funds a debit that would take a no-overdraft account below zero, and books nothing', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 1_000n, 'fund'));
    await book(tr(w.customer, w.settlement, 600n, 'spend-1'));
    const e = await expectAppError(() => book(tr(w.customer, w.settlement, 401n, 'spend-2')), 'insufficient_funds');
    // The balance (C2 data) stays out of the message.
    expect(e.message).not.toContain('400');
    await book(tr(w.customer, w.settlement, 400n, 'spend-3'));
    expect(await posted(w.customer)).toBe(0n);
    expect(await findTransferByIdempotencyId(db.db, w.tenantId, 'spend-2')).toBeUndefined();
    // The idempotency id of a refused request stays free for a corrected one.
    await book(tr(w.clearing, w.customer, 1n, 'spend-2'));
    await expectSound(w.tenantId);
  });

  it('replays a booked spend the account could not pay again, instead of refusing it with insufficient_funds', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 1_000n, 'fund'));
    const spend = await book(tr(w.customer, w.settlement, 800n, 'spend'));
    // 200 left: booking the 800 again would overdraw, but it is the same request, so it is answered as booked.
    expect(await book(tr(w.customer, w.settlement, 800n, 'spend', { now: at(5) }))).toEqual({ transfer: spend.transfer, replayed: true });
    // In a batch too, beside a fresh transfer that the account can pay.
    const [again, fresh] = await inTx(db.db, (tx) => transferMany(tx, [tr(w.customer, w.settlement, 800n, 'spend'), tr(w.customer, w.settlement, 200n, 'spend-2')]));
    expect(again).toEqual(spend.transfer);
    expect(fresh!.amountFen).toBe(200n);
    expect(await posted(w.customer)).toBe(0n);
    await expectSound(w.tenantId);
  });

  it('lets an account without the flag go below zero', async () => {
    const w = await world();
    await book(tr(w.settlement, w.clearing, 7n, 'neg'));
    expect(await posted(w.settlement)).toBe(-7n);
  });

  it('rolls back everything the caller did in the transaction when a transfer fails', async () => {
    const w = await world();
    await expectAppError(
      () =>
        inTx(db.db, async (tx) => {
          await transfer(tx, tr(w.clearing, w.customer, 100n, 'ok-part'));
          await transfer(tx, tr(w.customer, w.settlement, 101n, 'failing-part'));
        }),
      'insufficient_funds',
    );
    expect(await posted(w.customer)).toBe(0n);
    expect(await findTransferByIdempotencyId(db.db, w.tenantId, 'ok-part')).toBeUndefined();
  });
});

describe('holds', () => {
  it('reserves a hold against the available balance, then posts it whole', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 1_000n, 'fund'));
    const hold = (await book(tr(w.customer, w.settlement, 300n, 'hold', { pending: true, kind: 'purchase', counterparty: 'shop' }))).transfer;
    expect(hold.state).toBe('pending');
    expect(await getBalance(db.db, w.customer.id)).toMatchObject({ postedFen: 1_000n, pendingDebitFen: 300n, availableFen: 700n });
    expect(await getBalance(db.db, w.settlement.id)).toMatchObject({ postedFen: 0n, pendingCreditFen: 300n, availableFen: 0n });
    // The hold counts: 701 more would overdraw.
    await expectAppError(() => book(tr(w.customer, w.settlement, 701n, 'too-much')), 'insufficient_funds');

    const p = await inTx(db.db, (tx) => postPending(tx, { idempotencyId: 'post', pendingId: hold.id, now: at(1) }));
    expect(p.replayed).toBe(false);
    expect(p.transfer).toMatchObject({ state: 'posted', pendingId: hold.id, amountFen: 300n, kind: 'purchase', counterparty: 'shop', debitAccountId: w.customer.id, bookedAt: at(1) });
    expect(await getBalance(db.db, w.customer.id)).toMatchObject({ postedFen: 700n, pendingDebitFen: 0n, availableFen: 700n });
    expect(await getBalance(db.db, w.settlement.id)).toMatchObject({ postedFen: 300n, pendingCreditFen: 0n });
    await expectSound(w.tenantId);
  });

  it('posts part of a hold and releases the rest', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 1_000n, 'fund'));
    const hold = (await book(tr(w.customer, w.settlement, 500n, 'hold', { pending: true }))).transfer;
    const p = await inTx(db.db, (tx) => postPending(tx, { idempotencyId: 'post', pendingId: hold.id, amountFen: 120n, now: at(1) }));
    expect(p.transfer.amountFen).toBe(120n);
    expect(await getBalance(db.db, w.customer.id)).toMatchObject({ postedFen: 880n, pendingDebitFen: 0n, availableFen: 880n });
    await expectSound(w.tenantId);
  });

  it('voids a hold, releasing it without moving money', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 1_000n, 'fund'));
    const hold = (await book(tr(w.customer, w.settlement, 500n, 'hold', { pending: true }))).transfer;
    const v = await inTx(db.db, (tx) => voidPending(tx, { idempotencyId: 'void', pendingId: hold.id, now: at(1) }));
    expect(v.transfer).toMatchObject({ state: 'voided', pendingId: hold.id, amountFen: 500n });
    expect(await getBalance(db.db, w.customer.id)).toMatchObject({ postedFen: 1_000n, pendingDebitFen: 0n, availableFen: 1_000n });
    await expectSound(w.tenantId);
  });

  it('replays a post or void by its idempotency id and refuses a second resolution as a conflict', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 1_000n, 'fund'));
    const hold = (await book(tr(w.customer, w.settlement, 500n, 'hold', { pending: true }))).transfer;
    const post = (input: { idempotencyId: string; amountFen?: bigint }) => inTx(db.db, (tx) => postPending(tx, { ...input, pendingId: hold.id, now: at(2) }));
    const first = await post({ idempotencyId: 'post', amountFen: 500n });
    // Omitting the amount means the whole hold: the same request.
    expect(await post({ idempotencyId: 'post' })).toEqual({ transfer: first.transfer, replayed: true });
    await expectAppError(() => post({ idempotencyId: 'post', amountFen: 400n }), 'idempotency_conflict');
    await expectAppError(() => inTx(db.db, (tx) => voidPending(tx, { idempotencyId: 'post', pendingId: hold.id, now: at(2) })), 'idempotency_conflict');
    await expectAppError(() => post({ idempotencyId: 'post-again' }), 'conflict');
    await expectAppError(() => inTx(db.db, (tx) => voidPending(tx, { idempotencyId: 'void-late', pendingId: hold.id, now: at(2) })), 'conflict');
    expect(await posted(w.customer)).toBe(500n);
    await expectSound(w.tenantId);
  });

  it('refuses to post more than the hold, to resolve what is not a hold, and answers not_found for an unknown hold', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 1_000n, 'fund'));
    const plain = (await book(tr(w.customer, w.settlement, 10n, 'plain'))).transfer;
    const hold = (await book(tr(w.customer, w.settlement, 500n, 'hold', { pending: true }))).transfer;
    await expectAppError(() => inTx(db.db, (tx) => postPending(tx, { idempotencyId: 'p1', pendingId: hold.id, amountFen: 501n, now: T0 })), 'validation_failed');
    await expectAppError(() => inTx(db.db, (tx) => postPending(tx, { idempotencyId: 'p2', pendingId: hold.id, amountFen: 0n, now: T0 })), 'validation_failed');
    await expectAppError(() => inTx(db.db, (tx) => postPending(tx, { idempotencyId: 'p3', pendingId: plain.id, now: T0 })), 'conflict');
    await expectAppError(() => inTx(db.db, (tx) => voidPending(tx, { idempotencyId: 'p4', pendingId: 'tr_unknown', now: T0 })), 'not_found');
    await expectSound(w.tenantId);
  });

  it('never books a resolution before the hold it resolves', async () => {
    const w = await world();
    const hold = (await book(tr(w.clearing, w.customer, 5n, 'future-hold', { pending: true, bookedAt: at(60) }))).transfer;
    const v = await inTx(db.db, (tx) => voidPending(tx, { idempotencyId: 'early-void', pendingId: hold.id, now: T0 }));
    expect(v.transfer.bookedAt).toEqual(at(60));
    await expectSound(w.tenantId);
  });
});

describe('reversals', () => {
  it('reverses a posted transfer with a linked one in the opposite direction', async () => {
    const w = await world();
    const orig = (await book(tr(w.clearing, w.customer, 800n, 'dep', { counterparty: '张三' }))).transfer;
    const r = await inTx(db.db, (tx) => reverse(tx, { idempotencyId: 'rev', transferId: orig.id, reason: '重复入账冲正', now: at(3) }));
    expect(r.transfer).toMatchObject({
      debitAccountId: w.customer.id,
      creditAccountId: w.clearing.id,
      amountFen: 800n,
      kind: 'reversal',
      description: '重复入账冲正',
      counterparty: '张三',
      reversesId: orig.id,
      state: 'posted',
      bookedAt: at(3),
    });
    expect(await posted(w.customer)).toBe(0n);
    expect(await posted(w.clearing)).toBe(0n);
    await expectSound(w.tenantId);
  });

  it('replays a reversal, and refuses a second reversal, a reversal of a reversal, of a hold or of a void as conflicts', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 1_000n, 'fund'));
    const orig = (await book(tr(w.clearing, w.customer, 100n, 'dep'))).transfer;
    const rev = (input: { idempotencyId: string; transferId: string; reason?: string }) => inTx(db.db, (tx) => reverse(tx, { reason: 'error', now: at(1), ...input }));
    const first = await rev({ idempotencyId: 'rev', transferId: orig.id });
    expect(await rev({ idempotencyId: 'rev', transferId: orig.id })).toEqual({ transfer: first.transfer, replayed: true });
    await expectAppError(() => rev({ idempotencyId: 'rev', transferId: orig.id, reason: 'other' }), 'idempotency_conflict');
    await expectAppError(() => rev({ idempotencyId: 'rev-2', transferId: orig.id }), 'conflict');
    await expectAppError(() => rev({ idempotencyId: 'rev-3', transferId: first.transfer.id }), 'conflict');
    const hold = (await book(tr(w.customer, w.settlement, 10n, 'hold', { pending: true }))).transfer;
    await expectAppError(() => rev({ idempotencyId: 'rev-4', transferId: hold.id }), 'conflict');
    const voided = (await inTx(db.db, (tx) => voidPending(tx, { idempotencyId: 'void', pendingId: hold.id, now: at(1) }))).transfer;
    await expectAppError(() => rev({ idempotencyId: 'rev-5', transferId: voided.id }), 'conflict');
    await expectAppError(() => rev({ idempotencyId: 'rev-6', transferId: 'tr_unknown' }), 'not_found');
    await expectAppError(() => rev({ idempotencyId: 'rev-7', transferId: orig.id, reason: '' }), 'validation_failed');
    expect(await posted(w.customer)).toBe(1_000n);
    await expectSound(w.tenantId);
  });

  it('reverses the posted part of a partly posted hold', async () => {
    const w = await world();
    await book(tr(w.clearing, w.customer, 1_000n, 'fund'));
    const hold = (await book(tr(w.customer, w.settlement, 500n, 'hold', { pending: true }))).transfer;
    const p = (await inTx(db.db, (tx) => postPending(tx, { idempotencyId: 'post', pendingId: hold.id, amountFen: 200n, now: at(1) }))).transfer;
    await inTx(db.db, (tx) => reverse(tx, { idempotencyId: 'rev', transferId: p.id, reason: 'refund', now: at(2) }));
    expect(await getBalance(db.db, w.customer.id)).toMatchObject({ postedFen: 1_000n, pendingDebitFen: 0n });
    await expectSound(w.tenantId);
  });

  it('refuses with insufficient_funds a reversal that would overdraw a no-overdraft account', async () => {
    const w = await world();
    const dep = (await book(tr(w.clearing, w.customer, 100n, 'dep'))).transfer;
    await book(tr(w.customer, w.settlement, 60n, 'spent'));
    await expectAppError(() => inTx(db.db, (tx) => reverse(tx, { idempotencyId: 'rev', transferId: dep.id, reason: 'x', now: at(1) })), 'insufficient_funds');
    expect(await posted(w.customer)).toBe(40n);
    await expectSound(w.tenantId);
  });
});

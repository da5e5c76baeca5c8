// transferMany on the database: same rules as transfer (order, replays, conflicts, funds), all or nothing, and fast.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx } from '../../../src/db/tx.ts';
import {
  findTransferByIdempotencyId,
  getBalance,
  history,
  transfer,
  transferMany,
  verifyInvariants,
  type LedgerAccount,
  type TransferInput,
} from '../../../src/ledger/index.ts';
import { at, expectAppError, freshTenant, openAccount, T0 } from './fixtures.ts';

/** Issue 2: the demo seed books about 10,000 transfers; on PGlite that must take seconds, not minutes. */
const SEED_TRANSFERS = 10_000;

let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => {
  await db?.close();
});

function tr(debit: LedgerAccount, credit: LedgerAccount, amountFen: bigint, idempotencyId: string, extra: Partial<TransferInput> = {}): TransferInput {
  return { idempotencyId, debitAccountId: debit.id, creditAccountId: credit.id, amountFen, kind: 'k', description: 'd', now: T0, ...extra };
}

const many = (inputs: TransferInput[]) => inTx(db.db, (tx) => transferMany(tx, inputs));

async function world() {
  const tenantId = freshTenant();
  return {
    tenantId,
    wallet: await openAccount(db.db, tenantId, { noOverdraft: true }),
    clearing: await openAccount(db.db, tenantId, { kind: 'clearing' }),
  };
}

describe('transferMany', () => {
  it('books in input order, so a no-overdraft account may spend what an earlier transfer of the batch paid in', async () => {
    const w = await world();
    const out = await many([tr(w.clearing, w.wallet, 100n, 'in'), tr(w.wallet, w.clearing, 60n, 'out'), tr(w.wallet, w.clearing, 40n, 'out-2', { pending: true })]);
    expect(out.map((t) => [t.idempotencyId, t.state])).toEqual([
      ['in', 'posted'],
      ['out', 'posted'],
      ['out-2', 'pending'],
    ]);
    expect(await getBalance(db.db, w.wallet.id)).toMatchObject({ postedFen: 40n, pendingDebitFen: 40n, availableFen: 0n });
    expect((await verifyInvariants(db.db, { tenantId: w.tenantId })).violations).toEqual([]);
  });

  it('refuses the whole batch with insufficient_funds when one transfer would overdraw, booking none of it', async () => {
    const w = await world();
    await expectAppError(() => many([tr(w.clearing, w.wallet, 100n, 'in'), tr(w.wallet, w.clearing, 101n, 'out')]), 'insufficient_funds');
    expect(await findTransferByIdempotencyId(db.db, w.tenantId, 'in')).toBeUndefined();
    expect((await getBalance(db.db, w.wallet.id)).postedFen).toBe(0n);
  });

  it('returns the originals for ids already booked or repeated within the batch, and books the rest once', async () => {
    const w = await world();
    const before = (await inTx(db.db, (tx) => transfer(tx, tr(w.clearing, w.wallet, 5n, 'old')))).transfer;
    const out = await many([tr(w.clearing, w.wallet, 5n, 'old'), tr(w.clearing, w.wallet, 7n, 'new'), tr(w.clearing, w.wallet, 7n, 'new')]);
    expect(out[0]).toEqual(before);
    expect(out[2]).toEqual(out[1]);
    expect((await getBalance(db.db, w.wallet.id)).postedFen).toBe(12n);
    // Replaying the whole batch changes nothing.
    expect(await many([tr(w.clearing, w.wallet, 5n, 'old'), tr(w.clearing, w.wallet, 7n, 'new')])).toEqual([before, out[1]]);
    expect((await getBalance(db.db, w.wallet.id)).postedFen).toBe(12n);
  });

  it('refuses the whole batch when an id is reused with other fields, in the database or within the batch', async () => {
    const w = await world();
    await inTx(db.db, (tx) => transfer(tx, tr(w.clearing, w.wallet, 5n, 'old')));
    await expectAppError(() => many([tr(w.clearing, w.wallet, 1n, 'fresh'), tr(w.clearing, w.wallet, 6n, 'old')]), 'idempotency_conflict');
    await expectAppError(() => many([tr(w.clearing, w.wallet, 1n, 'x'), tr(w.clearing, w.wallet, 2n, 'x')]), 'idempotency_conflict');
    expect(await findTransferByIdempotencyId(db.db, w.tenantId, 'fresh')).toBeUndefined();
    expect((await getBalance(db.db, w.wallet.id)).postedFen).toBe(5n);
  });

  it('names the position of a malformed input in the batch', async () => {
    const w = await world();
    const e = await expectAppError(() => many([tr(w.clearing, w.wallet, 1n, 'a'), tr(w.clearing, w.wallet, 0n, 'b')]), 'validation_failed');
    expect(e.extra.errors).toEqual([expect.objectContaining({ field: '[1].amountFen' })]);
    const e2 = await expectAppError(() => many([tr(w.clearing, w.wallet, 1n, 'a'), { ...tr(w.clearing, w.wallet, 1n, 'b'), debitAccountId: 'la_none' }]), 'validation_failed');
    expect(e2.extra.errors).toEqual([{ field: '[1].debitAccountId', message: 'no such account' }]);
  });

  it('answers an empty list for an empty batch', async () => {
    expect(await many([])).toEqual([]);
  });

  // Their speed is measured in bench/bulk.ts (a bound in bench/RESULTS.md), not timed here.
  it(`seeds ${SEED_TRANSFERS} transfers over 200 accounts in batches, sound afterwards`, async () => {
    const tenantId = freshTenant();
    const clearing = await openAccount(db.db, tenantId, { kind: 'clearing' });
    const cards: LedgerAccount[] = [];
    for (let i = 0; i < 200; i++) cards.push(await openAccount(db.db, tenantId, { noOverdraft: true, code: `card-${i}` }));
    const inputs: TransferInput[] = [];
    for (let i = 0; i < SEED_TRANSFERS; i++) {
      const card = cards[i % cards.length]!;
      const minute = i;
      // Rounds over all cards alternate: paid in, then a spend checked against no-overdraft.
      const paidIn = Math.floor(i / cards.length) % 2 === 0;
      inputs.push(paidIn ? tr(clearing, card, 10_000n, `seed-${i}`, { bookedAt: at(minute) }) : tr(card, clearing, 3_000n, `seed-${i}`, { bookedAt: at(minute), counterparty: 'shop' }));
    }
    for (let i = 0; i < inputs.length; i += 500) await many(inputs.slice(i, i + 500));
    const report = await verifyInvariants(db.db, { tenantId });
    expect(report.violations).toEqual([]);
    expect(report.transfersChecked).toBe(SEED_TRANSFERS);
    const page = await history(db.db, cards[7]!.id, { limit: 100 });
    expect(page.items[0]!.balanceAfterFen).toBe((await getBalance(db.db, cards[7]!.id)).postedFen);
  }, 60_000);

  it('books 10,000 transfers in one call', async () => {
    const tenantId = freshTenant();
    const a = await openAccount(db.db, tenantId, { kind: 'clearing' });
    const b = await openAccount(db.db, tenantId, { noOverdraft: true });
    const inputs = Array.from({ length: SEED_TRANSFERS }, (_, i) => tr(a, b, 1n, `one-${i}`));
    const out = await many(inputs);
    expect(out).toHaveLength(SEED_TRANSFERS);
    expect((await getBalance(db.db, b.id)).postedFen).toBe(BigInt(SEED_TRANSFERS));
  }, 60_000);
});

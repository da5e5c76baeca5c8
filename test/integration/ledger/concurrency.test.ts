// The ledger under parallel connections (PostgreSQL only): no lost updates, one transfer per idempotency id, one resolution per hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx } from '../../../src/db/tx.ts';
import { AppError } from '../../../src/app/errors.ts';
import { getBalance, postPending, reverse, transfer, verifyInvariants, voidPending, type LedgerAccount, type TransferInput } from '../../../src/ledger/index.ts';
import { freshTenant, openAccount, T0 } from './fixtures.ts';

/** Connections racing each other: more than the 2 cores, so transactions truly interleave. */
const POOL_SIZE = 16;

let db: TestDb;

function tr(debit: LedgerAccount, credit: LedgerAccount, amountFen: bigint, idempotencyId: string): TransferInput {
  return { idempotencyId, debitAccountId: debit.id, creditAccountId: credit.id, amountFen, kind: 'k', description: 'd', now: T0 };
}

/** Runs every call at once and sorts the outcomes into values and AppError codes. */
async function race<T>(calls: (() => Promise<T>)[]): Promise<{ ok: T[]; codes: string[] }> {
  const settled = await Promise.allSettled(calls.map((c) => c()));
  const ok: T[] = [];
  const codes: string[] = [];
  for (const s of settled) {
    if (s.status === 'fulfilled') ok.push(s.value);
    else if (s.reason instanceof AppError) codes.push(s.reason.code);
    else throw s.reason;
  }
  return { ok, codes };
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('ledger under concurrency (needs PostgreSQL: PGlite has one connection)', () => {
  beforeAll(async () => {
    db = await openTestDb({ poolMax: POOL_SIZE });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('loses no update when 300 transfers over 4 accounts run in parallel', async () => {
    const tenantId = freshTenant();
    const accounts = await Promise.all([0, 1, 2, 3].map((i) => openAccount(db.db, tenantId, { code: `a${i}`, kind: 'internal' })));
    const expected = new Map(accounts.map((a) => [a.id, 0n]));
    const calls = Array.from({ length: 300 }, (_, i) => {
      const d = accounts[i % 4]!;
      const c = accounts[(i * 7 + 1) % 4 === i % 4 ? (i + 1) % 4 : (i * 7 + 1) % 4]!;
      const amount = BigInt((i % 13) + 1);
      expected.set(d.id, expected.get(d.id)! - amount);
      expected.set(c.id, expected.get(c.id)! + amount);
      return () => inTx(db.db, (tx) => transfer(tx, tr(d, c, amount, `p-${i}`)));
    });
    const { ok, codes } = await race(calls);
    expect(codes).toEqual([]);
    expect(ok).toHaveLength(300);
    for (const a of accounts) expect((await getBalance(db.db, a.id)).postedFen).toBe(expected.get(a.id));
    expect((await verifyInvariants(db.db, { tenantId })).violations).toEqual([]);
  });

  it('books one transfer when 20 identical requests arrive at once; the others are replays of it', async () => {
    const tenantId = freshTenant();
    const a = await openAccount(db.db, tenantId, { kind: 'clearing' });
    const b = await openAccount(db.db, tenantId, { noOverdraft: true });
    const { ok, codes } = await race(Array.from({ length: 20 }, () => () => inTx(db.db, (tx) => transfer(tx, tr(a, b, 99n, 'same')))));
    expect(codes).toEqual([]);
    expect(new Set(ok.map((r) => r.transfer.id)).size).toBe(1);
    expect(ok.filter((r) => !r.replayed)).toHaveLength(1);
    expect((await getBalance(db.db, b.id)).postedFen).toBe(99n);
  });

  it('lets one of several different requests sharing an idempotency id win; the rest get idempotency_conflict', async () => {
    const tenantId = freshTenant();
    const accounts = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => openAccount(db.db, tenantId, { code: `a${i}` })));
    // Disjoint account pairs: the requests do not queue on the same row locks, only on the unique key.
    const calls = [0, 2, 4].map((i) => () => inTx(db.db, (tx) => transfer(tx, tr(accounts[i]!, accounts[i + 1]!, 5n, 'contested'))));
    const { ok, codes } = await race(calls);
    expect(ok).toHaveLength(1);
    expect(codes).toEqual(['idempotency_conflict', 'idempotency_conflict']);
    expect((await verifyInvariants(db.db, { tenantId })).violations).toEqual([]);
  });

  it('never lets concurrent spends overdraw a no-overdraft account', async () => {
    const tenantId = freshTenant();
    const clearing = await openAccount(db.db, tenantId, { kind: 'clearing' });
    const wallet = await openAccount(db.db, tenantId, { noOverdraft: true });
    await inTx(db.db, (tx) => transfer(tx, tr(clearing, wallet, 1_000n, 'fund')));
    const { ok, codes } = await race(Array.from({ length: 50 }, (_, i) => () => inTx(db.db, (tx) => transfer(tx, tr(wallet, clearing, 30n, `spend-${i}`)))));
    expect(ok).toHaveLength(33);
    expect(codes).toEqual(Array(17).fill('insufficient_funds'));
    expect((await getBalance(db.db, wallet.id)).availableFen).toBe(10n);
  });

  it('resolves a hold once when posts and voids race, and reverses a transfer once when reversals race', async () => {
    const tenantId = freshTenant();
    const clearing = await openAccount(db.db, tenantId, { kind: 'clearing' });
    const wallet = await openAccount(db.db, tenantId, { noOverdraft: true });
    await inTx(db.db, (tx) => transfer(tx, tr(clearing, wallet, 1_000n, 'fund')));
    const hold = (await inTx(db.db, (tx) => transfer(tx, { ...tr(wallet, clearing, 400n, 'hold'), pending: true }))).transfer;
    const resolutions = await race(
      Array.from({ length: 10 }, (_, i) => () =>
        inTx(db.db, (tx) => (i % 2 === 0 ? postPending(tx, { idempotencyId: `r-${i}`, pendingId: hold.id, now: T0 }) : voidPending(tx, { idempotencyId: `r-${i}`, pendingId: hold.id, now: T0 }))),
      ),
    );
    expect(resolutions.ok).toHaveLength(1);
    expect(resolutions.codes).toEqual(Array(9).fill('conflict'));

    const dep = (await inTx(db.db, (tx) => transfer(tx, tr(clearing, wallet, 50n, 'dep')))).transfer;
    const reversals = await race(Array.from({ length: 10 }, (_, i) => () => inTx(db.db, (tx) => reverse(tx, { idempotencyId: `rev-${i}`, transferId: dep.id, reason: 'x', now: T0 }))));
    expect(reversals.ok).toHaveLength(1);
    expect(reversals.codes).toEqual(Array(9).fill('conflict'));
    expect((await verifyInvariants(db.db, { tenantId })).violations).toEqual([]);
  });
});

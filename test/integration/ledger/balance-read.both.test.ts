// Balance reads outside a transaction are batched per event-loop turn: each caller still gets its own account's committed balance.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx } from '../../../src/db/tx.ts';
import { getBalance, transfer, type LedgerAccount } from '../../../src/ledger/index.ts';
import { BALANCE_READ_BATCH_MAX } from '../../../src/ledger/batch-read.ts';
import { PREPARED_PER_CONNECTION } from '../../../src/db/connect.ts';
import { expectAppError, freshTenant, openAccount, T0 } from './fixtures.ts';

let db: TestDb;
let tenantId: string;
let clearing: LedgerAccount;
const wallets: LedgerAccount[] = [];

beforeAll(async () => {
  db = await openTestDb();
  tenantId = freshTenant();
  clearing = await openAccount(db.db, tenantId, { kind: 'clearing' });
  // More accounts than one batched query takes, so a turn's reads span several queries.
  for (let i = 0; i < BALANCE_READ_BATCH_MAX + 30; i++) {
    const w = await openAccount(db.db, tenantId, { code: `w${i}`, noOverdraft: true });
    await inTx(db.db, (tx) => transfer(tx, { idempotencyId: `f${i}`, debitAccountId: clearing.id, creditAccountId: w.id, amountFen: BigInt(100 + i), kind: 'fund', description: 'fund', now: T0 }));
    wallets.push(w);
  }
});
afterAll(async () => {
  await db?.close();
});

describe('batched balance reads', () => {
  it('answers each of many concurrent reads, repeated ids included, with that account balance', async () => {
    const ids = [...wallets.map((w) => w.id), wallets[0]!.id, wallets[5]!.id, clearing.id];
    const got = await Promise.all(ids.map((id) => getBalance(db.db, id)));
    got.forEach((b, i) => expect(b.accountId).toBe(ids[i]));
    wallets.forEach((w, i) => expect(got[i]!.postedFen).toBe(BigInt(100 + i)));
    expect(got.at(-3)!.postedFen).toBe(100n);
    const total = wallets.reduce((s, _w, i) => s + BigInt(100 + i), 0n);
    expect(got.at(-1)!.postedFen).toBe(-total);
  });

  it('fails only the read of an unknown account, not the others of its batch', async () => {
    const [ok, missing] = await Promise.allSettled([getBalance(db.db, wallets[1]!.id), getBalance(db.db, 'la_nope')]);
    expect(ok.status === 'fulfilled' && ok.value.postedFen).toBe(101n);
    expect(missing.status).toBe('rejected');
    await expectAppError(() => getBalance(db.db, 'la_nope'), 'not_found');
  });

  it('sees a transfer committed before the read was issued', async () => {
    const w = wallets[2]!;
    const before = (await getBalance(db.db, w.id)).postedFen;
    await inTx(db.db, (tx) => transfer(tx, { idempotencyId: 'late', debitAccountId: clearing.id, creditAccountId: w.id, amountFen: 7n, kind: 'k', description: 'd', now: T0 }));
    expect((await getBalance(db.db, w.id)).postedFen).toBe(before + 7n);
  });

  it('reads inside a transaction see that transaction own uncommitted writes', async () => {
    const w = wallets[3]!;
    const before = (await getBalance(db.db, w.id)).postedFen;
    await expect(
      inTx(db.db, async (tx) => {
        await transfer(tx, { idempotencyId: 'in-tx', debitAccountId: clearing.id, creditAccountId: w.id, amountFen: 5n, kind: 'k', description: 'd', now: T0 });
        expect((await getBalance(tx, w.id)).postedFen).toBe(before + 5n);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await getBalance(db.db, w.id)).postedFen).toBe(before);
  });
});

describe('prepared statements', () => {
  it('keeps answering correctly past the per-connection limit of prepared statements', async () => {
    // Distinct statement texts, each with a parameter: the first ones are prepared, the rest run unnamed.
    for (let i = 0; i < PREPARED_PER_CONNECTION + 20; i++) {
      const r = await sql<{ v: number }>`select ${i}::int + ${sql.lit(i)} as v`.execute(db.db);
      expect(Number(r.rows[0]!.v)).toBe(2 * i);
    }
    // And a prepared statement still answers with the current data on reuse.
    expect((await getBalance(db.db, wallets[4]!.id)).postedFen).toBe(104n);
  });
});

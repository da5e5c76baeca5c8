// The ledger's database safeguards: append-only postings and transfers, the no-overdraft CHECK, and the audit finding tampering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx } from '../../../src/db/tx.ts';
import { getBalance, recomputeBalance, transfer, verifyInvariants } from '../../../src/ledger/index.ts';
import { expectAppError, freshTenant, openAccount, T0 } from './fixtures.ts';

let db: TestDb;
/** Accounts and transfers the tests below corrupt on purpose; the all-tenant audit must name only these. */
const tampered = new Set<string>();
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => {
  await db?.close();
});

async function funded() {
  const tenantId = freshTenant();
  const wallet = await openAccount(db.db, tenantId, { noOverdraft: true });
  const clearing = await openAccount(db.db, tenantId, { kind: 'clearing' });
  const t = await inTx(db.db, (tx) =>
    transfer(tx, { idempotencyId: 'fund', debitAccountId: clearing.id, creditAccountId: wallet.id, amountFen: 1_000n, kind: 'k', description: 'd', now: T0 }),
  );
  return { tenantId, wallet, clearing, transferId: t.transfer.id };
}

async function sqlError(statement: ReturnType<typeof sql>): Promise<{ code?: string; message: string }> {
  try {
    await inTx(db.db, (tx) => statement.execute(tx));
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('the statement was expected to fail');
}

describe('append-only ledger', () => {
  it('refuses UPDATE and DELETE of postings and transfers at the database, whoever sends them', async () => {
    const w = await funded();
    const attempts = [
      sql`update ledger_postings set delta_fen = delta_fen + 1 where transfer_id = ${w.transferId}`,
      sql`delete from ledger_postings where transfer_id = ${w.transferId}`,
      sql`update ledger_transfers set amount_fen = 1 where id = ${w.transferId}`,
      sql`delete from ledger_transfers where id = ${w.transferId}`,
      sql`truncate ledger_postings`,
    ];
    for (const s of attempts) {
      const e = await sqlError(s);
      expect(e.code).toBe('55000');
      expect(e.message).toContain('append-only');
    }
    expect((await getBalance(db.db, w.wallet.id)).postedFen).toBe(1_000n);
    expect((await verifyInvariants(db.db, { tenantId: w.tenantId })).ok).toBe(true);
  });

  it('refuses, by CHECK constraint, cached totals that would overdraw a no-overdraft account', async () => {
    const w = await funded();
    const e = await sqlError(sql`update ledger_accounts set posted_debits_fen = posted_debits_fen + 1001 where id = ${w.wallet.id}`);
    expect(e.code).toBe('23514');
  });
});

describe('audit', () => {
  it('reports a cached total that disagrees with the postings, and the broken zero sum', async () => {
    const w = await funded();
    expect((await recomputeBalance(db.db, w.wallet.id)).matches).toBe(true);
    await sql`update ledger_accounts set posted_credits_fen = posted_credits_fen + 5 where id = ${w.wallet.id}`.execute(db.db);
    tampered.add(w.wallet.id);
    const report = await verifyInvariants(db.db, { tenantId: w.tenantId });
    expect(report.ok).toBe(false);
    expect(report.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ invariant: 'cached_totals', subject: w.wallet.id }),
        expect.objectContaining({ invariant: 'zero_sum', subject: 'CNY' }),
      ]),
    );
    const r = await recomputeBalance(db.db, w.wallet.id, { now: T0 });
    expect(r.matches).toBe(false);
    expect(r.cached.postedFen).toBe(1_005n);
    expect(r.computed.postedFen).toBe(1_000n);
    await expectAppError(() => recomputeBalance(db.db, 'la_none'), 'not_found');
  });

  it('reports a transfer whose postings are missing', async () => {
    const w = await funded();
    // A transfer row written around the ledger code, without postings or totals.
    await sql`insert into ledger_transfers (id, tenant_id, idempotency_id, debit_account_id, credit_account_id, amount_fen, currency, kind, description, state, booked_at, created_at)
      values ('tr_forged', ${w.tenantId}, 'forged', ${w.clearing.id}, ${w.wallet.id}, 5, 'CNY', 'k', 'd', 'posted', ${T0}, ${T0})`.execute(db.db);
    tampered.add('tr_forged');
    const report = await verifyInvariants(db.db, { tenantId: w.tenantId });
    expect(report.violations.filter((v) => v.subject === 'tr_forged').map((v) => v.invariant)).toEqual(['double_entry', 'double_entry']);
  });

  it('audits every tenant when none is named, finding exactly the tampered rows', async () => {
    const w = await funded();
    await sql`update ledger_accounts set pending_debits_fen = 1 where id = ${w.wallet.id}`.execute(db.db);
    tampered.add(w.wallet.id);
    const report = await verifyInvariants(db.db);
    // Every test of this file funded one tenant of two accounts.
    expect(report.accountsChecked).toBe(2 * 5);
    expect(report.violations).toContainEqual(expect.objectContaining({ invariant: 'cached_totals', subject: w.wallet.id }));
    for (const v of report.violations) expect([...tampered, 'CNY']).toContain(v.subject);
  });
});

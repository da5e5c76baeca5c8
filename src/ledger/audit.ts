// Recomputes the ledger from its postings and checks the invariants against the database.
import { sql } from 'kysely';
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import type { PostingLayer, PostingSide, TransferState } from './ledger.table.ts';
import { int8, type Balance, type Totals } from './model.ts';
import { checkInvariants, type AccountAudit, type InvariantViolation, type TransferAudit } from './invariants.ts';
import { toBalance } from './policy.ts';

export interface InvariantReport {
  ok: boolean;
  violations: InvariantViolation[];
  accountsChecked: number;
  transfersChecked: number;
}

interface AccountAuditRow {
  id: string;
  currency: string;
  no_overdraft: boolean;
  posted_debits_fen: bigint;
  posted_credits_fen: bigint;
  pending_debits_fen: bigint;
  pending_credits_fen: bigint;
  c_pd: bigint;
  c_pc: bigint;
  c_hd: bigint;
  c_hc: bigint;
}

async function auditAccounts(db: Db | Tx, where: { tenantId?: string; accountId?: string }): Promise<AccountAudit[]> {
  const r = await sql<AccountAuditRow>`
    select a.id, a.currency, a.no_overdraft,
      a.posted_debits_fen, a.posted_credits_fen, a.pending_debits_fen, a.pending_credits_fen,
      coalesce(sum(p.delta_fen) filter (where p.layer = 'posted' and p.side = 'debit'), 0)::int8 as c_pd,
      coalesce(sum(p.delta_fen) filter (where p.layer = 'posted' and p.side = 'credit'), 0)::int8 as c_pc,
      coalesce(sum(p.delta_fen) filter (where p.layer = 'pending' and p.side = 'debit'), 0)::int8 as c_hd,
      coalesce(sum(p.delta_fen) filter (where p.layer = 'pending' and p.side = 'credit'), 0)::int8 as c_hc
    from ledger_accounts a
    left join ledger_postings p on p.account_id = a.id
    where true
      ${where.tenantId !== undefined ? sql`and a.tenant_id = ${where.tenantId}` : sql``}
      ${where.accountId !== undefined ? sql`and a.id = ${where.accountId}` : sql``}
    group by a.id`.execute(db);
  return r.rows.map((x) => ({
    accountId: x.id,
    currency: x.currency,
    noOverdraft: x.no_overdraft,
    cached: { postedDebitsFen: int8(x.posted_debits_fen), postedCreditsFen: int8(x.posted_credits_fen), pendingDebitsFen: int8(x.pending_debits_fen), pendingCreditsFen: int8(x.pending_credits_fen) },
    computed: { postedDebitsFen: int8(x.c_pd), postedCreditsFen: int8(x.c_pc), pendingDebitsFen: int8(x.c_hd), pendingCreditsFen: int8(x.c_hc) },
  }));
}

interface TransferAuditRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount_fen: bigint;
  state: TransferState;
  pending_id: string | null;
  booked_at: Date;
  hold_state: TransferState | null;
  hold_amount_fen: bigint | null;
  account_id: string | null;
  layer: PostingLayer | null;
  side: PostingSide | null;
  delta_fen: bigint | null;
  same_time: boolean | null;
}

async function auditTransfers(db: Db | Tx, tenantId: string | undefined): Promise<TransferAudit[]> {
  const r = await sql<TransferAuditRow>`
    select t.id, t.debit_account_id, t.credit_account_id, t.amount_fen, t.state, t.pending_id, t.booked_at,
      h.state as hold_state, h.amount_fen as hold_amount_fen,
      p.account_id, p.layer, p.side, sum(p.delta_fen)::int8 as delta_fen, bool_and(p.booked_at = t.booked_at) as same_time
    from ledger_transfers t
    left join ledger_transfers h on h.id = t.pending_id
    left join ledger_postings p on p.transfer_id = t.id
    where true ${tenantId !== undefined ? sql`and t.tenant_id = ${tenantId}` : sql``}
    group by t.id, h.state, h.amount_fen, p.account_id, p.layer, p.side`.execute(db);
  const byId = new Map<string, TransferAudit>();
  for (const x of r.rows) {
    let t = byId.get(x.id);
    if (!t) {
      t = {
        id: x.id,
        debitAccountId: x.debit_account_id,
        creditAccountId: x.credit_account_id,
        amountFen: int8(x.amount_fen),
        state: x.state,
        pendingId: x.pending_id,
        bookedAt: x.booked_at,
        hold: x.hold_state !== null && x.hold_amount_fen !== null ? { state: x.hold_state, amountFen: int8(x.hold_amount_fen) } : null,
        postings: [],
        postingsAtBookedAt: true,
      };
      byId.set(x.id, t);
    }
    if (x.account_id !== null && x.layer !== null && x.side !== null && x.delta_fen !== null) {
      t.postings.push({ accountId: x.account_id, layer: x.layer, side: x.side, deltaFen: int8(x.delta_fen) });
      if (x.same_time === false) t.postingsAtBookedAt = false;
    }
  }
  return [...byId.values()];
}

/**
 * Recomputes every account's totals from its postings (all tenants, or one) and checks all
 * invariants. Run it in a REPEATABLE READ transaction, or on a quiet database, for an exact
 * answer while transfers are being booked: two statements otherwise see two moments.
 */
export async function verifyInvariants(db: Db | Tx, opts: { tenantId?: string } = {}): Promise<InvariantReport> {
  const accounts = await auditAccounts(db, opts);
  const transfers = await auditTransfers(db, opts.tenantId);
  const violations = checkInvariants(accounts, transfers);
  return { ok: violations.length === 0, violations, accountsChecked: accounts.length, transfersChecked: transfers.length };
}

/** One account's balance from its cached totals and recomputed from its postings, in one statement. */
export async function recomputeBalance(
  db: Db | Tx,
  accountId: string,
  opts: { now?: Date } = {},
): Promise<{ cached: Balance; computed: Balance; matches: boolean; cachedTotals: Totals; computedTotals: Totals }> {
  const [a] = await auditAccounts(db, { accountId });
  if (!a) throw new AppError('not_found', `no ledger account ${accountId}`);
  const at = opts.now ?? new Date();
  const matches = (['postedDebitsFen', 'postedCreditsFen', 'pendingDebitsFen', 'pendingCreditsFen'] as const).every((k) => a.cached[k] === a.computed[k]);
  return { cached: toBalance(accountId, a.currency, a.cached, at), computed: toBalance(accountId, a.currency, a.computed, at), matches, cachedTotals: a.cached, computedTotals: a.computed };
}

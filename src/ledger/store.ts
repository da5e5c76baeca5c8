// The ledger's SQL for accounts, transfers and postings: reads, row locks, batched inserts, total updates.
import { sql } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import type { LedgerAccountKind } from './ledger.table.ts';
import { int8, toAccount, toTransfer, totalsOf, type LedgerAccount, type Totals, type Transfer } from './model.ts';
import type { PostingPlan } from './policy.ts';

export interface LockedAccount {
  account: LedgerAccount;
  totals: Totals;
}

export async function insertAccount(
  tx: Tx,
  row: { id: string; tenantId: string; code: string; name: string; currency: string; kind: LedgerAccountKind; noOverdraft: boolean; now: Date },
): Promise<LedgerAccount | undefined> {
  const inserted = await tx
    .insertInto('ledger_accounts')
    .values({
      id: row.id,
      tenant_id: row.tenantId,
      code: row.code,
      name: row.name,
      currency: row.currency,
      kind: row.kind,
      no_overdraft: row.noOverdraft,
      created_at: row.now,
      updated_at: row.now,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'code']).doNothing())
    .returning(['id', 'tenant_id', 'code', 'name', 'currency', 'kind', 'no_overdraft', 'created_at'])
    .executeTakeFirst();
  return inserted ? toAccount(inserted) : undefined;
}

const ACCOUNT_COLUMNS = ['id', 'tenant_id', 'code', 'name', 'currency', 'kind', 'no_overdraft', 'created_at'] as const;

export async function getAccount(db: Db | Tx, id: string): Promise<LedgerAccount | undefined> {
  const row = await db.selectFrom('ledger_accounts').select(ACCOUNT_COLUMNS).where('id', '=', id).executeTakeFirst();
  return row ? toAccount(row) : undefined;
}

export async function findAccountByCode(db: Db | Tx, tenantId: string, code: string): Promise<LedgerAccount | undefined> {
  const row = await db.selectFrom('ledger_accounts').select(ACCOUNT_COLUMNS).where('tenant_id', '=', tenantId).where('code', '=', code).executeTakeFirst();
  return row ? toAccount(row) : undefined;
}

/**
 * Locks the accounts FOR UPDATE in one statement, in id order: every writer takes its locks in the
 * same order, so two transfers over the same accounts queue instead of deadlocking, and the totals
 * read here cannot change until the transaction ends. Missing ids are simply absent from the map.
 */
export async function lockAccounts(tx: Tx, ids: readonly string[]): Promise<Map<string, LockedAccount>> {
  const out = new Map<string, LockedAccount>();
  if (ids.length === 0) return out;
  const rows = await tx
    .selectFrom('ledger_accounts')
    .selectAll()
    // One statement text for any number of ids: one prepared plan.
    .where(sql<boolean>`id = any(${[...new Set(ids)]}::text[])`)
    .orderBy('id')
    .forUpdate()
    .execute();
  for (const r of rows) out.set(r.id, { account: toAccount(r), totals: totalsOf(r) });
  return out;
}

/** The cached totals of one account: the single-row primary-key read behind every live balance. */
export async function readTotals(db: Db | Tx, id: string): Promise<{ currency: string; totals: Totals } | undefined> {
  const r = await db
    .selectFrom('ledger_accounts')
    .select(['currency', 'posted_debits_fen', 'posted_credits_fen', 'pending_debits_fen', 'pending_credits_fen'])
    .where('id', '=', id)
    .executeTakeFirst();
  return r ? { currency: r.currency, totals: totalsOf(r) } : undefined;
}

/** Cached totals of several accounts in one statement (missing ones are absent from the map). */
export async function readTotalsMany(db: Db | Tx, ids: readonly string[]): Promise<Map<string, { currency: string; totals: Totals }>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('ledger_accounts')
    .select(['id', 'currency', 'posted_debits_fen', 'posted_credits_fen', 'pending_debits_fen', 'pending_credits_fen'])
    .where(sql<boolean>`id = any(${[...new Set(ids)]}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.id, { currency: r.currency, totals: totalsOf(r) }]));
}

/** The totals as of `asOf`, summed from the postings booked up to then (index-only on the account's postings). */
export async function readTotalsAsOf(db: Db | Tx, id: string, asOf: Date): Promise<{ currency: string; totals: Totals } | undefined> {
  const r = await sql<{ currency: string; pd: bigint; pc: bigint; hd: bigint; hc: bigint }>`
    select a.currency,
      coalesce(sum(p.delta_fen) filter (where p.layer = 'posted' and p.side = 'debit'), 0)::int8 as pd,
      coalesce(sum(p.delta_fen) filter (where p.layer = 'posted' and p.side = 'credit'), 0)::int8 as pc,
      coalesce(sum(p.delta_fen) filter (where p.layer = 'pending' and p.side = 'debit'), 0)::int8 as hd,
      coalesce(sum(p.delta_fen) filter (where p.layer = 'pending' and p.side = 'credit'), 0)::int8 as hc
    from ledger_accounts a
    left join ledger_postings p on p.account_id = a.id and p.booked_at <= ${asOf}
    where a.id = ${id}
    group by a.id, a.currency`.execute(db);
  const row = r.rows[0];
  return row ? { currency: row.currency, totals: { postedDebitsFen: int8(row.pd), postedCreditsFen: int8(row.pc), pendingDebitsFen: int8(row.hd), pendingCreditsFen: int8(row.hc) } } : undefined;
}

export async function getTransfer(db: Db | Tx, id: string): Promise<Transfer | undefined> {
  const row = await db.selectFrom('ledger_transfers').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toTransfer(row) : undefined;
}

/** The transfers already booked under these idempotency ids of one tenant, by idempotency id. */
export async function findByIdempotency(db: Db | Tx, tenantId: string, idempotencyIds: readonly string[]): Promise<Map<string, Transfer>> {
  if (idempotencyIds.length === 0) return new Map();
  // One array parameter, whatever the count: no bind-parameter ceiling to chunk under.
  const rows = await db
    .selectFrom('ledger_transfers')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where(sql<boolean>`idempotency_id = any(${[...new Set(idempotencyIds)]}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.idempotency_id, toTransfer(r)]));
}

/** The transfer that resolved a hold (posted or voided it), if any. */
export async function findResolution(db: Db | Tx, pendingId: string): Promise<Transfer | undefined> {
  const row = await db.selectFrom('ledger_transfers').selectAll().where('pending_id', '=', pendingId).executeTakeFirst();
  return row ? toTransfer(row) : undefined;
}

/** The transfer that reversed `transferId`, if any. */
export async function findReversal(db: Db | Tx, transferId: string): Promise<Transfer | undefined> {
  const row = await db.selectFrom('ledger_transfers').selectAll().where('reverses_id', '=', transferId).executeTakeFirst();
  return row ? toTransfer(row) : undefined;
}

/**
 * Books fresh transfers in one statement: the transfer rows, then, only when every one of them was
 * inserted, their postings and each account's change to its cached totals. When one of the (tenant,
 * idempotency id) pairs is already booked as the statement sees the table, nothing is written and
 * `bookedBefore` says so (the caller planned without looking). A row another transaction books
 * meanwhile is skipped rather than failing (ON CONFLICT DO NOTHING waits for that transaction to
 * finish first), and then nothing else is written: the caller re-reads and compares the skipped
 * ones. Answers the ids actually inserted. Columns travel as one array each, so the statement text
 * (and its prepared plan) is the same for any count.
 */
export async function bookRows(
  tx: Tx,
  transfers: readonly Transfer[],
  postings: readonly PostingPlan[],
  changes: ReadonlyMap<string, Totals>,
  now: Date,
): Promise<{ inserted: Set<string>; bookedBefore: boolean }> {
  if (transfers.length === 0) return { inserted: new Set(), bookedBefore: false };
  const t = <T>(f: (x: Transfer) => T) => transfers.map(f);
  const p = <T>(f: (x: PostingPlan) => T) => postings.map(f);
  const totals = [...changes.entries()];
  const c = <T>(f: (x: [string, Totals]) => T) => totals.map(f);
  const r = await sql<{ booked_before: boolean; ids: string[] }>`
    with booked_before as (
      select exists (
        select 1 from ledger_transfers b
        join unnest(${t((x) => x.tenantId)}::text[], ${t((x) => x.idempotencyId)}::text[]) as k(tenant_id, idempotency_id)
          on b.tenant_id = k.tenant_id and b.idempotency_id = k.idempotency_id
      ) as yes
    ), t as (
      insert into ledger_transfers (id, tenant_id, idempotency_id, debit_account_id, credit_account_id, amount_fen, currency, kind, description,
                                    counterparty, state, pending_id, reverses_id, booked_at, created_at, metadata)
      select v.* from unnest(
        ${t((x) => x.id)}::text[], ${t((x) => x.tenantId)}::text[], ${t((x) => x.idempotencyId)}::text[], ${t((x) => x.debitAccountId)}::text[],
        ${t((x) => x.creditAccountId)}::text[], ${t((x) => x.amountFen.toString())}::int8[], ${t((x) => x.currency)}::text[], ${t((x) => x.kind)}::text[],
        ${t((x) => x.description)}::text[], ${t((x) => x.counterparty)}::text[], ${t((x) => x.state)}::text[], ${t((x) => x.pendingId)}::text[],
        ${t((x) => x.reversesId)}::text[], ${t((x) => x.bookedAt.toISOString())}::timestamptz[], ${t((x) => x.createdAt.toISOString())}::timestamptz[],
        ${t((x) => (x.metadata === null ? null : JSON.stringify(x.metadata)))}::jsonb[]) as v
      where not (select yes from booked_before)
      on conflict (tenant_id, idempotency_id) do nothing
      returning id
    ), complete as (
      select count(*) = ${transfers.length}::int as yes from t
    ), p as (
      insert into ledger_postings (transfer_id, account_id, layer, side, delta_fen, booked_at)
      select v.transfer_id, v.account_id, v.layer, v.side, v.delta_fen, v.booked_at from unnest(
        ${p((x) => x.transferId)}::text[], ${p((x) => x.accountId)}::text[], ${p((x) => x.layer)}::text[], ${p((x) => x.side)}::text[],
        ${p((x) => x.deltaFen.toString())}::int8[], ${p((x) => x.bookedAt.toISOString())}::timestamptz[]
      ) with ordinality as v(transfer_id, account_id, layer, side, delta_fen, booked_at, ord)
      where (select yes from complete)
      order by v.ord
    ), a as (
      update ledger_accounts a set
        posted_debits_fen = a.posted_debits_fen + v.pd,
        posted_credits_fen = a.posted_credits_fen + v.pc,
        pending_debits_fen = a.pending_debits_fen + v.hd,
        pending_credits_fen = a.pending_credits_fen + v.hc,
        updated_at = greatest(a.updated_at, ${now.toISOString()}::timestamptz)
      from unnest(
        ${c(([id]) => id)}::text[], ${c(([, x]) => x.postedDebitsFen.toString())}::int8[], ${c(([, x]) => x.postedCreditsFen.toString())}::int8[],
        ${c(([, x]) => x.pendingDebitsFen.toString())}::int8[], ${c(([, x]) => x.pendingCreditsFen.toString())}::int8[]
      ) as v(id, pd, pc, hd, hc)
      where a.id = v.id and (select yes from complete)
    )
    select (select yes from booked_before) as booked_before, array(select id from t) as ids`.execute(tx);
  const row = r.rows[0]!;
  return { inserted: new Set(row.ids), bookedBefore: row.booked_before };
}

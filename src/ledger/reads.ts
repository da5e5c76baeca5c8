// The ledger's read side: balances (live and as of a time) and an account's history with balance-after.
import { sql } from 'kysely';
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import type { PostingSide } from './ledger.table.ts';
import { int8, type Balance, type Entry, type HistoryOptions, type HistoryPage } from './model.ts';
import { encodeCursor, toBalance, validateHistoryOptions } from './policy.ts';
import { readTotals, readTotalsAsOf, readTotalsMany } from './store.ts';
import { readTotalsBatched } from './batch-read.ts';

/** Live balances of several accounts in one statement (inside a transaction: what it sees); unknown ids are absent. */
export async function getBalances(db: Db | Tx, accountIds: readonly string[], now: Date = new Date()): Promise<Map<string, Balance>> {
  const found = await readTotalsMany(db, accountIds);
  return new Map([...found].map(([id, f]) => [id, toBalance(id, f.currency, f.totals, now)]));
}

/**
 * The account's balance. Without `asOf` it is the cached totals (one primary-key row: the hot read
 * path, batched with concurrent reads outside a transaction); with `asOf`, the sum of the postings
 * booked up to then. `now` only stamps the answer.
 */
export async function getBalance(db: Db | Tx, accountId: string, opts: { asOf?: Date; now?: Date } = {}): Promise<Balance> {
  if (opts.asOf !== undefined && (!(opts.asOf instanceof Date) || Number.isNaN(opts.asOf.getTime()))) {
    throw AppError.validation([{ field: 'asOf', message: 'must be a valid Date' }]);
  }
  const found = opts.asOf
    ? await readTotalsAsOf(db, accountId, opts.asOf)
    : db.isTransaction
      ? await readTotals(db, accountId)
      : await readTotalsBatched(db as Db, accountId);
  if (!found) throw new AppError('not_found', `no ledger account ${accountId}`);
  return toBalance(accountId, found.currency, found.totals, opts.asOf ?? opts.now ?? new Date());
}

interface HistoryRow {
  seq: bigint;
  booked_at: Date;
  layer: 'posted' | 'pending';
  side: PostingSide;
  delta_fen: bigint;
  transfer_id: string;
  kind: string;
  description: string;
  counterparty: string | null;
  counter_account_id: string;
  balance_after: bigint | null;
}

/**
 * One page of the account's entries, newest first in (bookedAt, posting sequence) order, which no
 * later booking reorders. Entries are the posted postings plus the holds not yet resolved (a
 * resolved hold leaves the statement; its posting, if any, appears at the resolution's time).
 * `balanceAfterFen` is the posted balance after the entry in that order: the cached total less
 * every posted amount booked after it, computed in the same statement (one snapshot).
 */
export async function history(db: Db | Tx, accountId: string, opts: HistoryOptions): Promise<HistoryPage> {
  const q = validateHistoryOptions(opts);
  if (q.afterSeq !== undefined) {
    const at = await db.selectFrom('ledger_postings').select('seq').where('seq', '=', q.afterSeq).where('account_id', '=', accountId).executeTakeFirst();
    if (!at) throw AppError.validation([{ field: 'cursor', message: 'does not belong to this account' }]);
  }
  const filters = [
    q.from ? sql`and p.booked_at >= ${q.from}` : sql``,
    q.to ? sql`and p.booked_at <= ${q.to}` : sql``,
    q.direction ? sql`and p.side = ${q.direction}` : sql``,
    q.afterSeq !== undefined ? sql`and (p.booked_at, p.seq) < (select c.booked_at, c.seq from ledger_postings c where c.seq = ${q.afterSeq})` : sql``,
  ];
  const result = await sql<HistoryRow>`
    with page as (
      select p.seq, p.booked_at, p.layer, p.side, p.delta_fen, t.id as transfer_id, t.kind, t.description, t.counterparty,
        case when p.side = 'debit' then t.credit_account_id else t.debit_account_id end as counter_account_id
      from ledger_postings p
      join ledger_transfers t on t.id = p.transfer_id
      where p.account_id = ${accountId}
        and (p.layer = 'posted' or (p.delta_fen > 0 and not exists (select 1 from ledger_transfers r where r.pending_id = p.transfer_id)))
        ${sql.join(filters, sql` `)}
      order by p.booked_at desc, p.seq desc
      limit ${q.limit + 1}
    ),
    oldest as (
      select booked_at, seq from page where layer = 'posted' order by booked_at, seq limit 1
    ),
    running as (
      select w.seq,
        (a.posted_credits_fen - a.posted_debits_fen - coalesce(sum(case w.side when 'credit' then w.delta_fen else -w.delta_fen end)
          over (order by w.booked_at desc, w.seq desc rows between unbounded preceding and 1 preceding), 0))::int8 as balance_after
      from ledger_postings w
      cross join ledger_accounts a
      where a.id = ${accountId} and w.account_id = ${accountId} and w.layer = 'posted'
        and (w.booked_at, w.seq) >= (select booked_at, seq from oldest)
    )
    select page.*, running.balance_after
    from page left join running on running.seq = page.seq
    order by page.booked_at desc, page.seq desc`.execute(db);

  const rows = result.rows;
  const more = rows.length > q.limit;
  const pageRows = more ? rows.slice(0, q.limit) : rows;
  const items: Entry[] = pageRows.map((r) => ({
    transferId: r.transfer_id,
    bookedAt: r.booked_at,
    amountFen: r.side === 'credit' ? int8(r.delta_fen) : -int8(r.delta_fen),
    direction: r.side,
    kind: r.kind,
    description: r.description,
    counterparty: r.counterparty,
    counterAccountId: r.counter_account_id,
    state: r.layer,
    balanceAfterFen: r.layer === 'posted' && r.balance_after !== null ? int8(r.balance_after) : null,
  }));
  return { items, nextCursor: more ? encodeCursor(int8(pageRows[pageRows.length - 1]!.seq)) : null };
}

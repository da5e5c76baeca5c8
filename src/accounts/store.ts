// The accounts module's SQL: exchange rates to CNY and quick-balance queries.
import { sql, type Selectable } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import type { QuickQueryRow } from './accounts.table.ts';

export interface RateRow {
  currency: string;
  effectiveOn: string;
  rateScaled: bigint;
}

/** Rate rows a look-up may read: a page of statements spans at most the statement window. */
export const MAX_RATE_ROWS = 20_000;

/** Inserts or replaces the rate of a currency from a business day on. */
export async function upsertRate(db: Db | Tx, r: RateRow & { source: string; now: Date }): Promise<void> {
  await db
    .insertInto('accounts_exchange_rates')
    .values({ currency: r.currency, effective_on: r.effectiveOn, rate_scaled: r.rateScaled.toString(), source: r.source, recorded_at: r.now })
    .onConflict((oc) => oc.columns(['currency', 'effective_on']).doUpdateSet({ rate_scaled: r.rateScaled.toString(), source: r.source, recorded_at: r.now }))
    .execute();
}

/** Inserts rates that are not there yet (demo seeding leaves an operator's figures alone). */
export async function insertRatesIfAbsent(db: Db | Tx, rows: (RateRow & { source: string; now: Date })[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('accounts_exchange_rates')
    .values(rows.map((r) => ({ currency: r.currency, effective_on: r.effectiveOn, rate_scaled: r.rateScaled.toString(), source: r.source, recorded_at: r.now })))
    .onConflict((oc) => oc.columns(['currency', 'effective_on']).doNothing())
    .execute();
}

/**
 * For each currency: the rate in force on `fromDay` (the latest effective on or before it) and
 * every later one up to `toDay`, oldest first.
 */
export async function selectRates(db: Db | Tx, currencies: string[], fromDay: string, toDay: string): Promise<RateRow[]> {
  if (currencies.length === 0) return [];
  const r = await sql<{ currency: string; effective_on: string; rate_scaled: bigint | string }>`
    select currency, effective_on, rate_scaled from (
      select distinct on (currency) currency, effective_on, rate_scaled
      from accounts_exchange_rates
      where currency = any(${currencies}::text[]) and effective_on <= ${fromDay}
      order by currency, effective_on desc
    ) base
    union all
    select currency, effective_on, rate_scaled
    from accounts_exchange_rates
    where currency = any(${currencies}::text[]) and effective_on > ${fromDay} and effective_on <= ${toDay}
    order by currency, effective_on
    limit ${MAX_RATE_ROWS}`.execute(db);
  return r.rows.map((x) => ({ currency: x.currency, effectiveOn: x.effective_on, rateScaled: BigInt(x.rate_scaled) }));
}

// ---- quick-balance queries ------------------------------------------------------------------

export type QuickQuery = Selectable<QuickQueryRow>;

export async function insertQuickQuery(tx: Tx, q: QuickQuery): Promise<void> {
  await tx.insertInto('accounts_quick_queries').values(q).execute();
}

export async function getQuickQuery(db: Db | Tx, id: string): Promise<QuickQuery | undefined> {
  return db.selectFrom('accounts_quick_queries').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks the query answered; false when it already was (a replayed confirmation). */
export async function markQuickQueryAnswered(tx: Tx, id: string, now: Date): Promise<boolean> {
  const r = await tx.updateTable('accounts_quick_queries').set({ answered_at: now }).where('id', '=', id).where('answered_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Deletes up to `limit` queries created before `before`; returns how many. */
export async function pruneQuickQueries(db: Db, before: Date, limit: number): Promise<number> {
  const r = await db
    .deleteFrom('accounts_quick_queries')
    .where('id', 'in', (eb) => eb.selectFrom('accounts_quick_queries').select('id').where('created_at', '<', before).limit(limit))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

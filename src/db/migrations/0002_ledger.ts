// Ledger tables (owned by src/ledger): accounts with cached totals, immutable transfers, append-only postings.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('ledger_accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull().check(sql`currency ~ '^[A-Z]{3}$'`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('customer', 'internal', 'clearing', 'settlement', 'fee', 'suspense')`))
    .addColumn('no_overdraft', 'boolean', (c) => c.notNull())
    .addColumn('posted_debits_fen', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`posted_debits_fen >= 0`))
    .addColumn('posted_credits_fen', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`posted_credits_fen >= 0`))
    .addColumn('pending_debits_fen', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`pending_debits_fen >= 0`))
    .addColumn('pending_credits_fen', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`pending_credits_fen >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('ledger_accounts_tenant_code', ['tenant_id', 'code'])
    // Last line of defence behind the code's own check (see src/ledger/policy.ts).
    .addCheckConstraint(
      'ledger_accounts_no_overdraft',
      sql`not no_overdraft or posted_credits_fen - posted_debits_fen - pending_debits_fen >= 0`,
    )
    .execute();

  await db.schema
    .createTable('ledger_transfers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('idempotency_id', 'text', (c) => c.notNull())
    .addColumn('debit_account_id', 'text', (c) => c.notNull().references('ledger_accounts.id'))
    .addColumn('credit_account_id', 'text', (c) => c.notNull().references('ledger_accounts.id'))
    .addColumn('amount_fen', 'bigint', (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('counterparty', 'text')
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('posted', 'pending', 'voided')`))
    .addColumn('pending_id', 'text', (c) => c.references('ledger_transfers.id'))
    .addColumn('reverses_id', 'text', (c) => c.references('ledger_transfers.id'))
    .addColumn('booked_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('metadata', 'jsonb')
    .addUniqueConstraint('ledger_transfers_idempotency', ['tenant_id', 'idempotency_id'])
    .addCheckConstraint('ledger_transfers_two_accounts', sql`debit_account_id <> credit_account_id`)
    .addCheckConstraint('ledger_transfers_one_link', sql`pending_id is null or reverses_id is null`)
    .addCheckConstraint('ledger_transfers_voided_resolves', sql`state <> 'voided' or pending_id is not null`)
    .addCheckConstraint('ledger_transfers_hold_unlinked', sql`state <> 'pending' or (pending_id is null and reverses_id is null)`)
    .execute();
  // A hold is resolved at most once and a transfer reversed at most once, whatever the callers do.
  await sql`create unique index ledger_transfers_pending_once on ledger_transfers (pending_id) where pending_id is not null`.execute(db);
  await sql`create unique index ledger_transfers_reversed_once on ledger_transfers (reverses_id) where reverses_id is not null`.execute(db);

  await db.schema
    .createTable('ledger_postings')
    .addColumn('seq', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('transfer_id', 'text', (c) => c.notNull().references('ledger_transfers.id'))
    .addColumn('account_id', 'text', (c) => c.notNull().references('ledger_accounts.id'))
    .addColumn('layer', 'text', (c) => c.notNull().check(sql`layer in ('posted', 'pending')`))
    .addColumn('side', 'text', (c) => c.notNull().check(sql`side in ('debit', 'credit')`))
    .addColumn('delta_fen', 'bigint', (c) => c.notNull())
    .addColumn('booked_at', 'timestamptz', (c) => c.notNull())
    .addCheckConstraint('ledger_postings_delta', sql`delta_fen > 0 or (layer = 'pending' and delta_fen < 0)`)
    .execute();
  // History pages, balance-after and balance-as-of all walk one account's postings in booking order;
  // the included columns let the sums run as index-only scans.
  await sql`create index ledger_postings_account_booked on ledger_postings (account_id, booked_at, seq) include (layer, side, delta_fen)`.execute(db);
  await sql`create index ledger_postings_transfer on ledger_postings (transfer_id)`.execute(db);

  // Append-only: a correction is a new reversing transfer, never an edit. Works on PostgreSQL and PGlite.
  await sql`
    create function ledger_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception 'ledger % rows are append-only (% refused)', tg_table_name, tg_op using errcode = '55000';
    end
    $$`.execute(db);
  for (const table of ['ledger_transfers', 'ledger_postings']) {
    await sql`create trigger ${sql.raw(`${table}_append_only`)} before update or delete on ${sql.table(table)} for each row execute function ledger_refuse_change()`.execute(db);
    await sql`create trigger ${sql.raw(`${table}_no_truncate`)} before truncate on ${sql.table(table)} for each statement execute function ledger_refuse_change()`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ledger_postings').execute();
  await db.schema.dropTable('ledger_transfers').execute();
  await db.schema.dropTable('ledger_accounts').execute();
  await sql`drop function if exists ledger_refuse_change()`.execute(db);
}

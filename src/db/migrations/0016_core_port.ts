// core port tables: cached balances and synced transactions from an external core, catch-up cursors (owned by src/core port).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('core_balance_cache')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('card_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('current', 't1')`))
    .addColumn('currency', 'text', (c) => c.notNull().check(sql`currency ~ '^[A-Z]{3}$'`))
    .addColumn('available_fen', 'bigint', (c) => c.notNull())
    .addColumn('ledger_fen', 'bigint', (c) => c.notNull())
    .addColumn('as_of', 'timestamptz', (c) => c.notNull())
    .addColumn('fetched_at', 'timestamptz', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('read', 'catch_up')`))
    .addPrimaryKeyConstraint('core_balance_cache_pk', ['tenant_id', 'card_id', 'kind'])
    .execute();

  await db.schema
    .createTable('core_transactions')
    .addColumn('seq', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('card_id', 'text', (c) => c.notNull())
    .addColumn('core_txn_id', 'text', (c) => c.notNull())
    .addColumn('booked_at', 'timestamptz', (c) => c.notNull())
    .addColumn('amount_fen', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull().check(sql`currency ~ '^[A-Z]{3}$'`))
    .addColumn('direction', 'text', (c) => c.notNull().check(sql`direction in ('credit', 'debit')`))
    .addColumn('counterparty', 'text')
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('balance_after_fen', 'bigint')
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('read', 'catch_up')`))
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
    // The sign carries the direction (credit in, debit out), as on the contract.
    .addCheckConstraint('core_transactions_sign', sql`(direction = 'credit') = (amount_fen >= 0)`)
    .execute();
  // Once per core transaction: mirroring the same page twice, or a page and a catch-up, adds nothing.
  await sql`create unique index core_transactions_once on core_transactions (tenant_id, card_id, core_txn_id)`.execute(db);
  await sql`create index core_transactions_statement on core_transactions (tenant_id, card_id, booked_at desc, seq desc)`.execute(db);

  await db.schema
    .createTable('core_sync_cursors')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('card_id', 'text', (c) => c.notNull())
    .addColumn('dirty_since', 'timestamptz')
    .addColumn('synced_through', 'timestamptz')
    .addColumn('mirrored_at', 'timestamptz')
    .addColumn('last_caught_up_at', 'timestamptz')
    .addColumn('last_error', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('core_sync_cursors_pk', ['tenant_id', 'card_id'])
    .execute();
  await sql`create index core_sync_cursors_dirty on core_sync_cursors (dirty_since) where dirty_since is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('core_sync_cursors').execute();
  await db.schema.dropTable('core_transactions').execute();
  await db.schema.dropTable('core_balance_cache').execute();
}

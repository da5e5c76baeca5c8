// The built-in core banking's records (owned by src/core): customers and cards, C2 fields encrypted with blind indexes.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('core_customers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('name_bidx', 'text', (c) => c.notNull())
    .addColumn('name_masked', 'text', (c) => c.notNull())
    .addColumn('id_type', 'text', (c) => c.notNull())
    .addColumn('id_number_enc', 'text', (c) => c.notNull())
    .addColumn('id_number_bidx', 'text', (c) => c.notNull())
    .addColumn('id_number_masked', 'text', (c) => c.notNull())
    .addColumn('phone_enc', 'text', (c) => c.notNull())
    .addColumn('phone_bidx', 'text', (c) => c.notNull())
    .addColumn('phone_masked', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  // One customer record per identity document per institution.
  await sql`create unique index core_customers_document on core_customers (tenant_id, id_type, id_number_bidx)`.execute(db);
  await sql`create index core_customers_phone on core_customers (tenant_id, phone_bidx)`.execute(db);

  await db.schema
    .createTable('core_cards')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('customer_id', 'text', (c) => c.notNull().references('core_customers.id'))
    .addColumn('number_enc', 'text', (c) => c.notNull())
    .addColumn('number_bidx', 'text', (c) => c.notNull())
    .addColumn('number_masked', 'text', (c) => c.notNull())
    .addColumn('last4', 'text', (c) => c.notNull().check(sql`last4 ~ '^[0-9]{4}$'`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('debit', 'credit', 'citizen')`))
    .addColumn('currency', 'text', (c) => c.notNull().check(sql`currency ~ '^[A-Z]{3}$'`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'lost', 'frozen', 'cancelled', 'dormant')`))
    .addColumn('ledger_account_id', 'text', (c) => c.notNull().unique())
    .addColumn('payment_password_hash', 'text')
    .addColumn('payment_password_last4_hash', 'text')
    .addColumn('reserved_phone_enc', 'text', (c) => c.notNull())
    .addColumn('reserved_phone_bidx', 'text', (c) => c.notNull())
    .addColumn('reserved_phone_masked', 'text', (c) => c.notNull())
    .addColumn('citizen', 'jsonb')
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_activity_at', 'timestamptz', (c) => c.notNull())
    .addColumn('cross_border_lock', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('status_changed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  // A card number belongs to one card per institution; the blind index is how it is found.
  await sql`create unique index core_cards_number on core_cards (tenant_id, number_bidx)`.execute(db);
  await sql`create index core_cards_customer on core_cards (customer_id)`.execute(db);
  await sql`create index core_cards_reserved_phone on core_cards (tenant_id, reserved_phone_bidx)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('core_cards').execute();
  await db.schema.dropTable('core_customers').execute();
}

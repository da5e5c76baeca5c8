// accounts tables: exchange rates to CNY (integer-scaled, by effective business day) and quick-balance queries (owned by src/accounts).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('accounts_exchange_rates')
    .addColumn('currency', 'text', (c) => c.notNull().check(sql`currency ~ '^[A-Z]{3}$' and currency <> 'CNY'`))
    .addColumn('effective_on', 'text', (c) => c.notNull().check(sql`effective_on ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`))
    // CNY per unit × 10^8; above 10,000 CNY per unit is a typing error, not a rate.
    .addColumn('rate_scaled', 'bigint', (c) => c.notNull().check(sql`rate_scaled > 0 and rate_scaled <= 1000000000000`))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source ~ '^[a-z_]{1,20}$'`))
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('accounts_exchange_rates_pk', ['currency', 'effective_on'])
    .execute();

  await db.schema
    .createTable('accounts_quick_queries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('core_card_id', 'text', (c) => c.notNull())
    .addColumn('card_key', 'text', (c) => c.notNull().check(sql`card_key ~ '^[0-9a-f]{64}$'`))
    .addColumn('masked_number', 'text', (c) => c.notNull())
    .addColumn('otp_challenge_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('answered_at', 'timestamptz')
    .execute();
  await sql`create index accounts_quick_queries_created on accounts_quick_queries (created_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('accounts_quick_queries').execute();
  await db.schema.dropTable('accounts_exchange_rates').execute();
}

// channels tables: balance-change alert preferences, scan cursor and sent alerts, per-tenant channel settings, city-services authorisations, and the sandbox's social-security provider accounts (owned by src/channels and src/sandbox/social).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A user without a row gets alerts (the default); a row records the cardholder's choice.
  await db.schema
    .createTable('channels_alert_prefs')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('alerts_enabled', 'boolean', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('channels_alert_prefs_pk', ['tenant_id', 'user_id'])
    .execute();

  // One row per scanner (today one: 'ledger'): the highest ledger posting seq seen.
  await db.schema
    .createTable('channels_alert_cursor')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('last_seq', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();

  // One row per (bound card, transfer): what makes an alert once-only beyond the outbox's retention.
  await db.schema
    .createTable('channels_alerts')
    .addColumn('card_id', 'text', (c) => c.notNull())
    .addColumn('transfer_id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('queued', 'sent', 'skipped', 'failed')`))
    .addColumn('reason', 'text', (c) => c.check(sql`length(reason) <= 64`))
    .addColumn('msgid', 'text', (c) => c.check(sql`length(msgid) <= 32`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .addPrimaryKeyConstraint('channels_alerts_pk', ['card_id', 'transfer_id'])
    .execute();
  await sql`create index channels_alerts_age on channels_alerts (created_at)`.execute(db);

  // Per-tenant settings; a tenant without a row uses the defaults (src/channels/settings.ts).
  await db.schema
    .createTable('channels_settings')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
    .addColumn('alert_template_id', 'text', (c) => c.check(sql`alert_template_id ~ '^[A-Za-z0-9_-]{1,128}$'`))
    .addColumn('social_security_tenant_id', 'text', (c) => c.references('tenants.id'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();

  // City services: an authorisation (consent to share) that face + card elements then verify.
  await db.schema
    .createTable('channels_city_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('authorised', 'verified', 'failed')`))
    .addColumn('card_id', 'text')
    // The verified person's document (SM4, for the provider look-up while the session lasts).
    .addColumn('id_type', 'text')
    .addColumn('id_number_enc', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('verified_at', 'timestamptz')
    .execute();
  await sql`create index channels_city_sessions_user on channels_city_sessions (user_id, created_at)`.execute(db);

  // Sandbox only: social-security (社保) and housing-fund (公积金) accounts a provider tenant holds, by ID number.
  await db.schema
    .createTable('sandbox_social_accounts')
    .addColumn('provider_tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('id_number_bidx', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('pension', 'medical', 'housing_fund')`))
    .addColumn('account_masked', 'text', (c) => c.notNull().check(sql`length(account_masked) <= 32`))
    .addColumn('balance_fen', 'bigint', (c) => c.notNull())
    .addColumn('monthly_fen', 'bigint', (c) => c.notNull())
    .addColumn('paid_through', 'text', (c) => c.notNull().check(sql`paid_through ~ '^[0-9]{4}-[0-9]{2}$'`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'suspended', 'closed')`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('sandbox_social_accounts_pk', ['provider_tenant_id', 'id_number_bidx', 'kind'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['sandbox_social_accounts', 'channels_city_sessions', 'channels_settings', 'channels_alerts', 'channels_alert_cursor', 'channels_alert_prefs']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}

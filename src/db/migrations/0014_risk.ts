// risk tables: daily quotas, risk signals and subjects, usual locations, risk events, freezes, proof-of-work captchas (owned by src/risk).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('risk_quotas')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('bound_query', 'nobind_card', 'nobind_account')`))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull().check(sql`day ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`))
    .addColumn('used', 'integer', (c) => c.notNull().check(sql`used >= 0`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('risk_quotas_pk', ['tenant_id', 'kind', 'key', 'day'])
    .execute();
  await sql`create index risk_quotas_day on risk_quotas (day)`.execute(db);

  await db.schema
    .createTable('risk_signals')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text')
    .addColumn('card_id', 'text')
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('query', 'new_location', 'new_device', 'otp_failed', 'nobind_card_probe')`),
    )
    .addColumn('country', 'text')
    .addColumn('detail', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addCheckConstraint('risk_signals_subject', sql`user_id is not null or card_id is not null`)
    .execute();
  await sql`create index risk_signals_user on risk_signals (tenant_id, user_id, created_at) where user_id is not null`.execute(db);
  await sql`create index risk_signals_card on risk_signals (tenant_id, card_id, created_at) where card_id is not null`.execute(db);
  await sql`create index risk_signals_created on risk_signals (created_at)`.execute(db);

  await db.schema
    .createTable('risk_subjects')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('subject_kind', 'text', (c) => c.notNull().check(sql`subject_kind in ('user', 'card')`))
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('baseline_signal_id', 'bigint')
    .addColumn('last_signal_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('risk_subjects_pk', ['tenant_id', 'subject_kind', 'subject_id'])
    .execute();
  await sql`create index risk_subjects_last on risk_subjects (last_signal_at)`.execute(db);

  await db.schema
    .createTable('risk_locations')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('country', 'text', (c) => c.notNull().check(sql`country ~ '^[A-Z]{2}$'`))
    .addColumn('first_seen_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('risk_locations_pk', ['tenant_id', 'user_id', 'country'])
    .execute();
  await sql`create index risk_locations_last on risk_locations (last_seen_at)`.execute(db);

  await db.schema
    .createTable('risk_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('subject_kind', 'text', (c) => c.notNull().check(sql`subject_kind in ('user', 'card')`))
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('anomaly')`))
    .addColumn('score', 'integer', (c) => c.notNull())
    .addColumn('features', 'jsonb', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull().check(sql`action in ('freeze_user', 'freeze_card')`))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('open').check(sql`status in ('open', 'reviewed')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('reviewed_at', 'timestamptz')
    .addColumn('reviewed_by', 'text')
    .execute();
  await sql`create index risk_events_queue on risk_events (tenant_id, status, created_at desc, id)`.execute(db);

  await db.schema
    .createTable('risk_freezes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('subject_kind', 'text', (c) => c.notNull().check(sql`subject_kind in ('user', 'card')`))
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.references('risk_events.id'))
    .addColumn('starts_at', 'timestamptz', (c) => c.notNull())
    .addColumn('until', 'timestamptz', (c) => c.notNull())
    .addColumn('lifted_at', 'timestamptz')
    .addColumn('lifted_by', 'text')
    .addCheckConstraint('risk_freezes_order', sql`until >= starts_at`)
    .execute();
  await sql`create index risk_freezes_subject on risk_freezes (tenant_id, subject_kind, subject_id, until)`.execute(db);

  await db.schema
    .createTable('risk_captchas')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('difficulty_bits', 'integer', (c) => c.notNull().check(sql`difficulty_bits between 1 and 64`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await sql`create index risk_captchas_subject on risk_captchas (tenant_id, subject, expires_at)`.execute(db);
  await sql`create index risk_captchas_expires on risk_captchas (expires_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['risk_captchas', 'risk_freezes', 'risk_events', 'risk_locations', 'risk_subjects', 'risk_signals', 'risk_quotas']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}

// identity tables: WeChat users, sessions, devices, bindings, OTP challenges, step-ups (owned by src/identity), and the sandbox's face tokens.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('identity_users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('link_key', 'text', (c) => c.notNull())
    .addColumn('phone_enc', 'text')
    .addColumn('phone_bidx', 'text')
    .addColumn('phone_masked', 'text')
    .addColumn('phone_version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('phone_core_card_id', 'text')
    .addColumn('elderly_mode', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('voice', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  // One person per unionid (or per openid when the app gives none) per institution.
  await sql`create unique index identity_users_link on identity_users (tenant_id, link_key)`.execute(db);

  await db.schema
    .createTable('identity_wechat_ids')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('app_kind', 'text', (c) => c.notNull().check(sql`app_kind in ('oa', 'miniProgram')`))
    .addColumn('openid', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id'))
    .addColumn('unionid', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('identity_wechat_ids_pk', ['tenant_id', 'app_kind', 'openid'])
    .execute();
  await sql`create index identity_wechat_ids_openid on identity_wechat_ids (tenant_id, openid)`.execute(db);
  await sql`create index identity_wechat_ids_user on identity_wechat_ids (user_id)`.execute(db);

  await db.schema
    .createTable('identity_devices')
    .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id'))
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('first_seen_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .addColumn('activated_at', 'timestamptz')
    .addColumn('activated_phone_version', 'integer')
    .addColumn('face_verified_at', 'timestamptz')
    .addPrimaryKeyConstraint('identity_devices_pk', ['user_id', 'device_id'])
    .execute();

  await db.schema
    .createTable('identity_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique().check(sql`token_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id'))
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('app_kind', 'text', (c) => c.notNull().check(sql`app_kind in ('oa', 'miniProgram')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('absolute_expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await sql`create index identity_sessions_user on identity_sessions (user_id)`.execute(db);

  await db.schema
    .createTable('identity_otp_challenges')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('phone_bidx', 'text', (c) => c.notNull())
    .addColumn('phone_masked', 'text', (c) => c.notNull())
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('consumed_at', 'timestamptz')
    .addColumn('locked_at', 'timestamptz')
    .addColumn('cancelled_at', 'timestamptz')
    .execute();
  // The resend throttle looks up the latest challenge per phone and purpose.
  await sql`create index identity_otp_phone on identity_otp_challenges (tenant_id, phone_bidx, purpose, created_at)`.execute(db);

  await db.schema
    .createTable('identity_otp_failures')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('phone_bidx', 'text', (c) => c.notNull())
    .addColumn('challenge_id', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index identity_otp_failures_phone on identity_otp_failures (tenant_id, phone_bidx, at)`.execute(db);

  await db.schema
    .createTable('identity_cards')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id'))
    .addColumn('core_card_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('debit', 'credit', 'citizen')`))
    .addColumn('masked_number', 'text', (c) => c.notNull())
    .addColumn('last4', 'text', (c) => c.notNull().check(sql`last4 ~ '^[0-9]{4}$'`))
    .addColumn('is_default', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('bound_at', 'timestamptz', (c) => c.notNull())
    .addColumn('unbound_at', 'timestamptz')
    .addColumn('unbound_reason', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  // A card is bound once per user at a time, and a user has at most one default card.
  await sql`create unique index identity_cards_live on identity_cards (user_id, core_card_id) where unbound_at is null`.execute(db);
  await sql`create unique index identity_cards_default on identity_cards (user_id) where is_default and unbound_at is null`.execute(db);
  await sql`create index identity_cards_core on identity_cards (core_card_id) where unbound_at is null`.execute(db);
  await sql`create index identity_cards_sweep on identity_cards (tenant_id, id) where unbound_at is null`.execute(db);

  await db.schema
    .createTable('identity_bindings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id'))
    .addColumn('core_card_id', 'text', (c) => c.notNull())
    .addColumn('challenge_id', 'text', (c) => c.notNull().references('identity_otp_challenges.id'))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'confirmed', 'failed')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz')
    .addColumn('card_id', 'text', (c) => c.references('identity_cards.id'))
    .execute();
  await sql`create index identity_bindings_user on identity_bindings (user_id, created_at)`.execute(db);

  await db.schema
    .createTable('identity_step_ups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id'))
    .addColumn('session_id', 'text', (c) => c.notNull().references('identity_sessions.id'))
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('card_id', 'text')
    .addColumn('method', 'text', (c) => c.notNull().check(sql`method in ('payment_password_last4', 'sms_otp', 'face')`))
    .addColumn('otp_challenge_id', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'passed', 'locked', 'used')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('passed_at', 'timestamptz')
    .addColumn('used_at', 'timestamptz')
    .execute();
  await sql`create index identity_step_ups_session on identity_step_ups (session_id, purpose, created_at)`.execute(db);

  await db.schema
    .createTable('sandbox_face_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'sandbox_face_tokens',
    'identity_step_ups',
    'identity_bindings',
    'identity_cards',
    'identity_otp_failures',
    'identity_otp_challenges',
    'identity_sessions',
    'identity_devices',
    'identity_wechat_ids',
    'identity_users',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}

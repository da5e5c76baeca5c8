// Sandbox platform (owned by src/sandbox/wx): users, login codes, access tokens, message inbox, subscribe grants, SMS outbox.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sandbox_wx_users')
    .addColumn('unionid', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('oa_openid', 'text', (c) => c.notNull().unique())
    .addColumn('mini_openid', 'text', (c) => c.notNull().unique())
    .addColumn('subscribed', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('phone_enc', 'text')
    .addColumn('phone_bidx', 'text')
    .addColumn('phone_masked', 'text')
    .addColumn('mini_session_key_enc', 'text')
    .addColumn('last_interaction_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index sandbox_wx_users_tenant on sandbox_wx_users (tenant_id, created_at desc)`.execute(db);

  await db.schema
    .createTable('sandbox_wx_codes')
    .addColumn('code', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('wx_login', 'oauth', 'phone')`))
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('unionid', 'text', (c) => c.notNull().references('sandbox_wx_users.unionid'))
    .addColumn('scope', 'text')
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await sql`create index sandbox_wx_codes_user on sandbox_wx_codes (unionid, expires_at)`.execute(db);

  await db.schema
    .createTable('sandbox_wx_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('token_enc', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('oa', 'miniProgram', 'wecom')`))
    .addColumn('endpoint', 'text', (c) => c.notNull().check(sql`endpoint in ('classic', 'stable', 'wecom')`))
    .addColumn('forced', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('invalid_after', 'timestamptz')
    .addColumn('fetch_count', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await sql`create index sandbox_wx_tokens_app on sandbox_wx_tokens (app_id, endpoint, issued_at desc)`.execute(db);

  await db.schema
    .createTable('sandbox_wx_messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Insertion order: several messages can share one sent_at under a manual clock.
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('template', 'subscribe', 'custom')`))
    .addColumn('openid', 'text', (c) => c.notNull())
    .addColumn('template_id', 'text')
    .addColumn('msgid', 'text', (c) => c.notNull())
    .addColumn('content', 'jsonb', (c) => c.notNull())
    .addColumn('client_msg_id', 'text')
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index sandbox_wx_messages_openid on sandbox_wx_messages (openid, kind, seq desc)`.execute(db);

  await db.schema
    .createTable('sandbox_wx_subscribe_grants')
    .addColumn('unionid', 'text', (c) => c.notNull().references('sandbox_wx_users.unionid'))
    .addColumn('template_id', 'text', (c) => c.notNull())
    .addColumn('remaining', 'integer', (c) => c.notNull().check(sql`remaining >= 0`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('sandbox_wx_subscribe_grants_pk', ['unionid', 'template_id'])
    .execute();

  await db.schema
    .createTable('sandbox_wx_sms')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('phone_enc', 'text', (c) => c.notNull())
    .addColumn('phone_bidx', 'text', (c) => c.notNull())
    .addColumn('phone_masked', 'text', (c) => c.notNull())
    .addColumn('text_enc', 'text', (c) => c.notNull())
    .addColumn('code_enc', 'text')
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index sandbox_wx_sms_phone on sandbox_wx_sms (phone_bidx, seq desc)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('sandbox_wx_sms').execute();
  await db.schema.dropTable('sandbox_wx_subscribe_grants').execute();
  await db.schema.dropTable('sandbox_wx_messages').execute();
  await db.schema.dropTable('sandbox_wx_tokens').execute();
  await db.schema.dropTable('sandbox_wx_codes').execute();
  await db.schema.dropTable('sandbox_wx_users').execute();
}

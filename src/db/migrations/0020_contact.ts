// contact tables: bill refs, routing settings, agents and their tokens, contact requests (state ↔ bill), CS contexts, emergency service ids, funnel journeys (owned by src/contact).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A ref is an HMAC of the bill (src/contact/bill-ref.ts); the row says what it maps to.
  await db.schema
    .createTable('contact_bill_refs')
    .addColumn('ref', 'text', (c) => c.primaryKey().check(sql`ref ~ '^bill_[0-9a-z]{26}$'`))
    .addColumn('bill_key', 'text', (c) => c.notNull().check(sql`bill_key ~ '^[0-9a-f]{64}$'`))
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source_id', 'text', (c) => c.notNull().check(sql`length(source_id) <= 200`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index contact_bill_refs_age on contact_bill_refs (created_at)`.execute(db);

  await db.schema
    .createTable('contact_settings')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
    .addColumn('schedule', 'jsonb', (c) => c.notNull())
    .addColumn('avg_handle_minutes', 'integer', (c) => c.notNull().check(sql`avg_handle_minutes between 1 and 240`))
    .addColumn('notice_version', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('contact_agents')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().check(sql`user_id ~ '^[A-Za-z0-9_.@-]{1,64}$'`))
    .addColumn('display_name', 'text', (c) => c.notNull().check(sql`length(display_name) between 1 and 32`))
    .addColumn('title', 'text', (c) => c.notNull().check(sql`length(title) <= 32`))
    .addColumn('bill_kinds', 'jsonb', (c) => c.notNull())
    .addColumn('capacity', 'integer', (c) => c.notNull().check(sql`capacity between 1 and 1000`))
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('last_assigned_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('contact_agents_pk', ['tenant_id', 'user_id'])
    .execute();

  await db.schema
    .createTable('contact_agent_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique().check(sql`token_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn('label', 'text', (c) => c.notNull().check(sql`length(label) <= 64`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('contact_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('bill_kind', 'text', (c) => c.notNull())
    .addColumn('bill_key', 'text', (c) => c.notNull().check(sql`bill_key ~ '^[0-9a-f]{64}$'`))
    .addColumn('source_id', 'text', (c) => c.notNull().check(sql`length(source_id) <= 200`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('creating', 'pending', 'added', 'expired', 'queued', 'emergency', 'failed')`))
    // WeCom's limit is 30 characters; ours are 20 random letters (src/wechat/wecom/state.ts).
    .addColumn('state', 'text', (c) => c.check(sql`length(state) <= 30`))
    .addColumn('agent_user_id', 'text')
    .addColumn('config_id', 'text')
    .addColumn('qr_code', 'text')
    .addColumn('snapshot', 'jsonb')
    .addColumn('watermark', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('qr_shown_at', 'timestamptz')
    .addColumn('added_at', 'timestamptz')
    .addColumn('external_user_id', 'text')
    .addColumn('welcome_sent_at', 'timestamptz')
    .addColumn('remarked_at', 'timestamptz')
    .addColumn('way_deleted_at', 'timestamptz')
    .addColumn('emergency_id', 'text')
    .addColumn('closed_at', 'timestamptz')
    .execute();
  // The add event finds its request by state; a state names one request of the corp.
  await sql`create unique index contact_requests_state on contact_requests (tenant_id, state) where state is not null`.execute(db);
  // One live request per user and bill: a second tap answers the first.
  await sql`create unique index contact_requests_live on contact_requests (tenant_id, user_id, bill_key) where status in ('creating', 'pending', 'queued')`.execute(db);
  await sql`create index contact_requests_user on contact_requests (tenant_id, user_id, created_at)`.execute(db);
  await sql`create index contact_requests_agent on contact_requests (tenant_id, agent_user_id, status)`.execute(db);
  await sql`create index contact_requests_queue on contact_requests (tenant_id, created_at) where status = 'queued'`.execute(db);

  await db.schema
    .createTable('contact_contexts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('request_id', 'text', (c) => c.notNull().unique().references('contact_requests.id'))
    .addColumn('external_user_id', 'text', (c) => c.notNull())
    .addColumn('agent_user_id', 'text', (c) => c.notNull())
    .addColumn('snapshot', 'jsonb', (c) => c.notNull())
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('first_message_at', 'timestamptz')
    .execute();
  await sql`create index contact_contexts_lookup on contact_contexts (tenant_id, external_user_id, expires_at)`.execute(db);
  await sql`create index contact_contexts_agent on contact_contexts (tenant_id, agent_user_id, opened_at)`.execute(db);

  await db.schema
    .createTable('contact_emergencies')
    .addColumn('service_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull().unique().references('contact_requests.id'))
    .addColumn('snapshot', 'jsonb', (c) => c.notNull())
    .addColumn('last4_check', 'text')
    .addColumn('code_check', 'text')
    .addColumn('code_expires_at', 'timestamptz')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_at', 'timestamptz')
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('contact_journeys')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('bill_key', 'text', (c) => c.notNull())
    .addColumn('bill_kind', 'text', (c) => c.notNull())
    .addColumn('new_user', 'boolean', (c) => c.notNull())
    .addColumn('elderly', 'boolean', (c) => c.notNull())
    .addColumn('high_value', 'boolean')
    .addColumn('viewed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('tapped_at', 'timestamptz')
    .addColumn('qr_shown_at', 'timestamptz')
    .addColumn('added_at', 'timestamptz')
    .addColumn('first_message_at', 'timestamptz')
    .addPrimaryKeyConstraint('contact_journeys_pk', ['tenant_id', 'user_id', 'bill_key'])
    .execute();
  await sql`create index contact_journeys_window on contact_journeys (tenant_id, viewed_at)`.execute(db);
  await sql`create index contact_journeys_age on contact_journeys (viewed_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['contact_bill_refs', 'contact_journeys', 'contact_emergencies', 'contact_contexts', 'contact_requests', 'contact_agent_tokens', 'contact_agents', 'contact_settings']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}

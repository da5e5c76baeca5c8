// Sandbox WeCom platform (owned by src/sandbox/wecom): contact ways, simulated external contacts, welcome codes, event deliveries.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sandbox_wecom_contact_ways')
    .addColumn('config_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('type', 'smallint', (c) => c.notNull().check(sql`type in (1, 2)`))
    .addColumn('scene', 'smallint', (c) => c.notNull().check(sql`scene in (1, 2)`))
    .addColumn('user_ids', 'jsonb', (c) => c.notNull())
    .addColumn('remark', 'text')
    .addColumn('state', 'text', (c) => c.check(sql`length(state) <= 30`))
    .addColumn('skip_verify', 'boolean', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('deleted_at', 'timestamptz')
    .execute();
  await sql`create index sandbox_wecom_contact_ways_tenant on sandbox_wecom_contact_ways (tenant_id, created_at desc)`.execute(db);

  await db.schema
    .createTable('sandbox_wecom_external_contacts')
    .addColumn('external_user_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('config_id', 'text', (c) => c.references('sandbox_wecom_contact_ways.config_id'))
    .addColumn('state', 'text')
    .addColumn('added_at', 'timestamptz', (c) => c.notNull())
    .addColumn('remark', 'text')
    .addColumn('description', 'text')
    .addColumn('remarked_at', 'timestamptz')
    .execute();
  await sql`create index sandbox_wecom_external_contacts_tenant on sandbox_wecom_external_contacts (tenant_id, added_at desc)`.execute(db);

  await db.schema
    .createTable('sandbox_wecom_welcome_codes')
    .addColumn('code', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('external_user_id', 'text', (c) => c.notNull().references('sandbox_wecom_external_contacts.external_user_id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('content', 'text')
    .execute();
  await sql`create index sandbox_wecom_welcome_codes_contact on sandbox_wecom_welcome_codes (external_user_id)`.execute(db);

  await db.schema
    .createTable('sandbox_wecom_event_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    // The decrypted event XML; encrypted and signed afresh for each attempt, as WeCom does.
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('sandbox_wecom_event_deliveries').execute();
  await db.schema.dropTable('sandbox_wecom_welcome_codes').execute();
  await db.schema.dropTable('sandbox_wecom_external_contacts').execute();
  await db.schema.dropTable('sandbox_wecom_contact_ways').execute();
}

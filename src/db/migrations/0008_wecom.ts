// WeCom callbacks (owned by src/wechat/wecom): one row per received message or event, the de-duplication record.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('wecom_events')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    // `msgid:<MsgId>` for messages, `sha256:<hex>` of the decrypted fields for events (no MsgId).
    .addColumn('dedupe_key', 'text', (c) => c.notNull().check(sql`length(dedupe_key) <= 100`))
    .addColumn('msg_type', 'text', (c) => c.notNull())
    .addColumn('event', 'text')
    .addColumn('change_type', 'text')
    .addColumn('user_id', 'text')
    .addColumn('external_user_id', 'text')
    .addColumn('state', 'text')
    .addColumn('welcome_code', 'text')
    .addColumn('create_time', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('wecom_events_pk', ['tenant_id', 'dedupe_key'])
    .execute();
  await sql`create index wecom_events_recent on wecom_events (tenant_id, received_at desc)`.execute(db);
  await sql`create index wecom_events_received on wecom_events (received_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('wecom_events').execute();
}

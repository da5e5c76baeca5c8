// WeChat Pay v3 client state (owned by src/wechat/pay): the notification de-duplication record and extra platform keys.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('pay_notifications')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('notification_id', 'text', (c) => c.notNull().check(sql`length(notification_id) between 1 and 128`))
    .addColumn('subject_key', 'text', (c) => c.notNull().check(sql`length(subject_key) <= 200`))
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('original_type', 'text', (c) => c.notNull().check(sql`original_type in ('transaction', 'refund')`))
    .addColumn('mchid', 'text', (c) => c.notNull())
    .addColumn('out_trade_no', 'text', (c) => c.notNull())
    .addColumn('transaction_id', 'text')
    .addColumn('out_refund_no', 'text')
    .addColumn('refund_id', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('amount_fen', 'bigint', (c) => c.notNull().check(sql`amount_fen >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('pay_notifications_pk', ['tenant_id', 'notification_id'])
    .addUniqueConstraint('pay_notifications_subject', ['tenant_id', 'subject_key'])
    .execute();
  await sql`create index pay_notifications_order on pay_notifications (tenant_id, out_trade_no)`.execute(db);
  await sql`create index pay_notifications_received on pay_notifications (received_at)`.execute(db);

  await db.schema
    .createTable('pay_platform_keys')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('serial_no', 'text', (c) => c.notNull().check(sql`length(serial_no) <= 64`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('public_key', 'certificate')`))
    .addColumn('pem', 'text', (c) => c.notNull().check(sql`length(pem) <= 8192`))
    .addColumn('not_before', 'timestamptz')
    .addColumn('not_after', 'timestamptz')
    .addColumn('added_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('pay_platform_keys_pk', ['tenant_id', 'serial_no'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('pay_platform_keys').execute();
  await db.schema.dropTable('pay_notifications').execute();
}

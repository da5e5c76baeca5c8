// Sandbox Pay v3 platform (owned by src/sandbox/pay): orders, refunds, notifications and delivery attempts, fault switches, rotated platform keys, bill files.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sandbox_pay_orders')
    .addColumn('prepay_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('mchid', 'text', (c) => c.notNull())
    .addColumn('appid', 'text', (c) => c.notNull())
    .addColumn('out_trade_no', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('attach', 'text')
    .addColumn('notify_url', 'text', (c) => c.notNull())
    .addColumn('amount_total', 'bigint', (c) => c.notNull().check(sql`amount_total > 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('payer_openid', 'text', (c) => c.notNull())
    .addColumn('time_expire', 'timestamptz')
    .addColumn('request_digest', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('NOTPAY', 'SUCCESS', 'REFUND', 'CLOSED')`))
    .addColumn('transaction_id', 'text', (c) => c.unique())
    .addColumn('bank_type', 'text')
    .addColumn('success_time', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('closed_at', 'timestamptz')
    .addUniqueConstraint('sandbox_pay_orders_out_trade_no', ['mchid', 'out_trade_no'])
    .execute();
  await sql`create index sandbox_pay_orders_success on sandbox_pay_orders (mchid, success_time)`.execute(db);

  await db.schema
    .createTable('sandbox_pay_refunds')
    .addColumn('refund_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('mchid', 'text', (c) => c.notNull())
    .addColumn('out_refund_no', 'text', (c) => c.notNull())
    .addColumn('prepay_id', 'text', (c) => c.notNull().references('sandbox_pay_orders.prepay_id'))
    .addColumn('out_trade_no', 'text', (c) => c.notNull())
    .addColumn('transaction_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('notify_url', 'text')
    .addColumn('amount_refund', 'bigint', (c) => c.notNull().check(sql`amount_refund > 0`))
    .addColumn('amount_total', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('PROCESSING', 'SUCCESS', 'ABNORMAL', 'CLOSED')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('success_time', 'timestamptz')
    .addUniqueConstraint('sandbox_pay_refunds_out_refund_no', ['mchid', 'out_refund_no'])
    .execute();
  await sql`create index sandbox_pay_refunds_order on sandbox_pay_refunds (prepay_id)`.execute(db);
  await sql`create index sandbox_pay_refunds_success on sandbox_pay_refunds (mchid, success_time)`.execute(db);

  await db.schema
    .createTable('sandbox_pay_notifications')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('transaction', 'refund')`))
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('notify_url', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .execute();
  await sql`create index sandbox_pay_notifications_tenant on sandbox_pay_notifications (tenant_id, created_at desc)`.execute(db);

  await db.schema
    .createTable('sandbox_pay_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('notification_id', 'text', (c) => c.notNull().references('sandbox_pay_notifications.id'))
    .addColumn('attempted_at', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'integer')
    .addColumn('error', 'text')
    .addColumn('duplicate', 'boolean', (c) => c.notNull())
    .execute();
  await sql`create index sandbox_pay_deliveries_notification on sandbox_pay_deliveries (notification_id, attempted_at)`.execute(db);

  await db.schema
    .createTable('sandbox_pay_faults')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
    .addColumn('api_fail_status', 'integer')
    .addColumn('api_fail_remaining', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('api_delay_ms', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('notify_duplicates', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('probe_remaining', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('timestamp_skew_s', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('refund_outcome', 'text', (c) => c.notNull().defaultTo('SUCCESS').check(sql`refund_outcome in ('SUCCESS', 'ABNORMAL', 'CLOSED')`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sandbox_pay_platform_keys')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('serial_no', 'text', (c) => c.notNull())
    .addColumn('public_key_pem', 'text', (c) => c.notNull())
    .addColumn('private_key_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('sandbox_pay_platform_keys_pk', ['tenant_id', 'serial_no'])
    .execute();

  await db.schema
    .createTable('sandbox_pay_bills')
    .addColumn('token', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('content', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['sandbox_pay_bills', 'sandbox_pay_platform_keys', 'sandbox_pay_faults', 'sandbox_pay_deliveries', 'sandbox_pay_notifications', 'sandbox_pay_refunds', 'sandbox_pay_orders']) {
    await db.schema.dropTable(t).execute();
  }
}

// The sandbox Pay platform's SQL: orders, refunds, notifications and attempts, fault switches, rotated keys, bill files.
import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Db, Tx } from '../../db/tx.ts';
import type {
  SandboxPayDeliveryRow,
  SandboxPayFaultsRow,
  SandboxPayNotificationRow,
  SandboxPayOrderRow,
  SandboxPayPlatformKeyRow,
  SandboxPayRefundRow,
} from './sandbox-pay.table.ts';

export type SandboxOrder = Selectable<SandboxPayOrderRow>;
export type SandboxRefund = Selectable<SandboxPayRefundRow>;
export type SandboxNotification = Selectable<SandboxPayNotificationRow>;
export type SandboxDelivery = Selectable<SandboxPayDeliveryRow>;
export type SandboxFaults = Selectable<SandboxPayFaultsRow>;

// Orders ---------------------------------------------------------------------------------------

export async function insertOrder(tx: Tx, row: Insertable<SandboxPayOrderRow>): Promise<void> {
  await tx.insertInto('sandbox_pay_orders').values(row).execute();
}

export async function orderByOutTradeNo(db: Db | Tx, mchid: string, outTradeNo: string, lock = false): Promise<SandboxOrder | undefined> {
  let q = db.selectFrom('sandbox_pay_orders').selectAll().where('mchid', '=', mchid).where('out_trade_no', '=', outTradeNo);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function orderByTransactionId(db: Db | Tx, mchid: string, transactionId: string): Promise<SandboxOrder | undefined> {
  return db.selectFrom('sandbox_pay_orders').selectAll().where('mchid', '=', mchid).where('transaction_id', '=', transactionId).executeTakeFirst();
}

export async function orderByPrepayId(db: Db | Tx, prepayId: string, lock = false): Promise<SandboxOrder | undefined> {
  let q = db.selectFrom('sandbox_pay_orders').selectAll().where('prepay_id', '=', prepayId);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function updateOrder(tx: Tx, prepayId: string, set: Updateable<SandboxPayOrderRow>): Promise<void> {
  await tx.updateTable('sandbox_pay_orders').set(set).where('prepay_id', '=', prepayId).execute();
}

export async function ordersPaidBetween(db: Db | Tx, mchid: string, from: Date, to: Date, limit: number): Promise<SandboxOrder[]> {
  return db
    .selectFrom('sandbox_pay_orders')
    .selectAll()
    .where('mchid', '=', mchid)
    .where('success_time', '>=', from)
    .where('success_time', '<', to)
    .orderBy('success_time')
    .orderBy('prepay_id')
    .limit(limit)
    .execute();
}

// Refunds --------------------------------------------------------------------------------------

export async function insertRefund(tx: Tx, row: Insertable<SandboxPayRefundRow>): Promise<void> {
  await tx.insertInto('sandbox_pay_refunds').values(row).execute();
}

export async function refundByOutRefundNo(db: Db | Tx, mchid: string, outRefundNo: string): Promise<SandboxRefund | undefined> {
  return db.selectFrom('sandbox_pay_refunds').selectAll().where('mchid', '=', mchid).where('out_refund_no', '=', outRefundNo).executeTakeFirst();
}

export async function refundById(db: Db | Tx, refundId: string, lock = false): Promise<SandboxRefund | undefined> {
  let q = db.selectFrom('sandbox_pay_refunds').selectAll().where('refund_id', '=', refundId);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** Fen already refunded or being refunded (anything but CLOSED / ABNORMAL) on the order. */
export async function refundedFen(tx: Tx, prepayId: string): Promise<bigint> {
  const row = await tx
    .selectFrom('sandbox_pay_refunds')
    .select(sql<string>`coalesce(sum(amount_refund), 0)`.as('fen'))
    .where('prepay_id', '=', prepayId)
    .where('status', 'in', ['PROCESSING', 'SUCCESS'])
    .executeTakeFirstOrThrow();
  return BigInt(row.fen);
}

export async function updateRefund(tx: Tx, refundId: string, set: Updateable<SandboxPayRefundRow>): Promise<void> {
  await tx.updateTable('sandbox_pay_refunds').set(set).where('refund_id', '=', refundId).execute();
}

export async function refundsSucceededBetween(db: Db | Tx, mchid: string, from: Date, to: Date, limit: number): Promise<SandboxRefund[]> {
  return db
    .selectFrom('sandbox_pay_refunds')
    .selectAll()
    .where('mchid', '=', mchid)
    .where('status', '=', 'SUCCESS')
    .where('success_time', '>=', from)
    .where('success_time', '<', to)
    .orderBy('success_time')
    .orderBy('refund_id')
    .limit(limit)
    .execute();
}

// Notifications --------------------------------------------------------------------------------

export async function insertNotification(tx: Tx, row: Insertable<SandboxPayNotificationRow>): Promise<void> {
  await tx.insertInto('sandbox_pay_notifications').values(row).execute();
}

export async function findNotification(db: Db | Tx, id: string): Promise<SandboxNotification | undefined> {
  return db.selectFrom('sandbox_pay_notifications').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function notificationsOf(db: Db | Tx, tenantId: string, subject: string | undefined, limit: number): Promise<SandboxNotification[]> {
  let q = db.selectFrom('sandbox_pay_notifications').selectAll().where('tenant_id', '=', tenantId);
  if (subject !== undefined) q = q.where('subject', '=', subject);
  return q.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
}

/** Records one attempt (or copy) and its outcome; a success marks the notification delivered. */
export async function recordDelivery(db: Db, row: Insertable<SandboxPayDeliveryRow>, delivered: boolean): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('sandbox_pay_deliveries').values(row).execute();
    await tx
      .updateTable('sandbox_pay_notifications')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        last_status: row.status ?? null,
        last_error: row.error ?? null,
        ...(delivered ? { delivered_at: sql<Date>`coalesce(delivered_at, ${row.attempted_at})` } : {}),
      }))
      .where('id', '=', row.notification_id)
      .execute();
  });
}

export async function deliveriesOf(db: Db | Tx, notificationIds: string[], limit: number): Promise<SandboxDelivery[]> {
  if (notificationIds.length === 0) return [];
  return db.selectFrom('sandbox_pay_deliveries').selectAll().where('notification_id', 'in', notificationIds).orderBy('attempted_at').orderBy('id').limit(limit).execute();
}

// Faults ---------------------------------------------------------------------------------------

export async function faultsOf(db: Db | Tx, tenantId: string): Promise<SandboxFaults | undefined> {
  return db.selectFrom('sandbox_pay_faults').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
}

export async function upsertFaults(tx: Tx, row: Insertable<SandboxPayFaultsRow>): Promise<void> {
  const { tenant_id: _t, ...rest } = row;
  await tx
    .insertInto('sandbox_pay_faults')
    .values(row)
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet(rest))
    .execute();
}

/** Takes one use of a counted fault; true when one was left. Atomic across instances. */
export async function takeFault(db: Db | Tx, tenantId: string, column: 'api_fail_remaining' | 'probe_remaining'): Promise<boolean> {
  const row = await db
    .updateTable('sandbox_pay_faults')
    .set((eb) => ({ [column]: eb(column, '-', 1) }))
    .where('tenant_id', '=', tenantId)
    .where(column, '>', 0)
    .returning('tenant_id')
    .executeTakeFirst();
  return row !== undefined;
}

// Rotated platform keys ------------------------------------------------------------------------

export async function newestPlatformKey(db: Db | Tx, tenantId: string): Promise<Selectable<SandboxPayPlatformKeyRow> | undefined> {
  return db.selectFrom('sandbox_pay_platform_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').orderBy('serial_no', 'desc').limit(1).executeTakeFirst();
}

export async function insertPlatformKey(tx: Tx, row: Insertable<SandboxPayPlatformKeyRow>): Promise<void> {
  await tx.insertInto('sandbox_pay_platform_keys').values(row).execute();
}

// Bill files -----------------------------------------------------------------------------------

export async function insertBill(db: Db, row: { token: string; tenant_id: string; content: Buffer; created_at: Date; expires_at: Date }): Promise<void> {
  await db.deleteFrom('sandbox_pay_bills').where('expires_at', '<', row.created_at).execute();
  await db.insertInto('sandbox_pay_bills').values(row).execute();
}

export async function findBill(db: Db | Tx, token: string): Promise<{ tenant_id: string; content: Buffer; expires_at: Date } | undefined> {
  const row = await db.selectFrom('sandbox_pay_bills').select(['tenant_id', 'content', 'expires_at']).where('token', '=', token).executeTakeFirst();
  return row ? { ...row, content: Buffer.from(row.content) } : undefined;
}

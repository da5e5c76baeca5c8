// The Pay module's SQL: the notification de-duplication record and the tenant's extra platform keys.
import { sql, type Insertable, type Selectable } from 'kysely';
import type { Db, Tx } from '../../db/tx.ts';
import type { PayNotificationRow, PayPlatformKeyRow } from '../pay.table.ts';

export type StoredPayNotification = Selectable<PayNotificationRow>;
export type StoredPlatformKey = Selectable<PayPlatformKeyRow>;

/**
 * Records the notifications whose id and state change are not recorded yet; returns the keys of
 * those this call recorded. A concurrent delivery of the same notification waits on the unique key
 * until the first transaction ends, then sees the row (first committed: skipped) or records it
 * itself (first rolled back). `on conflict do nothing` without a target covers both unique keys.
 * The caller leaves out repeats within `rows`.
 */
export async function recordNotificationsOnce(tx: Tx, rows: Insertable<PayNotificationRow>[]): Promise<{ tenantId: string; notificationId: string }[]> {
  if (rows.length === 0) return [];
  // One array per column: one statement text (one prepared plan) for any batch size.
  const c = <T>(f: (r: Insertable<PayNotificationRow>) => T) => rows.map(f);
  const inserted = await sql<{ tenant_id: string; notification_id: string }>`
    insert into pay_notifications (tenant_id, notification_id, subject_key, event_type, original_type, mchid, out_trade_no, transaction_id,
                                   out_refund_no, refund_id, state, amount_fen, created_at, received_at)
    select * from unnest(
      ${c((r) => r.tenant_id)}::text[], ${c((r) => r.notification_id)}::text[], ${c((r) => r.subject_key)}::text[], ${c((r) => r.event_type)}::text[],
      ${c((r) => r.original_type)}::text[], ${c((r) => r.mchid)}::text[], ${c((r) => r.out_trade_no)}::text[], ${c((r) => r.transaction_id ?? null)}::text[],
      ${c((r) => r.out_refund_no ?? null)}::text[], ${c((r) => r.refund_id ?? null)}::text[], ${c((r) => r.state)}::text[],
      ${c((r) => r.amount_fen.toString())}::int8[], ${c((r) => r.created_at.toISOString())}::timestamptz[], ${c((r) => r.received_at.toISOString())}::timestamptz[])
    on conflict do nothing
    returning tenant_id, notification_id`.execute(tx);
  return inserted.rows.map((r) => ({ tenantId: r.tenant_id, notificationId: r.notification_id }));
}

export async function notificationsOf(db: Db | Tx, tenantId: string, outTradeNo: string, limit: number): Promise<StoredPayNotification[]> {
  return db
    .selectFrom('pay_notifications')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('out_trade_no', '=', outTradeNo)
    .orderBy('received_at', 'asc')
    .limit(limit)
    .execute();
}

/** Deletes up to `limit` records received before `before`; returns how many went. */
export async function pruneNotifications(db: Db, before: Date, limit: number): Promise<number> {
  const res = await sql`
    delete from pay_notifications
    where (tenant_id, notification_id) in (select tenant_id, notification_id from pay_notifications where received_at < ${before} limit ${limit})`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

export async function platformKeysOf(db: Db | Tx, tenantId: string, limit: number): Promise<StoredPlatformKey[]> {
  return db.selectFrom('pay_platform_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('added_at', 'desc').limit(limit).execute();
}

/** Adds or replaces the key of that serial. */
export async function upsertPlatformKey(tx: Tx, row: Insertable<PayPlatformKeyRow>): Promise<void> {
  await tx
    .insertInto('pay_platform_keys')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'serial_no']).doUpdateSet((eb) => ({
        kind: eb.ref('excluded.kind'),
        pem: eb.ref('excluded.pem'),
        not_before: eb.ref('excluded.not_before'),
        not_after: eb.ref('excluded.not_after'),
      })),
    )
    .execute();
}

export async function deletePlatformKey(tx: Tx, tenantId: string, serialNo: string): Promise<boolean> {
  const res = await tx.deleteFrom('pay_platform_keys').where('tenant_id', '=', tenantId).where('serial_no', '=', serialNo).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function countPlatformKeys(tx: Tx, tenantId: string): Promise<number> {
  const row = await tx.selectFrom('pay_platform_keys').select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
  return Number(row.n);
}

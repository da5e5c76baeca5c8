// Row types of the tables of migration 0007_pay: received WeChat Pay notifications (the de-duplication record) and extra platform keys (owned by src/wechat/pay).
import type { ColumnType } from 'kysely';

/**
 * One processed notification, written in the transaction that runs its handler: a second delivery
 * of the same notification id, or another notification of the same order/refund state, finds it
 * and changes nothing.
 */
export interface PayNotificationRow {
  tenant_id: string;
  /** The envelope's `id` (e.g. `EV-2018022511223320873`). */
  notification_id: string;
  /** `trade:<out_trade_no>:<trade_state>` or `refund:<out_refund_no>:<refund_status>`: one state change once. */
  subject_key: string;
  event_type: string;
  /** `transaction` or `refund`. */
  original_type: string;
  mchid: string;
  out_trade_no: string;
  transaction_id: string | null;
  out_refund_no: string | null;
  refund_id: string | null;
  /** trade_state or refund_status. */
  state: string;
  /** amount.total (transactions) or amount.refund (refunds), integer fen. */
  amount_fen: ColumnType<bigint, bigint | number, never>;
  /** The envelope's create_time. */
  created_at: ColumnType<Date, Date, never>;
  received_at: ColumnType<Date, Date, never>;
}

/** A platform key kept beside the tenant's configured one: a rotated-in public key or a downloaded certificate. */
export interface PayPlatformKeyRow {
  tenant_id: string;
  /** `PUB_KEY_ID_…` or the certificate serial (uppercase hex). */
  serial_no: string;
  kind: 'public_key' | 'certificate';
  /** The PUBLIC KEY or CERTIFICATE PEM (public material). */
  pem: string;
  not_before: Date | null;
  not_after: Date | null;
  added_at: ColumnType<Date, Date, never>;
}

export interface PayTables {
  pay_notifications: PayNotificationRow;
  pay_platform_keys: PayPlatformKeyRow;
}

// Row types of the tables of migration 0010_sandbox_pay: the sandbox Pay v3 platform's orders, refunds, notifications and their delivery attempts, fault switches, rotated platform keys and bill files.
import type { ColumnType } from 'kysely';

export interface SandboxPayOrderRow {
  /** `wx…`: the platform's id of the order, valid 2 hours for the cashier. */
  prepay_id: string;
  tenant_id: string;
  mchid: string;
  appid: string;
  out_trade_no: string;
  description: string;
  attach: string | null;
  notify_url: string;
  amount_total: ColumnType<bigint, bigint | number, never>;
  currency: string;
  /** The payer's openid in `appid` (a simulated user). */
  payer_openid: string;
  time_expire: Date | null;
  /** sha256 of the order's parameters: the same out_trade_no with other parameters is refused. */
  request_digest: string;
  /** NOTPAY → SUCCESS → REFUND, or NOTPAY → CLOSED. */
  state: 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED';
  transaction_id: string | null;
  bank_type: string | null;
  success_time: Date | null;
  created_at: ColumnType<Date, Date, never>;
  closed_at: Date | null;
}

export interface SandboxPayRefundRow {
  refund_id: string;
  tenant_id: string;
  mchid: string;
  out_refund_no: string;
  prepay_id: string;
  out_trade_no: string;
  transaction_id: string;
  reason: string | null;
  notify_url: string | null;
  amount_refund: ColumnType<bigint, bigint | number, never>;
  amount_total: ColumnType<bigint, bigint | number, never>;
  status: 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED';
  created_at: ColumnType<Date, Date, never>;
  success_time: Date | null;
}

/** One notification the platform owes the merchant: its envelope is fixed; each attempt is signed afresh. */
export interface SandboxPayNotificationRow {
  /** The envelope's id, the same across retries. */
  id: string;
  tenant_id: string;
  kind: 'transaction' | 'refund';
  event_type: string;
  notify_url: string;
  /** The JSON envelope exactly as sent (the resource inside is encrypted). */
  body: string;
  /** out_trade_no (transactions) or out_refund_no (refunds). */
  subject: string;
  created_at: ColumnType<Date, Date, never>;
  attempts: ColumnType<number, number | undefined, number>;
  delivered_at: Date | null;
  last_status: number | null;
  last_error: string | null;
}

export interface SandboxPayDeliveryRow {
  id: string;
  notification_id: string;
  attempted_at: ColumnType<Date, Date, never>;
  /** The server's HTTP status; null when it did not answer. */
  status: number | null;
  error: string | null;
  /** A copy sent by the duplicate-notification fault. */
  duplicate: boolean;
}

/** Per-tenant fault switches (sandbox-only API): all off by default. */
export interface SandboxPayFaultsRow {
  tenant_id: string;
  /** The next `api_fail_remaining` API calls answer this status (500, 503 or 429). */
  api_fail_status: number | null;
  api_fail_remaining: number;
  /** Every API answer waits this long first. */
  api_delay_ms: number;
  /** Extra copies sent at once with each notification attempt. */
  notify_duplicates: number;
  /** The next signed messages (answers or notifications) carry a `WECHATPAY/SIGNTEST/` probe signature. */
  probe_remaining: number;
  /** Added to Wechatpay-Timestamp of answers and notifications. */
  timestamp_skew_s: number;
  /** How refunds end. */
  refund_outcome: 'SUCCESS' | 'ABNORMAL' | 'CLOSED';
  updated_at: Date;
}

/** A platform key pair the sandbox rotated to; the newest signs. */
export interface SandboxPayPlatformKeyRow {
  tenant_id: string;
  serial_no: string;
  public_key_pem: string;
  /** Field-encrypted PKCS#8 PEM. */
  private_key_enc: string;
  created_at: ColumnType<Date, Date, never>;
}

/** A bill file behind a short-lived download token. */
export interface SandboxPayBillRow {
  token: string;
  tenant_id: string;
  content: ColumnType<Buffer, Buffer, never>;
  created_at: ColumnType<Date, Date, never>;
  expires_at: Date;
}

export interface SandboxPayTables {
  sandbox_pay_orders: SandboxPayOrderRow;
  sandbox_pay_refunds: SandboxPayRefundRow;
  sandbox_pay_notifications: SandboxPayNotificationRow;
  sandbox_pay_deliveries: SandboxPayDeliveryRow;
  sandbox_pay_faults: SandboxPayFaultsRow;
  sandbox_pay_platform_keys: SandboxPayPlatformKeyRow;
  sandbox_pay_bills: SandboxPayBillRow;
}

// Row types of the tables of migration 0018_topup: orders, payment attempts, history, refunds, review queue, reconciliation runs, trusted contacts, tenant switches (owned by src/topup).
import type { ColumnType, Generated } from 'kysely';

/** int8 money columns: read as bigint (a fresh in-memory PGlite may answer numbers: see store.ts `fen`). */
type Fen = ColumnType<bigint, bigint | number, bigint | number>;
type FenOrNull = ColumnType<bigint | null, bigint | number | null, bigint | number | null>;
type Json = ColumnType<unknown, string | null, string | null>;

export type TopupStatus = 'created' | 'paid' | 'credited' | 'settling' | 'completed' | 'refunding' | 'refunded' | 'failed' | 'review';
export type TopupMethodName = 'wechat_balance' | 'bank_card' | 'credit_card';
export type LoadState = 'none' | 'pending' | 'loaded' | 'expired';
export type AttemptState = 'creating' | 'open' | 'paid' | 'closing' | 'closed' | 'failed';
export type RefundState = 'requested' | 'processing' | 'succeeded' | 'closed' | 'abnormal';
export type ReviewStatus = 'open' | 'pending_approval' | 'closed';
export type ContactStatus = 'pending' | 'accepted' | 'declined' | 'revoked';

/** A top-up order: one amount for one citizen card, paid by one WeChat payment (see attempts). */
export interface TopupOrderRow {
  id: string;
  tenant_id: string;
  /** The user who ordered and pays (for a trusted contact's card: the relative). */
  user_id: string;
  /** The core card id of the citizen card credited. */
  card_id: string;
  card_ledger_account_id: string;
  card_masked: string;
  card_form: 'electronic' | 'physical';
  contact_id: string | null;
  method: TopupMethodName;
  amount_fen: Fen;
  fee_fen: Fen;
  /** What the payer pays: amount + fee. */
  total_fen: Fen;
  currency: string;
  status: TopupStatus;
  /** Why it is in review, refunding or failed (a stable word, e.g. stored_value_limit). */
  reason: string | null;
  idempotency_key: string;
  /** HMAC of the request body: the same key with another body is idempotency_conflict. */
  request_hash: string;
  /** The first answer of POST /api/v1/topups, returned as is to a replay. */
  first_answer: Json;
  expected_arrival: Date | null;
  /** instant | after_cutoff | holiday | end_of_day (calendar.ts). */
  settle_kind: string | null;
  settle_due_at: Date | null;
  calendar_covered: Generated<boolean>;
  paid_out_trade_no: string | null;
  transaction_id: string | null;
  paid_fen: FenOrNull;
  paid_at: Date | null;
  credited_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  refunded_fen: ColumnType<bigint, bigint | number | undefined, bigint | number>;
  load_state: Generated<LoadState>;
  load_deadline: Date | null;
  loaded_at: Date | null;
  load_channel: string | null;
  /** Idempotency id of the ledger hold that the load posts (the credit, or a reviewer's re-credit). */
  load_ledger_id: string | null;
  /** Payable until then; afterwards unpaid attempts are closed and the order fails. */
  expires_at: Date;
  created_at: ColumnType<Date, Date, never>;
  updated_at: Date;
}

/** One WeChat Pay JSAPI order (out_trade_no) offered for a top-up order. */
export interface TopupAttemptRow {
  out_trade_no: string;
  order_id: string;
  tenant_id: string;
  app_kind: 'oa' | 'miniProgram';
  app_id: string;
  /** Personal data: never logged. */
  payer_openid: string;
  /** The notify_url the WeChat order was placed with: a retry repeats exactly the same request. */
  notify_url: string;
  amount_fen: Fen;
  prepay_id: string | null;
  /** The signed wx.requestPayment parameters handed out (replays answer the same). */
  pay_params: Json;
  state: AttemptState;
  transaction_id: string | null;
  paid_fen: FenOrNull;
  bank_type: string | null;
  success_time: Date | null;
  /** Paid after another attempt of the same order already paid: refunded. */
  duplicate: Generated<boolean>;
  expires_at: Date;
  created_at: ColumnType<Date, Date, never>;
  updated_at: Date;
}

export interface TopupHistoryRow {
  seq: Generated<bigint>;
  order_id: string;
  tenant_id: string;
  at: Date;
  /** The order's status after the event. */
  status: TopupStatus;
  event: string;
  note: string | null;
}

export interface TopupRefundRow {
  out_refund_no: string;
  tenant_id: string;
  order_id: string;
  out_trade_no: string;
  amount_fen: Fen;
  /** The WeChat order's total (the refund API needs it). */
  total_fen: Fen;
  reason: string;
  /** Where the money comes back from: held funds (suspense) or the card. */
  source: 'suspense' | 'card';
  state: RefundState;
  refund_id: string | null;
  review_item_id: string | null;
  last_error: string | null;
  succeeded_at: Date | null;
  created_at: ColumnType<Date, Date, never>;
  updated_at: Date;
}

export interface TopupReviewItemRow {
  id: string;
  tenant_id: string;
  order_id: string | null;
  out_trade_no: string | null;
  class: string;
  /** What is at stake from the payer's side, signed (review.ts explains per class). */
  amount_fen: Fen;
  /** Paid money held in the suspense account for this item. */
  held_fen: ColumnType<bigint, bigint | number | undefined, bigint | number>;
  detail: Json;
  status: ReviewStatus;
  assignee: string | null;
  proposed_decision: string | null;
  proposed_by: string | null;
  proposed_at: Date | null;
  decision: string | null;
  decided_by: string | null;
  approved_by: string | null;
  decided_at: Date | null;
  note: string | null;
  due_at: Date;
  escalation_level: Generated<number>;
  escalated_at: Date | null;
  dedupe_key: string;
  created_at: ColumnType<Date, Date, never>;
  updated_at: Date;
}

export interface TopupReconRunRow {
  id: string;
  tenant_id: string;
  bill_date: string;
  status: 'running' | 'done' | 'failed';
  bill_rows: Generated<number>;
  matched: Generated<number>;
  counts: Json;
  totals: Json;
  bill_hash: string | null;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

export interface TopupReconMismatchRow {
  id: Generated<bigint>;
  run_id: string;
  tenant_id: string;
  class: string;
  out_trade_no: string | null;
  order_id: string | null;
  bill_fen: FenOrNull;
  recorded_fen: FenOrNull;
  action: string;
  review_item_id: string | null;
  created_at: Date;
}

export interface TopupTrustedContactRow {
  id: string;
  tenant_id: string;
  requester_user_id: string;
  card_id: string;
  card_masked: string;
  relation: string;
  status: ContactStatus;
  owner_user_id: string | null;
  created_at: ColumnType<Date, Date, never>;
  updated_at: Date;
  accepted_at: Date | null;
  ended_at: Date | null;
}

export interface TopupSettingsRow {
  tenant_id: string;
  paused: Generated<boolean>;
  paused_message: string | null;
  paused_at: Date | null;
  paused_by: string | null;
  four_eyes_threshold_fen: FenOrNull;
  result_template_id: string | null;
  delay_template_id: string | null;
  updated_at: Date;
}

export interface TopupTables {
  topup_orders: TopupOrderRow;
  topup_attempts: TopupAttemptRow;
  topup_history: TopupHistoryRow;
  topup_refunds: TopupRefundRow;
  topup_review_items: TopupReviewItemRow;
  topup_recon_runs: TopupReconRunRow;
  topup_recon_mismatches: TopupReconMismatchRow;
  topup_trusted_contacts: TopupTrustedContactRow;
  topup_settings: TopupSettingsRow;
}

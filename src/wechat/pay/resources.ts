// The platform's transaction and refund objects (order query, refund API, decrypted notifications): checked at the edge and mapped to wecard's camel-case types (§4.5, §4.9).
import { AppError, type FieldError } from '../../app/errors.ts';
import { isAmountFen } from './policy.ts';

export const TRADE_STATES = ['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR'] as const;
export type TradeState = (typeof TRADE_STATES)[number];
export const REFUND_STATUSES = ['SUCCESS', 'CLOSED', 'PROCESSING', 'ABNORMAL'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/** A payment as the platform reports it. Amounts are integer fen. */
export interface PayTransaction {
  appId: string;
  mchId: string;
  outTradeNo: string;
  transactionId: string | undefined;
  tradeType: string | undefined;
  tradeState: TradeState;
  tradeStateDesc: string | undefined;
  bankType: string | undefined;
  attach: string | undefined;
  /** RFC 3339 with the platform's +08:00 offset, as sent. */
  successTime: string | undefined;
  /** The payer in the app the order was made for. Personal data: never logged. */
  payerOpenid: string | undefined;
  amount: { totalFen: number; payerTotalFen: number | undefined; currency: string; payerCurrency: string | undefined };
}

/** A refund as the platform reports it (refund API answer, refund query, refund notification). */
export interface PayRefund {
  mchId: string | undefined;
  outTradeNo: string;
  transactionId: string | undefined;
  outRefundNo: string;
  refundId: string;
  status: RefundStatus;
  channel: string | undefined;
  userReceivedAccount: string | undefined;
  successTime: string | undefined;
  createTime: string | undefined;
  amount: { totalFen: number; refundFen: number; payerTotalFen: number | undefined; payerRefundFen: number | undefined; currency: string | undefined };
}

/** Text fields are short ids and codes; anything longer is not from the platform. */
const FIELD_MAX_CHARS = 256;

type Obj = Record<string, unknown>;

class Reader {
  readonly errors: FieldError[] = [];
  constructor(private readonly prefix: string) {}

  obj(v: unknown, field: string, required: boolean): Obj | undefined {
    if (v === undefined || v === null) {
      if (required) this.errors.push({ field: `${this.prefix}${field}`, message: 'is required' });
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.errors.push({ field: `${this.prefix}${field}`, message: 'must be an object' });
      return undefined;
    }
    return v as Obj;
  }

  str(o: Obj | undefined, key: string, field: string, required: boolean, pattern?: RegExp): string | undefined {
    const v = o?.[key];
    if (v === undefined || v === null || v === '') {
      if (required) this.errors.push({ field: `${this.prefix}${field}`, message: 'is required' });
      return undefined;
    }
    if (typeof v !== 'string' || v.length > FIELD_MAX_CHARS || (pattern && !pattern.test(v))) {
      this.errors.push({ field: `${this.prefix}${field}`, message: 'is malformed' });
      return undefined;
    }
    return v;
  }

  fen(o: Obj | undefined, key: string, field: string, required: boolean): number | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) {
      if (required) this.errors.push({ field: `${this.prefix}${field}`, message: 'is required' });
      return undefined;
    }
    if (!isAmountFen(v)) {
      this.errors.push({ field: `${this.prefix}${field}`, message: 'must be a whole number of fen' });
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(o: Obj | undefined, key: string, field: string, values: readonly T[]): T | undefined {
    const v = this.str(o, key, field, true);
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) {
      this.errors.push({ field: `${this.prefix}${field}`, message: `must be one of ${values.join(', ')}` });
      return undefined;
    }
    return v as T;
  }

  done(what: string): void {
    if (this.errors.length > 0) throw AppError.validation(this.errors, `${what}: ${this.errors[0]!.field} ${this.errors[0]!.message}`);
  }
}

const OUT_NO = /^[0-9A-Za-z_\-*|]{1,64}$/;

/** Checks and maps a transaction object; `validation_failed` naming each bad field otherwise. */
export function parseTransaction(v: unknown, prefix = 'resource.'): PayTransaction {
  const r = new Reader(prefix);
  const o = r.obj(v, 'transaction', true);
  const amount = r.obj(o?.amount, 'amount', true);
  const payer = r.obj(o?.payer, 'payer', false);
  const t: PayTransaction = {
    appId: r.str(o, 'appid', 'appid', true) ?? '',
    mchId: r.str(o, 'mchid', 'mchid', true) ?? '',
    outTradeNo: r.str(o, 'out_trade_no', 'out_trade_no', true, OUT_NO) ?? '',
    transactionId: r.str(o, 'transaction_id', 'transaction_id', false),
    tradeType: r.str(o, 'trade_type', 'trade_type', false),
    tradeState: r.oneOf(o, 'trade_state', 'trade_state', TRADE_STATES) ?? 'NOTPAY',
    tradeStateDesc: r.str(o, 'trade_state_desc', 'trade_state_desc', false),
    bankType: r.str(o, 'bank_type', 'bank_type', false),
    attach: r.str(o, 'attach', 'attach', false),
    successTime: r.str(o, 'success_time', 'success_time', false),
    payerOpenid: r.str(payer, 'openid', 'payer.openid', false),
    amount: {
      totalFen: r.fen(amount, 'total', 'amount.total', true) ?? 0,
      payerTotalFen: r.fen(amount, 'payer_total', 'amount.payer_total', false),
      currency: r.str(amount, 'currency', 'amount.currency', false) ?? 'CNY',
      payerCurrency: r.str(amount, 'payer_currency', 'amount.payer_currency', false),
    },
  };
  r.done('transaction');
  return t;
}

/** Checks and maps a refund object: `status` in API answers, `refund_status` in notifications. */
export function parseRefund(v: unknown, prefix = 'resource.'): PayRefund {
  const r = new Reader(prefix);
  const o = r.obj(v, 'refund', true);
  const amount = r.obj(o?.amount, 'amount', true);
  const statusKey = o && o.refund_status !== undefined ? 'refund_status' : 'status';
  const refund: PayRefund = {
    mchId: r.str(o, 'mchid', 'mchid', false),
    outTradeNo: r.str(o, 'out_trade_no', 'out_trade_no', true, OUT_NO) ?? '',
    transactionId: r.str(o, 'transaction_id', 'transaction_id', false),
    outRefundNo: r.str(o, 'out_refund_no', 'out_refund_no', true, OUT_NO) ?? '',
    refundId: r.str(o, 'refund_id', 'refund_id', true) ?? '',
    status: r.oneOf(o, statusKey, statusKey, REFUND_STATUSES) ?? 'PROCESSING',
    channel: r.str(o, 'channel', 'channel', false),
    userReceivedAccount: r.str(o, 'user_received_account', 'user_received_account', false),
    successTime: r.str(o, 'success_time', 'success_time', false),
    createTime: r.str(o, 'create_time', 'create_time', false),
    amount: {
      totalFen: r.fen(amount, 'total', 'amount.total', true) ?? 0,
      refundFen: r.fen(amount, 'refund', 'amount.refund', true) ?? 0,
      payerTotalFen: r.fen(amount, 'payer_total', 'amount.payer_total', false),
      payerRefundFen: r.fen(amount, 'payer_refund', 'amount.payer_refund', false),
      currency: r.str(amount, 'currency', 'amount.currency', false),
    },
  };
  r.done('refund');
  return refund;
}

/** Parses JSON text into an object, or `validation_failed`. */
export function parseJsonObject(text: string, what: string): Obj {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw AppError.validation([{ field: what, message: 'is not valid JSON' }]);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw AppError.validation([{ field: what, message: 'must be a JSON object' }]);
  return v as Obj;
}

// How the sandbox platform presents its orders and refunds: the v3 JSON objects of query answers and notification resources (§4.5, §4.9), and its id formats.
import { randomBytes, randomInt } from 'node:crypto';
import { beijingRfc3339 } from '../../wechat/pay/client.ts';
import type { SandboxOrder, SandboxRefund } from './store.ts';

/** "该值有效期为2小时": the cashier refuses a prepay_id older than this. */
export const PREPAY_VALIDITY_MS = 2 * 60 * 60 * 1000;

const TRADE_STATE_DESC: Record<string, string> = {
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  NOTPAY: '订单未支付',
  CLOSED: '订单已关闭',
};

function digits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}

/** `wx` + Beijing yyyyMMddHHmmss + 20 more characters, as `wx201410272009395522657a690389285100`. */
export function newPrepayId(now: Date): string {
  const stamp = beijingRfc3339(now).slice(0, 19).replace(/[-T:]/g, '');
  return `wx${stamp}${randomBytes(5).toString('hex')}${digits(10)}`;
}

/** 28 digits starting 4200, as the platform's transaction ids. */
export const newTransactionId = () => `4200${digits(24)}`;
/** 29 digits starting 50, as the platform's refund ids. */
export const newRefundId = () => `50${digits(27)}`;

/** The state a reader sees: an unpaid order past its time_expire or its prepay validity is closed. */
export function effectiveState(o: SandboxOrder, now: Date): SandboxOrder['state'] {
  if (o.state !== 'NOTPAY') return o.state;
  const expired = (o.time_expire && now > o.time_expire) || now.getTime() > o.created_at.getTime() + PREPAY_VALIDITY_MS;
  return expired ? 'CLOSED' : 'NOTPAY';
}

/** The §4.5 transaction object (order query answer, TRANSACTION.SUCCESS resource). */
export function transactionJson(o: SandboxOrder, now: Date): Record<string, unknown> {
  const state = effectiveState(o, now);
  const paid = o.transaction_id !== null && (state === 'SUCCESS' || state === 'REFUND');
  return {
    appid: o.appid,
    mchid: o.mchid,
    out_trade_no: o.out_trade_no,
    ...(paid ? { transaction_id: o.transaction_id } : {}),
    trade_type: 'JSAPI',
    trade_state: state,
    trade_state_desc: TRADE_STATE_DESC[state],
    ...(paid ? { bank_type: o.bank_type ?? 'OTHERS' } : {}),
    ...(o.attach !== null ? { attach: o.attach } : {}),
    ...(paid && o.success_time ? { success_time: beijingRfc3339(o.success_time) } : {}),
    payer: { openid: o.payer_openid },
    amount: paid
      ? { total: Number(o.amount_total), payer_total: Number(o.amount_total), currency: o.currency, payer_currency: o.currency }
      : { total: Number(o.amount_total), currency: o.currency },
  };
}

/** The §4.9 refund object of the refund API and refund query. */
export function refundJson(r: SandboxRefund): Record<string, unknown> {
  return {
    refund_id: r.refund_id,
    out_refund_no: r.out_refund_no,
    transaction_id: r.transaction_id,
    out_trade_no: r.out_trade_no,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    ...(r.success_time ? { success_time: beijingRfc3339(r.success_time) } : {}),
    create_time: beijingRfc3339(r.created_at),
    status: r.status,
    funds_account: 'AVAILABLE',
    amount: {
      total: Number(r.amount_total),
      refund: Number(r.amount_refund),
      payer_total: Number(r.amount_total),
      payer_refund: Number(r.amount_refund),
      settlement_refund: Number(r.amount_refund),
      settlement_total: Number(r.amount_total),
      discount_refund: 0,
      currency: 'CNY',
      refund_fee: 0,
    },
    promotion_detail: [],
  };
}

/** The decrypted resource of a REFUND.* notification. */
export function refundNotificationJson(r: SandboxRefund): Record<string, unknown> {
  return {
    mchid: r.mchid,
    out_trade_no: r.out_trade_no,
    transaction_id: r.transaction_id,
    out_refund_no: r.out_refund_no,
    refund_id: r.refund_id,
    refund_status: r.status,
    ...(r.success_time ? { success_time: beijingRfc3339(r.success_time) } : {}),
    user_received_account: '支付用户零钱',
    amount: { total: Number(r.amount_total), refund: Number(r.amount_refund), payer_total: Number(r.amount_total), payer_refund: Number(r.amount_refund) },
  };
}

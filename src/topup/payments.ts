// A payment of a top-up order as WeChat reports it (notification, order query or reconciliation): checked against the order and applied exactly once.
import type { AppContext } from '../app/context.ts';
import type { Tx } from '../db/tx.ts';
import type { PayTransaction, TransactionNotification } from '../wechat/pay/index.ts';
import { crashPoint } from './crash.ts';
import { creditCheck, creditOrder, holdInSuspense, transition } from './credit.ts';
import { requestRefund } from './refunds.ts';
import { openReviewItem } from './review.ts';
import { addHistory, getAttempt, lockAttempt, lockOrder, updateAttempt, type Attempt, type Order } from './store.ts';

/** Our out_trade_no prefix: a payment without it belongs to another part of the merchant. */
export const OUT_TRADE_NO_PREFIX = 'TU';

export type PaymentSource = 'notification' | 'query' | 'reconciliation';

export type PaymentOutcome =
  | 'not_ours'
  | 'unknown_order'
  | 'already_applied'
  | 'credited'
  | 'duplicate'
  | 'amount_mismatch'
  | 'refunding'
  | 'review';

/** The platform's success_time (RFC 3339 +08:00) as an instant; the receipt time when absent or unreadable. */
function successTimeOf(t: PayTransaction, fallback: Date): Date {
  const d = t.successTime ? new Date(t.successTime) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : fallback;
}

/**
 * Applies a successful payment (trade_state SUCCESS, transaction_id present) once. The order row
 * is locked first, then the attempt: every path (notification, query job, reconciliation, review)
 * takes them in that order. Never throws for a mismatch: WeChat would only retry the same facts;
 * the money is held and a reviewer decides.
 */
export async function applyPayment(ctx: AppContext, tx: Tx, tenantId: string, t: PayTransaction, source: PaymentSource): Promise<PaymentOutcome> {
  if (!t.outTradeNo.startsWith(OUT_TRADE_NO_PREFIX)) return 'not_ours';
  const now = ctx.clock.now();
  const seen = await getAttempt(tx, t.outTradeNo);
  if (!seen || seen.tenant_id !== tenantId) {
    await openReviewItem(ctx, tx, {
      tenantId,
      outTradeNo: t.outTradeNo,
      class: 'unknown_payment',
      amountFen: BigInt(t.amount.totalFen),
      heldFen: 0n,
      detail: { transactionId: t.transactionId ?? null, source },
      dedupeKey: `unknown_payment:${tenantId}:${t.outTradeNo}`,
      now,
    });
    return 'unknown_order';
  }
  const order = await lockOrder(tx, seen.order_id);
  const attempt = await lockAttempt(tx, t.outTradeNo);
  if (!order || !attempt) throw new Error(`top-up attempt ${t.outTradeNo} lost its order`);
  if (attempt.state === 'paid') {
    if (attempt.transaction_id !== t.transactionId) ctx.log.error({ tenantId, outTradeNo: t.outTradeNo }, 'a paid top-up attempt is reported paid again under another transaction id');
    return 'already_applied';
  }
  crashPoint('notify.in_tx');
  const paidFen = BigInt(t.amount.totalFen);
  const successAt = successTimeOf(t, now);
  await updateAttempt(tx, attempt.out_trade_no, {
    state: 'paid',
    transaction_id: t.transactionId ?? null,
    paid_fen: paidFen,
    bank_type: t.bankType ?? null,
    success_time: successAt,
    updated_at: now,
  });

  // Paid after another attempt of the same order already paid: the second payment goes back.
  if (order.paid_out_trade_no !== null && order.paid_out_trade_no !== attempt.out_trade_no) {
    await updateAttempt(tx, attempt.out_trade_no, { duplicate: true });
    await addHistory(tx, { orderId: order.id, tenantId, at: now, status: order.status, event: 'duplicate_payment', note: `${attempt.out_trade_no} paid ${paidFen} fen again` });
    await requestRefund(tx, { order, attempt, amountFen: paidFen, reason: 'duplicate_payment', now });
    await holdInSuspense(ctx, tx, { tenantId, outTradeNo: attempt.out_trade_no, amountFen: paidFen, reason: 'duplicate_payment', now });
    ctx.log.warn({ tenantId, orderId: order.id, outTradeNo: attempt.out_trade_no, source }, 'duplicate payment of a top-up order; refund requested');
    return 'duplicate';
  }

  const paid = await transition(tx, order, 'paid', `paid_by_${source}`, now, {
    paid_out_trade_no: attempt.out_trade_no,
    transaction_id: t.transactionId ?? null,
    paid_fen: paidFen,
    paid_at: successAt,
    reason: null,
  });

  // Amount, app and currency are re-checked against what we ordered (WECHAT.md §4: "always re-check").
  if (paidFen !== attempt.amount_fen || t.appId !== attempt.app_id || (t.amount.currency ?? 'CNY') !== 'CNY') {
    return holdForReview(ctx, tx, paid, attempt, paidFen, 'amount_mismatch', { orderedFen: String(attempt.amount_fen), paidFen: String(paidFen), appMatches: t.appId === attempt.app_id }, now);
  }
  const check = await creditCheck(tx, paid, order.amount_fen);
  if (!check.ok) {
    if (check.reason === 'stored_value_limit') {
      // PBOC cap (policy.ts): the card may not hold it; the payer gets the money back automatically.
      await transition(tx, paid, 'refunding', 'stored_value_limit', now, { reason: 'stored_value_limit' });
      await requestRefund(tx, { order: paid, attempt, amountFen: paidFen, reason: 'stored_value_limit', now });
      await holdInSuspense(ctx, tx, { tenantId, outTradeNo: attempt.out_trade_no, amountFen: paidFen, reason: 'stored_value_limit', now });
      return 'refunding';
    }
    return holdForReview(ctx, tx, paid, attempt, paidFen, 'card_unusable', { cardStatus: check.card?.status ?? 'missing' }, now);
  }
  await creditOrder(ctx, tx, { order: paid, amountFen: order.amount_fen, feeFen: order.fee_fen, from: 'customer_funds', event: 'credited', now }, check.card);
  crashPoint('notify.after_credit');
  return 'credited';
}

async function holdForReview(ctx: AppContext, tx: Tx, order: Order, attempt: Attempt, paidFen: bigint, cls: 'amount_mismatch' | 'card_unusable', detail: Record<string, unknown>, now: Date): Promise<PaymentOutcome> {
  await transition(tx, order, 'review', cls, now, { reason: cls });
  await openReviewItem(ctx, tx, {
    tenantId: order.tenant_id,
    orderId: order.id,
    outTradeNo: attempt.out_trade_no,
    class: cls,
    amountFen: paidFen,
    heldFen: paidFen,
    detail,
    dedupeKey: `${cls}:${attempt.out_trade_no}`,
    now,
  });
  await holdInSuspense(ctx, tx, { tenantId: order.tenant_id, outTradeNo: attempt.out_trade_no, amountFen: paidFen, reason: cls, now });
  return cls === 'amount_mismatch' ? 'amount_mismatch' : 'review';
}

/** The onTransaction handler for payNotifications: runs in the notification's transaction. */
export async function onTransactionNotification(ctx: AppContext, tx: Tx, n: TransactionNotification): Promise<void> {
  await applyPayment(ctx, tx, n.tenantId, n.transaction, 'notification');
}

// Refunds of top-up money through the WeChat Pay refund API: intent recorded first, the call made by a job, the outcome (answer, notification or query) booked once.
import type { AppContext } from '../app/context.ts';
import { enqueueJob, type JobContext, type JobOptions } from '../app/jobs.ts';
import { inTx, type Tx } from '../db/tx.ts';
import { transfer } from '../ledger/index.ts';
import { randomToken } from '../shared/ids.ts';
import { createRefund, queryRefund, PayApiError, type PayRefund, type RefundNotification } from '../wechat/pay/index.ts';
import { shardOf, topupAccounts } from './accounts.ts';
import { crashPoint } from './crash.ts';
import { ledgerIds, transition } from './credit.ts';
import { enqueueMessage } from './messages.ts';
import { openReviewItem } from './review.ts';
import { addHistory, getRefund, lockOrder, lockRefund, updateOrder, updateRefund, type Attempt, type Order, type Refund } from './store.ts';

export const REFUND_TOPIC = 'topup.refund';
/** Our out_refund_no prefix (6–32 characters of [0-9A-Za-z_-|*] in all). */
export const OUT_REFUND_NO_PREFIX = 'TR';
/** A PROCESSING refund is asked about again after these delays (then every last one), at most this many times. */
const REFUND_QUERY_DELAYS_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000];
const REFUND_QUERY_ROUNDS_MAX = 12;
const REFUND_REASON_TEXT: Record<string, string> = {
  duplicate_payment: '重复支付退款',
  stored_value_limit: '超出卡内限额退款',
  card_unusable: '卡片不可用退款',
  review_decision: '人工审核退款',
  amount_mismatch: '金额不符退款',
};

/** The refund call is retried on network failures and 5xx with the same out_refund_no (§4.12). */
export const REFUND_JOB_OPTIONS: Partial<JobOptions> = { maxAttempts: 10, retryDelayMs: (n) => Math.min(10_000 * 2 ** (n - 1), 1_800_000) };

export function newOutRefundNo(): string {
  return `${OUT_REFUND_NO_PREFIX}${randomToken(15)}`;
}

/**
 * Records the intent to refund money already held in suspense for `attempt`, in the caller's
 * transaction; the job makes the call after commit. The order is moved by the caller.
 */
export async function requestRefund(
  tx: Tx,
  x: { order: Order; attempt: Attempt; amountFen: bigint; reason: string; reviewItemId?: string; now: Date },
): Promise<string> {
  const outRefundNo = newOutRefundNo();
  await tx
    .insertInto('topup_refunds')
    .values({
      out_refund_no: outRefundNo,
      tenant_id: x.order.tenant_id,
      order_id: x.order.id,
      out_trade_no: x.attempt.out_trade_no,
      amount_fen: x.amountFen,
      total_fen: x.attempt.amount_fen,
      reason: x.reason,
      source: 'suspense',
      state: 'requested',
      review_item_id: x.reviewItemId ?? null,
      created_at: x.now,
      updated_at: x.now,
    })
    .execute();
  await addHistory(tx, { orderId: x.order.id, tenantId: x.order.tenant_id, at: x.now, status: x.order.status, event: 'refund_requested', note: `${x.reason} ${x.amountFen} fen (${outRefundNo})` });
  await enqueueJob(tx, { topic: REFUND_TOPIC, payload: { outRefundNo, round: 0 }, dedupeKey: `${REFUND_TOPIC}:${outRefundNo}:0` });
  return outRefundNo;
}

/** The job: asks WeChat for the refund (or, once asked, for its state) and books the answer. */
export async function refundJob(ctx: AppContext, payload: { outRefundNo: string; round?: number }, _job: JobContext): Promise<void> {
  const r = await getRefund(ctx.db, payload.outRefundNo);
  if (!r || (r.state !== 'requested' && r.state !== 'processing')) return;
  crashPoint('refund.after_intent');
  let answer: PayRefund;
  try {
    answer =
      r.state === 'requested'
        ? await createRefund(ctx, r.tenant_id, {
            outTradeNo: r.out_trade_no,
            outRefundNo: r.out_refund_no,
            reason: REFUND_REASON_TEXT[r.reason] ?? '退款',
            refundFen: Number(r.amount_fen),
            totalFen: Number(r.total_fen),
          })
        : await queryRefund(ctx, r.tenant_id, r.out_refund_no);
  } catch (err) {
    if (err instanceof PayApiError && !err.retryable) {
      // The platform refuses this refund for good (e.g. the order cannot be refunded): a person decides.
      await inTx(ctx.db, (tx) => refundFailed(ctx, tx, r, `${err.code}: ${err.message}`));
      return;
    }
    throw err;
  }
  crashPoint('refund.after_call');
  const pending = await inTx(ctx.db, (tx) => applyRefundOutcome(ctx, tx, answer));
  if (pending) {
    const round = (payload.round ?? 0) + 1;
    if (round > REFUND_QUERY_ROUNDS_MAX) {
      ctx.log.error({ outRefundNo: r.out_refund_no, tenantId: r.tenant_id }, 'refund still PROCESSING after every query round; the review queue takes it');
      await inTx(ctx.db, (tx) => refundFailed(ctx, tx, r, 'still PROCESSING after every query round'));
      return;
    }
    const delay = REFUND_QUERY_DELAYS_MS[Math.min(round - 1, REFUND_QUERY_DELAYS_MS.length - 1)]!;
    await enqueueJob(ctx.db, { topic: REFUND_TOPIC, payload: { outRefundNo: r.out_refund_no, round }, dedupeKey: `${REFUND_TOPIC}:${r.out_refund_no}:${round}`, runAfter: new Date(ctx.clock.now().getTime() + delay) });
  }
}

/** The onRefund notification handler (inside the notification's transaction): refunds that are not ours are left alone. */
export async function onRefundNotification(ctx: AppContext, tx: Tx, n: RefundNotification): Promise<void> {
  if (!n.refund.outRefundNo.startsWith(OUT_REFUND_NO_PREFIX)) return;
  await applyRefundOutcome(ctx, tx, n.refund);
}

/**
 * Books a refund's state once: SUCCESS moves the money out of suspense and the order to refunded
 * (a duplicate payment's refund leaves the order as it is); CLOSED/ABNORMAL puts the held money
 * in front of a reviewer. Returns true while the refund is still PROCESSING.
 */
export async function applyRefundOutcome(ctx: AppContext, tx: Tx, answer: PayRefund): Promise<boolean> {
  const seen = await tx.selectFrom('topup_refunds').select(['order_id']).where('out_refund_no', '=', answer.outRefundNo).executeTakeFirst();
  if (!seen) {
    ctx.log.warn({ outRefundNo: answer.outRefundNo }, 'refund outcome for a refund we have no record of');
    return false;
  }
  const order = await lockOrder(tx, seen.order_id);
  const r = await lockRefund(tx, answer.outRefundNo);
  if (!order || !r) return false;
  if (r.state === 'succeeded' || r.state === 'closed' || r.state === 'abnormal') return false;
  const now = ctx.clock.now();
  if (answer.status === 'PROCESSING') {
    if (r.state === 'requested') await updateRefund(tx, r.out_refund_no, { state: 'processing', refund_id: answer.refundId, updated_at: now });
    return true;
  }
  if (answer.status !== 'SUCCESS') {
    await refundFailed(ctx, tx, r, `WeChat answered ${answer.status}`, order);
    return false;
  }
  await updateRefund(tx, r.out_refund_no, { state: 'succeeded', refund_id: answer.refundId, succeeded_at: now, updated_at: now, last_error: null });
  const refunded = order.refunded_fen + r.amount_fen;
  if (order.status === 'refunding') {
    await transition(tx, order, 'refunded', 'refunded', now, { refunded_fen: refunded });
    await enqueueMessage(tx, order.id, 'refunded');
  } else {
    // Money beside the order (a second payment, a bill difference): the order itself stands.
    await updateOrder(tx, order.id, { refunded_fen: refunded, updated_at: now });
    await addHistory(tx, { orderId: order.id, tenantId: order.tenant_id, at: now, status: order.status, event: `${r.reason}_refunded`, note: `${r.amount_fen} fen (${r.out_refund_no})` });
  }
  const acc = await topupAccounts(ctx, tx, order.tenant_id);
  await transfer(tx, {
    idempotencyId: ledgerIds.refund(r.out_refund_no),
    debitAccountId: acc.suspense,
    creditAccountId: shardOf(acc.customerFunds, r.out_refund_no),
    amountFen: r.amount_fen,
    kind: 'topup_refund',
    description: REFUND_REASON_TEXT[r.reason] ?? '充值退款',
    now,
    metadata: { orderId: order.id, outRefundNo: r.out_refund_no },
  });
  return false;
}

/** A refund WeChat will not complete: the money stays held and a reviewer decides again. */
async function refundFailed(ctx: AppContext, tx: Tx, r: Refund, why: string, lockedOrder?: Order): Promise<void> {
  const order = lockedOrder ?? (await lockOrder(tx, r.order_id));
  const current = await lockRefund(tx, r.out_refund_no);
  if (!order || !current || current.state === 'succeeded' || current.state === 'closed' || current.state === 'abnormal') return;
  const now = ctx.clock.now();
  await updateRefund(tx, r.out_refund_no, { state: why.includes('ABNORMAL') ? 'abnormal' : 'closed', last_error: why.slice(0, 300), updated_at: now });
  await openReviewItem(ctx, tx, {
    tenantId: order.tenant_id,
    orderId: order.id,
    outTradeNo: r.out_trade_no,
    class: 'refund_failed',
    amountFen: r.amount_fen,
    heldFen: r.amount_fen,
    detail: { outRefundNo: r.out_refund_no, reason: r.reason, why: why.slice(0, 200) },
    dedupeKey: `refund_failed:${r.out_refund_no}`,
    now,
  });
  if (order.status === 'refunding') await transition(tx, order, 'review', 'refund_failed', now, { reason: 'refund_failed' });
  ctx.log.warn({ tenantId: order.tenant_id, orderId: order.id, outRefundNo: r.out_refund_no }, 'top-up refund failed; held money sent to the review queue');
}


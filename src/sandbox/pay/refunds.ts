// Sandbox platform endpoints for refunds (create, query) and the job that settles a refund and sends its REFUND.* notification (§4.9).
import type { AppContext } from '../../app/context.ts';
import { enqueueJob, type JobContext } from '../../app/jobs.ts';
import { inTx, sqlState } from '../../db/tx.ts';
import { MAX_AMOUNT_FEN, notifyUrlProblem, OUT_NO_PATTERN, REFUND_REASON_MAX_CHARS } from '../../wechat/pay/policy.ts';
import { attemptDelivery, createNotification } from './deliver.ts';
import { paramError, PayFailure } from './errors.ts';
import { merchantOf, type SandboxMerchant } from './merchants.ts';
import type { Body } from './orders.ts';
import {
  faultsOf,
  insertRefund,
  orderByOutTradeNo,
  orderByTransactionId,
  refundById,
  refundByOutRefundNo,
  refundedFen,
  updateOrder,
  updateRefund,
} from './store.ts';
import { newRefundId, refundJson, refundNotificationJson } from './views.ts';

export const SETTLE_REFUND_TOPIC = 'sandbox.pay.settle_refund';

const isObj = (v: unknown): v is Body => v !== null && typeof v === 'object' && !Array.isArray(v);
const refundNotFound = () => new PayFailure(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');

function fen(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_AMOUNT_FEN) throw paramError(field, '必须是大于0的整数（分）');
  return v;
}

/**
 * `POST /v3/refund/domestic/refunds`: answered PROCESSING; a job settles it (SUCCESS unless the
 * refund-outcome fault says otherwise) and notifies. Repeating an out_refund_no with the same
 * amounts returns the same refund.
 */
export async function createRefund(ctx: AppContext, m: SandboxMerchant, b: Body): Promise<Body> {
  const outRefundNo = b.out_refund_no;
  if (typeof outRefundNo !== 'string' || !OUT_NO_PATTERN.test(outRefundNo)) throw paramError('out_refund_no', '格式不正确');
  const byTransaction = typeof b.transaction_id === 'string' ? b.transaction_id : undefined;
  const byOutTradeNo = typeof b.out_trade_no === 'string' ? b.out_trade_no : undefined;
  if (!byTransaction && !byOutTradeNo) throw paramError('out_trade_no', 'transaction_id和out_trade_no必须二选一');
  if (b.reason !== undefined && (typeof b.reason !== 'string' || [...b.reason].length > REFUND_REASON_MAX_CHARS)) throw paramError('reason', '格式不正确');
  if (b.notify_url !== undefined && (typeof b.notify_url !== 'string' || notifyUrlProblem(b.notify_url))) throw paramError('notify_url', '格式不正确');
  if (b.funds_account !== undefined && b.funds_account !== 'AVAILABLE') throw paramError('funds_account', '只支持AVAILABLE');
  if (!isObj(b.amount)) throw paramError('amount', '为必填参数');
  const refund = fen(b.amount.refund, 'amount.refund');
  const total = fen(b.amount.total, 'amount.total');
  if ((b.amount.currency ?? 'CNY') !== 'CNY') throw paramError('amount.currency', '只支持CNY');

  const existing = await refundByOutRefundNo(ctx.db, m.pay.mchId, outRefundNo);
  if (existing) {
    if (Number(existing.amount_refund) !== refund || Number(existing.amount_total) !== total) throw new PayFailure(400, 'INVALID_REQUEST', '退款单号重复，且退款金额与之前请求不一致');
    return refundJson(existing);
  }
  try {
    const row = await inTx(ctx.db, async (tx) => {
      const found = byTransaction ? await orderByTransactionId(tx, m.pay.mchId, byTransaction) : await orderByOutTradeNo(tx, m.pay.mchId, byOutTradeNo!);
      const order = found && (await orderByOutTradeNo(tx, m.pay.mchId, found.out_trade_no, true));
      if (!order || (order.state !== 'SUCCESS' && order.state !== 'REFUND') || !order.transaction_id) throw new PayFailure(404, 'RESOURCE_NOT_EXISTS', '订单不存在或未支付');
      if (Number(order.amount_total) !== total) throw paramError('amount.total', '与订单金额不一致');
      if ((await refundedFen(tx, order.prepay_id)) + BigInt(refund) > BigInt(order.amount_total)) throw new PayFailure(400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');
      const r = {
        refund_id: newRefundId(),
        tenant_id: m.tenantId,
        mchid: m.pay.mchId,
        out_refund_no: outRefundNo,
        prepay_id: order.prepay_id,
        out_trade_no: order.out_trade_no,
        transaction_id: order.transaction_id,
        reason: typeof b.reason === 'string' ? b.reason : null,
        notify_url: typeof b.notify_url === 'string' ? b.notify_url : null,
        amount_refund: refund,
        amount_total: total,
        status: 'PROCESSING' as const,
        created_at: ctx.clock.now(),
        success_time: null,
      };
      await insertRefund(tx, r);
      await enqueueJob(tx, { topic: SETTLE_REFUND_TOPIC, payload: { refundId: r.refund_id }, dedupeKey: `${SETTLE_REFUND_TOPIC}:${r.refund_id}` });
      return r;
    });
    return refundJson({ ...row, amount_refund: BigInt(row.amount_refund), amount_total: BigInt(row.amount_total) });
  } catch (err) {
    // A concurrent request with the same out_refund_no placed it first.
    if (sqlState(err) === '23505') {
      const again = await refundByOutRefundNo(ctx.db, m.pay.mchId, outRefundNo);
      if (again) return refundJson(again);
    }
    throw err;
  }
}

/** `GET /v3/refund/domestic/refunds/{out_refund_no}` */
export async function queryRefund(ctx: AppContext, m: SandboxMerchant, outRefundNo: string): Promise<Body> {
  const r = await refundByOutRefundNo(ctx.db, m.pay.mchId, outRefundNo);
  if (!r) throw refundNotFound();
  return refundJson(r);
}

/** The settle job: PROCESSING → the outcome, the order to REFUND on success, and the notification. */
export async function settleRefundJob(ctx: AppContext, payload: { refundId: string }, _job: JobContext): Promise<void> {
  // Read before the transaction: PGlite has one connection, so no query may run beside an open one.
  const found = await refundById(ctx.db, payload.refundId);
  if (!found || found.status !== 'PROCESSING') return;
  const merchant = await merchantOf(ctx, found.tenant_id);
  if (!merchant) return;
  const notificationId = await inTx(ctx.db, async (tx) => {
    const r = await refundById(tx, payload.refundId, true);
    if (!r || r.status !== 'PROCESSING') return undefined;
    const outcome = (await faultsOf(tx, r.tenant_id))?.refund_outcome ?? 'SUCCESS';
    const now = ctx.clock.now();
    const settled = { ...r, status: outcome, success_time: outcome === 'SUCCESS' ? now : null };
    await updateRefund(tx, r.refund_id, { status: settled.status, success_time: settled.success_time });
    if (outcome === 'SUCCESS') await updateOrder(tx, r.prepay_id, { state: 'REFUND' });
    if (!r.notify_url) return undefined;
    return createNotification(ctx, tx, merchant, {
      kind: 'refund',
      eventType: `REFUND.${outcome}`,
      summary: outcome === 'SUCCESS' ? '退款成功' : outcome === 'CLOSED' ? '退款关闭' : '退款异常',
      resource: refundNotificationJson(settled),
      notifyUrl: r.notify_url,
      subject: r.out_refund_no,
    });
  });
  if (notificationId) await attemptDelivery(ctx, notificationId);
}

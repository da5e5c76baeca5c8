// Sandbox platform endpoints for orders: JSAPI order, query by out_trade_no or transaction_id, close; and the simulated cashier that pays an order (§4.6, §4.8).
import { createHash } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { inTx } from '../../db/tx.ts';
import { sqlState } from '../../db/tx.ts';
import { ATTACH_MAX_CHARS, DESCRIPTION_MAX_CHARS, MAX_AMOUNT_FEN, notifyUrlProblem, OPENID_PATTERN, OUT_NO_PATTERN } from '../../wechat/pay/policy.ts';
import { findSandboxUser } from '../wx/index.ts';
import { attemptDelivery, createNotification, type DeliveryOutcome } from './deliver.ts';
import { paramError, PayFailure } from './errors.ts';
import { merchantOf, type SandboxMerchant } from './merchants.ts';
import { insertOrder, orderByOutTradeNo, orderByPrepayId, orderByTransactionId, updateOrder, type SandboxOrder } from './store.ts';
import { effectiveState, newPrepayId, newTransactionId, transactionJson } from './views.ts';

export type Body = Record<string, unknown>;

const chars = (s: string) => [...s].length;
const isObj = (v: unknown): v is Body => v !== null && typeof v === 'object' && !Array.isArray(v);

function text(b: Body, key: string, max: number, required: boolean, pattern?: RegExp): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) {
    if (required) throw paramError(key, '为必填参数');
    return undefined;
  }
  if (typeof v !== 'string' || chars(v) === 0 || chars(v) > max || (pattern && !pattern.test(v))) throw paramError(key, '格式不正确');
  return v;
}

/**
 * A simulated user's openid differs per app, as in WeChat: the OA openid with the mini-program's
 * appid (the classic mistake) or another tenant's user is refused. Openids the sandbox never issued
 * are accepted, so any client can place orders for made-up payers.
 */
async function assertOpenidOfApp(ctx: AppContext, m: SandboxMerchant, appid: string, openid: string): Promise<void> {
  const user = await findSandboxUser(ctx, openid);
  if (!user) return;
  const expected = appid === m.oaAppId ? user.oaOpenid : appid === m.miniAppId ? user.miniOpenid : undefined;
  if (user.tenantId !== m.tenantId || expected !== openid) throw paramError('payer.openid', '与appid不匹配');
}

/** `POST /v3/pay/transactions/jsapi`: the same out_trade_no with the same parameters gives the same prepay_id. */
export async function createJsapiOrder(ctx: AppContext, m: SandboxMerchant, b: Body): Promise<Body> {
  const appid = text(b, 'appid', 32, true)!;
  const mchid = text(b, 'mchid', 32, true)!;
  const description = text(b, 'description', DESCRIPTION_MAX_CHARS, true)!;
  const outTradeNo = text(b, 'out_trade_no', 32, true, OUT_NO_PATTERN)!;
  const notifyUrl = text(b, 'notify_url', 255, true)!;
  const attach = text(b, 'attach', ATTACH_MAX_CHARS, false);
  const timeExpireText = text(b, 'time_expire', 64, false);
  if (mchid !== m.pay.mchId) throw paramError('mchid', '与请求头Authorization中的商户号不一致');
  if (!m.appIds.includes(appid)) throw new PayFailure(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
  if (notifyUrlProblem(notifyUrl)) throw paramError('notify_url', '格式不正确');
  const timeExpire = timeExpireText === undefined ? null : new Date(timeExpireText);
  if (timeExpire && (Number.isNaN(timeExpire.getTime()) || !/[+-]\d{2}:\d{2}$|Z$/.test(timeExpireText!))) throw paramError('time_expire', '不是RFC3339格式的时间');
  if (!isObj(b.amount)) throw paramError('amount', '为必填参数');
  const total = b.amount.total;
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 1 || total > MAX_AMOUNT_FEN) throw paramError('amount.total', '必须是大于0的整数（分）');
  const currency = b.amount.currency ?? 'CNY';
  if (currency !== 'CNY') throw paramError('amount.currency', '只支持CNY');
  if (!isObj(b.payer)) throw paramError('payer', '为必填参数');
  const openid = b.payer.openid;
  if (typeof openid !== 'string' || !OPENID_PATTERN.test(openid)) throw paramError('payer.openid', '格式不正确');
  await assertOpenidOfApp(ctx, m, appid, openid);

  const digest = createHash('sha256').update(JSON.stringify([appid, mchid, description, outTradeNo, timeExpireText ?? '', attach ?? '', notifyUrl, total, currency, openid])).digest('hex');
  const now = ctx.clock.now();
  for (let attempt = 0; attempt < 2; attempt++) {
    const existing = await orderByOutTradeNo(ctx.db, mchid, outTradeNo);
    if (existing) {
      const state = effectiveState(existing, now);
      if (state === 'SUCCESS' || state === 'REFUND') throw new PayFailure(400, 'ORDERPAID', '该订单已支付');
      if (state === 'CLOSED') throw new PayFailure(400, 'ORDER_CLOSED', '订单已关闭');
      if (existing.request_digest !== digest) throw new PayFailure(400, 'OUT_TRADE_NO_USED', '商户订单号重复');
      return { prepay_id: existing.prepay_id };
    }
    const prepayId = newPrepayId(now);
    try {
      await inTx(ctx.db, (tx) =>
        insertOrder(tx, {
          prepay_id: prepayId,
          tenant_id: m.tenantId,
          mchid,
          appid,
          out_trade_no: outTradeNo,
          description,
          attach: attach ?? null,
          notify_url: notifyUrl,
          amount_total: total,
          currency,
          payer_openid: openid,
          time_expire: timeExpire,
          request_digest: digest,
          state: 'NOTPAY',
          created_at: now,
        }),
      );
      return { prepay_id: prepayId };
    } catch (err) {
      // A concurrent identical request placed it first: answer as for a repeat.
      if (sqlState(err) !== '23505') throw err;
    }
  }
  throw new PayFailure(500, 'SYSTEM_ERROR', '系统繁忙，请稍后重试');
}

function requireMchQuery(m: SandboxMerchant, query: Record<string, unknown>): void {
  if (query.mchid !== m.pay.mchId) throw new PayFailure(400, 'PARAM_ERROR', '参数错误：mchid 与请求头Authorization中的商户号不一致', { field: 'mchid', location: 'query' });
}

const orderNotFound = () => new PayFailure(404, 'ORDER_NOT_EXIST', '订单不存在');

/** `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=` */
export async function queryByOutTradeNo(ctx: AppContext, m: SandboxMerchant, outTradeNo: string, query: Record<string, unknown>): Promise<Body> {
  requireMchQuery(m, query);
  const o = await orderByOutTradeNo(ctx.db, m.pay.mchId, outTradeNo);
  if (!o) throw orderNotFound();
  return transactionJson(o, ctx.clock.now());
}

/** `GET /v3/pay/transactions/id/{transaction_id}?mchid=` (paid orders only have one). */
export async function queryByTransactionId(ctx: AppContext, m: SandboxMerchant, transactionId: string, query: Record<string, unknown>): Promise<Body> {
  requireMchQuery(m, query);
  const o = await orderByTransactionId(ctx.db, m.pay.mchId, transactionId);
  if (!o) throw orderNotFound();
  return transactionJson(o, ctx.clock.now());
}

/** `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close {mchid}` → 204; a paid order cannot be closed. */
export async function closeOrder(ctx: AppContext, m: SandboxMerchant, outTradeNo: string, b: Body): Promise<undefined> {
  if (b.mchid !== m.pay.mchId) throw paramError('mchid', '与请求头Authorization中的商户号不一致');
  await inTx(ctx.db, async (tx) => {
    const o = await orderByOutTradeNo(tx, m.pay.mchId, outTradeNo, true);
    if (!o) throw orderNotFound();
    if (o.state === 'SUCCESS' || o.state === 'REFUND') throw new PayFailure(400, 'ORDERPAID', '订单已支付，不能关闭');
    if (o.state === 'NOTPAY') await updateOrder(tx, o.prepay_id, { state: 'CLOSED', closed_at: ctx.clock.now() });
  });
  return undefined;
}

export interface PaidOrder {
  order: SandboxOrder;
  notificationId: string;
  notification: DeliveryOutcome;
}

/**
 * The simulated cashier: the payer pays an unpaid, unexpired order. The order becomes SUCCESS and a
 * TRANSACTION.SUCCESS notification is recorded in the same transaction; the first delivery is
 * attempted at once, the retries follow WeChat's schedule.
 */
export async function payOrder(ctx: AppContext, prepayId: string, input: { bankType?: string } = {}): Promise<PaidOrder> {
  const now = ctx.clock.now();
  // Read before the transaction: PGlite has one connection, so no query may run beside an open one.
  const found = await orderByPrepayId(ctx.db, prepayId);
  if (!found) throw new AppError('not_found', 'no such prepay_id');
  const merchant = await merchantOf(ctx, found.tenant_id);
  if (!merchant) throw new AppError('conflict', 'the merchant has no WeChat Pay credentials any more');
  const { order, notificationId } = await inTx(ctx.db, async (tx) => {
    const o = (await orderByPrepayId(tx, prepayId, true))!;
    const state = effectiveState(o, now);
    if (state !== 'NOTPAY') throw new AppError('conflict', state === 'CLOSED' ? 'the order is closed or expired' : 'the order is already paid');
    const paid = { state: 'SUCCESS' as const, transaction_id: newTransactionId(), bank_type: input.bankType ?? 'OTHERS', success_time: now };
    await updateOrder(tx, o.prepay_id, paid);
    const order = { ...o, ...paid };
    const notificationId = await createNotification(ctx, tx, merchant, {
      kind: 'transaction',
      eventType: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      resource: transactionJson(order, now),
      notifyUrl: o.notify_url,
      subject: o.out_trade_no,
    });
    return { order, notificationId };
  });
  ctx.log.info({ tenantId: order.tenant_id, outTradeNo: order.out_trade_no, amountFen: Number(order.amount_total) }, 'sandbox WeChat Pay order paid');
  const notification = await attemptDelivery(ctx, notificationId);
  return { order, notificationId, notification };
}

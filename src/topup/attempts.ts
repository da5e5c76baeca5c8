// WeChat Pay orders of a top-up: placing them (intent first), offering the payment again in another app, the active order query when no notification comes, closing and failing.
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { enqueueJob, type JobContext } from '../app/jobs.ts';
import { inTx, type Tx } from '../db/tx.ts';
import { requireTenant, type Tenant } from '../tenants/index.ts';
import { listOpenids } from '../identity/index.ts';
import { randomToken } from '../shared/ids.ts';
import { notifyUrls, closeOrder, createJsapiOrder, paymentParams, PayApiError, queryOrder, type PayTransaction, type RequestPaymentParams } from '../wechat/pay/index.ts';
import { crashPoint } from './crash.ts';
import { transition } from './credit.ts';
import { enqueueMessage } from './messages.ts';
import { applyPayment, OUT_TRADE_NO_PREFIX } from './payments.ts';
import { ATTEMPT_TTL_MS, QUERY_ROUNDS_MAX, queryDelayMs } from './policy.ts';
import { addHistory, attemptsOfOrder, getAttempt, getOrder, insertAttempt, jsonOf, lockAttempt, lockOrder, updateAttempt, updateOrder, type Attempt, type Order } from './store.ts';
import { answerOf, type TopupAnswer } from './views.ts';

export const QUERY_TOPIC = 'topup.query';
export const EXPIRE_TOPIC = 'topup.expire';
/** Payment attempts one order may have (one per app is the normal case). */
export const ATTEMPTS_PER_ORDER_MAX = 5;
/** An attempt this close to its time_expire is not handed out again: the payer could not finish in time. */
const REUSE_MARGIN_MS = 60_000;
/** After time_expire, WeChat may take this long to report the order closed. */
const CLOSE_GRACE_MS = 60_000;
const DESCRIPTION = '市民卡充值';

const LIVE_STATES = new Set(['creating', 'open', 'closing']);

export type PayerApp = 'oa' | 'miniProgram';

export function newOutTradeNo(): string {
  return `${OUT_TRADE_NO_PREFIX}${randomToken(15)}`;
}

/** The payer's openid and the app id for the JSAPI order. */
export async function payerIn(ctx: AppContext, tenant: Tenant, userId: string, want?: PayerApp): Promise<{ app: PayerApp; appId: string; openid: string }> {
  const ids = await listOpenids(ctx.db, userId);
  const app: PayerApp = want ?? (ids.some((i) => i.appKind === 'miniProgram') ? 'miniProgram' : 'oa');
  const openid = ids.find((i) => i.appKind === app)?.openid;
  const appId = app === 'oa' ? tenant.oaAppId : tenant.miniProgramAppId;
  if (!openid || !appId) throw AppError.validation([{ field: 'app', message: `you have not signed in through the ${app === 'oa' ? 'Official Account' : 'mini-program'}` }]);
  return { app, appId, openid };
}


/** The payment could not be placed at WeChat Pay now: the client retries with the same Idempotency-Key. */
function payUnavailable(): AppError {
  return new AppError('service_paused', 'WeChat Pay is not reachable right now; retry with the same Idempotency-Key', { reason: 'payment_unavailable', retryAfter: 5 });
}

/**
 * Places the WeChat order of an attempt recorded as `creating` and records its prepay_id and the
 * signed parameters. Safe to run again: WeChat answers the same prepay_id for the same out_trade_no
 * and parameters.
 */
export async function placeAttempt(ctx: AppContext, orderId: string, outTradeNo: string): Promise<TopupAnswer> {
  crashPoint('order.after_intent');
  const attempt = await getAttempt(ctx.db, outTradeNo);
  const order = await getOrder(ctx.db, orderId);
  if (!attempt || !order) throw new AppError('not_found', 'no such top-up order');
  if (attempt.state === 'open' && attempt.pay_params) return jsonOf<TopupAnswer>(order.first_answer) ?? answerOf(order, jsonOf<RequestPaymentParams>(attempt.pay_params));
  if (attempt.state !== 'creating') return answerOf(order, null);
  let params: RequestPaymentParams;
  try {
    const { prepayId } = await createJsapiOrder(ctx, order.tenant_id, {
      appId: attempt.app_id,
      description: DESCRIPTION,
      outTradeNo,
      amountFen: Number(attempt.amount_fen),
      payerOpenid: attempt.payer_openid,
      notifyUrl: attempt.notify_url,
      timeExpire: attempt.expires_at,
      attach: order.id,
    });
    params = await paymentParams(ctx, order.tenant_id, { appId: attempt.app_id, prepayId });
    crashPoint('order.after_prepay');
    return await inTx(ctx.db, async (tx) => {
      const o = (await lockOrder(tx, orderId))!;
      const a = (await lockAttempt(tx, outTradeNo))!;
      const answer = answerOf(o, params);
      if (a.state !== 'creating') return answerOf(o, a.state === 'open' ? jsonOf<RequestPaymentParams>(a.pay_params) : null);
      await updateAttempt(tx, outTradeNo, { state: 'open', prepay_id: prepayId, pay_params: JSON.stringify(params), updated_at: ctx.clock.now() });
      if (o.first_answer === null) {
        await updateOrder(tx, orderId, { first_answer: JSON.stringify(answer) });
        return answer;
      }
      return answer;
    });
  } catch (err) {
    if (err instanceof PayApiError) {
      if (err.retryable) throw payUnavailable();
      ctx.log.error({ tenantId: order.tenant_id, orderId, outTradeNo, code: err.code }, 'WeChat Pay refused the top-up order');
      await inTx(ctx.db, (tx) => closeAttempt(ctx, tx, orderId, outTradeNo, 'failed', `WeChat Pay refused the order (${err.code})`));
      throw new AppError('conflict', 'WeChat Pay refused the payment order; start a new top-up', { reason: 'payment_refused' });
    }
    throw err;
  }
}

/**
 * `POST /api/v1/topups/{orderId}/payment`: the payment parameters again, for the app the payer is
 * in now. The live attempt of that app is handed out again; otherwise a new WeChat order is placed.
 * Two attempts may then both be paid: the second payment is refunded automatically.
 */
export async function renewPayment(ctx: AppContext, p: CardholderPrincipal, orderId: string, want?: PayerApp): Promise<TopupAnswer> {
  const order = await getOrder(ctx.db, orderId);
  if (!order || order.tenant_id !== p.tenantId) throw new AppError('not_found', 'no such top-up order');
  if (order.user_id !== p.userId) throw new AppError('forbidden', 'not your top-up order');
  const now = ctx.clock.now();
  if (order.status !== 'created' || now >= order.expires_at) throw new AppError('conflict', `the order is ${order.status === 'created' ? 'expired' : order.status}`, { status: order.status });
  const tenant = await requireTenant(ctx.db, p.tenantId);
  const payer = await payerIn(ctx, tenant, p.userId, want);
  const attempts = await attemptsOfOrder(ctx.db, orderId);
  const usable = (a: Attempt) => a.app_kind === payer.app && a.expires_at.getTime() - REUSE_MARGIN_MS > now.getTime();
  const open = attempts.find((a) => usable(a) && a.state === 'open' && a.pay_params);
  if (open) return answerOf(order, jsonOf<RequestPaymentParams>(open.pay_params));
  const creating = attempts.find((a) => usable(a) && a.state === 'creating');
  if (creating) return placeAttempt(ctx, orderId, creating.out_trade_no);
  if (attempts.length >= ATTEMPTS_PER_ORDER_MAX) throw new AppError('conflict', 'too many payment attempts for this order; start a new top-up', { reason: 'attempts_limit' });
  const outTradeNo = newOutTradeNo();
  await inTx(ctx.db, async (tx) => {
    const o = await lockOrder(tx, orderId);
    if (!o || o.status !== 'created') throw new AppError('conflict', `the order is ${o?.status ?? 'gone'}`);
    await insertAttempt(tx, {
      out_trade_no: outTradeNo,
      order_id: orderId,
      tenant_id: o.tenant_id,
      app_kind: payer.app,
      app_id: payer.appId,
      payer_openid: payer.openid,
      notify_url: notifyUrls(ctx, o.tenant_id).payment,
      amount_fen: o.total_fen,
      state: 'creating',
      expires_at: new Date(Math.min(now.getTime() + ATTEMPT_TTL_MS, o.expires_at.getTime())),
      created_at: now,
      updated_at: now,
    });
    await addHistory(tx, { orderId, tenantId: o.tenant_id, at: now, status: o.status, event: 'payment_offered_again', note: payer.app });
    await enqueueJob(tx, { topic: QUERY_TOPIC, payload: { outTradeNo, round: 0 }, dedupeKey: `${QUERY_TOPIC}:${outTradeNo}:0`, runAfter: new Date(now.getTime() + queryDelayMs(0)) });
  });
  return placeAttempt(ctx, orderId, outTradeNo);
}

/**
 * Marks an attempt closed (or failed) and fails the order when no attempt is left that could
 * still be paid and nothing was paid. Order row first, then the attempt.
 */
export async function closeAttempt(ctx: AppContext, tx: Tx, orderId: string, outTradeNo: string, state: 'closed' | 'failed', why: string): Promise<void> {
  const order = await lockOrder(tx, orderId);
  const attempt = await lockAttempt(tx, outTradeNo);
  if (!order || !attempt || !LIVE_STATES.has(attempt.state)) return;
  const now = ctx.clock.now();
  await updateAttempt(tx, outTradeNo, { state, updated_at: now });
  await failIfNothingLive(ctx, tx, order, now, why);
}

async function failIfNothingLive(ctx: AppContext, tx: Tx, order: Order, now: Date, why: string): Promise<void> {
  if (order.status !== 'created') return;
  const live = (await attemptsOfOrder(tx, order.id)).some((a) => LIVE_STATES.has(a.state) || a.state === 'paid');
  if (live) return;
  await transition(tx, order, 'failed', 'not_paid', now, { failed_at: now, reason: 'not_paid' }, why.slice(0, 200));
  await enqueueMessage(tx, order.id, 'failed');
}

const isPaid = (t: PayTransaction | undefined): boolean => t !== undefined && (t.tradeState === 'SUCCESS' || t.tradeState === 'REFUND') && t.transactionId !== undefined;

/**
 * The active query: when no notification has moved the attempt, ask WeChat. Paid → applied as a
 * notification would be; unpaid → asked again later; past time_expire → closed (closing an order
 * that was paid meanwhile answers ORDERPAID, and the next query applies it).
 */
export async function queryJob(ctx: AppContext, payload: { outTradeNo: string; round: number; closeNow?: boolean }, _job: JobContext): Promise<void> {
  const attempt = await getAttempt(ctx.db, payload.outTradeNo);
  if (!attempt || !LIVE_STATES.has(attempt.state)) return;
  let t: PayTransaction | undefined;
  try {
    t = await queryOrder(ctx, attempt.tenant_id, attempt.out_trade_no);
  } catch (err) {
    if (!(err instanceof PayApiError && err.code === 'ORDER_NOT_EXIST')) throw err;
  }
  crashPoint('query.after_answer');
  if (t && isPaid(t)) {
    const paid = t;
    await inTx(ctx.db, async (tx) => {
      crashPoint('query.in_tx');
      await applyPayment(ctx, tx, attempt.tenant_id, paid, 'query');
    });
    return;
  }
  const now = ctx.clock.now();
  const waiting = t === undefined || t.tradeState === 'NOTPAY' || t.tradeState === 'USERPAYING';
  const pastExpiry = now.getTime() >= attempt.expires_at.getTime() + CLOSE_GRACE_MS;
  if (waiting && !pastExpiry && !payload.closeNow && payload.round + 1 < QUERY_ROUNDS_MAX) {
    const round = payload.round + 1;
    const runAfter = new Date(Math.max(now.getTime() + 30_000, attempt.created_at.getTime() + queryDelayMs(round)));
    await enqueueJob(ctx.db, { topic: QUERY_TOPIC, payload: { outTradeNo: attempt.out_trade_no, round }, dedupeKey: `${QUERY_TOPIC}:${attempt.out_trade_no}:${round}`, runAfter });
    return;
  }
  if (t !== undefined && waiting) {
    // Intent first: a crash between here and the answer leaves `closing`, which the next run finishes.
    await inTx(ctx.db, (tx) => updateAttempt(tx, attempt.out_trade_no, { state: 'closing', updated_at: now }));
    try {
      await closeOrder(ctx, attempt.tenant_id, attempt.out_trade_no);
    } catch (err) {
      if (err instanceof PayApiError && err.code === 'ORDERPAID') {
        // Paid at the last moment: query again at once, which applies the payment.
        await enqueueJob(ctx.db, { topic: QUERY_TOPIC, payload: { outTradeNo: attempt.out_trade_no, round: payload.round + 1 }, dedupeKey: `${QUERY_TOPIC}:${attempt.out_trade_no}:paid`, runAfter: now });
        return;
      }
      if (!(err instanceof PayApiError && (err.code === 'ORDER_CLOSED' || err.code === 'ORDER_NOT_EXIST'))) throw err;
    }
  }
  await inTx(ctx.db, (tx) => closeAttempt(ctx, tx, attempt.order_id, attempt.out_trade_no, 'closed', t ? `WeChat order ${t.tradeState}` : 'no WeChat order'));
}

/** The order's expiry backstop: any attempt still live is queried and closed now; an order with none fails. */
export async function expireJob(ctx: AppContext, payload: { orderId: string }, _job: JobContext): Promise<void> {
  const order = await getOrder(ctx.db, payload.orderId);
  if (!order || order.status !== 'created') return;
  const attempts = await attemptsOfOrder(ctx.db, order.id);
  const live = attempts.filter((a) => LIVE_STATES.has(a.state));
  for (const a of live) {
    await enqueueJob(ctx.db, { topic: QUERY_TOPIC, payload: { outTradeNo: a.out_trade_no, round: QUERY_ROUNDS_MAX, closeNow: true }, dedupeKey: `${QUERY_TOPIC}:${a.out_trade_no}:expire` });
  }
  if (live.length === 0) {
    await inTx(ctx.db, async (tx) => {
      const o = await lockOrder(tx, order.id);
      if (o) await failIfNothingLive(ctx, tx, o, ctx.clock.now(), 'expired');
    });
  }
}

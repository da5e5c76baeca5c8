// Placing a top-up order: checks (switch, card, relative, real name, limits, PBOC cap), the order recorded, then the WeChat Pay JSAPI order placed and its wx.requestPayment parameters returned.
import { createHmac, hkdfSync } from 'node:crypto';
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { enqueueJob } from '../app/jobs.ts';
import { inTx, sqlState } from '../db/tx.ts';
import { findCardByNumber, type CoreCard } from '../core/index.ts';
import { assertCardUsable, listBoundCards } from '../identity/index.ts';
import { checkRateLimit } from '../risk/index.ts';
import { newId, randomToken } from '../shared/ids.ts';
import { requireTenant, TOPUP_METHODS, type TopupMethod } from '../tenants/index.ts';
import { notifyUrls } from '../wechat/pay/index.ts';
import { ensureTopupAccounts } from './accounts.ts';
import { settlementArrival } from './calendar.ts';
import { acceptedContact } from './contacts.ts';
import { storedValueFen } from './credit.ts';
import { newOutTradeNo, payerIn, placeAttempt, QUERY_TOPIC, EXPIRE_TOPIC, type PayerApp } from './attempts.ts';
import { ATTEMPT_TTL_MS, ORDER_TTL_MS, cardStatusRefusal, queryDelayMs, quoteTopup } from './policy.ts';
import { assertNotPaused } from './settings.ts';
import { addHistory, findOrderByKey, insertAttempt, insertOrder, jsonOf, openOrdersFen, type Order } from './store.ts';
import { answerOf, type TopupAnswer } from './views.ts';

export interface NewTopup {
  citizenCardNumber: string;
  /** Fen. */
  amount: number;
  method: TopupMethod;
  /** A trusted contact id: top up a relative's card. */
  onBehalfOf?: string;
  /** Which of the tenant's apps the payer is in (the JSAPI order is bound to its appid and openid). */
  app?: PayerApp;
}

/** Orders one user may place per minute. */
export const ORDERS_PER_MINUTE = 10;

function requestHash(pepper: string, input: NewTopup): string {
  const key = Buffer.from(hkdfSync('sha256', pepper, 'wecard/topup', 'idempotency-body', 32));
  const canonical = JSON.stringify([input.citizenCardNumber.replace(/\s/g, ''), input.amount, input.method, input.onBehalfOf ?? null, input.app ?? null]);
  return createHmac('sha256', key).update(canonical).digest('hex');
}

/** The card to credit, and whether the caller may top it up (own bound card, or an accepted contact's). */
async function cardFor(ctx: AppContext, p: CardholderPrincipal, input: NewTopup): Promise<{ card: CoreCard; contactId: string | null }> {
  const card = await findCardByNumber(ctx.db, ctx.crypto, p.tenantId, input.citizenCardNumber);
  if (!card || card.kind !== 'citizen' || !card.citizen) throw new AppError('not_found', 'no citizen card with this number at this institution');
  if (input.onBehalfOf !== undefined) {
    const c = await acceptedContact(ctx.db, p.userId, input.onBehalfOf);
    if (!c || c.card_id !== card.id) throw new AppError('forbidden', 'the card is not one of your accepted trusted contacts');
    const refusal = cardStatusRefusal(card.status);
    if (refusal) throw refusal;
    return { card, contactId: c.id };
  }
  const bound = (await listBoundCards(ctx.db, p.tenantId, p.userId)).find((b) => b.coreCardId === card.id);
  if (!bound) throw new AppError('forbidden', 'the card is not bound to you; a relative’s card needs an accepted trusted contact (onBehalfOf)');
  await assertCardUsable(ctx, bound, { purpose: 'topup' });
  const refusal = cardStatusRefusal(card.status);
  if (refusal) throw refusal;
  return { card, contactId: null };
}

/**
 * `POST /api/v1/topups`. The order and its first attempt are written before WeChat is called;
 * a retry with the same Idempotency-Key resumes where the first request stopped and then answers
 * as the first answer did.
 */
export async function createTopup(ctx: AppContext, p: CardholderPrincipal, input: NewTopup, idempotencyKey: string | undefined): Promise<TopupAnswer> {
  if (!(TOPUP_METHODS as readonly string[]).includes(input.method)) throw AppError.validation([{ field: 'method', message: `must be one of ${TOPUP_METHODS.join(', ')}` }]);
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw AppError.validation([{ field: 'amount', message: 'must be a whole number of fen above 0' }]);
  await assertNotPaused(ctx.db, p.tenantId);
  const key = idempotencyKey ?? `auto:${randomToken(12)}`;
  const hash = requestHash(ctx.passwordPepper, input);
  const earlier = await findOrderByKey(ctx.db, p.tenantId, p.userId, key);
  if (earlier) return resume(ctx, earlier, hash);

  const now = ctx.clock.now();
  await checkRateLimit(ctx, { bucket: 'topup.orders', key: p.userId, limit: ORDERS_PER_MINUTE, windowMs: 60_000, now });
  const tenant = await requireTenant(ctx.db, p.tenantId);
  const { card, contactId } = await cardFor(ctx, p, input);
  const citizen = card.citizen!;
  if (tenant.policy.topup.realNameRequired && !citizen.realName) {
    throw new AppError('conflict', 'this operator tops up registered (实名) cards only: register the card first', { reason: 'real_name_required' });
  }
  const quote = quoteTopup(tenant.policy, {
    method: input.method,
    amountFen: BigInt(input.amount),
    realName: citizen.realName,
    storedFen: await storedValueFen(ctx.db, card.ledgerAccountId),
    openOrdersFen: await openOrdersFen(ctx.db, card.id, now),
  });
  const payer = await payerIn(ctx, tenant, p.userId, input.app);
  await ensureTopupAccounts(ctx, p.tenantId);

  const arrival = settlementArrival(tenant.policy.settlement, now);
  const orderId = newId('tu');
  const outTradeNo = newOutTradeNo();
  const expiresAt = new Date(now.getTime() + ORDER_TTL_MS);
  const attemptExpires = new Date(now.getTime() + ATTEMPT_TTL_MS);
  try {
    await inTx(ctx.db, async (tx) => {
      await insertOrder(tx, {
        id: orderId,
        tenant_id: p.tenantId,
        user_id: p.userId,
        card_id: card.id,
        card_ledger_account_id: card.ledgerAccountId,
        card_masked: card.maskedNumber,
        card_form: citizen.form,
        contact_id: contactId,
        method: input.method,
        amount_fen: quote.amountFen,
        fee_fen: quote.feeFen,
        total_fen: quote.totalFen,
        currency: 'CNY',
        status: 'created',
        idempotency_key: key,
        request_hash: hash,
        expected_arrival: arrival.latest,
        settle_kind: arrival.kind,
        calendar_covered: arrival.calendarCovered,
        expires_at: expiresAt,
        created_at: now,
        updated_at: now,
      });
      await insertAttempt(tx, {
        out_trade_no: outTradeNo,
        order_id: orderId,
        tenant_id: p.tenantId,
        app_kind: payer.app,
        app_id: payer.appId,
        payer_openid: payer.openid,
        notify_url: notifyUrls(ctx, p.tenantId).payment,
        amount_fen: quote.totalFen,
        state: 'creating',
        expires_at: attemptExpires,
        created_at: now,
        updated_at: now,
      });
      await addHistory(tx, { orderId, tenantId: p.tenantId, at: now, status: 'created', event: 'created', note: contactId ? 'for a trusted contact' : undefined });
      await enqueueJob(tx, { topic: QUERY_TOPIC, payload: { outTradeNo, round: 0 }, dedupeKey: `${QUERY_TOPIC}:${outTradeNo}:0`, runAfter: new Date(now.getTime() + queryDelayMs(0)) });
      await enqueueJob(tx, { topic: EXPIRE_TOPIC, payload: { orderId }, dedupeKey: `${EXPIRE_TOPIC}:${orderId}`, runAfter: expiresAt });
    });
  } catch (err) {
    // A concurrent twin with the same key won the insert: answer as it does.
    if (sqlState(err) === '23505') {
      const twin = await findOrderByKey(ctx.db, p.tenantId, p.userId, key);
      if (twin) return resume(ctx, twin, hash);
    }
    throw err;
  }
  ctx.log.info({ tenantId: p.tenantId, orderId, method: input.method, amountFen: quote.amountFen, form: citizen.form, onBehalf: contactId !== null }, 'top-up order created');
  return placeAttempt(ctx, orderId, outTradeNo);
}

/** A replay of POST /api/v1/topups: same body → the first answer (finishing the first request's work if it died). */
async function resume(ctx: AppContext, order: Order, hash: string): Promise<TopupAnswer> {
  if (order.request_hash !== hash) throw new AppError('idempotency_conflict', 'this Idempotency-Key was used with another top-up');
  const first = jsonOf<TopupAnswer>(order.first_answer);
  if (first) return first;
  const attempt = await ctx.db.selectFrom('topup_attempts').select(['out_trade_no', 'state']).where('order_id', '=', order.id).orderBy('created_at').executeTakeFirst();
  if (!attempt || order.status !== 'created') return answerOf(order, null);
  return placeAttempt(ctx, order.id, attempt.out_trade_no);
}

// A payment of a top-up order as WeChat reports it (notification, order query or reconciliation): checked against the order and applied exactly once.
import type { AppContext } from '../app/context.ts';
import type { Tx } from '../db/tx.ts';
import type { PayTransaction, TransactionNotification } from '../wechat/pay/index.ts';
import { crashPoint } from './crash.ts';
import { outboxInsert, type NewJob } from '../app/jobs.ts';
import { lockCards, type CoreCard } from '../core/index.ts';
import { reactivateIfQualifying } from '../identity/index.ts';
import { getBalances, transferMany, type TransferInput } from '../ledger/index.ts';
import { requireTenant, type Policy } from '../tenants/index.ts';
import { topupAccounts } from './accounts.ts';
import { creditCheck, creditMovements, creditOrder, creditRefusal, holdInSuspense, settlementStep, transition } from './credit.ts';
import { messageJobOf } from './messages.ts';
import { requestRefund } from './refunds.ts';
import { openReviewItem } from './review.ts';
import {
  addHistory,
  getAttempt,
  lockAttempt,
  lockOrder,
  lockOrdersAndAttempts,
  recordCredits,
  updateAttempt,
  type Attempt,
  type CreditedOrder,
  type HistoryLine,
  type Order,
  type PaidAttempt,
} from './store.ts';

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

/** The onTransactions handler for payNotifications: several notifications in one group-commit transaction. */
export async function onTransactionNotifications(ctx: AppContext, tx: Tx, ns: TransactionNotification[]): Promise<void> {
  await applyPayments(ctx, tx, ns.map((n) => ({ tenantId: n.tenantId, transaction: n.transaction })), 'notification');
}

/** A payment on the common path: checked, its card usable and within its cap; booked with the others of its batch. */
interface Straight {
  tenantId: string;
  t: PayTransaction;
  order: Order;
  attempt: Attempt;
  card: CoreCard;
}

/**
 * applyPayment for several payments in one transaction, with the same outcome for each as applying
 * them one by one. The common case (a first payment of an electronic card's order, amounts and app
 * matching, card usable and within its cap) is written with multi-row statements: the orders and
 * attempts locked in one, their updates, history lines and jobs written in one, and every credit in
 * one ledger booking. Anything else (repeats, duplicates, mismatches,
 * physical cards, refusals, unknown orders) goes through applyPayment itself afterwards, in the same
 * transaction: the outcome of running the common ones first and then the others one by one. Lock
 * order as applyPayment: orders (by id), then attempts.
 */
export async function applyPayments(ctx: AppContext, tx: Tx, payments: { tenantId: string; transaction: PayTransaction }[], source: PaymentSource): Promise<void> {
  const ours = payments.filter((p) => p.transaction.outTradeNo.startsWith(OUT_TRADE_NO_PREFIX));
  const outTradeNos = [...new Set(ours.map((p) => p.transaction.outTradeNo))];
  if (outTradeNos.length === 0) return;
  const { orders, attempts } = await lockOrdersAndAttempts(tx, outTradeNos);
  const now = ctx.clock.now();

  const candidates: Omit<Straight, 'card'>[] = [];
  const oneByOne: { tenantId: string; transaction: PayTransaction }[] = [];
  const taken = new Set<string>();
  for (const p of ours) {
    const t = p.transaction;
    const attempt = attempts.get(t.outTradeNo);
    const order = attempt ? orders.get(attempt.order_id) : undefined;
    const straight =
      attempt !== undefined &&
      order !== undefined &&
      attempt.tenant_id === p.tenantId &&
      attempt.state !== 'paid' &&
      order.paid_out_trade_no === null &&
      order.card_form === 'electronic' &&
      // One payment per order in the batch: a second one is a duplicate, which applyPayment handles after the first.
      !taken.has(order.id) &&
      BigInt(t.amount.totalFen) === attempt.amount_fen &&
      t.appId === attempt.app_id &&
      (t.amount.currency ?? 'CNY') === 'CNY';
    if (straight) {
      taken.add(order.id);
      candidates.push({ tenantId: p.tenantId, t, order, attempt });
    } else {
      oneByOne.push(p);
    }
  }

  // The card checks: cards locked (a concurrent credit of one of them finishes first), then their
  // stored values as this transaction sees them, each earlier credit of the batch counted. Every
  // order's card is locked here, in id order, the exceptions' too: the single path that handles
  // those afterwards then takes no card lock out of that order (no deadlock with another batch).
  const cards = await lockCards(tx, [...orders.values()].map((o) => o.card_id));
  const balances = await getBalances(tx, candidates.map((c) => c.order.card_ledger_account_id), now);
  const added = new Map<string, bigint>();
  const straight: Straight[] = [];
  for (const c of candidates) {
    const card = cards.get(c.order.card_id);
    const b = balances.get(c.order.card_ledger_account_id);
    const account = c.order.card_ledger_account_id;
    if (!card || !b || creditRefusal(card, b.postedFen + b.pendingCreditFen + (added.get(account) ?? 0n), c.order.amount_fen)) {
      oneByOne.push({ tenantId: c.tenantId, transaction: c.t });
      continue;
    }
    added.set(account, (added.get(account) ?? 0n) + c.order.amount_fen);
    straight.push({ ...c, card });
  }

  // The common ones first, then the rest one by one, exactly as single notifications in that order
  // would run: each exception sees the batch's credits (a card's cap, an order already paid).
  if (straight.length > 0) await creditStraight(ctx, tx, straight, source, now);
  for (const p of oneByOne) await applyPayment(ctx, tx, p.tenantId, p.transaction, source);
}

async function creditStraight(ctx: AppContext, tx: Tx, items: Straight[], source: PaymentSource, now: Date): Promise<void> {
  const policies = new Map<string, Policy>();
  for (const tenantId of new Set(items.map((i) => i.tenantId))) policies.set(tenantId, (await requireTenant(tx, tenantId)).policy);
  const attemptRows: PaidAttempt[] = [];
  const orderRows: CreditedOrder[] = [];
  const history: HistoryLine[] = [];
  const jobs: NewJob[] = [];
  const movements: TransferInput[] = [];
  for (const { tenantId, t, order, attempt, card } of items) {
    crashPoint('notify.in_tx');
    const policy = policies.get(tenantId)!;
    const acc = await topupAccounts(ctx, tx, tenantId);
    const paidFen = BigInt(t.amount.totalFen);
    const successAt = successTimeOf(t, now);
    attemptRows.push({ outTradeNo: attempt.out_trade_no, transactionId: t.transactionId ?? null, paidFen, bankType: t.bankType ?? null, successAt });
    const step = settlementStep(ctx, order, policy, now);
    orderRows.push({ id: order.id, status: step.status, outTradeNo: attempt.out_trade_no, transactionId: t.transactionId ?? null, paidFen, paidAt: successAt, patch: step.patch });
    history.push(
      { orderId: order.id, tenantId, at: now, status: 'paid', event: `paid_by_${source}` },
      { orderId: order.id, tenantId, at: now, status: 'credited', event: 'credited' },
      { orderId: order.id, tenantId, at: now, status: step.status, event: step.event, note: step.note },
    );
    if (step.job) jobs.push(step.job);
    jobs.push(messageJobOf(order.id, step.message));
    if (card.status === 'dormant' || policy.dormant.afterMonths !== null) {
      await reactivateIfQualifying(tx, { id: card.id, tenantId: card.tenantId }, { amountFen: order.amount_fen, incoming: true, at: now });
    }
    movements.push(...creditMovements(order, acc, { amountFen: order.amount_fen, feeFen: order.fee_fen, from: 'customer_funds', physical: false, now }));
  }
  await recordCredits(tx, { attempts: attemptRows, orders: orderRows, history, jobs: outboxInsert(jobs) }, now);
  // Booked last, as creditOrder does: the customer-funds rows stay locked from here to the commit.
  await transferMany(tx, movements);
  for (let i = 0; i < items.length; i++) crashPoint('notify.after_credit');
}

// Reviewers' decisions on top-up exceptions (credit, refund, reject) through the same use cases as the automatic paths, with four-eyes approval above the tenant's threshold.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx, type Tx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { transfer } from '../ledger/index.ts';
import { shardOf, topupAccounts } from './accounts.ts';
import { creditCheck, creditOrder, holdInSuspense, ledgerIds, transition } from './credit.ts';
import { requestRefund } from './refunds.ts';
import { assertOperatorId } from './review.ts';
import { lockReviewItem, updateReviewItem, REVIEW_DECISIONS, type ReviewDecision, type ReviewItem } from './review-store.ts';
import { CREDITED_STATUSES } from './policy.ts';
import { addHistory, getAttempt, lockOrder } from './store.ts';
import { getTopupSettings } from './settings.ts';

const NOTE_MAX_CHARS = 500;

export interface Decision {
  tenantId: string;
  itemId: string;
  operatorId: string;
  decision: ReviewDecision;
  note?: string;
}

/** Whether the decision needs a second reviewer: anything at stake at or above the tenant's threshold. */
export function needsFourEyes(item: Pick<ReviewItem, 'amountFen' | 'heldFen'>, thresholdFen: bigint): boolean {
  const abs = (v: bigint) => (v < 0n ? -v : v);
  const stake = abs(item.amountFen) > item.heldFen ? abs(item.amountFen) : item.heldFen;
  return stake >= thresholdFen;
}

/** Which decisions make sense for an item (the console greys out the others). */
export function allowedDecisions(item: Pick<ReviewItem, 'class' | 'heldFen' | 'amountFen' | 'orderId' | 'outTradeNo'>): ReviewDecision[] {
  if (item.class === 'unknown_payment') return ['reject'];
  if (item.heldFen > 0n) return item.orderId ? ['credit', 'refund'] : ['refund'];
  if (item.class === 'credited_not_paid') return ['credit', 'reject'];
  // A bill that says more was paid than we booked: credit or refund the difference, or judge the bill wrong.
  return item.amountFen > 0n && item.orderId ? ['credit', 'refund', 'reject'] : ['reject'];
}

function checkInput(d: Decision): void {
  assertOperatorId(d.operatorId);
  if (!(REVIEW_DECISIONS as readonly string[]).includes(d.decision)) throw AppError.validation([{ field: 'decision', message: `must be one of ${REVIEW_DECISIONS.join(', ')}` }]);
  if (d.note !== undefined && [...d.note].length > NOTE_MAX_CHARS) throw AppError.validation([{ field: 'note', message: `must be at most ${NOTE_MAX_CHARS} characters` }]);
}

/**
 * A reviewer decides. Below the tenant's four-eyes threshold the decision is carried out at once;
 * at or above it the item waits (pending_approval) for another reviewer's `approveReviewDecision`.
 */
export async function decideReviewItem(ctx: AppContext, d: Decision): Promise<ReviewItem> {
  checkInput(d);
  const settings = await getTopupSettings(ctx.db, d.tenantId);
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    const item = await lockReviewItem(tx, d.tenantId, d.itemId);
    if (!item) throw new AppError('not_found', 'no such review item');
    if (item.status !== 'open') throw new AppError('conflict', item.status === 'closed' ? 'the item is already decided' : 'a decision is waiting for approval');
    if (!allowedDecisions(item).includes(d.decision)) throw new AppError('conflict', `${d.decision} does not apply to this item (allowed: ${allowedDecisions(item).join(', ')})`, { allowed: allowedDecisions(item) });
    if (needsFourEyes(item, settings.fourEyesThresholdFen)) {
      await updateReviewItem(tx, item.id, { status: 'pending_approval', proposed_decision: d.decision, proposed_by: d.operatorId, proposed_at: now, note: d.note ?? null, updated_at: now });
      await audit(tx, d, item, 'topup.review_proposed', now);
      return { ...item, status: 'pending_approval', proposedDecision: d.decision, proposedBy: d.operatorId, proposedAt: now, note: d.note ?? null };
    }
    return carryOut(ctx, tx, item, d.decision, { decidedBy: d.operatorId, approvedBy: null, note: d.note ?? null, now });
  });
}

/** The second reviewer approves a proposed decision; the proposer cannot approve their own. */
export async function approveReviewDecision(ctx: AppContext, x: { tenantId: string; itemId: string; operatorId: string }): Promise<ReviewItem> {
  assertOperatorId(x.operatorId);
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    const item = await lockReviewItem(tx, x.tenantId, x.itemId);
    if (!item) throw new AppError('not_found', 'no such review item');
    if (item.status !== 'pending_approval' || !item.proposedDecision || !item.proposedBy) throw new AppError('conflict', 'no decision is waiting for approval');
    if (item.proposedBy === x.operatorId) throw new AppError('forbidden', 'a reviewer cannot approve their own decision (four-eyes)');
    return carryOut(ctx, tx, item, item.proposedDecision, { decidedBy: item.proposedBy, approvedBy: x.operatorId, note: item.note, now });
  });
}

/** The second reviewer sends a proposal back: the item is open again. */
export async function declineReviewDecision(ctx: AppContext, x: { tenantId: string; itemId: string; operatorId: string; note?: string }): Promise<ReviewItem> {
  assertOperatorId(x.operatorId);
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    const item = await lockReviewItem(tx, x.tenantId, x.itemId);
    if (!item) throw new AppError('not_found', 'no such review item');
    if (item.status !== 'pending_approval') throw new AppError('conflict', 'no decision is waiting for approval');
    if (item.proposedBy === x.operatorId) throw new AppError('forbidden', 'the proposer cannot decline their own proposal');
    await updateReviewItem(tx, item.id, { status: 'open', proposed_decision: null, proposed_by: null, proposed_at: null, note: x.note ?? item.note, updated_at: now });
    await recordAudit(tx, { tenantId: item.tenantId, actor: { kind: 'operator', id: x.operatorId }, action: 'topup.review_declined', subject: { kind: 'review_item', id: item.id }, outcome: 'ok', at: now });
    return { ...item, status: 'open', proposedDecision: null, proposedBy: null, proposedAt: null };
  });
}

async function audit(tx: Tx, d: { tenantId: string; operatorId: string; decision: ReviewDecision }, item: ReviewItem, action: string, now: Date): Promise<void> {
  await recordAudit(tx, {
    tenantId: d.tenantId,
    actor: { kind: 'operator', id: d.operatorId },
    action,
    subject: { kind: 'review_item', id: item.id },
    outcome: 'ok',
    detail: { decision: d.decision, class: item.class, amountFen: item.amountFen, heldFen: item.heldFen },
    at: now,
  });
}

/**
 * Carries a decision out in the caller's transaction: money held in suspense goes to the card
 * (credit) or back to the payer (refund, by the refund job); a bill discrepancy is booked or
 * refunded; a credit the bill never paid is reversed (reject).
 */
async function carryOut(ctx: AppContext, tx: Tx, item: ReviewItem, decision: ReviewDecision, who: { decidedBy: string; approvedBy: string | null; note: string | null; now: Date }): Promise<ReviewItem> {
  const { now } = who;
  const order = item.orderId ? await lockOrder(tx, item.orderId) : undefined;
  const attempt = item.outTradeNo ? await getAttempt(tx, item.outTradeNo) : undefined;
  const stake = item.heldFen > 0n ? item.heldFen : item.amountFen;
  const acc = await topupAccounts(ctx, tx, item.tenantId);
  await updateReviewItem(tx, item.id, { status: 'closed', decision, decided_by: who.decidedBy, approved_by: who.approvedBy, decided_at: now, note: who.note, updated_at: now });
  await audit(tx, { tenantId: item.tenantId, operatorId: who.approvedBy ?? who.decidedBy, decision }, item, 'topup.review_decided', now);

  if (decision === 'credit' && order) {
    if (item.class === 'credited_not_paid') {
      await addHistory(tx, { orderId: order.id, tenantId: order.tenant_id, at: now, status: order.status, event: 'review_confirmed_credit', note: item.id });
    } else {
      const check = await creditCheck(tx, order, stake);
      if (!check.ok) throw new AppError('conflict', `the card cannot take it (${check.reason}); refund instead`, { reason: check.reason });
      const from = item.heldFen > 0n ? 'suspense' : 'customer_funds';
      if (CREDITED_STATUSES.includes(order.status)) {
        // The order is on the card already: this is extra money (a duplicate kept, a bill difference).
        await addHistory(tx, { orderId: order.id, tenantId: order.tenant_id, at: now, status: order.status, event: 'review_credit', note: `${stake} fen (${item.id})` });
        await transfer(tx, { idempotencyId: ledgerIds.decision(item.id, 'credit'), debitAccountId: from === 'suspense' ? acc.suspense : shardOf(acc.customerFunds, order.id), creditAccountId: order.card_ledger_account_id, amountFen: stake, kind: 'topup', description: '市民卡充值（人工入账）', now, metadata: { orderId: order.id, reviewItemId: item.id } });
      } else {
        await creditOrder(ctx, tx, { order, amountFen: stake, feeFen: 0n, from, creditId: ledgerIds.decision(item.id, 'credit'), event: 'review_credit', now }, check.card);
      }
    }
  } else if (decision === 'refund' && order && attempt) {
    if (item.heldFen === 0n) {
      // A bill difference: the money was never booked; hold it first, then refund it.
      await holdInSuspense(ctx, tx, { tenantId: item.tenantId, outTradeNo: attempt.out_trade_no, amountFen: stake, reason: item.class, now, idempotencyId: ledgerIds.decision(item.id, 'held') });
    }
    const orderLevel = order.status === 'review';
    const current = orderLevel ? await transition(tx, order, 'refunding', 'review_refund', now, { reason: item.class }) : order;
    await requestRefund(tx, { order: current, attempt, amountFen: stake, reason: 'review_decision', reviewItemId: item.id, now });
  } else if (decision === 'reject' && item.class === 'credited_not_paid' && order) {
    // Never paid: take the credit back off the card (the card must still hold it).
    await transition(tx, order, 'failed', 'review_reversed', now, { reason: 'not_paid', failed_at: now });
    await transfer(tx, { idempotencyId: ledgerIds.decision(item.id, 'reverse'), debitAccountId: order.card_ledger_account_id, creditAccountId: shardOf(acc.customerFunds, order.id), amountFen: -item.amountFen, kind: 'topup_reversal', description: '充值冲正（未收到支付）', now, metadata: { orderId: order.id, reviewItemId: item.id } });
  } else if (decision === 'reject') {
    if (order) await addHistory(tx, { orderId: order.id, tenantId: order.tenant_id, at: now, status: order.status, event: 'review_rejected', note: item.id });
  } else {
    throw new AppError('conflict', `${decision} needs the item's order and payment`);
  }
  return { ...item, status: 'closed', decision, decidedBy: who.decidedBy, approvedBy: who.approvedBy, decidedAt: now, note: who.note, updatedAt: now };
}

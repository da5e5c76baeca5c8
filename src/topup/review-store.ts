// The review queue's SQL and its item type: top-up exceptions waiting for a reviewer, with their SLA clock.
import type { Selectable, Updateable } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import { newId } from '../shared/ids.ts';
import { fen, jsonOf } from './store.ts';
import type { ReviewStatus, TopupReviewItemRow } from './topup.table.ts';

/**
 * Why an item is in the queue:
 * - amount_mismatch: the paid amount differs from the order (at payment: money held) or the bill
 *   disagrees with what we recorded (at reconciliation: amount = bill − recorded, nothing held);
 * - credited_not_paid: a card was credited for a payment the bill does not show (amount = −credited);
 * - unknown_payment: a payment of ours we have no order for (money held);
 * - card_unusable: the card was lost, frozen or cancelled when the money arrived (money held);
 * - load_unclaimed: a physical card's load was not written within the 补登 window (money held);
 * - refund_failed: WeChat closed or could not complete a refund (money held);
 * - paid_not_credited: the automatic fix could not credit a payment (money held or unbooked).
 */
export const REVIEW_CLASSES = ['amount_mismatch', 'credited_not_paid', 'unknown_payment', 'card_unusable', 'load_unclaimed', 'refund_failed', 'paid_not_credited'] as const;
export type ReviewClass = (typeof REVIEW_CLASSES)[number];
export const REVIEW_DECISIONS = ['credit', 'refund', 'reject'] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

export interface ReviewItem {
  id: string;
  tenantId: string;
  orderId: string | null;
  outTradeNo: string | null;
  class: ReviewClass;
  /** What is at stake from the payer's side: counted "in review" until the item closes. */
  amountFen: bigint;
  /** Paid money held in suspense for this item. */
  heldFen: bigint;
  detail: Record<string, unknown>;
  status: ReviewStatus;
  assignee: string | null;
  proposedDecision: ReviewDecision | null;
  proposedBy: string | null;
  proposedAt: Date | null;
  decision: ReviewDecision | null;
  decidedBy: string | null;
  approvedBy: string | null;
  decidedAt: Date | null;
  note: string | null;
  /** The SLA clock: decided by then (policy.exceptions.manualReviewMinutes after creation). */
  dueAt: Date;
  escalationLevel: number;
  escalatedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

type Row = Selectable<TopupReviewItemRow>;

export function toReviewItem(r: Row): ReviewItem {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    orderId: r.order_id,
    outTradeNo: r.out_trade_no,
    class: r.class as ReviewClass,
    amountFen: fen(r.amount_fen),
    heldFen: fen(r.held_fen),
    detail: jsonOf<Record<string, unknown>>(r.detail) ?? {},
    status: r.status,
    assignee: r.assignee,
    proposedDecision: r.proposed_decision as ReviewDecision | null,
    proposedBy: r.proposed_by,
    proposedAt: r.proposed_at,
    decision: r.decision as ReviewDecision | null,
    decidedBy: r.decided_by,
    approvedBy: r.approved_by,
    decidedAt: r.decided_at,
    note: r.note,
    dueAt: r.due_at,
    escalationLevel: r.escalation_level,
    escalatedAt: r.escalated_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface NewReviewItem {
  tenantId: string;
  orderId?: string | null;
  outTradeNo?: string | null;
  class: ReviewClass;
  amountFen: bigint;
  heldFen: bigint;
  detail?: Record<string, unknown>;
  /** One item per key: reconciliation run twice opens nothing twice. */
  dedupeKey: string;
  dueAt: Date;
  now: Date;
}

/** Inserts the item unless one with the key exists; returns the item and whether it is new. */
export async function insertReviewItem(tx: Tx, n: NewReviewItem): Promise<{ item: ReviewItem; created: boolean }> {
  const inserted = await tx
    .insertInto('topup_review_items')
    .values({
      id: newId('rv'),
      tenant_id: n.tenantId,
      order_id: n.orderId ?? null,
      out_trade_no: n.outTradeNo ?? null,
      class: n.class,
      amount_fen: n.amountFen,
      held_fen: n.heldFen,
      detail: n.detail ? JSON.stringify(n.detail) : null,
      status: 'open',
      due_at: n.dueAt,
      dedupe_key: n.dedupeKey,
      created_at: n.now,
      updated_at: n.now,
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { item: toReviewItem(inserted), created: true };
  const existing = await tx.selectFrom('topup_review_items').selectAll().where('dedupe_key', '=', n.dedupeKey).executeTakeFirstOrThrow();
  return { item: toReviewItem(existing), created: false };
}

export async function getReviewItemRow(db: Db | Tx, tenantId: string, id: string): Promise<ReviewItem | undefined> {
  const r = await db.selectFrom('topup_review_items').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return r ? toReviewItem(r) : undefined;
}

export async function lockReviewItem(tx: Tx, tenantId: string, id: string): Promise<ReviewItem | undefined> {
  const r = await tx.selectFrom('topup_review_items').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).forUpdate().executeTakeFirst();
  return r ? toReviewItem(r) : undefined;
}

export async function updateReviewItem(tx: Tx, id: string, patch: Updateable<TopupReviewItemRow>): Promise<void> {
  await tx.updateTable('topup_review_items').set(patch).where('id', '=', id).execute();
}

export interface ReviewQuery {
  status?: ReviewStatus | 'unresolved';
  class?: ReviewClass;
  assignee?: string;
  limit: number;
  /** Items due after this (due_at, id) pair: the cursor of the previous page. */
  after?: { dueAt: Date; id: string };
}

/** Items in SLA order (the most urgent first). */
export async function queryReviewItems(db: Db | Tx, tenantId: string, q: ReviewQuery): Promise<ReviewItem[]> {
  let s = db.selectFrom('topup_review_items').selectAll().where('tenant_id', '=', tenantId);
  if (q.status === 'unresolved') s = s.where('status', '<>', 'closed');
  else if (q.status) s = s.where('status', '=', q.status);
  if (q.class) s = s.where('class', '=', q.class);
  if (q.assignee) s = s.where('assignee', '=', q.assignee);
  const after = q.after;
  if (after) s = s.where((eb) => eb.or([eb('due_at', '>', after.dueAt), eb.and([eb('due_at', '=', after.dueAt), eb('id', '>', after.id)])]));
  const rows = await s.orderBy('due_at').orderBy('id').limit(q.limit).execute();
  return rows.map(toReviewItem);
}

/** Sum of what is at stake in unresolved items. */
export async function inReviewFen(db: Db | Tx, tenantId: string): Promise<bigint> {
  const r = await db
    .selectFrom('topup_review_items')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<bigint | number | string>('amount_fen'), eb.val(0)).as('total'))
    .where('tenant_id', '=', tenantId)
    .where('status', '<>', 'closed')
    .executeTakeFirstOrThrow();
  return fen(r.total as bigint | number | string);
}

export async function openItemsOfOrder(db: Db | Tx, orderId: string): Promise<ReviewItem[]> {
  const rows = await db.selectFrom('topup_review_items').selectAll().where('order_id', '=', orderId).where('status', '<>', 'closed').execute();
  return rows.map(toReviewItem);
}

// The manual review queue for top-up exceptions: opening items with their 2-hour SLA clock, listing, assignment, escalation.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { enqueueJob, type JobContext } from '../app/jobs.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { requireTenant } from '../tenants/index.ts';
import { enqueueMessage } from './messages.ts';
import {
  getReviewItemRow,
  insertReviewItem,
  lockReviewItem,
  queryReviewItems,
  updateReviewItem,
  REVIEW_CLASSES,
  type NewReviewItem,
  type ReviewClass,
  type ReviewItem,
} from './review-store.ts';
import type { ReviewStatus } from './topup.table.ts';

export const REVIEW_SLA_TOPIC = 'topup.review_sla';
/** Escalation steps after the SLA is missed (each half an SLA later); then the item stays escalated. */
export const REVIEW_ESCALATION_MAX_LEVEL = 3;
export const REVIEW_LIST_MAX = 100;
const OPERATOR_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,64}$/;

export function assertOperatorId(id: string, field = 'operatorId'): void {
  if (typeof id !== 'string' || !OPERATOR_ID_PATTERN.test(id)) throw AppError.validation([{ field, message: 'must be an operator id' }]);
}

/**
 * Opens an item (once per dedupe key) in the caller's transaction, with its SLA clock from the
 * tenant's policy (exceptions.manualReviewMinutes: "stuck funds → manual review within 2 h") and the
 * job that escalates it when the clock runs out. An order-level item tells the payer it is being checked.
 */
export async function openReviewItem(ctx: AppContext, tx: Tx, n: Omit<NewReviewItem, 'dueAt'> & { tellPayer?: boolean }): Promise<ReviewItem> {
  const policy = (await requireTenant(tx, n.tenantId)).policy;
  const dueAt = new Date(n.now.getTime() + policy.exceptions.manualReviewMinutes * 60_000);
  const { item, created } = await insertReviewItem(tx, { ...n, dueAt });
  if (!created) return item;
  await enqueueJob(tx, { topic: REVIEW_SLA_TOPIC, payload: { tenantId: n.tenantId, itemId: item.id, level: 0 }, dedupeKey: `${REVIEW_SLA_TOPIC}:${item.id}:0`, runAfter: dueAt });
  if (n.orderId && n.tellPayer !== false) await enqueueMessage(tx, n.orderId, 'review');
  ctx.log.warn({ tenantId: n.tenantId, itemId: item.id, class: n.class, orderId: n.orderId ?? undefined, dueAt }, 'top-up exception sent to the review queue');
  return item;
}

export interface ReviewListOptions {
  status?: ReviewStatus | 'unresolved';
  class?: ReviewClass;
  assignee?: string;
  limit?: number;
  cursor?: string;
}

function encodeCursor(item: ReviewItem): string {
  return Buffer.from(JSON.stringify([item.dueAt.toISOString(), item.id])).toString('base64url');
}

function decodeCursor(cursor: string): { dueAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const dueAt = new Date(at);
    if (typeof id !== 'string' || Number.isNaN(dueAt.getTime())) throw new Error('bad');
    return { dueAt, id };
  } catch {
    throw AppError.validation([{ field: 'cursor', message: 'is not a cursor of this list' }]);
  }
}

/** For the console: a tenant's items, most urgent first, cursor-paginated (API.md conventions). */
export async function listReviewItems(db: Db, tenantId: string, opts: ReviewListOptions = {}): Promise<{ items: ReviewItem[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(opts.limit ?? 20, 1), REVIEW_LIST_MAX);
  if (opts.class && !(REVIEW_CLASSES as readonly string[]).includes(opts.class)) throw AppError.validation([{ field: 'class', message: `must be one of ${REVIEW_CLASSES.join(', ')}` }]);
  const items = await queryReviewItems(db, tenantId, {
    status: opts.status ?? 'unresolved',
    class: opts.class,
    assignee: opts.assignee,
    limit: limit + 1,
    after: opts.cursor ? decodeCursor(opts.cursor) : undefined,
  });
  const page = items.slice(0, limit);
  return { items: page, nextCursor: items.length > limit ? encodeCursor(page[page.length - 1]!) : null };
}

export async function getReviewItem(db: Db, tenantId: string, itemId: string): Promise<ReviewItem> {
  const item = await getReviewItemRow(db, tenantId, itemId);
  if (!item) throw new AppError('not_found', 'no such review item');
  return item;
}

/** Assigns an unresolved item to a reviewer (or unassigns it with null). */
export async function assignReviewItem(ctx: AppContext, x: { tenantId: string; itemId: string; operatorId: string; assignee: string | null }): Promise<ReviewItem> {
  assertOperatorId(x.operatorId);
  if (x.assignee !== null) assertOperatorId(x.assignee, 'assignee');
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    const item = await lockReviewItem(tx, x.tenantId, x.itemId);
    if (!item) throw new AppError('not_found', 'no such review item');
    if (item.status === 'closed') throw new AppError('conflict', 'the item is already decided');
    await updateReviewItem(tx, item.id, { assignee: x.assignee, updated_at: now });
    await recordAudit(tx, { tenantId: x.tenantId, actor: { kind: 'operator', id: x.operatorId }, action: 'topup.review_assigned', subject: { kind: 'review_item', id: item.id }, outcome: 'ok', detail: { assignee: x.assignee }, at: now });
    return { ...item, assignee: x.assignee, updatedAt: now };
  });
}

/**
 * The SLA job: an item still unresolved at its due time is escalated (logged as an error for the
 * on-call, audited, level raised); it escalates again every half SLA up to the maximum level.
 */
export async function reviewSlaJob(ctx: AppContext, payload: { tenantId: string; itemId: string; level: number }, _job: JobContext): Promise<void> {
  const now = ctx.clock.now();
  await inTx(ctx.db, async (tx) => {
    const item = await lockReviewItem(tx, payload.tenantId, payload.itemId);
    if (!item || item.status === 'closed' || item.escalationLevel > payload.level) return;
    const level = payload.level + 1;
    await updateReviewItem(tx, item.id, { escalation_level: level, escalated_at: now, updated_at: now });
    await recordAudit(tx, { tenantId: item.tenantId, actor: { kind: 'system', id: 'topup' }, action: 'topup.review_escalated', subject: { kind: 'review_item', id: item.id }, outcome: 'ok', detail: { level, class: item.class }, at: now });
    ctx.log.error({ tenantId: item.tenantId, itemId: item.id, class: item.class, level, dueAt: item.dueAt }, 'top-up review item missed its SLA; escalated');
    if (level < REVIEW_ESCALATION_MAX_LEVEL) {
      const slaMs = item.dueAt.getTime() - item.createdAt.getTime();
      const next = new Date(now.getTime() + Math.max(60_000, Math.floor(slaMs / 2)));
      await enqueueJob(tx, { topic: REVIEW_SLA_TOPIC, payload: { tenantId: item.tenantId, itemId: item.id, level }, dedupeKey: `${REVIEW_SLA_TOPIC}:${item.id}:${level}`, runAfter: next });
    }
  });
}

export type { ReviewItem, ReviewClass } from './review-store.ts';

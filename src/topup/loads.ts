// Physical cards: the on-card load (圈存) confirmed by a terminal or NFC phone, 补登 by transaction number within the window, unclaimed loads to review; and the settlement batch completing settling orders.
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import type { JobContext } from '../app/jobs.ts';
import { inTx } from '../db/tx.ts';
import { listBoundCards } from '../identity/index.ts';
import { findTransferByIdempotencyId, postPending, voidPending } from '../ledger/index.ts';
import { requireTenant } from '../tenants/index.ts';
import { holdInSuspense, settle, transition } from './credit.ts';
import { enqueueMessage } from './messages.ts';
import { openReviewItem } from './review.ts';
import { findOrderByTransactionId, getOrder, lockOrder, type Order } from './store.ts';

export const LOAD_CHANNELS = ['terminal', 'nfc'] as const;
export type LoadChannel = (typeof LOAD_CHANNELS)[number];
const TERMINAL_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

export interface LoadConfirmation {
  tenantId: string;
  /** The order, or the WeChat transaction number for 补登 (from the payment receipt). */
  orderId?: string;
  transactionId?: string;
  channel: LoadChannel;
  /** The terminal that wrote the card (terminal channel). */
  terminalId?: string;
}

/** May this cardholder confirm loads of the order: the payer, or the owner of the card. */
async function mayLoad(ctx: AppContext, p: CardholderPrincipal, order: Order): Promise<boolean> {
  if (order.user_id === p.userId) return true;
  return (await listBoundCards(ctx.db, p.tenantId, p.userId)).some((c) => c.coreCardId === order.card_id);
}

async function findOrder(ctx: AppContext, c: LoadConfirmation): Promise<Order> {
  const order = c.orderId ? await getOrder(ctx.db, c.orderId) : c.transactionId ? await findOrderByTransactionId(ctx.db, c.tenantId, c.transactionId) : undefined;
  if (!order || order.tenant_id !== c.tenantId) throw new AppError('not_found', c.transactionId ? 'no top-up paid with this transaction number' : 'no such top-up order');
  return order;
}

/**
 * The card was written (圈存): the pending load is posted and the order settles. Called by a
 * terminal integration directly, or through the cardholder API after an NFC write. Confirming a
 * loaded order again answers it as it is; past the 补登 window the load is refused.
 */
export async function confirmLoad(ctx: AppContext, c: LoadConfirmation, by?: CardholderPrincipal): Promise<Order> {
  if (!(LOAD_CHANNELS as readonly string[]).includes(c.channel)) throw AppError.validation([{ field: 'channel', message: `must be one of ${LOAD_CHANNELS.join(', ')}` }]);
  if (c.terminalId !== undefined && !TERMINAL_ID_PATTERN.test(c.terminalId)) throw AppError.validation([{ field: 'terminalId', message: 'is malformed' }]);
  const found = await findOrder(ctx, c);
  if (by && !(await mayLoad(ctx, by, found))) throw new AppError('forbidden', 'not your top-up order');
  const policy = (await requireTenant(ctx.db, c.tenantId)).policy;
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    const order = (await lockOrder(tx, found.id))!;
    if (order.load_state === 'loaded') return order;
    if (order.load_state !== 'pending' || !order.load_ledger_id) {
      throw new AppError('conflict', order.load_state === 'expired' ? 'the 补登 window has passed; the payment is with customer service' : 'this order has no load to write', { reason: order.load_state === 'expired' ? 'supplement_window_passed' : 'no_pending_load' });
    }
    if (order.load_deadline && now > order.load_deadline) throw new AppError('conflict', 'the 补登 window has passed', { reason: 'supplement_window_passed' });
    const hold = await findTransferByIdempotencyId(tx, order.tenant_id, order.load_ledger_id);
    if (!hold) throw new Error(`pending load ${order.load_ledger_id} of ${order.id} is missing from the ledger`);
    const event = c.transactionId ? 'supplemented' : 'loaded';
    const loaded = await transition(tx, order, order.status, event, now, { load_state: 'loaded', loaded_at: now, load_channel: c.terminalId ? `${c.channel}:${c.terminalId}` : c.channel }, c.transactionId ? '补登 by transaction number' : undefined);
    const settled = await settle(ctx, tx, loaded, policy, now);
    await postPending(tx, { idempotencyId: `${order.load_ledger_id}:post`, pendingId: hold.id, now });
    return settled;
  });
}

/** The 补登 window has closed on an unwritten load: the hold is released into suspense and a reviewer decides (credit again or refund). */
export async function loadExpiryJob(ctx: AppContext, payload: { orderId: string }, _job: JobContext): Promise<void> {
  const now = ctx.clock.now();
  await inTx(ctx.db, async (tx) => {
    const order = await lockOrder(tx, payload.orderId);
    if (!order || order.load_state !== 'pending' || !order.load_ledger_id || !order.load_deadline || now < order.load_deadline) return;
    const hold = await findTransferByIdempotencyId(tx, order.tenant_id, order.load_ledger_id);
    if (!hold) throw new Error(`pending load ${order.load_ledger_id} of ${order.id} is missing from the ledger`);
    const item = await openReviewItem(ctx, tx, {
      tenantId: order.tenant_id,
      orderId: order.id,
      outTradeNo: order.paid_out_trade_no,
      class: 'load_unclaimed',
      amountFen: order.amount_fen,
      heldFen: order.amount_fen,
      detail: { deadline: order.load_deadline.toISOString() },
      dedupeKey: `load_unclaimed:${order.load_ledger_id}`,
      now,
    });
    await transition(tx, order, 'review', 'load_unclaimed', now, { load_state: 'expired', reason: 'load_unclaimed' }, `not written within the 补登 window (${item.id})`);
    await voidPending(tx, { idempotencyId: `${order.load_ledger_id}:void`, pendingId: hold.id, now });
    await holdInSuspense(ctx, tx, { tenantId: order.tenant_id, outTradeNo: order.paid_out_trade_no ?? order.id, amountFen: order.amount_fen, reason: 'load_unclaimed', now, idempotencyId: `${order.load_ledger_id}:held` });
  });
}

/** Settlement batches: a settling order whose window has ended has reached the card system. */
export async function settleJob(ctx: AppContext, payload: { orderId: string }, _job: JobContext): Promise<void> {
  const now = ctx.clock.now();
  await inTx(ctx.db, async (tx) => {
    const order = await lockOrder(tx, payload.orderId);
    if (!order || order.status !== 'settling' || !order.settle_due_at || now < order.settle_due_at) return;
    await transition(tx, order, 'completed', 'settled', now, { completed_at: now, settle_due_at: null });
    await enqueueMessage(tx, order.id, 'result');
  });
}

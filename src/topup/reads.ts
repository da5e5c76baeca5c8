// Reading top-up orders: the cardholder's view and list, a bill for the customer-service contact flow, the event feed and day listing for integrators.
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import { listBoundCards } from '../identity/index.ts';
import { orderOf, attemptsOfOrder, findOrderByTransactionId, getAttempt, getOrder, historyAfter, historyOf, ordersOfUser, refundsOfOrder, type Attempt, type Order, type Refund } from './store.ts';
import { viewOf, type TopupView } from './views.ts';

/** History lines one view carries (an order has a dozen at most). */
export const HISTORY_MAX = 100;
export const LIST_MAX = 100;
export const FEED_MAX = 1_000;

/** The payer, or the owner of the card (a relative topped it up), may read the order. */
async function mayRead(db: Db, p: CardholderPrincipal, order: Order): Promise<boolean> {
  if (order.user_id === p.userId) return true;
  return (await listBoundCards(db, p.tenantId, p.userId)).some((c) => c.coreCardId === order.card_id);
}

/** `GET /api/v1/topups/{orderId}`: 404 for another tenant's or an unknown order, 403 for another user's. */
export async function getTopupView(ctx: AppContext, p: CardholderPrincipal, orderId: string): Promise<TopupView> {
  const order = await getOrder(ctx.db, orderId);
  if (!order || order.tenant_id !== p.tenantId) throw new AppError('not_found', 'no such top-up order');
  if (!(await mayRead(ctx.db, p, order))) throw new AppError('forbidden', 'not your top-up order');
  return viewOf(order, await historyOf(ctx.db, order.id, HISTORY_MAX));
}

function encodeCursor(o: Order): string {
  return Buffer.from(JSON.stringify([o.created_at.toISOString(), o.id])).toString('base64url');
}

function decodeCursor(c: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as [string, string];
    const createdAt = new Date(at);
    if (typeof id !== 'string' || Number.isNaN(createdAt.getTime())) throw new Error('bad');
    return { createdAt, id };
  } catch {
    throw AppError.validation([{ field: 'cursor', message: 'is not a cursor of this list' }]);
  }
}

/** `GET /api/v1/topups`: the caller's orders, newest first, without history. */
export async function listTopups(ctx: AppContext, p: CardholderPrincipal, opts: { limit?: number; cursor?: string }): Promise<{ items: TopupView[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(opts.limit ?? 20, 1), LIST_MAX);
  const rows = await ordersOfUser(ctx.db, p.userId, limit + 1, opts.cursor ? decodeCursor(opts.cursor) : undefined);
  const page = rows.slice(0, limit).filter((o) => o.tenant_id === p.tenantId);
  return { items: page.map((o) => viewOf(o, [])), nextCursor: rows.length > limit ? encodeCursor(rows[limit - 1]!) : null };
}

/**
 * For the bill → customer-service flow (`GET /api/v1/bills/{billRef}`): the top-up order a bill
 * reference names — our order id, the WeChat transaction number or our out_trade_no — if the user
 * may see it; undefined when the reference is not a top-up of this user (the caller tries its own kinds).
 */
export async function topupBill(ctx: AppContext, p: CardholderPrincipal, billRef: string): Promise<TopupView | undefined> {
  let order: Order | undefined;
  if (billRef.startsWith('tu_')) order = await getOrder(ctx.db, billRef);
  else if (/^\d{20,32}$/.test(billRef)) order = await findOrderByTransactionId(ctx.db, p.tenantId, billRef);
  else if (/^TU[0-9a-z]{6,30}$/.test(billRef)) {
    const a = await getAttempt(ctx.db, billRef);
    order = a ? await getOrder(ctx.db, a.order_id) : undefined;
  }
  if (!order || order.tenant_id !== p.tenantId || !(await mayRead(ctx.db, p, order))) return undefined;
  return viewOf(order, await historyOf(ctx.db, order.id, HISTORY_MAX));
}

export interface TopupEvent {
  seq: string;
  orderId: string;
  at: Date;
  status: string;
  event: string;
}

/** The tenant's top-up events after a sequence number, oldest first: webhooks and the MQTT feed read this by cursor. */
export async function topupEvents(db: Db | Tx, tenantId: string, afterSeq: bigint, limit = FEED_MAX): Promise<TopupEvent[]> {
  const rows = await historyAfter(db, tenantId, afterSeq, Math.min(limit, FEED_MAX));
  return rows.map((r) => ({ seq: String(r.seq), orderId: r.order_id, at: r.at, status: r.status, event: r.event }));
}

/** One order with its payments and refunds, for operators and the daily batch export. */
export async function topupDetail(db: Db, tenantId: string, orderId: string): Promise<{ order: Order; attempts: Attempt[]; refunds: Refund[] } | undefined> {
  const order = await getOrder(db, orderId);
  if (!order || order.tenant_id !== tenantId) return undefined;
  return { order, attempts: await attemptsOfOrder(db, orderId), refunds: await refundsOfOrder(db, orderId) };
}

/** Orders created on a Shanghai date (the daily batch export's day), oldest first, bounded. */
export async function topupsOfDay(db: Db, tenantId: string, date: string, limit = 100_000): Promise<Order[]> {
  const from = new Date(Date.parse(`${date}T00:00:00Z`) - 8 * 3_600_000);
  const to = new Date(from.getTime() + 86_400_000);
  const rows = await db.selectFrom('topup_orders').selectAll().where('tenant_id', '=', tenantId).where('created_at', '>=', from).where('created_at', '<', to).orderBy('created_at').limit(limit).execute();
  return rows.map(orderOf);
}

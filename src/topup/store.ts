// The top-up module's SQL for orders, payment attempts, history and refunds (review, reconciliation and contacts have their own stores).
import { sql, type Insertable, type RawBuilder, type Selectable, type Updateable } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import type { TopupAttemptRow, TopupHistoryRow, TopupOrderRow, TopupRefundRow, TopupStatus } from './topup.table.ts';

export type Order = Selectable<TopupOrderRow>;
export type Attempt = Selectable<TopupAttemptRow>;
export type Refund = Selectable<TopupRefundRow>;
export type HistoryEntry = Selectable<TopupHistoryRow>;

/** int8 as bigint: a fresh in-memory PGlite answers numbers, exact below 2^53. */
export function fen(v: bigint | number | string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error('int8 value arrived as an inexact number');
  return BigInt(v);
}

const fenOrNull = (v: bigint | number | string | null) => (v === null ? null : fen(v));

export function orderOf(r: Order): Order {
  return { ...r, amount_fen: fen(r.amount_fen), fee_fen: fen(r.fee_fen), total_fen: fen(r.total_fen), paid_fen: fenOrNull(r.paid_fen), refunded_fen: fen(r.refunded_fen) };
}

function attemptOf(r: Attempt): Attempt {
  return { ...r, amount_fen: fen(r.amount_fen), paid_fen: fenOrNull(r.paid_fen) };
}

function refundOf(r: Refund): Refund {
  return { ...r, amount_fen: fen(r.amount_fen), total_fen: fen(r.total_fen) };
}

/** jsonb comes back parsed from PostgreSQL and as text from some paths: accept both. */
export function jsonOf<T>(v: unknown): T | null {
  if (v === null || v === undefined) return null;
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}

// ---- orders -------------------------------------------------------------------------------------

export async function insertOrder(tx: Tx, row: Insertable<TopupOrderRow>): Promise<void> {
  await tx.insertInto('topup_orders').values(row).execute();
}

export async function getOrder(db: Db | Tx, id: string): Promise<Order | undefined> {
  const r = await db.selectFrom('topup_orders').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? orderOf(r) : undefined;
}

/** The order under a row lock: every state change of one order is serialised on it. */
export async function lockOrder(tx: Tx, id: string): Promise<Order | undefined> {
  const r = await tx.selectFrom('topup_orders').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return r ? orderOf(r) : undefined;
}

/** Every column of an attempt, checked complete by the compiler: the batch lock reads them beside the order's. */
const ATTEMPT_COLUMNS = Object.keys({
  out_trade_no: 1, order_id: 1, tenant_id: 1, app_kind: 1, app_id: 1, payer_openid: 1, notify_url: 1, amount_fen: 1, prepay_id: 1, pay_params: 1,
  state: 1, transaction_id: 1, paid_fen: 1, bank_type: 1, success_time: 1, duplicate: 1, expires_at: 1, created_at: 1, updated_at: 1,
} satisfies Record<keyof TopupAttemptRow, 1>) as (keyof TopupAttemptRow)[];
const ATTEMPT_SELECT = sql.raw(ATTEMPT_COLUMNS.map((c) => `a.${c} as a__${c}`).join(', '));

/**
 * These attempts and their orders under row locks, in one statement: orders in id order, each
 * order's attempts right after it (the lock order of every path: an order before its attempts, and
 * two batches never lock orders in opposite orders). Unknown out_trade_nos are simply absent.
 */
export async function lockOrdersAndAttempts(tx: Tx, outTradeNos: readonly string[]): Promise<{ orders: Map<string, Order>; attempts: Map<string, Attempt> }> {
  const orders = new Map<string, Order>();
  const attempts = new Map<string, Attempt>();
  if (outTradeNos.length === 0) return { orders, attempts };
  const r = await sql<Record<string, unknown>>`
    select o.*, ${ATTEMPT_SELECT}
    from topup_orders o join topup_attempts a on a.order_id = o.id
    where a.out_trade_no = any(${[...outTradeNos]}::text[])
    order by o.id, a.out_trade_no
    for update`.execute(tx);
  for (const row of r.rows) {
    const order: Record<string, unknown> = {};
    const attempt: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) {
      if (k.startsWith('a__')) attempt[k.slice(3)] = v;
      else order[k] = v;
    }
    orders.set(order.id as string, orderOf(order as Order));
    attempts.set(attempt.out_trade_no as string, attemptOf(attempt as Attempt));
  }
  return { orders, attempts };
}

/** An order paid and credited in a batch: its final status and the columns the single path's transitions set. */
export interface CreditedOrder {
  id: string;
  status: TopupStatus;
  outTradeNo: string;
  transactionId: string | null;
  paidFen: bigint;
  paidAt: Date;
  /** The settlement step's columns (expected_arrival, settle_kind, calendar_covered, settle_due_at, completed_at). */
  patch: Updateable<TopupOrderRow>;
}

const isoOrNull = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v));

export async function updateOrder(tx: Tx, id: string, patch: Updateable<TopupOrderRow>): Promise<void> {
  await tx.updateTable('topup_orders').set(patch).where('id', '=', id).execute();
}

export async function findOrderByKey(db: Db | Tx, tenantId: string, userId: string, key: string): Promise<Order | undefined> {
  const r = await db.selectFrom('topup_orders').selectAll().where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('idempotency_key', '=', key).executeTakeFirst();
  return r ? orderOf(r) : undefined;
}

export async function findOrderByTransactionId(db: Db | Tx, tenantId: string, transactionId: string): Promise<Order | undefined> {
  const r = await db.selectFrom('topup_orders').selectAll().where('tenant_id', '=', tenantId).where('transaction_id', '=', transactionId).executeTakeFirst();
  return r ? orderOf(r) : undefined;
}

/** A user's orders, newest first, after the cursor (an order id + created_at pair). */
export async function ordersOfUser(db: Db | Tx, userId: string, limit: number, before?: { createdAt: Date; id: string }): Promise<Order[]> {
  let q = db.selectFrom('topup_orders').selectAll().where('user_id', '=', userId);
  if (before) q = q.where((eb) => eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]));
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(orderOf);
}

/** Money ordered for a card that may still arrive: unpaid orders not yet expired. */
export async function openOrdersFen(db: Db | Tx, cardId: string, now: Date): Promise<bigint> {
  const r = await db
    .selectFrom('topup_orders')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<bigint | number | string>('amount_fen'), eb.val(0)).as('total'))
    .where('card_id', '=', cardId)
    .where('status', '=', 'created')
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow();
  return fen(r.total as bigint | number | string);
}

export async function ordersInStatus(db: Db | Tx, status: TopupStatus, dueBefore: Date, limit: number): Promise<Order[]> {
  const rows = await db.selectFrom('topup_orders').selectAll().where('status', '=', status).where('settle_due_at', '<=', dueBefore).orderBy('settle_due_at').limit(limit).execute();
  return rows.map(orderOf);
}

// ---- attempts -----------------------------------------------------------------------------------

export async function insertAttempt(tx: Tx, row: Insertable<TopupAttemptRow>): Promise<void> {
  await tx.insertInto('topup_attempts').values(row).execute();
}

export async function getAttempt(db: Db | Tx, outTradeNo: string): Promise<Attempt | undefined> {
  const r = await db.selectFrom('topup_attempts').selectAll().where('out_trade_no', '=', outTradeNo).executeTakeFirst();
  return r ? attemptOf(r) : undefined;
}

export async function lockAttempt(tx: Tx, outTradeNo: string): Promise<Attempt | undefined> {
  const r = await tx.selectFrom('topup_attempts').selectAll().where('out_trade_no', '=', outTradeNo).forUpdate().executeTakeFirst();
  return r ? attemptOf(r) : undefined;
}

export interface PaidAttempt {
  outTradeNo: string;
  transactionId: string | null;
  paidFen: bigint;
  bankType: string | null;
  successAt: Date;
}

export async function updateAttempt(tx: Tx, outTradeNo: string, patch: Updateable<TopupAttemptRow>): Promise<void> {
  await tx.updateTable('topup_attempts').set(patch).where('out_trade_no', '=', outTradeNo).execute();
}

export async function attemptsOfOrder(db: Db | Tx, orderId: string): Promise<Attempt[]> {
  const rows = await db.selectFrom('topup_attempts').selectAll().where('order_id', '=', orderId).orderBy('created_at').execute();
  return rows.map(attemptOf);
}

export async function findAttemptByTransactionId(db: Db | Tx, tenantId: string, transactionId: string): Promise<Attempt | undefined> {
  const r = await db.selectFrom('topup_attempts').selectAll().where('tenant_id', '=', tenantId).where('transaction_id', '=', transactionId).executeTakeFirst();
  return r ? attemptOf(r) : undefined;
}

/** Attempts recorded as paid with a success time in [from, to). */
export async function attemptsPaidBetween(db: Db | Tx, tenantId: string, from: Date, to: Date, limit: number): Promise<Attempt[]> {
  const rows = await db
    .selectFrom('topup_attempts')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('success_time', '>=', from)
    .where('success_time', '<', to)
    .orderBy('success_time')
    .limit(limit)
    .execute();
  return rows.map(attemptOf);
}

export async function attemptsByOutTradeNo(db: Db | Tx, outTradeNos: readonly string[]): Promise<Map<string, Attempt>> {
  if (outTradeNos.length === 0) return new Map();
  const rows = await db.selectFrom('topup_attempts').selectAll().where('out_trade_no', 'in', outTradeNos).execute();
  return new Map(rows.map((r) => [r.out_trade_no, attemptOf(r)]));
}

// ---- history ------------------------------------------------------------------------------------

export interface HistoryLine {
  orderId: string;
  tenantId: string;
  at: Date;
  status: TopupStatus;
  event: string;
  note?: string;
}

export async function addHistory(tx: Tx, e: HistoryLine): Promise<void> {
  await addHistoryMany(tx, [e]);
}

/** History lines in one statement, in the given order (their sequence numbers follow it). */
export async function addHistoryMany(tx: Tx, lines: readonly HistoryLine[]): Promise<void> {
  if (lines.length === 0) return;
  await tx
    .insertInto('topup_history')
    .values(lines.map((e) => ({ order_id: e.orderId, tenant_id: e.tenantId, at: e.at, status: e.status, event: e.event, note: e.note ?? null })))
    .execute();
}

/**
 * The writes of a batch of payments credited on the common path, in one statement (one round trip
 * inside the batch's transaction): the attempts reported paid (the single path's updateAttempt for
 * each), the orders moved paid → credited → settling/completed (the row each ends with is the one
 * the single path's three transitions leave, completed_at kept when not set), their history lines
 * in order, and the jobs (`jobs`, from outboxInsert) the credits announce.
 */
export async function recordCredits(
  tx: Tx,
  w: { attempts: readonly PaidAttempt[]; orders: readonly CreditedOrder[]; history: readonly HistoryLine[]; jobs: RawBuilder<unknown> },
  now: Date,
): Promise<void> {
  const a = <T>(f: (r: PaidAttempt) => T) => w.attempts.map(f);
  const o = <T>(f: (r: CreditedOrder) => T) => w.orders.map(f);
  const h = <T>(f: (r: HistoryLine) => T) => w.history.map(f);
  await sql`
    with paid_attempts as (
      update topup_attempts a set state = 'paid', transaction_id = v.transaction_id, paid_fen = v.paid_fen, bank_type = v.bank_type,
        success_time = v.success_time, updated_at = ${now}
      from unnest(
        ${a((r) => r.outTradeNo)}::text[], ${a((r) => r.transactionId)}::text[], ${a((r) => r.paidFen.toString())}::bigint[],
        ${a((r) => r.bankType)}::text[], ${a((r) => r.successAt.toISOString())}::timestamptz[]
      ) as v(out_trade_no, transaction_id, paid_fen, bank_type, success_time)
      where a.out_trade_no = v.out_trade_no
    ), credited_orders as (
      update topup_orders o set
        status = v.status, paid_out_trade_no = v.out_trade_no, transaction_id = v.transaction_id, paid_fen = v.paid_fen,
        paid_at = v.paid_at, reason = null, credited_at = ${now}, expected_arrival = v.expected_arrival,
        settle_kind = v.settle_kind, calendar_covered = v.calendar_covered, settle_due_at = v.settle_due_at,
        completed_at = coalesce(v.completed_at, o.completed_at), updated_at = ${now}
      from unnest(
        ${o((r) => r.id)}::text[], ${o((r) => r.status)}::text[], ${o((r) => r.outTradeNo)}::text[], ${o((r) => r.transactionId)}::text[],
        ${o((r) => r.paidFen.toString())}::bigint[], ${o((r) => r.paidAt.toISOString())}::timestamptz[],
        ${o((r) => isoOrNull(r.patch.expected_arrival))}::timestamptz[], ${o((r) => (r.patch.settle_kind ?? null) as string | null)}::text[],
        ${o((r) => Boolean(r.patch.calendar_covered ?? true))}::boolean[], ${o((r) => isoOrNull(r.patch.settle_due_at))}::timestamptz[],
        ${o((r) => isoOrNull(r.patch.completed_at))}::timestamptz[]
      ) as v(id, status, out_trade_no, transaction_id, paid_fen, paid_at, expected_arrival, settle_kind, calendar_covered, settle_due_at, completed_at)
      where o.id = v.id
    ), history as (
      insert into topup_history (order_id, tenant_id, at, status, event, note)
      select v.order_id, v.tenant_id, v.at, v.status, v.event, v.note
      from unnest(
        ${h((r) => r.orderId)}::text[], ${h((r) => r.tenantId)}::text[], ${h((r) => r.at.toISOString())}::timestamptz[],
        ${h((r) => r.status)}::text[], ${h((r) => r.event)}::text[], ${h((r) => r.note ?? null)}::text[]
      ) with ordinality as v(order_id, tenant_id, at, status, event, note, ord)
      order by v.ord
    ), jobs as (${w.jobs})
    select 1 as done`.execute(tx);
}

export async function historyOf(db: Db | Tx, orderId: string, limit: number): Promise<HistoryEntry[]> {
  return db.selectFrom('topup_history').selectAll().where('order_id', '=', orderId).orderBy('seq').limit(limit).execute();
}

/** A tenant's history events after a sequence number, oldest first (for integrators reading the feed). */
export async function historyAfter(db: Db | Tx, tenantId: string, afterSeq: bigint, limit: number): Promise<HistoryEntry[]> {
  const rows = await db.selectFrom('topup_history').selectAll().where('tenant_id', '=', tenantId).where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
  return rows.map((r) => ({ ...r, seq: fen(r.seq) }));
}

// ---- refunds ------------------------------------------------------------------------------------

export async function insertRefund(tx: Tx, row: Insertable<TopupRefundRow>): Promise<boolean> {
  const r = await tx.insertInto('topup_refunds').values(row).onConflict((oc) => oc.column('out_refund_no').doNothing()).returning('out_refund_no').executeTakeFirst();
  return r !== undefined;
}

export async function getRefund(db: Db | Tx, outRefundNo: string): Promise<Refund | undefined> {
  const r = await db.selectFrom('topup_refunds').selectAll().where('out_refund_no', '=', outRefundNo).executeTakeFirst();
  return r ? refundOf(r) : undefined;
}

export async function lockRefund(tx: Tx, outRefundNo: string): Promise<Refund | undefined> {
  const r = await tx.selectFrom('topup_refunds').selectAll().where('out_refund_no', '=', outRefundNo).forUpdate().executeTakeFirst();
  return r ? refundOf(r) : undefined;
}

export async function updateRefund(tx: Tx, outRefundNo: string, patch: Updateable<TopupRefundRow>): Promise<void> {
  await tx.updateTable('topup_refunds').set(patch).where('out_refund_no', '=', outRefundNo).execute();
}

export async function refundsOfOrder(db: Db | Tx, orderId: string): Promise<Refund[]> {
  const rows = await db.selectFrom('topup_refunds').selectAll().where('order_id', '=', orderId).orderBy('created_at').execute();
  return rows.map(refundOf);
}

export async function refundsOfAttempt(db: Db | Tx, outTradeNo: string): Promise<Refund[]> {
  const rows = await db.selectFrom('topup_refunds').selectAll().where('out_trade_no', '=', outTradeNo).orderBy('created_at').execute();
  return rows.map(refundOf);
}

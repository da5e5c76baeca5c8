// Applying paid money: credit the citizen card (at once, or as a pending load for a physical card), hold what cannot be applied in suspense, and move the order through its statuses.
import type { AppContext } from '../app/context.ts';
import { enqueueJob, type NewJob } from '../app/jobs.ts';
import type { Db, Tx } from '../db/tx.ts';
import { lockCards, type CoreCard } from '../core/index.ts';
import { reactivateIfQualifying } from '../identity/index.ts';
import { getBalance, transfer, transferMany, type TransferInput } from '../ledger/index.ts';
import { requireTenant, type Policy } from '../tenants/index.ts';
import { shardOf, topupAccounts, type TopupAccounts } from './accounts.ts';
import { settlementArrival, officialCalendar, type DayCalendar } from './calendar.ts';
import { enqueueMessage } from './messages.ts';
import { cardStatusRefusal, withinCap } from './policy.ts';
import { addHistory, updateOrder, type Order } from './store.ts';
import type { TopupOrderRow, TopupStatus } from './topup.table.ts';
import type { Updateable } from 'kysely';

export const LOAD_EXPIRY_TOPIC = 'topup.load_expiry';
export const SETTLE_TOPIC = 'topup.settle';

/** Ledger idempotency ids: one per money movement of an order, so a replay books nothing twice. */
export const ledgerIds = {
  credit: (orderId: string) => `topup:${orderId}:credit`,
  fee: (orderId: string) => `topup:${orderId}:fee`,
  load: (orderId: string) => `topup:${orderId}:load`,
  loadVoid: (orderId: string) => `topup:${orderId}:load-void`,
  held: (outTradeNo: string) => `topup:${outTradeNo}:held`,
  refund: (outRefundNo: string) => `topup:${outRefundNo}:refund`,
  decision: (itemId: string, what: string) => `topup:${itemId}:${what}`,
};

/** Moves the order to `status`, writes the history line, and returns the order as it now is. */
export async function transition(
  tx: Tx,
  order: Order,
  status: TopupStatus,
  event: string,
  now: Date,
  patch: Updateable<TopupOrderRow> = {},
  note?: string,
): Promise<Order> {
  await updateOrder(tx, order.id, { ...patch, status, updated_at: now });
  await addHistory(tx, { orderId: order.id, tenantId: order.tenant_id, at: now, status, event, note });
  return { ...order, ...(patch as Partial<Order>), status, updated_at: now };
}

/** The card's stored value now: posted balance plus loads not yet written to the card. */
export async function storedValueFen(db: Db | Tx, ledgerAccountId: string): Promise<bigint> {
  const b = await getBalance(db, ledgerAccountId);
  return b.postedFen + b.pendingCreditFen;
}

/** Books paid money that is not applied to a card into suspense (held for a refund or a reviewer). */
export async function holdInSuspense(ctx: AppContext, tx: Tx, x: { tenantId: string; outTradeNo: string; amountFen: bigint; reason: string; now: Date; idempotencyId?: string }): Promise<void> {
  const acc = await topupAccounts(ctx, tx, x.tenantId);
  await transfer(tx, {
    idempotencyId: x.idempotencyId ?? ledgerIds.held(x.outTradeNo),
    debitAccountId: shardOf(acc.customerFunds, x.outTradeNo),
    creditAccountId: acc.suspense,
    amountFen: x.amountFen,
    kind: 'topup_held',
    description: `充值资金暂挂（${x.reason}）`,
    now: x.now,
    metadata: { outTradeNo: x.outTradeNo, reason: x.reason },
  });
}

export type CreditOutcome =
  | { kind: 'credited'; status: TopupStatus }
  | { kind: 'refuse'; reason: 'stored_value_limit' | 'card_unusable'; card: CoreCard | undefined };

/**
 * Decides whether a paid order can go on the card, before anything is booked: the card must be
 * usable and stay within its PBOC cap (re-checked here: the balance may have grown since the order).
 */
export async function creditCheck(tx: Tx, order: Order, amountFen: bigint): Promise<{ ok: true; card: CoreCard } | { ok: false; reason: 'stored_value_limit' | 'card_unusable'; card: CoreCard | undefined }> {
  // Locked before its stored value is read: a concurrent credit of the card finishes first, and is counted.
  const card = (await lockCards(tx, [order.card_id])).get(order.card_id);
  const reason = creditRefusal(card, card?.citizen ? await storedValueFen(tx, order.card_ledger_account_id) : 0n, amountFen);
  return reason ? { ok: false, reason, card } : { ok: true, card: card! };
}

/** Why `amountFen` may not go on the card holding `storedFen` now (usable citizen card, PBOC cap); undefined when it may. */
export function creditRefusal(card: CoreCard | undefined, storedFen: bigint, amountFen: bigint): 'card_unusable' | 'stored_value_limit' | undefined {
  if (!card || !card.citizen || cardStatusRefusal(card.status)) return 'card_unusable';
  if (!withinCap(card.citizen.realName, storedFen, amountFen)) return 'stored_value_limit';
  return undefined;
}

export interface CreditInput {
  order: Order;
  /** What goes on the card and to the fee account; `from` is where the money is booked now. */
  amountFen: bigint;
  feeFen: bigint;
  from: 'customer_funds' | 'suspense';
  /** Idempotency ids of the movements (defaults: the order's credit and fee). */
  creditId?: string;
  feeId?: string;
  event: string;
  now: Date;
  calendar?: DayCalendar;
}

/**
 * Puts checked money on the card and moves the order on. Electronic: a posted transfer, then
 * completed (instant settlement) or settling until the batch window's end. Physical: a pending
 * load (hold) the terminal or NFC phone completes, with a 补登 deadline. The ledger is booked last:
 * the customer-funds account is every top-up's counter-account, and its row lock is held from the
 * booking to the commit, so nothing else should run after it.
 */
export async function creditOrder(ctx: AppContext, tx: Tx, input: CreditInput, card: CoreCard, policy?: Policy): Promise<Order> {
  const { order, now } = input;
  const p = policy ?? (await requireTenant(tx, order.tenant_id)).policy;
  const acc = await topupAccounts(ctx, tx, order.tenant_id);
  const physical = order.card_form === 'physical';
  let next: Order;
  if (physical) {
    const deadline = new Date(now.getTime() + p.exceptions.supplementWindowHours * 3_600_000);
    next = await transition(tx, order, 'credited', input.event, now, { credited_at: now, load_state: 'pending', load_deadline: deadline, load_ledger_id: input.creditId ?? ledgerIds.credit(order.id) }, 'load pending: write it to the card at a terminal or by NFC');
    await enqueueJob(tx, { topic: LOAD_EXPIRY_TOPIC, payload: { orderId: order.id }, dedupeKey: `${LOAD_EXPIRY_TOPIC}:${order.id}:${deadline.getTime()}`, runAfter: deadline });
    await enqueueMessage(tx, order.id, 'load_pending');
  } else {
    next = await transition(tx, order, 'credited', input.event, now, { credited_at: now });
    next = await settle(ctx, tx, next, p, now, input.calendar);
  }
  if (card.status === 'dormant' || p.dormant.afterMonths !== null) {
    await reactivateIfQualifying(tx, { id: card.id, tenantId: card.tenantId }, { amountFen: input.amountFen, incoming: true, at: now });
  }
  const movements = creditMovements(order, acc, { amountFen: input.amountFen, feeFen: input.feeFen, from: input.from, physical, now, creditId: input.creditId, feeId: input.feeId });
  await transferMany(tx, movements);
  return next;
}

/** The ledger movements of a credit: the amount onto the card (a pending load for a physical card) and the fee. */
export function creditMovements(
  order: Order,
  acc: TopupAccounts,
  x: { amountFen: bigint; feeFen: bigint; from: 'customer_funds' | 'suspense'; physical: boolean; now: Date; creditId?: string; feeId?: string },
): TransferInput[] {
  const debit = x.from === 'customer_funds' ? shardOf(acc.customerFunds, order.id) : acc.suspense;
  const movements: TransferInput[] = [
    {
      idempotencyId: x.creditId ?? ledgerIds.credit(order.id),
      debitAccountId: debit,
      creditAccountId: order.card_ledger_account_id,
      amountFen: x.amountFen,
      kind: 'topup',
      description: x.physical ? '市民卡充值（待圈存）' : '市民卡充值',
      counterparty: '微信支付',
      pending: x.physical,
      now: x.now,
      metadata: { orderId: order.id },
    },
  ];
  if (x.feeFen > 0n) {
    movements.push({
      idempotencyId: x.feeId ?? ledgerIds.fee(order.id),
      debitAccountId: debit,
      creditAccountId: shardOf(acc.fee, order.id),
      amountFen: x.feeFen,
      kind: 'topup_fee',
      description: '充值手续费',
      now: x.now,
      metadata: { orderId: order.id },
    });
  }
  return movements;
}

/** What settling an order means now: its next status, history line, patch, job and message. */
export interface SettlementStep {
  status: 'completed' | 'settling';
  event: 'settled' | 'settlement_scheduled';
  note: string | undefined;
  patch: Updateable<TopupOrderRow>;
  /** The settle job (batch windows only): completes the order at the window's end. */
  job: NewJob | undefined;
  message: 'result' | 'delay';
}

/**
 * Settlement to the card system after the money is on the card: instant → completed now;
 * otherwise settling until the window's end (the settle job completes it), with a delay message.
 */
export function settlementStep(ctx: AppContext, order: Order, policy: Policy, now: Date, calendar: DayCalendar = officialCalendar): SettlementStep {
  const arrival = settlementArrival(policy.settlement, now, calendar);
  if (!arrival.calendarCovered) {
    ctx.log.warn({ tenantId: order.tenant_id, orderId: order.id, date: arrival.date }, 'working-day calendar has no official schedule for this date; settlement estimated by the fallback rule: check the year’s holiday notice');
  }
  const patch = { expected_arrival: arrival.latest, settle_kind: arrival.kind, calendar_covered: arrival.calendarCovered };
  if (arrival.kind === 'instant') {
    return { status: 'completed', event: 'settled', note: undefined, patch: { ...patch, completed_at: now, settle_due_at: null }, job: undefined, message: 'result' };
  }
  return {
    status: 'settling',
    event: 'settlement_scheduled',
    note: `arrives by ${arrival.latest.toISOString()} (${arrival.kind})`,
    patch: { ...patch, settle_due_at: arrival.latest },
    job: { topic: SETTLE_TOPIC, payload: { orderId: order.id }, dedupeKey: `${SETTLE_TOPIC}:${order.id}:${arrival.latest.getTime()}`, runAfter: arrival.latest },
    message: 'delay',
  };
}

/** Settles the order (settlementStep) and writes the step. */
export async function settle(ctx: AppContext, tx: Tx, order: Order, policy: Policy, now: Date, calendar: DayCalendar = officialCalendar): Promise<Order> {
  const step = settlementStep(ctx, order, policy, now, calendar);
  const next = await transition(tx, order, step.status, step.event, now, step.patch, step.note);
  if (step.job) await enqueueJob(tx, step.job);
  await enqueueMessage(tx, order.id, step.message);
  return next;
}

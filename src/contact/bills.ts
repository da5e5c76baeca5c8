// Bills a cardholder can ask customer service about: the BillSource port per kind, the card-transaction source, and reading one bill by its ref.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { readTransactions, MAX_TRANSACTIONS_PAGE } from '../core/index.ts';
import { requireOwnCard } from '../identity/index.ts';
import { BILL_REF_PATTERN, billKeyOf, findBillRef, saveBillRefs, SOURCE_ID_MAX_CHARS, type BillIdentity } from './bill-ref.ts';
import type { BillKind } from './policy.ts';
import { safeTitle, type BillSnapshot } from './texts.ts';

/** One bill as its source knows it. Amounts are fen, never negative; `direction` says which way. */
export interface Bill {
  kind: BillKind;
  sourceId: string;
  /** The number the user and the agent quote: a transaction's serial number, a top-up's order id. */
  orderNumber: string;
  amountFen: bigint;
  currency: string;
  direction: 'debit' | 'credit';
  occurredAt: Date;
  title: string;
  counterparty: string | null;
  /** The source's status word (`posted`, `pending`; top-up statuses from API.md). */
  status: string;
  /** The card the bill is on; `cardId` is the caller's card token when the source knows it. */
  card: { cardId: string | null; maskedNumber: string; last4: string; kind: string } | null;
}

export interface BillOwner {
  tenantId: string;
  userId: string;
}

/**
 * Where bills of one kind come from. `load` answers the bill when `owner` owns it, throws
 * AppError `forbidden` when it is another user's and `not_found` when it does not exist (or no
 * longer: an unbound card). Top-up orders are served by the topup module through this port.
 */
export interface BillSource {
  readonly kind: BillKind;
  load(ctx: AppContext, owner: BillOwner, sourceId: string, now: Date): Promise<Bill>;
  /**
   * The source id of the owner's bill with this order or serial number as the user reads it off
   * a receipt (seed 003: "locate the bill by order/serial number"); undefined when it names none
   * of the owner's bills. Optional: card transactions are not searched by number.
   */
  locate?(ctx: AppContext, owner: BillOwner, number: string): Promise<string | undefined>;
}

/** An identity-module principal for a bill owner (the sources check ownership by user and tenant only). */
export const principalOf = (owner: BillOwner) => ({ tenantId: owner.tenantId, userId: owner.userId, sessionId: '', deviceId: '' });

// ---------- card transactions ----------

/** Pages of the card's statement at the transaction's booking time searched for it. */
export const TRANSACTION_LOOKUP_MAX_PAGES = 5;
const TX_SOURCE = /^(card_[A-Za-z0-9]{1,40})\|(\d{1,15})\|(.+)$/;

/**
 * The source id of a card transaction: the card token, the booking time (so the look-up reads the
 * statement at that instant, not the whole year) and the core's transaction id.
 */
export function transactionSourceId(t: { cardId: string; transactionId: string; bookedAt: Date }): string {
  const id = `${t.cardId}|${t.bookedAt.getTime()}|${t.transactionId}`;
  if (!TX_SOURCE.test(id) || id.length > SOURCE_ID_MAX_CHARS) throw new AppError('validation_failed', 'not a card transaction this module can refer to');
  return id;
}

export const transactionBills: BillSource = {
  kind: 'transaction',
  async load(ctx, owner, sourceId, now) {
    const m = TX_SOURCE.exec(sourceId);
    if (!m) throw new AppError('not_found', 'no such bill');
    const [, cardId, bookedMs, transactionId] = m as unknown as [string, string, string, string];
    // Ownership through the binding: an unbound card's bills are gone for the cardholder.
    const card = await requireOwnCard(ctx.db, principalOf(owner), cardId);
    const at = new Date(Number(bookedMs));
    let cursor: string | undefined;
    for (let page = 0; page < TRANSACTION_LOOKUP_MAX_PAGES; page++) {
      const answer = await readTransactions(ctx, { tenantId: owner.tenantId, card: { id: card.coreCardId, tenantId: owner.tenantId }, from: at, to: at, cursor, limit: MAX_TRANSACTIONS_PAGE, now });
      const t = answer.items.find((x) => x.id === transactionId);
      if (t) {
        return {
          kind: 'transaction',
          sourceId,
          orderNumber: t.id,
          amountFen: t.amountFen < 0n ? -t.amountFen : t.amountFen,
          currency: t.currency,
          direction: t.direction,
          occurredAt: t.bookedAt,
          title: t.description,
          counterparty: t.counterparty,
          status: t.state,
          card: { cardId: card.cardId, maskedNumber: card.maskedNumber, last4: card.last4, kind: card.kind },
        };
      }
      if (!answer.nextCursor) break;
      cursor = answer.nextCursor;
    }
    throw new AppError('not_found', 'no such bill');
  },
};

// ---------- refs and look-up ----------

export interface ResolvedBill {
  /** The bill's canonical ref (also when it was located by an order number). */
  ref: string;
  identity: BillIdentity;
  billKey: string;
  bill: Bill;
}

/**
 * The ref a client uses for one bill of its user: statement items and top-up answers carry it.
 * The same bill always gets the same ref; the mapping is stored (idempotently) on the way.
 */
export async function billRefFor(ctx: Pick<AppContext, 'db' | 'crypto' | 'clock'>, b: BillIdentity): Promise<string> {
  return (await saveBillRefs(ctx.db, ctx.crypto, [b], ctx.clock.now()))[0]!;
}

/** billRefFor for a page of bills (at most BILL_REFS_BATCH_MAX) in one statement; refs in input order. */
export async function billRefsFor(ctx: Pick<AppContext, 'db' | 'crypto' | 'clock'>, bills: readonly BillIdentity[]): Promise<string[]> {
  return saveBillRefs(ctx.db, ctx.crypto, bills, ctx.clock.now());
}

/**
 * Opens a ref for the caller: a ref this install did not hand out, or one of another tenant, is
 * not_found; another user's is forbidden; then the source re-checks ownership and reads the bill.
 */
export async function resolveBill(
  ctx: AppContext,
  sources: ReadonlyMap<BillKind, BillSource>,
  owner: BillOwner,
  ref: string,
  now: Date,
): Promise<ResolvedBill> {
  if (!BILL_REF_PATTERN.test(ref)) return locateBill(ctx, sources, owner, ref, now);
  const found = await findBillRef(ctx.db, ref);
  if (!found || found.tenantId !== owner.tenantId) throw new AppError('not_found', 'no such bill');
  if (found.userId !== owner.userId) throw new AppError('forbidden', 'the bill is not yours');
  const source = sources.get(found.kind);
  if (!source) throw new AppError('not_found', `${found.kind} bills are not available here`);
  const bill = await source.load(ctx, owner, found.sourceId, now);
  const { billKey, ...identity } = found;
  return { ref, identity, billKey, bill };
}

/** Order and serial numbers a user may type: letters, digits, `_` and `-`. */
const ORDER_NUMBER = /^[A-Za-z0-9_-]{6,64}$/;

/** A bill named by its order number: only the caller's own bills are found, anything else is not_found. */
async function locateBill(ctx: AppContext, sources: ReadonlyMap<BillKind, BillSource>, owner: BillOwner, number: string, now: Date): Promise<ResolvedBill> {
  if (ORDER_NUMBER.test(number)) {
    for (const source of sources.values()) {
      const sourceId = await source.locate?.(ctx, owner, number);
      if (!sourceId) continue;
      const identity: BillIdentity = { tenantId: owner.tenantId, userId: owner.userId, kind: source.kind, sourceId };
      const [ref] = await saveBillRefs(ctx.db, ctx.crypto, [identity], now);
      return { ref: ref!, identity, billKey: billKeyOf(ctx.crypto, identity), bill: await source.load(ctx, owner, sourceId, now) };
    }
  }
  throw new AppError('not_found', 'no such bill');
}

/** The masked summary customer service gets (see BillSnapshot). */
export function snapshotOf(bill: Bill): BillSnapshot {
  return {
    kind: bill.kind,
    orderNumber: bill.orderNumber,
    amountFen: bill.amountFen.toString(),
    currency: bill.currency,
    direction: bill.direction,
    occurredAt: bill.occurredAt.toISOString(),
    title: safeTitle(bill.title),
    status: bill.status,
    maskedCard: bill.card?.maskedNumber ?? null,
    cardLast4: bill.card?.last4 ?? null,
  };
}

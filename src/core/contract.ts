// The external core's JSON contract (CONTRACT.md) as TypeBox schemas, with the one mapper each way between wire and port types.
import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { ID_TYPES, type IdType } from '../shared/id-document.ts';
import { CARD_STATUSES, type CardStatus } from './store.ts';
import { CoreError, type CoreBalance, type CoreCardStatus, type CoreTransaction, type ElementCheck, type TransactionPage } from './port.ts';

/** Path prefix of every contract endpoint under the configured base URL. */
export const CONTRACT_VERSION_PATH = '/v1';
/** A cursor the core hands out: opaque, bounded so it fits a URL. */
export const MAX_CORE_CURSOR_CHARS = 512;
export const MAX_CORE_ID_CHARS = 128;
const MAX_TEXT_CHARS = 200;

// Signed integer fen as a decimal string: JSON numbers lose precision past 2^53.
const FEN_PATTERN = '^-?(0|[1-9][0-9]{0,18})$';
const Fen = Type.String({ pattern: FEN_PATTERN });
const Instant = Type.String({ format: 'date-time', maxLength: 40 });
const Id = Type.String({ minLength: 1, maxLength: MAX_CORE_ID_CHARS });
const Text = Type.String({ maxLength: MAX_TEXT_CHARS });
const Currency = Type.String({ pattern: '^[A-Z]{3}$' });
const lit = <const T extends string[]>(values: readonly [...T]) => Type.Enum<T>(values);

export const WireBalance = Type.Object({
  cardId: Id,
  currency: Currency,
  availableFen: Fen,
  ledgerFen: Fen,
  asOf: Instant,
});
export type WireBalance = Static<typeof WireBalance>;

export const WireTransaction = Type.Object({
  id: Id,
  bookedAt: Instant,
  amountFen: Fen,
  currency: Currency,
  direction: lit(['credit', 'debit'] as const),
  counterparty: Type.Union([Text, Type.Null()]),
  description: Text,
  balanceAfterFen: Type.Union([Fen, Type.Null()]),
  state: lit(['posted', 'pending'] as const),
});
export type WireTransaction = Static<typeof WireTransaction>;

export const WireTransactionPage = Type.Object({
  items: Type.Array(WireTransaction, { maxItems: 100 }),
  nextCursor: Type.Union([Type.String({ minLength: 1, maxLength: MAX_CORE_CURSOR_CHARS }), Type.Null()]),
});
export type WireTransactionPage = Static<typeof WireTransactionPage>;

export const WireCard = Type.Object({
  cardId: Id,
  kind: lit(['debit', 'credit', 'citizen'] as const),
  currency: Currency,
  status: lit(CARD_STATUSES as CardStatus[]),
  maskedNumber: Type.String({ maxLength: 40 }),
  last4: Type.String({ pattern: '^[0-9]{4}$' }),
  crossBorderLock: Type.Boolean(),
  lastActivityAt: Instant,
  statusChangedAt: Instant,
});
export type WireCard = Static<typeof WireCard>;

export const WireElementCheckRequest = Type.Object(
  {
    cardNumber: Type.String({ minLength: 12, maxLength: 23 }),
    holderName: Type.String({ minLength: 1, maxLength: 100 }),
    idType: lit(ID_TYPES as IdType[]),
    idNumber: Type.String({ minLength: 1, maxLength: 40 }),
    phone: Type.String({ minLength: 5, maxLength: 20 }),
  },
  { additionalProperties: false },
);
export type WireElementCheckRequest = Static<typeof WireElementCheckRequest>;

export const WireElementCheck = Type.Union([
  Type.Object({ match: Type.Literal(true), card: WireCard }),
  Type.Object({ match: Type.Literal(false) }),
]);
export type WireElementCheck = Static<typeof WireElementCheck>;

export const CORE_ERROR_CODES = ['bad_request', 'unauthorized', 'card_not_found', 'rate_limited', 'unavailable', 'internal'] as const;
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];
export const WireError = Type.Object({ code: lit(CORE_ERROR_CODES), message: Type.String({ maxLength: 500 }) });
export type WireError = Static<typeof WireError>;

// ---- port → wire (the sandbox core answers with these) ---------------------------------------

export function balanceToWire(cardId: string, b: CoreBalance): WireBalance {
  return { cardId, currency: b.currency, availableFen: String(b.availableFen), ledgerFen: String(b.ledgerFen), asOf: b.asOf.toISOString() };
}

export function transactionToWire(t: CoreTransaction): WireTransaction {
  return {
    id: t.id,
    bookedAt: t.bookedAt.toISOString(),
    amountFen: String(t.amountFen),
    currency: t.currency,
    direction: t.direction,
    counterparty: t.counterparty,
    description: t.description,
    balanceAfterFen: t.balanceAfterFen === null ? null : String(t.balanceAfterFen),
    state: t.state,
  };
}

export function cardToWire(c: CoreCardStatus): WireCard {
  return {
    cardId: c.id,
    kind: c.kind,
    currency: c.currency,
    status: c.status,
    maskedNumber: c.maskedNumber,
    last4: c.last4,
    crossBorderLock: c.crossBorderLock,
    lastActivityAt: c.lastActivityAt.toISOString(),
    statusChangedAt: c.statusChangedAt.toISOString(),
  };
}

// ---- wire → port (the HTTP adapter reads these; anything off-contract is a bad_response) -----

function check<T>(schema: TSchema, value: unknown, what: string): T {
  if (!Value.Check(schema, value)) throw new CoreError('bad_response', `the core's ${what} does not match the contract`, 'contract');
  return value as T;
}

function instant(v: string, what: string): Date {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new CoreError('bad_response', `the core's ${what} has an unreadable time`, 'contract');
  return d;
}

export function balanceFromWire(json: unknown, cardId: string): CoreBalance {
  const w = check<WireBalance>(WireBalance, json, 'balance');
  if (w.cardId !== cardId) throw new CoreError('bad_response', "the core answered another card's balance", 'contract');
  return { availableFen: BigInt(w.availableFen), ledgerFen: BigInt(w.ledgerFen), currency: w.currency, asOf: instant(w.asOf, 'balance') };
}

export function transactionPageFromWire(json: unknown): TransactionPage {
  const w = check<WireTransactionPage>(WireTransactionPage, json, 'transactions');
  return {
    items: w.items.map((t) => {
      const amountFen = BigInt(t.amountFen);
      // The sign carries the direction; a page where they disagree would corrupt a statement.
      if ((amountFen >= 0n) !== (t.direction === 'credit')) throw new CoreError('bad_response', "a transaction's sign and direction disagree", 'contract');
      return {
        id: t.id,
        bookedAt: instant(t.bookedAt, 'transaction'),
        amountFen,
        currency: t.currency,
        direction: t.direction,
        counterparty: t.counterparty,
        description: t.description,
        balanceAfterFen: t.balanceAfterFen === null ? null : BigInt(t.balanceAfterFen),
        state: t.state,
      };
    }),
    nextCursor: w.nextCursor,
  };
}

export function cardFromWire(json: unknown, tenantId: string, cardId?: string): CoreCardStatus {
  const w = check<WireCard>(WireCard, json, 'card');
  if (cardId !== undefined && w.cardId !== cardId) throw new CoreError('bad_response', 'the core answered another card', 'contract');
  return {
    id: w.cardId,
    tenantId,
    kind: w.kind,
    currency: w.currency,
    status: w.status,
    maskedNumber: w.maskedNumber,
    last4: w.last4,
    crossBorderLock: w.crossBorderLock,
    lastActivityAt: instant(w.lastActivityAt, 'card'),
    statusChangedAt: instant(w.statusChangedAt, 'card'),
  };
}

export function elementCheckFromWire(json: unknown, tenantId: string): ElementCheck {
  const w = check<WireElementCheck>(WireElementCheck, json, 'element check');
  return w.match ? { match: true, card: cardFromWire(w.card, tenantId) } : { match: false };
}

/** The error body of a non-2xx answer, if it follows the contract. */
export function errorFromWire(json: unknown): WireError | undefined {
  return Value.Check(WireError, json) ? (json as WireError) : undefined;
}

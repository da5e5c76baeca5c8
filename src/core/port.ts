// The CoreBanking port: what wecard asks of a core banking system (balances, transactions, element checks, card status) and how it fails.
import type { CardElements } from './card-state.ts';
import type { CardKind, CardStatus } from './store.ts';
import type { CircuitBreaker } from './breaker.ts';

/** Largest page of transactions one call returns (API.md: list limits are at most 100). */
export const MAX_TRANSACTIONS_PAGE = 100;
export const DEFAULT_TRANSACTIONS_PAGE = 20;

/**
 * A card as the core knows it: the core's card id and the institution. A `CoreCard` from
 * store.ts is one; the built-in core also takes its `ledgerAccountId` to skip a look-up.
 */
export interface CardKey {
  id: string;
  tenantId: string;
  ledgerAccountId?: string;
}

/** Money is integer fen as bigint; `ledgerFen` is the posted balance, `availableFen` less the holds. */
export interface CoreBalance {
  availableFen: bigint;
  ledgerFen: bigint;
  currency: string;
  /** The instant the core vouches for: now for a live read, the requested instant for `asOf` reads. */
  asOf: Date;
}

export type Direction = 'credit' | 'debit';

export interface TransactionQuery {
  /** Inclusive lower bound on bookedAt. */
  from?: Date;
  /** Inclusive upper bound on bookedAt. */
  to?: Date;
  /** The core's own opaque cursor from a previous page. */
  cursor?: string;
  limit?: number;
  direction?: Direction;
}

export interface CoreTransaction {
  /** The core's transaction id: stable, unique per card (the mirror's idempotency key). */
  id: string;
  bookedAt: Date;
  /** Signed: + money in (credit), − money out (debit), in the account currency. */
  amountFen: bigint;
  currency: string;
  direction: Direction;
  counterparty: string | null;
  description: string;
  /** The posted balance right after this entry; null for a hold not yet resolved. */
  balanceAfterFen: bigint | null;
  /** A hold (`pending`) counts against the available balance until posted or released. */
  state: 'posted' | 'pending';
}

/** Newest first in the core's booking order, which no later booking reorders. */
export interface TransactionPage {
  items: CoreTransaction[];
  nextCursor: string | null;
}

/** What the channels need to know of a card's state (no secrets, masked number only). */
export interface CoreCardStatus {
  id: string;
  tenantId: string;
  kind: CardKind;
  currency: string;
  status: CardStatus;
  maskedNumber: string;
  last4: string;
  crossBorderLock: boolean;
  lastActivityAt: Date;
  statusChangedAt: Date;
}

export type ElementCheck = { match: true; card: CoreCardStatus } | { match: false };

export interface BalanceOptions {
  /** The balance at this instant (postings booked at or before it); default: now. */
  asOf?: Date;
}

/**
 * A core banking system. Implementations: the built-in ledger (builtin-adapter.ts) and an
 * external core over HTTP (http-adapter.ts, contract in CONTRACT.md). Failures are `CoreError`s;
 * the service (service.ts) turns them into cached answers or `core_unavailable`.
 */
export interface CoreBanking {
  readonly kind: 'builtin' | 'http';
  /**
   * True when the core is a separate system that can be unreachable while wecard's database
   * answers: only then are last-known values kept and missed postings caught up.
   */
  readonly remote: boolean;
  /** The remote core's circuit breaker (state for metrics and the ops console). */
  readonly breaker: CircuitBreaker | undefined;
  balance(card: CardKey, opts?: BalanceOptions): Promise<CoreBalance>;
  transactions(card: CardKey, query: TransactionQuery): Promise<TransactionPage>;
  /** The four-element check of card binding; the answer never says which element failed. */
  verifyElements(tenantId: string, elements: CardElements): Promise<ElementCheck>;
  cardStatus(card: CardKey): Promise<CoreCardStatus>;
}

/**
 * How a core call failed:
 * - `unavailable`: not reached, timed out, 5xx, throttled, refused our credentials, or the breaker
 *   is open; the answer may come from the last known value.
 * - `bad_response`: reached, but the answer broke the contract (treated as unavailable).
 * - `not_found`: the core does not know the card at this institution.
 * - `rejected`: the core refused the request as malformed (a bug or a tampered cursor).
 */
export type CoreErrorKind = 'unavailable' | 'bad_response' | 'not_found' | 'rejected';

export class CoreError extends Error {
  constructor(
    readonly kind: CoreErrorKind,
    message: string,
    /** Short machine reason for logs and metrics: `timeout`, `connection`, `http_503`, `breaker_open`, … */
    readonly reason: string = kind,
  ) {
    super(message);
    this.name = 'CoreError';
  }
}

/** True when the failure means "the core cannot answer now" (the caller may fall back). */
export function isCoreDown(err: unknown): err is CoreError {
  return err instanceof CoreError && (err.kind === 'unavailable' || err.kind === 'bad_response');
}

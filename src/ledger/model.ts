// The ledger's public value types and the one mapper from each row type to them.
import type { Selectable } from 'kysely';
import type { LedgerAccountKind, LedgerAccountRow, LedgerTransferRow, TransferState } from './ledger.table.ts';

type AccountRow = Selectable<LedgerAccountRow>;

export type { LedgerAccountKind, TransferState };

export const LEDGER_ACCOUNT_KINDS: readonly LedgerAccountKind[] = ['customer', 'internal', 'clearing', 'settlement', 'fee', 'suspense'];

export interface LedgerAccount {
  id: string;
  tenantId: string;
  code: string;
  name: string;
  currency: string;
  kind: LedgerAccountKind;
  noOverdraft: boolean;
  createdAt: Date;
}

/**
 * A booked transfer. `state` is the state it was booked in and never changes: a hold stays
 * `pending`; its resolution is another transfer whose `pendingId` names it (`posted` or `voided`).
 */
export interface Transfer {
  id: string;
  idempotencyId: string;
  tenantId: string;
  debitAccountId: string;
  creditAccountId: string;
  amountFen: bigint;
  currency: string;
  kind: string;
  description: string;
  counterparty: string | null;
  state: TransferState;
  pendingId: string | null;
  reversesId: string | null;
  bookedAt: Date;
  createdAt: Date;
  metadata: Record<string, unknown> | null;
}

export interface TransferInput {
  idempotencyId: string;
  debitAccountId: string;
  creditAccountId: string;
  amountFen: bigint;
  kind: string;
  description: string;
  counterparty?: string;
  /** Books a hold: it counts against the debit account's available balance until posted or voided. */
  pending?: boolean;
  /** Value date; defaults to `now`. Back-dated bookings (补登) land in history at this time. */
  bookedAt?: Date;
  /** The caller's clock (ctx.clock.now()): the ledger never reads the system clock on a write. */
  now: Date;
  metadata?: Record<string, unknown>;
}

export interface PostPendingInput {
  idempotencyId: string;
  pendingId: string;
  /** Defaults to the whole hold; a smaller amount posts part and releases the rest. */
  amountFen?: bigint;
  now: Date;
}

export interface VoidPendingInput {
  idempotencyId: string;
  pendingId: string;
  now: Date;
}

export interface ReverseInput {
  idempotencyId: string;
  transferId: string;
  /** Stored as the reversal's description: it appears on the statement. */
  reason: string;
  now: Date;
}

export interface TransferResult {
  transfer: Transfer;
  replayed: boolean;
}

/** Balance convention: balance = credits − debits (a customer deposit account is credited when money arrives). */
export interface Balance {
  accountId: string;
  currency: string;
  postedFen: bigint;
  pendingDebitFen: bigint;
  pendingCreditFen: bigint;
  /** posted − pending debits: what the holder may still spend. */
  availableFen: bigint;
  asOf: Date;
}

export interface Entry {
  transferId: string;
  bookedAt: Date;
  /** Signed: + credit, − debit. */
  amountFen: bigint;
  direction: 'credit' | 'debit';
  kind: string;
  description: string;
  counterparty: string | null;
  counterAccountId: string;
  state: 'posted' | 'pending';
  /** The posted balance right after this entry in booking order; null for a hold. */
  balanceAfterFen: bigint | null;
}

export interface HistoryOptions {
  /** Inclusive lower bound on bookedAt. */
  from?: Date;
  /** Inclusive upper bound on bookedAt. */
  to?: Date;
  cursor?: string;
  limit?: number;
  direction?: 'credit' | 'debit';
}

export interface HistoryPage {
  items: Entry[];
  nextCursor: string | null;
}

/** The four running totals an account caches (all ≥ 0). */
export interface Totals {
  postedDebitsFen: bigint;
  postedCreditsFen: bigint;
  pendingDebitsFen: bigint;
  pendingCreditsFen: bigint;
}

export const ZERO_TOTALS: Totals = Object.freeze({ postedDebitsFen: 0n, postedCreditsFen: 0n, pendingDebitsFen: 0n, pendingCreditsFen: 0n });

/**
 * An int8 column as bigint. Both drivers are configured to parse int8 as bigint; an in-memory PGlite
 * opened as `new PGlite(undefined, opts)` ignores its options and answers numbers, so a number is
 * accepted only while it is exact.
 */
export function int8(v: bigint | number | string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error('int8 value arrived as an inexact number');
  return BigInt(v);
}

export function toAccount(row: Pick<AccountRow, 'id' | 'tenant_id' | 'code' | 'name' | 'currency' | 'kind' | 'no_overdraft' | 'created_at'>): LedgerAccount {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    code: row.code,
    name: row.name,
    currency: row.currency,
    kind: row.kind,
    noOverdraft: row.no_overdraft,
    createdAt: row.created_at,
  };
}

export function totalsOf(row: Pick<AccountRow, 'posted_debits_fen' | 'posted_credits_fen' | 'pending_debits_fen' | 'pending_credits_fen'>): Totals {
  return {
    postedDebitsFen: int8(row.posted_debits_fen),
    postedCreditsFen: int8(row.posted_credits_fen),
    pendingDebitsFen: int8(row.pending_debits_fen),
    pendingCreditsFen: int8(row.pending_credits_fen),
  };
}

export function toTransfer(row: Selectable<LedgerTransferRow>): Transfer {
  return {
    id: row.id,
    idempotencyId: row.idempotency_id,
    tenantId: row.tenant_id,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    amountFen: int8(row.amount_fen),
    currency: row.currency,
    kind: row.kind,
    description: row.description,
    counterparty: row.counterparty,
    state: row.state,
    pendingId: row.pending_id,
    reversesId: row.reverses_id,
    bookedAt: row.booked_at,
    createdAt: row.created_at,
    // PGlite and pg both parse jsonb; a string here would be a driver configured otherwise.
    metadata: typeof row.metadata === 'string' ? (JSON.parse(row.metadata) as Record<string, unknown>) : row.metadata,
  };
}

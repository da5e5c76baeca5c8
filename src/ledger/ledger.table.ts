// Row types of the ledger module's tables (migration 0002_ledger): accounts, transfers, postings.
import type { ColumnType, Generated } from 'kysely';

export type LedgerAccountKind = 'customer' | 'internal' | 'clearing' | 'settlement' | 'fee' | 'suspense';
export type TransferState = 'posted' | 'pending' | 'voided';
/** A posting moves either the posted totals or the pending (hold) totals of one side of an account. */
export type PostingLayer = 'posted' | 'pending';
export type PostingSide = 'debit' | 'credit';

/**
 * An account and its cached totals. The four totals are derived from ledger_postings and updated
 * in the same transaction as the postings; `verifyInvariants` recomputes them. A CHECK constraint
 * keeps a no-overdraft account's available balance (credits − debits − pending debits) ≥ 0.
 */
export interface LedgerAccountRow {
  id: string;
  tenant_id: string;
  code: string;
  name: string;
  currency: string;
  kind: LedgerAccountKind;
  no_overdraft: boolean;
  posted_debits_fen: ColumnType<bigint, bigint | undefined, bigint>;
  posted_credits_fen: ColumnType<bigint, bigint | undefined, bigint>;
  pending_debits_fen: ColumnType<bigint, bigint | undefined, bigint>;
  pending_credits_fen: ColumnType<bigint, bigint | undefined, bigint>;
  created_at: ColumnType<Date, Date, never>;
  updated_at: ColumnType<Date, Date, Date>;
}

/**
 * One transfer, never updated (a trigger refuses UPDATE and DELETE). A hold is a `pending` row; its
 * resolution is a second row pointing at it through `pending_id` (`posted` or `voided`); a reversal
 * points at the transfer it undoes through `reverses_id`.
 */
export interface LedgerTransferRow {
  id: string;
  tenant_id: string;
  idempotency_id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount_fen: bigint;
  currency: string;
  kind: string;
  description: string;
  counterparty: string | null;
  state: TransferState;
  pending_id: string | null;
  reverses_id: string | null;
  booked_at: Date;
  created_at: ColumnType<Date, Date, never>;
  /** jsonb; written as a JSON string, read back as an object. */
  metadata: ColumnType<Record<string, unknown> | null, string | null, never>;
}

/**
 * One movement of one account total, append-only. Posted rows are always positive; pending rows
 * are positive when a hold is placed and negative when it is released (posted or voided).
 */
export interface LedgerPostingRow {
  seq: Generated<bigint>;
  transfer_id: string;
  account_id: string;
  layer: PostingLayer;
  side: PostingSide;
  delta_fen: bigint;
  booked_at: Date;
}

export interface LedgerTables {
  ledger_accounts: LedgerAccountRow;
  ledger_transfers: LedgerTransferRow;
  ledger_postings: LedgerPostingRow;
}

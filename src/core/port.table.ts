// Row types of the tables of migration 0016_core_port: balances kept from the core, mirrored core transactions, per-card sync cursors.
import type { ColumnType, Generated } from 'kysely';

type Int8 = ColumnType<bigint, bigint, bigint>;

/**
 * A balance wecard kept from the core, one per card and kind: `current` (the cached tiers and the
 * last known value for fallbacks) and `t1` (the end of the previous business day). Shared by all
 * instances: this table is the authority; in-process memory only sits in front of it.
 */
export interface CoreBalanceCacheRow {
  tenant_id: string;
  /** The core's card id (an external core's cards need not exist in core_cards). */
  card_id: string;
  kind: 'current' | 't1';
  currency: string;
  available_fen: Int8;
  ledger_fen: Int8;
  /** The core's instant for the value. */
  as_of: Date;
  /** When wecard fetched it, by wecard's clock (freshness is measured from here). */
  fetched_at: Date;
  source: 'read' | 'catch_up';
}

/**
 * A posted transaction of an external core, mirrored once by its core id (statements served while
 * the core is down; filled from pages read and by catch-up). Never updated: the core's postings
 * never change, corrections are new transactions. Holds are not mirrored (they come and go).
 */
export interface CoreTransactionRow {
  seq: Generated<bigint>;
  tenant_id: string;
  card_id: string;
  core_txn_id: string;
  booked_at: Date;
  amount_fen: Int8;
  currency: string;
  direction: 'credit' | 'debit';
  counterparty: string | null;
  description: string;
  balance_after_fen: ColumnType<bigint | null, bigint | null, never>;
  source: 'read' | 'catch_up';
  recorded_at: ColumnType<Date, Date, never>;
}

/**
 * Per card: what wecard missed and how far it has caught up. `dirty_since` is set when a read of
 * the card could not reach the core (it was answered from the cache or refused), and cleared by
 * catch-up once missed postings are mirrored and the balances corrected.
 */
export interface CoreSyncCursorRow {
  tenant_id: string;
  card_id: string;
  dirty_since: Date | null;
  /** Catch-up mirrored every posting booked up to here (less its overlap window). */
  synced_through: Date | null;
  /** The last time a statement page read from the core was mirrored (the mirror's as-of). */
  mirrored_at: Date | null;
  last_caught_up_at: Date | null;
  last_error: string | null;
  updated_at: Date;
}

export interface CorePortTables {
  core_balance_cache: CoreBalanceCacheRow;
  core_transactions: CoreTransactionRow;
  core_sync_cursors: CoreSyncCursorRow;
}

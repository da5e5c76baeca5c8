// Row types of the platform tables: idempotency records, the outbox, instance registry.
import type { ColumnType, Generated } from 'kysely';

export interface IdempotencyKeyRow {
  /** Scope (e.g. the user or tenant) + ':' + the client's key. */
  key: string;
  request_hash: string;
  status_code: number | null;
  response_body: unknown | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface OutboxRow {
  id: Generated<bigint>;
  topic: string;
  /** Deduplication key: one row per key, so an event is announced once. */
  dedupe_key: string | null;
  payload: unknown;
  attempts: Generated<number>;
  run_after: ColumnType<Date, Date | string | undefined, Date | string>;
  locked_until: Date | null;
  last_error: string | null;
  done_at: Date | null;
  /** Set when the last attempt failed: kept for operators, never claimed again. */
  dead_at: Date | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface PlatformTables {
  idempotency_keys: IdempotencyKeyRow;
  outbox: OutboxRow;
}

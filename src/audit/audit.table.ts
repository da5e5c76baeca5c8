// Row types of the tables of migration 0013_audit: the audit log, its hash chain and checkpoints, consent history.
import type { ColumnType, Generated } from 'kysely';

export type AuditActorKind = 'cardholder' | 'operator' | 'system';
export type AuditOutcome = 'ok' | 'refused' | 'error';

/** One audit event; inserted once, never updated (the trigger refuses UPDATE, DELETE, TRUNCATE). */
export interface AuditLogRow {
  seq: ColumnType<bigint, never, never>;
  /** Database clock at insert (clock_timestamp()); the sealer's safety margin is measured on it. */
  recorded_at: ColumnType<Date, never, never>;
  tenant_id: string;
  /** When the event happened, by the caller's clock. */
  at: ColumnType<Date, Date, never>;
  actor_kind: AuditActorKind;
  actor_id: string;
  /** Dotted verb: `balance.read`, `otp.failed`. */
  action: string;
  subject_kind: string | null;
  subject_id: string | null;
  outcome: AuditOutcome;
  /** Canonical JSON (sorted keys) of masked values, hashed as stored. */
  detail: string | null;
  ip: string | null;
  device_id: string | null;
  request_id: string | null;
}

/** The seal of one audit row: its link into the tenant's chain. */
export interface AuditChainRow {
  seq: bigint;
  tenant_id: string;
  /** The previous row of the same tenant's chain; null for the tenant's first row. */
  prev_seq: bigint | null;
  /** Hex SHA-256 of the previous row (the tenant's genesis hash for the first). */
  prev_hash: string;
  /** Hex SHA-256(prev_hash ‖ canonical row). */
  hash: string;
}

/** A tenant's chain head after one seal batch; the operator can copy it out to anchor the chain. */
export interface AuditCheckpointRow {
  id: ColumnType<bigint, never, never>;
  tenant_id: string;
  /** The whole batch's seq range (all tenants); the largest batch_last_seq is the sealed frontier. */
  batch_first_seq: bigint;
  batch_last_seq: bigint;
  /** This tenant's rows sealed in the batch. */
  rows: number;
  /** This tenant's rows sealed up to and including head_seq. */
  rows_total: bigint;
  head_seq: bigint;
  head_hash: string;
  sealed_at: Date;
}

/** One consent decision; the last recorded row (highest id) of a (tenant, user, purpose) is the current state. */
export interface ConsentRow {
  id: Generated<bigint>;
  tenant_id: string;
  user_id: string;
  purpose: string;
  notice_version: string;
  granted: boolean;
  at: Date;
  channel: string | null;
  recorded_at: Generated<Date>;
}

export interface AuditTables {
  audit_log: AuditLogRow;
  audit_chain: AuditChainRow;
  audit_checkpoints: AuditCheckpointRow;
  consents: ConsentRow;
}

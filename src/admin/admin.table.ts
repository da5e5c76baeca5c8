// Row types of the tables of migration 0022_admin: operators, console sessions, policy versions, instance heartbeats.
import type { ColumnType, Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Db, Tx } from '../db/tx.ts';

/** jsonb: written as JSON text, read back parsed (PostgreSQL) or as text (PGlite may give either). */
type Json = ColumnType<unknown, string, string>;

export type OperatorRole = 'operator' | 'reviewer' | 'auditor' | 'admin';

export interface AdminOperatorRow {
  id: string;
  /** null: a platform operator, who may act on every tenant. */
  tenant_id: string | null;
  username: string;
  display_name: string;
  role: OperatorRole;
  /** argon2id PHC string. */
  password_hash: string;
  /** FieldCrypto envelope of the base32 TOTP secret. */
  totp_secret_enc: string;
  totp_last_step: ColumnType<bigint | string | null, bigint | number | null | undefined, bigint | number | null>;
  disabled_at: Date | null;
  created_by: string | null;
  created_at: ColumnType<Date, Date, never>;
  updated_at: Date;
  last_login_at: Date | null;
}

export interface AdminSessionRow {
  id: string;
  token_hash: string;
  csrf_hash: string;
  operator_id: string;
  created_at: ColumnType<Date, Date, never>;
  last_seen_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

export interface AdminPolicyVersionRow {
  tenant_id: string;
  version: number;
  policy: Json;
  patch: ColumnType<unknown, string | null, never>;
  diff: Json;
  note: string | null;
  author_id: string;
  created_at: Date;
}

export interface AdminInstanceRow {
  instance_id: string;
  version: string;
  db_kind: string;
  started_at: Date;
  last_seen_at: Date;
}

export interface AdminTables {
  admin_operators: AdminOperatorRow;
  admin_sessions: AdminSessionRow;
  admin_policy_versions: AdminPolicyVersionRow;
  admin_instances: AdminInstanceRow;
}

export type AdminDatabase = Database & AdminTables;
export type AdminDb = Kysely<AdminDatabase>;
export type AdminTx = Transaction<AdminDatabase>;

/**
 * The same handle typed with the admin tables. Until AdminTables joins the Database interface in
 * src/db/schema.ts this is how the module reaches its own tables; afterwards it is a no-op.
 */
export function adminDb(db: Db): AdminDb;
export function adminDb(db: Tx): AdminTx;
export function adminDb(db: Db | Tx): AdminDb | AdminTx;
export function adminDb(db: Db | Tx): AdminDb | AdminTx {
  return db as unknown as AdminDb | AdminTx;
}

export function jsonOf<T>(v: unknown): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}

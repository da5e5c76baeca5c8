// Audit tables (owned by src/audit): the append-only audit log, its hash chain and checkpoints, and consent history.
import { sql, type Kysely } from 'kysely';

const APPEND_ONLY_TABLES = ['audit_log', 'audit_chain', 'audit_checkpoints', 'consents'] as const;

export async function up(db: Kysely<any>): Promise<void> {
  // Writers only INSERT; the row is never touched again (its hash lives in audit_chain), so the
  // hot path takes no lock beyond the sequence and the table needs no vacuuming of dead versions.
  await db.schema
    .createTable('audit_log')
    .addColumn('seq', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    // Database time, read right after the seq is drawn: the sealer's safety margin is measured on
    // this one clock, never on the instances' clocks. Microseconds are kept and hashed.
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('actor_kind', 'text', (c) => c.notNull().check(sql`actor_kind in ('cardholder', 'operator', 'system')`))
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('subject_kind', 'text')
    .addColumn('subject_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in ('ok', 'refused', 'error')`))
    // Canonical JSON text (sorted keys), hashed byte for byte; query it with detail::jsonb.
    .addColumn('detail', 'text')
    .addColumn('ip', 'text')
    .addColumn('device_id', 'text')
    .addColumn('request_id', 'text')
    .execute();
  await sql`create index audit_log_tenant_seq on audit_log (tenant_id, seq)`.execute(db);

  // One row per sealed audit row: its link to the previous row of the same tenant's chain and
  // hash = SHA-256(prev_hash ‖ canonical row). Written only by the sealer (src/audit/seal.ts).
  await db.schema
    .createTable('audit_chain')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('prev_seq', 'bigint')
    .addColumn('prev_hash', 'text', (c) => c.notNull().check(sql`prev_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn('hash', 'text', (c) => c.notNull().check(sql`hash ~ '^[0-9a-f]{64}$'`))
    .execute();

  // One row per tenant per seal batch: the tenant's chain head after the batch and its running
  // row count. The largest batch_last_seq is the sealed frontier.
  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('batch_first_seq', 'bigint', (c) => c.notNull())
    .addColumn('batch_last_seq', 'bigint', (c) => c.notNull())
    .addColumn('rows', 'integer', (c) => c.notNull().check(sql`rows > 0`))
    .addColumn('rows_total', 'bigint', (c) => c.notNull())
    .addColumn('head_seq', 'bigint', (c) => c.notNull().unique())
    .addColumn('head_hash', 'text', (c) => c.notNull().check(sql`head_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn('sealed_at', 'timestamptz', (c) => c.notNull())
    .addCheckConstraint('audit_checkpoints_range', sql`batch_first_seq <= head_seq and head_seq <= batch_last_seq`)
    .execute();
  await sql`create index audit_checkpoints_tenant_head on audit_checkpoints (tenant_id, head_seq)`.execute(db);
  await sql`create index audit_checkpoints_batch_last on audit_checkpoints (batch_last_seq)`.execute(db);

  // Consent history (PIPL art. 14, 15, 29: informed, withdrawable, separate for sensitive data):
  // every decision is a new row; the current state of a purpose is its last recorded row.
  await db.schema
    .createTable('consents')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('notice_version', 'text', (c) => c.notNull())
    .addColumn('granted', 'boolean', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('channel', 'text')
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index consents_current on consents (tenant_id, user_id, purpose, id desc)`.execute(db);

  // Append-only at the database too: an audit trail the application could edit proves nothing.
  // Works on PostgreSQL and PGlite; a table owner can still disable it, which the hash chain catches.
  await sql`
    create function audit_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception 'audit % rows are append-only (% refused)', tg_table_name, tg_op using errcode = '55000';
    end
    $$`.execute(db);
  for (const table of APPEND_ONLY_TABLES) {
    await sql`create trigger ${sql.raw(`${table}_append_only`)} before update or delete on ${sql.table(table)} for each row execute function audit_refuse_change()`.execute(db);
    await sql`create trigger ${sql.raw(`${table}_no_truncate`)} before truncate on ${sql.table(table)} for each statement execute function audit_refuse_change()`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [...APPEND_ONLY_TABLES].reverse()) await db.schema.dropTable(table).execute();
  await sql`drop function if exists audit_refuse_change()`.execute(db);
}

// The audit tables' shared SQL: the exact column text the chain hashes, and reading chain heads.
import { sql, type RawBuilder } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import type { ChainHead, HashedRow } from './chain.ts';

/**
 * A timestamp as exact UTC text with microseconds. Hashing the database's own text (not a JS Date,
 * which keeps milliseconds) means even a microsecond's change to a time is caught.
 */
export function utcText(column: string): RawBuilder<string> {
  return sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** The columns of audit_log, aliased `l`, as HashedRow wants them. */
export function hashedColumns() {
  return [
    'l.seq',
    'l.tenant_id',
    utcText('l.recorded_at').as('recorded_text'),
    utcText('l.at').as('at_text'),
    'l.actor_kind',
    'l.actor_id',
    'l.action',
    'l.subject_kind',
    'l.subject_id',
    'l.outcome',
    'l.detail',
    'l.ip',
    'l.device_id',
    'l.request_id',
  ] as const;
}

export interface HashedColumns {
  seq: bigint;
  tenant_id: string;
  recorded_text: string;
  at_text: string;
  actor_kind: string;
  actor_id: string;
  action: string;
  subject_kind: string | null;
  subject_id: string | null;
  outcome: string;
  detail: string | null;
  ip: string | null;
  device_id: string | null;
  request_id: string | null;
}

/** int8 comes back as bigint from pg and may come back as a number from PGlite: normalise. */
export function int8(v: bigint | string | number): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

export function toHashedRow(r: HashedColumns): HashedRow {
  return {
    seq: int8(r.seq),
    tenantId: r.tenant_id,
    recordedAt: r.recorded_text,
    at: r.at_text,
    actorKind: r.actor_kind,
    actorId: r.actor_id,
    action: r.action,
    subjectKind: r.subject_kind,
    subjectId: r.subject_id,
    outcome: r.outcome,
    detail: r.detail,
    ip: r.ip,
    deviceId: r.device_id,
    requestId: r.request_id,
  };
}

/** The sealed frontier: every audit row at or below it was sealed or reported as behind the seal. */
export async function sealedFrontier(db: Db | Tx): Promise<bigint> {
  const r = await sql<{ f: bigint | string | null }>`select max(batch_last_seq) as f from audit_checkpoints`.execute(db);
  const f = r.rows[0]?.f;
  return f === null || f === undefined ? 0n : int8(f);
}

/**
 * Each named tenant's newest checkpoint at or below `atOrBelow` (default: the newest), one index
 * probe per tenant however many checkpoints have piled up.
 */
export async function checkpointHeads(db: Db | Tx, tenantIds: string[], atOrBelow?: bigint): Promise<Map<string, ChainHead>> {
  const heads = new Map<string, ChainHead>();
  if (tenantIds.length === 0) return heads;
  const bound = atOrBelow ?? null;
  const r = await sql<{ tenant_id: string; head_seq: bigint; head_hash: string; rows_total: bigint }>`
    select t.tenant_id, h.head_seq, h.head_hash, h.rows_total
    from unnest(${tenantIds}::text[]) as t(tenant_id)
    cross join lateral (
      select c.head_seq, c.head_hash, c.rows_total from audit_checkpoints c
      where c.tenant_id = t.tenant_id and (${bound}::bigint is null or c.head_seq <= ${bound}::bigint)
      order by c.head_seq desc limit 1
    ) h`.execute(db);
  for (const row of r.rows) {
    heads.set(row.tenant_id, { tenantId: row.tenant_id, seq: int8(row.head_seq), hash: row.head_hash, rowsTotal: int8(row.rows_total) });
  }
  return heads;
}

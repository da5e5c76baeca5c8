// The WeCom module's SQL: the callback de-duplication record and its retention.
import { sql, type Insertable, type Selectable } from 'kysely';
import type { Db, Tx } from '../../db/tx.ts';
import type { WecomEventRow } from '../wecom.table.ts';

export type StoredWecomEvent = Selectable<WecomEventRow>;

/**
 * Records the event unless it is already recorded; true when this call recorded it. A concurrent
 * delivery of the same event waits on the key until the first transaction ends, then sees the row
 * (first committed: false) or records it itself (first rolled back: true).
 */
export async function recordEventOnce(tx: Tx, row: Insertable<WecomEventRow>): Promise<boolean> {
  const inserted = await tx
    .insertInto('wecom_events')
    .values(row)
    .onConflict((oc) => oc.columns(['tenant_id', 'dedupe_key']).doNothing())
    .returning('dedupe_key')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** The tenant's most recent events, newest first. */
export async function recentEvents(db: Db | Tx, tenantId: string, limit: number): Promise<StoredWecomEvent[]> {
  return db.selectFrom('wecom_events').selectAll().where('tenant_id', '=', tenantId).orderBy('received_at', 'desc').limit(limit).execute();
}

/** Deletes up to `limit` records received before `before`; returns how many went. */
export async function pruneEvents(db: Db, before: Date, limit: number): Promise<number> {
  const res = await sql`
    delete from wecom_events
    where (tenant_id, dedupe_key) in (select tenant_id, dedupe_key from wecom_events where received_at < ${before} limit ${limit})`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

// The OA module's SQL outside the batched claims (claims.ts): late outcomes, deferral with its outbox job, purging old claims.
import { sql } from 'kysely';
import type { Db, Tx } from '../../db/tx.ts';
import { enqueueJob } from '../../app/jobs.ts';
import type { OaMessageState } from '../oa.table.ts';

export type Claim = { fresh: true } | { fresh: false; state: OaMessageState; reply: string | null };

/** Records the outcome of a claimed push: its passive reply (null: `success`), or failure. */
export async function finishMessage(db: Db | Tx, tenantId: string, dedupKey: string, outcome: { state: 'replied' | 'failed'; reply: string | null; now: Date }): Promise<void> {
  await db
    .updateTable('oa_messages')
    .set({ state: outcome.state, reply: outcome.reply, finished_at: outcome.now })
    .where('tenant_id', '=', tenantId)
    .where('dedup_key', '=', dedupKey)
    .execute();
}

export const CUSTOM_REPLY_TOPIC = 'oa.custom-reply';

export interface CustomReplyPayload {
  tenantId: string;
  openid: string;
  content: string;
}

/** The reply missed the passive window: mark the push deferred and queue its customer-service message, atomically. */
export async function deferMessage(tx: Tx, tenantId: string, dedupKey: string, payload: CustomReplyPayload, now: Date): Promise<void> {
  await tx
    .updateTable('oa_messages')
    .set({ state: 'deferred', reply: null, finished_at: now })
    .where('tenant_id', '=', tenantId)
    .where('dedup_key', '=', dedupKey)
    .execute();
  await enqueueJob(tx, { topic: CUSTOM_REPLY_TOPIC, payload, dedupeKey: `${CUSTOM_REPLY_TOPIC}:${tenantId}:${dedupKey}` });
}

/** Deletes up to `limit` claims received before `before`; returns how many went. */
export async function purgeMessages(db: Db, before: Date, limit: number): Promise<number> {
  const r = await sql`
    delete from oa_messages where (tenant_id, dedup_key) in (
      select tenant_id, dedup_key from oa_messages where received_at < ${before} order by received_at limit ${limit}
    )`.execute(db);
  return Number(r.numAffectedRows ?? 0n);
}

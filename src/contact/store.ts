// The contact module's SQL for requests, contexts and emergency service ids (routing settings live in agents.ts, journeys in funnel.ts).
import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import type { ContactContextRow, ContactEmergencyRow, ContactRequestRow, ContactRequestStatus } from './contact.table.ts';
import { CONTEXTS_PER_LOOKUP_MAX } from './policy.ts';
import { parseJson } from './agents.ts';
import type { BillSnapshot } from './texts.ts';

export type RequestRow = Selectable<ContactRequestRow>;
export type ContextRow = Selectable<ContactContextRow>;
export type EmergencyRow = Selectable<ContactEmergencyRow>;

export const LIVE_STATUSES: readonly ContactRequestStatus[] = ['creating', 'pending', 'queued'];

export const snapshotFrom = (v: unknown): BillSnapshot | undefined => (v === null || v === undefined ? undefined : (parseJson(v) as BillSnapshot));

export async function insertRequest(tx: Tx, row: Insertable<ContactRequestRow>): Promise<void> {
  await tx.insertInto('contact_requests').values(row).execute();
}

export async function getRequest(db: Db | Tx, id: string, opts: { lock?: boolean } = {}): Promise<RequestRow | undefined> {
  if (typeof id !== 'string' || id.length > 64) return undefined;
  let q = db.selectFrom('contact_requests').selectAll().where('id', '=', id);
  if (opts.lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** The user's live request for the bill (locked), if any. */
export async function liveRequestFor(tx: Tx, tenantId: string, userId: string, billKey: string): Promise<RequestRow | undefined> {
  return tx
    .selectFrom('contact_requests')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('bill_key', '=', billKey)
    .where('status', 'in', LIVE_STATUSES)
    .forUpdate()
    .executeTakeFirst();
}

export async function countUserRequests(db: Db | Tx, tenantId: string, userId: string, since: Date, now: Date): Promise<{ today: number; live: number }> {
  const r = await sql<{ today: bigint | string; live: bigint | string }>`
    select count(*) filter (where created_at >= ${since}) as today,
           count(*) filter (where status in ('creating', 'pending', 'queued') and expires_at > ${now}) as live
    from contact_requests where tenant_id = ${tenantId} and user_id = ${userId} and (created_at >= ${since} or status in ('creating', 'pending', 'queued'))`.execute(db);
  return { today: Number(r.rows[0]?.today ?? 0), live: Number(r.rows[0]?.live ?? 0) };
}

/** Updates a request when it is (still) in one of `from`; returns the updated row, or undefined when it moved on meanwhile. */
export async function moveRequest(db: Db | Tx, id: string, from: readonly ContactRequestStatus[], patch: Updateable<ContactRequestRow>): Promise<RequestRow | undefined> {
  return db.updateTable('contact_requests').set(patch).where('id', '=', id).where('status', 'in', from).returningAll().executeTakeFirst();
}

export async function updateRequest(db: Db | Tx, id: string, patch: Updateable<ContactRequestRow>): Promise<void> {
  await db.updateTable('contact_requests').set(patch).where('id', '=', id).execute();
}

/** The pending request a contact way's state names (locked), if it is still waiting for its add. */
export async function pendingByState(tx: Tx, tenantId: string, state: string): Promise<RequestRow | undefined> {
  return tx.selectFrom('contact_requests').selectAll().where('tenant_id', '=', tenantId).where('state', '=', state).forUpdate().executeTakeFirst();
}

/** 1 for the oldest live queue entry of the tenant. */
export async function queuePosition(db: Db | Tx, tenantId: string, r: Pick<RequestRow, 'id' | 'created_at'>, now: Date): Promise<number> {
  const x = await sql<{ n: bigint | string }>`
    select count(*) as n from contact_requests
    where tenant_id = ${tenantId} and status = 'queued' and expires_at > ${now}
      and (created_at < ${r.created_at} or (created_at = ${r.created_at} and id <= ${r.id}))`.execute(db);
  return Math.max(1, Number(x.rows[0]?.n ?? 1));
}

// ---------- contexts ----------

export async function insertContext(tx: Tx, row: Insertable<ContactContextRow>): Promise<void> {
  await tx.insertInto('contact_contexts').values(row).execute();
}

export async function contextOfRequest(db: Db | Tx, requestId: string): Promise<ContextRow | undefined> {
  return db.selectFrom('contact_contexts').selectAll().where('request_id', '=', requestId).executeTakeFirst();
}

/** The customer's contexts still open, newest first. */
export async function openContexts(db: Db | Tx, tenantId: string, externalUserId: string, now: Date): Promise<ContextRow[]> {
  return db
    .selectFrom('contact_contexts')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('external_user_id', '=', externalUserId)
    .where('expires_at', '>', now)
    .orderBy('opened_at', 'desc')
    .orderBy('id', 'desc')
    .limit(CONTEXTS_PER_LOOKUP_MAX)
    .execute();
}

/** Marks the first message on the customer's open contexts that have none; returns their request ids. */
export async function markFirstMessage(tx: Tx, tenantId: string, externalUserId: string, now: Date): Promise<{ changed: string[]; open: number }> {
  const open = await openContexts(tx, tenantId, externalUserId, now);
  const changed = open.filter((c) => c.first_message_at === null);
  if (changed.length > 0) {
    await tx.updateTable('contact_contexts').set({ first_message_at: now }).where('id', 'in', changed.map((c) => c.id)).where('first_message_at', 'is', null).execute();
  }
  return { changed: changed.map((c) => c.request_id), open: open.length };
}

/** Deletes the context once its time is up (`force`: at once); returns the deleted row. */
export async function deleteContext(db: Db | Tx, id: string, now: Date, opts: { force?: boolean } = {}): Promise<ContextRow | undefined> {
  let q = db.deleteFrom('contact_contexts').where('id', '=', id);
  if (!opts.force) q = q.where('expires_at', '<=', now);
  return q.returningAll().executeTakeFirst();
}

/** The open contexts between one member and one customer (the relationship ended: they go early). */
export async function contextsBetween(tx: Tx, tenantId: string, agentUserId: string, externalUserId: string): Promise<ContextRow[]> {
  return tx
    .selectFrom('contact_contexts')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('agent_user_id', '=', agentUserId)
    .where('external_user_id', '=', externalUserId)
    .limit(CONTEXTS_PER_LOOKUP_MAX)
    .execute();
}

// ---------- emergency service ids ----------

export async function insertEmergency(tx: Tx, row: Insertable<ContactEmergencyRow>): Promise<void> {
  await tx.insertInto('contact_emergencies').values(row).execute();
}

export async function getEmergency(db: Db | Tx, serviceId: string, opts: { lock?: boolean } = {}): Promise<EmergencyRow | undefined> {
  let q = db.selectFrom('contact_emergencies').selectAll().where('service_id', '=', serviceId);
  if (opts.lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function emergencyOfRequest(db: Db | Tx, requestId: string): Promise<EmergencyRow | undefined> {
  return db.selectFrom('contact_emergencies').selectAll().where('request_id', '=', requestId).executeTakeFirst();
}

export async function updateEmergency(db: Db | Tx, serviceId: string, patch: Updateable<ContactEmergencyRow>): Promise<void> {
  await db.updateTable('contact_emergencies').set(patch).where('service_id', '=', serviceId).execute();
}

export async function deleteEmergency(db: Db | Tx, serviceId: string, now: Date): Promise<boolean> {
  const r = await db.deleteFrom('contact_emergencies').where('service_id', '=', serviceId).where('expires_at', '<=', now).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

// ---------- retention ----------

/** Closed requests older than `before` (their funnel journey keeps the timings); at most `limit` rows. */
export async function pruneRequests(db: Db, before: Date, limit: number): Promise<number> {
  const r = await sql`
    delete from contact_requests where id in (
      select r.id from contact_requests r
      where r.created_at < ${before} and r.status not in ('creating', 'pending', 'queued')
        and not exists (select 1 from contact_contexts c where c.request_id = r.id)
        and not exists (select 1 from contact_emergencies e where e.request_id = r.id)
      limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

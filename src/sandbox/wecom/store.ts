// The sandbox WeCom platform's SQL: contact ways, simulated external contacts, welcome codes, event deliveries.
import type { Insertable, Selectable } from 'kysely';
import type { Db, Tx } from '../../db/tx.ts';
import type {
  SandboxWecomContactWayRow,
  SandboxWecomEventDeliveryRow,
  SandboxWecomExternalContactRow,
  SandboxWecomWelcomeCodeRow,
} from './sandbox-wecom.table.ts';

export type ContactWayRecord = Omit<Selectable<SandboxWecomContactWayRow>, 'user_ids'> & { user_ids: string[] };
export type ExternalContactRecord = Selectable<SandboxWecomExternalContactRow>;
export type WelcomeCodeRecord = Selectable<SandboxWecomWelcomeCodeRow>;
export type DeliveryRecord = Selectable<SandboxWecomEventDeliveryRow>;

function parseUsers(v: unknown): string[] {
  const parsed = typeof v === 'string' ? JSON.parse(v) : v;
  return Array.isArray(parsed) ? parsed.filter((u): u is string => typeof u === 'string') : [];
}

export async function insertContactWay(db: Db | Tx, row: Omit<Insertable<SandboxWecomContactWayRow>, 'user_ids'> & { user_ids: string[] }): Promise<void> {
  await db.insertInto('sandbox_wecom_contact_ways').values({ ...row, user_ids: JSON.stringify(row.user_ids) }).execute();
}

export async function findContactWay(db: Db | Tx, configId: string): Promise<ContactWayRecord | undefined> {
  const row = await db.selectFrom('sandbox_wecom_contact_ways').selectAll().where('config_id', '=', configId).executeTakeFirst();
  return row ? { ...row, user_ids: parseUsers(row.user_ids) } : undefined;
}

export async function countLiveContactWays(db: Db | Tx, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('sandbox_wecom_contact_ways')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listContactWays(db: Db | Tx, tenantId: string, limit: number): Promise<ContactWayRecord[]> {
  const rows = await db.selectFrom('sandbox_wecom_contact_ways').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').limit(limit).execute();
  return rows.map((r) => ({ ...r, user_ids: parseUsers(r.user_ids) }));
}

/** Marks the tenant's live contact way deleted; false when there is none by that id. */
export async function markContactWayDeleted(db: Db | Tx, tenantId: string, configId: string, now: Date): Promise<boolean> {
  const res = await db
    .updateTable('sandbox_wecom_contact_ways')
    .set({ deleted_at: now })
    .where('config_id', '=', configId)
    .where('tenant_id', '=', tenantId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function insertExternalContact(tx: Tx, row: Insertable<SandboxWecomExternalContactRow>): Promise<void> {
  await tx.insertInto('sandbox_wecom_external_contacts').values(row).execute();
}

export async function findExternalContact(db: Db | Tx, tenantId: string, userId: string, externalUserId: string): Promise<ExternalContactRecord | undefined> {
  return db
    .selectFrom('sandbox_wecom_external_contacts')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('external_user_id', '=', externalUserId)
    .executeTakeFirst();
}

export async function updateRemark(db: Db | Tx, externalUserId: string, set: { remark?: string; description?: string }, now: Date): Promise<void> {
  await db
    .updateTable('sandbox_wecom_external_contacts')
    .set({ ...set, remarked_at: now })
    .where('external_user_id', '=', externalUserId)
    .execute();
}

export async function listExternalContacts(db: Db | Tx, tenantId: string, limit: number): Promise<ExternalContactRecord[]> {
  return db.selectFrom('sandbox_wecom_external_contacts').selectAll().where('tenant_id', '=', tenantId).orderBy('added_at', 'desc').limit(limit).execute();
}

export async function insertWelcomeCode(tx: Tx, row: Insertable<SandboxWecomWelcomeCodeRow>): Promise<void> {
  await tx.insertInto('sandbox_wecom_welcome_codes').values(row).execute();
}

export async function findWelcomeCode(db: Db | Tx, tenantId: string, code: string): Promise<WelcomeCodeRecord | undefined> {
  return db.selectFrom('sandbox_wecom_welcome_codes').selectAll().where('code', '=', code).where('tenant_id', '=', tenantId).executeTakeFirst();
}

/** Uses the code if it is the tenant's, unused and not expired at `now`: one caller wins. */
export async function useWelcomeCode(db: Db | Tx, tenantId: string, code: string, content: string, now: Date): Promise<boolean> {
  const res = await db
    .updateTable('sandbox_wecom_welcome_codes')
    .set({ used_at: now, content })
    .where('code', '=', code)
    .where('tenant_id', '=', tenantId)
    .where('used_at', 'is', null)
    .where('expires_at', '>=', now)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Welcome messages sent to these contacts, oldest first. */
export async function welcomeMessagesOf(db: Db | Tx, externalUserIds: string[]): Promise<WelcomeCodeRecord[]> {
  if (externalUserIds.length === 0) return [];
  return db
    .selectFrom('sandbox_wecom_welcome_codes')
    .selectAll()
    .where('external_user_id', 'in', externalUserIds)
    .where('used_at', 'is not', null)
    .orderBy('used_at')
    .execute();
}

export async function insertDelivery(tx: Tx, row: Insertable<SandboxWecomEventDeliveryRow>): Promise<void> {
  await tx.insertInto('sandbox_wecom_event_deliveries').values(row).execute();
}

export async function findDelivery(db: Db | Tx, id: string): Promise<DeliveryRecord | undefined> {
  return db.selectFrom('sandbox_wecom_event_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function recordAttempt(db: Db, id: string, outcome: { status: number | null; error: string | null; delivered: boolean; now: Date }): Promise<void> {
  await db
    .updateTable('sandbox_wecom_event_deliveries')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      last_status: outcome.status,
      last_error: outcome.error,
      ...(outcome.delivered ? { delivered_at: eb.fn.coalesce('delivered_at', eb.val(outcome.now)) } : {}),
    }))
    .where('id', '=', id)
    .execute();
}

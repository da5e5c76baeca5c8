// SQL of the sandbox platform's users, codes, subscribe grants, message inbox and SMS outbox (tokens: token-store.ts).
import { sql, type Insertable, type Selectable } from 'kysely';
import type { Db, Tx } from '../../db/tx.ts';
import type {
  SandboxCodeKind,
  SandboxMessageKind,
  SandboxWxCodeRow,
  SandboxWxMessageRow,
  SandboxWxSmsRow,
  SandboxWxUserRow,
} from './sandbox-wx.table.ts';

export type UserRecord = Selectable<SandboxWxUserRow>;
export type CodeRecord = Selectable<SandboxWxCodeRow>;
export type MessageRecord = Selectable<SandboxWxMessageRow>;
export type SmsRecord = Selectable<SandboxWxSmsRow>;

/** One-time subscribe acceptances a user can hold per template (WeChat lets them pile up). */
export const SUBSCRIBE_GRANTS_MAX = 100;

// ---- users

export async function insertUser(tx: Tx, row: Insertable<SandboxWxUserRow>): Promise<void> {
  await tx.insertInto('sandbox_wx_users').values(row).execute();
}

export async function findUserByOpenid(db: Db | Tx, openid: string): Promise<UserRecord | undefined> {
  return db
    .selectFrom('sandbox_wx_users')
    .selectAll()
    .where((eb) => eb.or([eb('oa_openid', '=', openid), eb('mini_openid', '=', openid)]))
    .executeTakeFirst();
}

export async function findUserByUnionid(db: Db | Tx, unionid: string): Promise<UserRecord | undefined> {
  return db.selectFrom('sandbox_wx_users').selectAll().where('unionid', '=', unionid).executeTakeFirst();
}

export async function listUsersOfTenant(db: Db | Tx, tenantId: string, limit: number): Promise<UserRecord[]> {
  return db.selectFrom('sandbox_wx_users').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').limit(limit).execute();
}

export async function updateUser(
  tx: Tx,
  unionid: string,
  set: Partial<Pick<SandboxWxUserRow, 'subscribed' | 'phone_enc' | 'phone_bidx' | 'phone_masked' | 'mini_session_key_enc' | 'last_interaction_at'>>,
): Promise<void> {
  await tx.updateTable('sandbox_wx_users').set(set).where('unionid', '=', unionid).execute();
}

// ---- codes

export async function insertCode(tx: Tx, row: Insertable<SandboxWxCodeRow>): Promise<void> {
  // A user's spent and lapsed codes go as new ones come: the table holds live codes only.
  await tx.deleteFrom('sandbox_wx_codes').where('unionid', '=', row.unionid).where((eb) => eb.or([eb('expires_at', '<=', row.issued_at), eb('used_at', 'is not', null)])).execute();
  await tx.insertInto('sandbox_wx_codes').values(row).execute();
}

/** Spends a live code of this kind for this app: exactly one caller gets the row. */
export async function useCode(tx: Tx, c: { code: string; kind: SandboxCodeKind; appId: string; now: Date }): Promise<CodeRecord | undefined> {
  return tx
    .updateTable('sandbox_wx_codes')
    .set({ used_at: c.now })
    .where('code', '=', c.code)
    .where('kind', '=', c.kind)
    .where('app_id', '=', c.appId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', c.now)
    .returningAll()
    .executeTakeFirst();
}

export async function findCode(db: Db | Tx, code: string): Promise<CodeRecord | undefined> {
  return db.selectFrom('sandbox_wx_codes').selectAll().where('code', '=', code).executeTakeFirst();
}

// ---- subscribe grants

export async function addGrants(tx: Tx, g: { unionid: string; templateId: string; count: number; now: Date }): Promise<number> {
  const row = await tx
    .insertInto('sandbox_wx_subscribe_grants')
    .values({ unionid: g.unionid, template_id: g.templateId, remaining: Math.min(g.count, SUBSCRIBE_GRANTS_MAX), updated_at: g.now })
    .onConflict((oc) =>
      oc.columns(['unionid', 'template_id']).doUpdateSet({
        remaining: sql<number>`least(sandbox_wx_subscribe_grants.remaining + ${g.count}, ${SUBSCRIBE_GRANTS_MAX})`,
        updated_at: g.now,
      }),
    )
    .returning('remaining')
    .executeTakeFirstOrThrow();
  return Number(row.remaining);
}

/** Spends one acceptance; false when none is left (43101). */
export async function takeGrant(tx: Tx, g: { unionid: string; templateId: string; now: Date }): Promise<boolean> {
  const row = await tx
    .updateTable('sandbox_wx_subscribe_grants')
    .set({ remaining: sql<number>`remaining - 1`, updated_at: g.now })
    .where('unionid', '=', g.unionid)
    .where('template_id', '=', g.templateId)
    .where('remaining', '>', 0)
    .returning('remaining')
    .executeTakeFirst();
  return row !== undefined;
}

// ---- message inbox

export async function insertMessage(tx: Tx, row: Omit<Insertable<SandboxWxMessageRow>, 'seq'>): Promise<void> {
  await tx.insertInto('sandbox_wx_messages').values(row).execute();
}

export async function findMessageByClientId(db: Db | Tx, m: { openid: string; clientMsgId: string; since: Date }): Promise<MessageRecord | undefined> {
  return db
    .selectFrom('sandbox_wx_messages')
    .selectAll()
    .where('openid', '=', m.openid)
    .where('kind', '=', 'template')
    .where('client_msg_id', '=', m.clientMsgId)
    .where('sent_at', '>', m.since)
    .executeTakeFirst();
}

export async function listMessages(db: Db | Tx, q: { openid: string; kind: SandboxMessageKind; limit: number }): Promise<MessageRecord[]> {
  return db.selectFrom('sandbox_wx_messages').selectAll().where('openid', '=', q.openid).where('kind', '=', q.kind).orderBy('seq', 'desc').limit(q.limit).execute();
}

// ---- SMS outbox

export async function insertSms(tx: Tx, row: Omit<Insertable<SandboxWxSmsRow>, 'seq'>): Promise<void> {
  await tx.insertInto('sandbox_wx_sms').values(row).execute();
}

export async function listSms(db: Db | Tx, q: { phoneBidx: string; limit: number }): Promise<SmsRecord[]> {
  return db.selectFrom('sandbox_wx_sms').selectAll().where('phone_bidx', '=', q.phoneBidx).orderBy('seq', 'desc').limit(q.limit).execute();
}

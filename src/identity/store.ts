// The identity module's SQL for people, their WeChat ids, devices and sessions (bindings, OTP and step-ups have their own files).
import type { Selectable } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import type { FieldCrypto } from '../shared/crypto.ts';
import { newId } from '../shared/ids.ts';
import type { Phone } from '../shared/sensitive.ts';
import type { IdentityDeviceRow, IdentityUserRow } from './identity.table.ts';

export type AppKind = 'oa' | 'miniProgram';

export interface IdentityUser {
  id: string;
  tenantId: string;
  maskedPhone: string | null;
  phoneBidx: string | null;
  phoneVersion: number;
  phoneCoreCardId: string | null;
  elderlyMode: boolean;
  voice: boolean;
  createdAt: Date;
}

export interface Device {
  userId: string;
  deviceId: string;
  activatedAt: Date | null;
  activatedPhoneVersion: number | null;
  faceVerifiedAt: Date | null;
}

// The user's own phone has its own blind-index domain: equal to no core index by construction.
const PHONE_BIDX_DOMAIN = 'identity.phone';

export function phoneBidx(crypto: FieldCrypto, phone: Phone): string {
  return crypto.blindIndex(PHONE_BIDX_DOMAIN, phone.reveal());
}

function toUser(r: Selectable<IdentityUserRow>): IdentityUser {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    maskedPhone: r.phone_masked,
    phoneBidx: r.phone_bidx,
    phoneVersion: r.phone_version,
    phoneCoreCardId: r.phone_core_card_id,
    elderlyMode: r.elderly_mode,
    voice: r.voice,
    createdAt: r.created_at,
  };
}

function toDevice(r: Selectable<IdentityDeviceRow>): Device {
  return {
    userId: r.user_id,
    deviceId: r.device_id,
    activatedAt: r.activated_at,
    activatedPhoneVersion: r.activated_phone_version,
    faceVerifiedAt: r.face_verified_at,
  };
}

export async function getUser(db: Db | Tx, userId: string): Promise<IdentityUser | undefined> {
  const r = await db.selectFrom('identity_users').selectAll().where('id', '=', userId).executeTakeFirst();
  return r ? toUser(r) : undefined;
}

export async function lockUser(tx: Tx, userId: string): Promise<IdentityUser> {
  const r = await tx.selectFrom('identity_users').selectAll().where('id', '=', userId).forUpdate().executeTakeFirstOrThrow();
  return toUser(r);
}

/** The clear phone on file, for sending the user an OTP; never log it. */
export async function revealUserPhone(db: Db | Tx, crypto: FieldCrypto, userId: string): Promise<string | undefined> {
  const r = await db.selectFrom('identity_users').select('phone_enc').where('id', '=', userId).executeTakeFirst();
  return r?.phone_enc ? crypto.decrypt(r.phone_enc) : undefined;
}

export interface SignIn {
  tenantId: string;
  appKind: AppKind;
  openid: string;
  unionid: string | undefined;
  now: Date;
}

const unionKey = (unionid: string) => `u:${unionid}`;
const openidKey = (kind: AppKind, openid: string) => `o:${kind}:${openid}`;

/**
 * The person behind a WeChat sign-in, created on first sight. Openids are linked by unionid: the
 * OA and the mini-program of one tenant see different openids but the same unionid, so a card
 * bound in one answers in the other. An app that gives no unionid (not bound to the tenant's Open
 * Platform account) links by its openid alone; when a later sign-in brings the unionid, the user
 * takes it as its link key, unless another user already holds it (then the unionid's user wins
 * for this openid from now on).
 */
export async function upsertUserForSignIn(tx: Tx, s: SignIn): Promise<{ user: IdentityUser; created: boolean }> {
  const known = await tx
    .selectFrom('identity_wechat_ids')
    .select(['user_id', 'unionid'])
    .where('tenant_id', '=', s.tenantId)
    .where('app_kind', '=', s.appKind)
    .where('openid', '=', s.openid)
    .forUpdate()
    .executeTakeFirst();

  let userId: string | undefined;
  let created = false;
  if (s.unionid) {
    const byUnion = await tx
      .selectFrom('identity_users')
      .select('id')
      .where('tenant_id', '=', s.tenantId)
      .where('link_key', '=', unionKey(s.unionid))
      .executeTakeFirst();
    userId = byUnion?.id;
    if (!userId && known) {
      // The openid's user so far had no unionid: it takes this one.
      const r = await tx
        .updateTable('identity_users')
        .set({ link_key: unionKey(s.unionid), updated_at: s.now })
        .where('id', '=', known.user_id)
        .where('link_key', 'like', 'o:%')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) userId = known.user_id;
    }
  } else if (known) {
    userId = known.user_id;
  }

  if (!userId) {
    const inserted = await tx
      .insertInto('identity_users')
      .values({
        id: newId('usr'),
        tenant_id: s.tenantId,
        link_key: s.unionid ? unionKey(s.unionid) : openidKey(s.appKind, s.openid),
        phone_enc: null,
        phone_bidx: null,
        phone_masked: null,
        phone_version: 0,
        phone_core_card_id: null,
        elderly_mode: false,
        voice: false,
        created_at: s.now,
        updated_at: s.now,
      })
      // Two first sign-ins of one person at once: the second finds the first's row.
      .onConflict((oc) => oc.columns(['tenant_id', 'link_key']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) {
      userId = inserted.id;
      created = true;
    } else {
      const again = await tx
        .selectFrom('identity_users')
        .select('id')
        .where('tenant_id', '=', s.tenantId)
        .where('link_key', '=', s.unionid ? unionKey(s.unionid) : openidKey(s.appKind, s.openid))
        .executeTakeFirstOrThrow();
      userId = again.id;
    }
  }

  await tx
    .insertInto('identity_wechat_ids')
    .values({ tenant_id: s.tenantId, app_kind: s.appKind, openid: s.openid, user_id: userId, unionid: s.unionid ?? null, created_at: s.now, last_seen_at: s.now })
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'app_kind', 'openid']).doUpdateSet({ user_id: userId!, unionid: s.unionid ?? known?.unionid ?? null, last_seen_at: s.now }),
    )
    .execute();
  const user = await lockUser(tx, userId);
  return { user, created };
}

/** The person behind an openid of any of the tenant's apps (OA chat, mini-program). */
export async function findUserByOpenid(db: Db | Tx, tenantId: string, openid: string): Promise<{ userId: string } | undefined> {
  const r = await db
    .selectFrom('identity_wechat_ids')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('openid', '=', openid)
    .executeTakeFirst();
  return r ? { userId: r.user_id } : undefined;
}

/** The openids of a user per app (for messages to the person: template messages go to the OA openid). */
export async function listOpenids(db: Db | Tx, userId: string): Promise<{ appKind: AppKind; openid: string }[]> {
  const rows = await db.selectFrom('identity_wechat_ids').select(['app_kind', 'openid']).where('user_id', '=', userId).orderBy('created_at').execute();
  return rows.map((r) => ({ appKind: r.app_kind, openid: r.openid }));
}

export async function getDevice(db: Db | Tx, userId: string, deviceId: string): Promise<Device | undefined> {
  const r = await db.selectFrom('identity_devices').selectAll().where('user_id', '=', userId).where('device_id', '=', deviceId).executeTakeFirst();
  return r ? toDevice(r) : undefined;
}

/** Records a device sighting; returns the device and whether it is new for this user. */
export async function touchDevice(tx: Tx, userId: string, deviceId: string, now: Date): Promise<{ device: Device; isNew: boolean }> {
  const inserted = await tx
    .insertInto('identity_devices')
    .values({ user_id: userId, device_id: deviceId, first_seen_at: now, last_seen_at: now, activated_at: null, activated_phone_version: null, face_verified_at: null })
    .onConflict((oc) => oc.columns(['user_id', 'device_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { device: toDevice(inserted), isNew: true };
  const r = await tx
    .updateTable('identity_devices')
    .set({ last_seen_at: now })
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { device: toDevice(r), isNew: false };
}

export async function activateDevice(tx: Tx, userId: string, deviceId: string, phoneVersion: number, now: Date): Promise<void> {
  await tx
    .updateTable('identity_devices')
    .set({ activated_at: now, activated_phone_version: phoneVersion, last_seen_at: now })
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .execute();
}

export async function rememberFacePass(tx: Tx, userId: string, deviceId: string, now: Date): Promise<void> {
  await tx.updateTable('identity_devices').set({ face_verified_at: now }).where('user_id', '=', userId).where('device_id', '=', deviceId).execute();
}

export async function countDevices(db: Db | Tx, userId: string): Promise<number> {
  const r = await db.selectFrom('identity_devices').select((eb) => eb.fn.countAll<string>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * Puts `phone` on file for the user, verified just now by an OTP sent to it from `deviceId`.
 * A first phone keeps the devices trusted so far (they were trusted for lack of a phone, and
 * the binding device proved this one); a different phone than before is a phone or SIM change:
 * the version moves on and every other device must activate again by SMS.
 */
export async function setUserPhone(
  tx: Tx,
  crypto: FieldCrypto,
  c: { userId: string; phone: Phone; coreCardId: string; deviceId: string; now: Date },
): Promise<{ changed: boolean }> {
  const user = await lockUser(tx, c.userId);
  const bidx = phoneBidx(crypto, c.phone);
  if (user.phoneBidx === bidx) {
    if (user.phoneCoreCardId !== c.coreCardId) {
      await tx.updateTable('identity_users').set({ phone_core_card_id: c.coreCardId, updated_at: c.now }).where('id', '=', c.userId).execute();
    }
    return { changed: false };
  }
  const first = user.phoneBidx === null;
  const version = user.phoneVersion + 1;
  await tx
    .updateTable('identity_users')
    .set({ phone_enc: crypto.encrypt(c.phone), phone_bidx: bidx, phone_masked: c.phone.masked, phone_version: version, phone_core_card_id: c.coreCardId, updated_at: c.now })
    .where('id', '=', c.userId)
    .execute();
  if (first) {
    await tx
      .updateTable('identity_devices')
      .set({ activated_at: c.now, activated_phone_version: version })
      .where('user_id', '=', c.userId)
      .where((eb) => eb.or([eb('activated_at', 'is not', null), eb('device_id', '=', c.deviceId)]))
      .execute();
  } else {
    await activateDevice(tx, c.userId, c.deviceId, version, c.now);
  }
  return { changed: !first };
}

/** A phone change reported by the core (the reserved phone of the card the phone came from): every device activates again. */
export async function replaceUserPhone(tx: Tx, crypto: FieldCrypto, c: { userId: string; phone: Phone; now: Date }): Promise<void> {
  const user = await lockUser(tx, c.userId);
  const bidx = phoneBidx(crypto, c.phone);
  if (user.phoneBidx === bidx) return;
  await tx
    .updateTable('identity_users')
    .set({ phone_enc: crypto.encrypt(c.phone), phone_bidx: bidx, phone_masked: c.phone.masked, phone_version: user.phoneVersion + 1, updated_at: c.now })
    .where('id', '=', c.userId)
    .execute();
}

export async function setPreferences(tx: Tx, userId: string, p: { elderlyMode?: boolean; voice?: boolean }, now: Date): Promise<IdentityUser> {
  const r = await tx
    .updateTable('identity_users')
    .set({
      ...(p.elderlyMode === undefined ? {} : { elderly_mode: p.elderlyMode }),
      ...(p.voice === undefined ? {} : { voice: p.voice }),
      updated_at: now,
    })
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toUser(r);
}

// Sessions: sign-in from a mini-program or OA web-auth code, opaque tokens stored as SHA-256, sliding and absolute expiry, revocation.
import { createHash, randomBytes } from 'node:crypto';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx, type Tx } from '../db/tx.ts';
import { newId } from '../shared/ids.ts';
import { Phone } from '../shared/sensitive.ts';
import { getTenant, type Policy } from '../tenants/index.ts';
import { revealReservedPhone } from './core-link.ts';
import { code2Session, exchangeOAuthCode, WechatApiError } from '../wechat/api/index.ts';
import { checkRateLimit } from '../risk/index.ts';
import { audit, riskSignal, type RequestMeta } from './events.ts';
import { oaUnionidOf } from './link.ts';
import {
  MAX_SESSIONS_PER_USER,
  SESSION_ABSOLUTE_TTL_MS,
  isDeviceTrusted,
  sessionExpiry,
} from './policy.ts';
import {
  activateDevice,
  countDevices,
  getDevice,
  getUser,
  phoneBidx,
  replaceUserPhone,
  touchDevice,
  upsertUserForSignIn,
  type AppKind,
  type IdentityUser,
} from './store.ts';

/** Session tokens: 32 random bytes, base64url (43 characters). */
export const SESSION_TOKEN_BYTES = 32;
export const SESSION_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Sign-ins per client address per minute: codes are single use, so this only slows scripted abuse; generous for carrier-grade NAT. */
export const SIGN_INS_PER_IP_PER_MINUTE = 120;

export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface UserView {
  id: string;
  tenantId: string;
  /** The phone on file, masked (`138****0000`); null before the first binding. */
  maskedPhone: string | null;
  elderlyMode: boolean;
  voice: boolean;
  /** True when this device must be activated by SMS before other calls go through. */
  deviceActivationRequired: boolean;
}

export function userView(user: IdentityUser, deviceTrusted: boolean): UserView {
  return {
    id: user.id,
    tenantId: user.tenantId,
    maskedPhone: user.maskedPhone,
    elderlyMode: user.elderlyMode,
    voice: user.voice,
    deviceActivationRequired: !deviceTrusted,
  };
}

export interface NewSession {
  tenantId: string;
  code: string;
  kind?: 'oauth' | undefined;
  deviceId: string;
  meta: RequestMeta;
}

/** WeChat's answer to a code: an invalid or used code is the caller's problem (401); an outage is ours (503). */
async function identityFromCode(ctx: AppContext, s: NewSession): Promise<{ appKind: AppKind; openid: string; unionid: string | undefined }> {
  try {
    if (s.kind === 'oauth') {
      const r = await exchangeOAuthCode(ctx, s.tenantId, s.code);
      // snsapi_base gives no unionid: the OA's user/info does for followers (else linked by openid).
      return { appKind: 'oa', openid: r.openid, unionid: r.unionid || (await oaUnionidOf(ctx, s.tenantId, r.openid)) };
    }
    const r = await code2Session(ctx, s.tenantId, s.code);
    // session_key is not kept: nothing here decrypts mini-program data with it.
    return { appKind: 'miniProgram', openid: r.openid, unionid: r.unionid || undefined };
  } catch (err) {
    // An invalid or used code is 401 for the client to get a new one; an outage is 503 (api's mapping).
    if (err instanceof WechatApiError) throw err.toAppError();
    throw err;
  }
}

/**
 * The phone on file follows the reserved phone of the card it came from: when the core reports
 * another number there (a new SIM or phone number), the new number is put on file and every
 * device must activate again by SMS to it. Read outside any transaction (an external core is a
 * network call), applied in a short one.
 */
export async function syncPhoneFromCore(ctx: AppContext, user: IdentityUser): Promise<boolean> {
  if (!user.phoneCoreCardId || !user.phoneBidx) return false;
  const reserved = await revealReservedPhone(ctx.db, ctx.crypto, user.phoneCoreCardId);
  if (!reserved) return false;
  const phone = Phone.parse(reserved);
  if (phoneBidx(ctx.crypto, phone) === user.phoneBidx) return false;
  const now = ctx.clock.now();
  await inTx(ctx.db, async (tx) => {
    await replaceUserPhone(tx, ctx.crypto, { userId: user.id, phone, now });
    await audit(tx, { tenantId: user.tenantId, action: 'user.phone_changed', outcome: 'ok', subject: { kind: 'user', id: user.id }, detail: { source: 'core', maskedPhone: phone.masked }, at: now });
  });
  return true;
}

async function capSessions(tx: Tx, userId: string, now: Date): Promise<void> {
  const live = await tx
    .selectFrom('identity_sessions')
    .select('id')
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .offset(MAX_SESSIONS_PER_USER)
    .limit(1000)
    .execute();
  if (live.length > 0) {
    await tx.updateTable('identity_sessions').set({ revoked_at: now }).where('id', 'in', live.map((r) => r.id)).execute();
  }
}

/**
 * Signs a cardholder in: WeChat code → openid (+ unionid) → the person, this device recorded,
 * a new session. A device seen for the first time by a user who already has devices is a risk
 * signal; with no phone on file the device is trusted (nothing to verify it against).
 */
export async function createSession(ctx: AppContext, s: NewSession): Promise<{ token: string; expiresAt: Date; user: UserView }> {
  const tenant = await getTenant(ctx.db, s.tenantId);
  if (!tenant) throw new AppError('not_found', 'no such institution');
  const startedAt = ctx.clock.now();
  await checkRateLimit(ctx, { bucket: 'identity.sign_in', key: s.meta.ip ?? 'unknown', limit: SIGN_INS_PER_IP_PER_MINUTE, windowMs: 60_000, now: startedAt });
  const who = await identityFromCode(ctx, s);

  const token = randomBytes(SESSION_TOKEN_BYTES).toString('base64url');
  const signedIn = await inTx(ctx.db, async (tx) => {
    const now = ctx.clock.now();
    const { user, created } = await upsertUserForSignIn(tx, { tenantId: s.tenantId, appKind: who.appKind, openid: who.openid, unionid: who.unionid, now });
    const { isNew } = await touchDevice(tx, user.id, s.deviceId, now);
    // Without a phone on file every device is trusted; mark it so a later first phone keeps it.
    if (user.phoneBidx === null) await activateDevice(tx, user.id, s.deviceId, user.phoneVersion, now);
    const absolute = new Date(now.getTime() + SESSION_ABSOLUTE_TTL_MS);
    const expiresAt = sessionExpiry(now, absolute);
    const sessionId = newId('ses');
    await tx
      .insertInto('identity_sessions')
      .values({
        id: sessionId,
        token_hash: hashSessionToken(token),
        tenant_id: s.tenantId,
        user_id: user.id,
        device_id: s.deviceId,
        app_kind: who.appKind,
        created_at: now,
        last_seen_at: now,
        expires_at: expiresAt,
        absolute_expires_at: absolute,
        revoked_at: null,
      })
      .execute();
    await capSessions(tx, user.id, now);
    const meta = { ...s.meta, deviceId: s.deviceId };
    await audit(tx, { tenantId: s.tenantId, userId: user.id, action: 'session.created', outcome: 'ok', subject: { kind: 'session', id: sessionId }, detail: { appKind: who.appKind, newUser: created, newDevice: isNew }, at: now }, meta);
    if (isNew && !created && (await countDevices(tx, user.id)) > 1) {
      await riskSignal(ctx, tx, { tenantId: s.tenantId, userId: user.id, kind: 'new_device', now, ip: s.meta.ip });
    }
    return { user, expiresAt };
  });

  let user = signedIn.user;
  if (await syncPhoneFromCore(ctx, user)) user = (await getUser(ctx.db, user.id))!;
  const trusted = isDeviceTrusted({
    device: await getDevice(ctx.db, user.id, s.deviceId).then((d) => d ?? null),
    user: { hasPhone: user.phoneBidx !== null, phoneVersion: user.phoneVersion },
    newDeviceActivation: tenant.policy.verification.newDeviceActivation,
  });
  return { token, expiresAt: signedIn.expiresAt, user: userView(user, trusted) };
}

/** Ends the session now; later calls with its token answer unauthenticated. */
export async function revokeSession(ctx: AppContext, sessionId: string, meta: RequestMeta): Promise<void> {
  await inTx(ctx.db, async (tx) => {
    const now = ctx.clock.now();
    const r = await tx
      .updateTable('identity_sessions')
      .set({ revoked_at: now })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .returning(['tenant_id', 'user_id'])
      .executeTakeFirst();
    if (r) await audit(tx, { tenantId: r.tenant_id, userId: r.user_id, action: 'session.revoked', outcome: 'ok', subject: { kind: 'session', id: sessionId }, at: now }, meta);
  });
}

/** Whether the device is trusted under the tenant's policy right now (routes that show state use it). */
export async function deviceTrusted(ctx: AppContext, user: IdentityUser, deviceId: string, policy: Policy): Promise<boolean> {
  const device = await getDevice(ctx.db, user.id, deviceId);
  return isDeviceTrusted({
    device: device ?? null,
    user: { hasPhone: user.phoneBidx !== null, phoneVersion: user.phoneVersion },
    newDeviceActivation: policy.verification.newDeviceActivation,
  });
}

// New-device activation: an SMS code to the phone on file, then the code confirms this device for the current phone.
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { inTx } from '../db/tx.ts';
import { Phone } from '../shared/sensitive.ts';
import { requireTenant } from '../tenants/index.ts';
import { audit, type RequestMeta } from './events.ts';
import { createOtpChallenge, deliverOtp, verifyOtp } from './otp.ts';
import { OTP_ACTIONS } from './policy.ts';
import { deviceTrusted } from './sessions.ts';
import { activateDevice, getUser, lockUser, revealUserPhone } from './store.ts';

export type ActivationAnswer =
  | { activated: true }
  | { activated: false; challengeId: string; otpSentTo: string; expiresAt: Date };

/** The OTP subject ties a code to the user, the device and the phone version it was sent under. */
const subjectOf = (userId: string, deviceId: string, phoneVersion: number) => `${userId}:${deviceId}:v${phoneVersion}`;

function ownDevice(principal: CardholderPrincipal, deviceId: string): void {
  // A session activates its own device only: the code proves the phone, the session proves the device.
  if (deviceId !== principal.deviceId) throw new AppError('forbidden', 'a session activates its own device only');
}

/** Step 1: sends the activation code to the phone on file (or answers activated when nothing is needed). */
export async function requestDeviceActivation(ctx: AppContext, principal: CardholderPrincipal, deviceId: string, meta: RequestMeta): Promise<ActivationAnswer> {
  ownDevice(principal, deviceId);
  const tenant = await requireTenant(ctx.db, principal.tenantId);
  const user = await getUser(ctx.db, principal.userId);
  if (!user) throw new AppError('unauthenticated');
  if (await deviceTrusted(ctx, user, deviceId, tenant.policy)) return { activated: true };
  const clear = await revealUserPhone(ctx.db, ctx.crypto, user.id);
  if (!clear) return { activated: true };
  const phone = Phone.parse(clear);
  const created = await inTx(ctx.db, (tx) =>
    createOtpChallenge(tx, ctx.passwordPepper, ctx.crypto, {
      tenantId: principal.tenantId,
      purpose: 'device_activation',
      subject: subjectOf(user.id, deviceId, user.phoneVersion),
      phone,
      now: ctx.clock.now(),
    }),
  );
  await deliverOtp(ctx, { tenantId: principal.tenantId, challengeId: created.challengeId, code: created.code, phone, action: OTP_ACTIONS.deviceActivation(), purpose: 'device_activation' });
  ctx.log.info({ userId: user.id, deviceId, challengeId: created.challengeId, reqId: meta.requestId }, 'device activation code sent');
  return { activated: false, challengeId: created.challengeId, otpSentTo: created.otpSentTo, expiresAt: created.expiresAt };
}

/** Step 2: the code confirms the device for the user's current phone. Without challengeId the latest one for this device is meant. */
export async function confirmDeviceActivation(
  ctx: AppContext,
  principal: CardholderPrincipal,
  deviceId: string,
  answer: { otp: string; challengeId?: string | undefined },
  meta: RequestMeta,
): Promise<ActivationAnswer> {
  ownDevice(principal, deviceId);
  const user = await getUser(ctx.db, principal.userId);
  if (!user) throw new AppError('unauthenticated');
  const subject = subjectOf(user.id, deviceId, user.phoneVersion);
  let challengeId = answer.challengeId;
  if (!challengeId) {
    const latest = await ctx.db
      .selectFrom('identity_otp_challenges')
      .select('id')
      .where('tenant_id', '=', principal.tenantId)
      .where('purpose', '=', 'device_activation')
      .where('subject', '=', subject)
      .where('cancelled_at', 'is', null)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!latest) throw new AppError('not_found', 'no activation code was sent to this device; request one first');
    challengeId = latest.id;
  }
  await verifyOtp(ctx, { challengeId, code: answer.otp, purpose: 'device_activation', subject, tenantId: principal.tenantId, userId: user.id, meta }, async (tx) => {
    const now = ctx.clock.now();
    const locked = await lockUser(tx, user.id);
    // The phone changed between code and answer: the code went to the old phone and proves nothing now.
    if (locked.phoneVersion !== user.phoneVersion) throw new AppError('otp_invalid', 'the phone on file changed; request a new code', { attemptsLeft: 0 });
    await activateDevice(tx, user.id, deviceId, locked.phoneVersion, now);
    await audit(tx, { tenantId: principal.tenantId, userId: user.id, action: 'device.activated', outcome: 'ok', subject: { kind: 'device', id: `dev:${deviceId}` }, at: now }, meta);
  });
  return { activated: true };
}

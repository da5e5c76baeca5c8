// Step-up verification: challenges of the tenant's method (payment password last 4, SMS code, face) and their answers.
import type { Selectable } from 'kysely';
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { inTx } from '../db/tx.ts';
import { getCard, verifyPaymentPasswordLast4 } from './core-link.ts';
import { newId } from '../shared/ids.ts';
import { Phone } from '../shared/sensitive.ts';
import { needsStepUp, requireTenant } from '../tenants/index.ts';
import { hasConsent } from '../audit/index.ts';
import { audit, riskSignal, type RequestMeta } from './events.ts';
import type { BoundCard } from './cards.ts';
import type { IdentityStepUpRow } from './identity.table.ts';
import { createOtpChallenge, deliverOtp, verifyOtp, type CreatedOtp } from './otp.ts';
import { identityPorts } from './ports.ts';
import {
  OTP_ACTIONS,
  PHONE_OTP_FAILURE_LIMIT,
  STEP_UP_FRESH_MS,
  STEP_UP_MAX_ATTEMPTS,
  STEP_UP_TTL_MS,
  faceRemembered,
  phoneLockRetryAfterSec,
  stepUpMethodFor,
  type StepUpMethod,
} from './policy.ts';
import { getDevice, rememberFacePass, revealUserPhone } from './store.ts';

export interface StepUpRequest {
  /** What is being unlocked, e.g. `balance.read`, `card.reactivate`, `topup.pay`. */
  purpose: string;
  card?: BoundCard | undefined;
  /** The amount the policy's threshold applies to (a balance); with it the step-up is needed only at or above the threshold. */
  amountFen?: bigint | undefined;
  /** Ask regardless of amounts (reactivation, sensitive settings). */
  always?: boolean | undefined;
  now?: Date | undefined;
  meta?: RequestMeta | undefined;
}

const PURPOSE_PATTERN = /^[a-z][a-z0-9_.]{0,39}$/;
type StepUpRow = Selectable<IdentityStepUpRow>;

async function phoneLocked(ctx: AppContext, tenantId: string, userId: string, now: Date): Promise<number | undefined> {
  const user = await ctx.db.selectFrom('identity_users').select('phone_bidx').where('id', '=', userId).executeTakeFirst();
  if (!user?.phone_bidx) return undefined;
  const rows = await ctx.db
    .selectFrom('identity_otp_failures')
    .select('at')
    .where('tenant_id', '=', tenantId)
    .where('phone_bidx', '=', user.phone_bidx)
    .orderBy('at', 'desc')
    .limit(PHONE_OTP_FAILURE_LIMIT)
    .execute();
  return phoneLockRetryAfterSec(rows.map((r) => r.at), now);
}

/**
 * Throws step_up_required { challengeId, method } unless this session has just passed a step-up
 * for this purpose and card (used once: "each time", DOMAIN.md) or none is needed: the policy's
 * threshold is not reached, or the method is face and a face check passed on this device within
 * the policy's faceRememberDays (180 by default). An SMS step-up sends its code with the
 * challenge; a pending challenge is reused rather than sending another code.
 */
export async function requireStepUp(ctx: AppContext, principal: CardholderPrincipal, r: StepUpRequest): Promise<void> {
  if (!PURPOSE_PATTERN.test(r.purpose)) throw new Error(`bad step-up purpose ${r.purpose}`);
  const now = r.now ?? ctx.clock.now();
  const tenant = await requireTenant(ctx.db, principal.tenantId);
  const policy = tenant.policy;
  const needed = r.always === true || (r.amountFen !== undefined && needsStepUp(policy, r.amountFen));
  if (!needed) return;

  const core = r.card ? await getCard(ctx.db, r.card.coreCardId) : undefined;
  const face = identityPorts(ctx).face;
  const faceConsent = policy.verification.stepUpMethod === 'face' && face !== undefined
    ? await hasConsent(ctx.db, { tenantId: principal.tenantId, userId: principal.userId, purpose: 'face_verification' })
    : false;
  const method = stepUpMethodFor(policy, { cardHasPassword: core?.hasPaymentPassword ?? false, faceAvailable: face !== undefined, faceConsent });
  if (method === 'face') {
    const device = await getDevice(ctx.db, principal.userId, principal.deviceId);
    if (faceRemembered(device?.faceVerifiedAt ?? null, policy, now)) return;
  }
  const cardId = r.card?.cardId ?? null;

  // A passed, unused step-up of this session for this purpose and card: use it up.
  const used = await ctx.db
    .updateTable('identity_step_ups')
    .set({ status: 'used', used_at: now })
    .where('id', '=', (eb) =>
      eb
        .selectFrom('identity_step_ups')
        .select('id')
        .where('session_id', '=', principal.sessionId)
        .where('purpose', '=', r.purpose)
        .where((w) => (cardId === null ? w('card_id', 'is', null) : w('card_id', '=', cardId)))
        .where('status', '=', 'passed')
        .where('passed_at', '>', new Date(now.getTime() - STEP_UP_FRESH_MS))
        .orderBy('passed_at', 'desc')
        .limit(1),
    )
    .where('status', '=', 'passed')
    .returning('id')
    .executeTakeFirst();
  if (used) return;

  const pending = await ctx.db
    .selectFrom('identity_step_ups')
    .select(['id', 'method'])
    .where('session_id', '=', principal.sessionId)
    .where('purpose', '=', r.purpose)
    .where((w) => (cardId === null ? w('card_id', 'is', null) : w('card_id', '=', cardId)))
    .where('status', '=', 'pending')
    .where('method', '=', method)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (pending) throw new AppError('step_up_required', `answer the ${method} challenge first`, { challengeId: pending.id, method });

  const locked = await phoneLocked(ctx, principal.tenantId, principal.userId, now);
  if (locked !== undefined) throw new AppError('otp_locked', 'too many wrong answers; try again later', { retryAfter: locked });

  let phone: Phone | undefined;
  if (method === 'sms_otp') {
    const clear = await revealUserPhone(ctx.db, ctx.crypto, principal.userId);
    if (!clear) throw new AppError('forbidden', 'no verified phone on file: bind a card first');
    phone = Phone.parse(clear);
  }
  const stepUpId = newId('stp');
  const otp = await inTx(ctx.db, async (tx): Promise<CreatedOtp | undefined> => {
    const created = phone
      ? await createOtpChallenge(tx, ctx.passwordPepper, ctx.crypto, { tenantId: principal.tenantId, purpose: 'step_up', subject: stepUpId, phone, now })
      : undefined;
    await tx
      .insertInto('identity_step_ups')
      .values({
        id: stepUpId,
        tenant_id: principal.tenantId,
        user_id: principal.userId,
        session_id: principal.sessionId,
        device_id: principal.deviceId,
        purpose: r.purpose,
        card_id: cardId,
        method,
        otp_challenge_id: created?.challengeId ?? null,
        attempts: 0,
        max_attempts: STEP_UP_MAX_ATTEMPTS,
        status: 'pending',
        created_at: now,
        expires_at: new Date(now.getTime() + STEP_UP_TTL_MS),
        passed_at: null,
        used_at: null,
      })
      .execute();
    return created;
  });
  if (otp && phone) {
    await deliverOtp(ctx, { tenantId: principal.tenantId, challengeId: otp.challengeId, code: otp.code, phone, action: OTP_ACTIONS.stepUp(), purpose: 'step_up' });
    throw new AppError('step_up_required', 'answer with the code sent by SMS', { challengeId: stepUpId, method, otpSentTo: otp.otpSentTo });
  }
  throw new AppError('step_up_required', `answer the ${method} challenge first`, { challengeId: stepUpId, method });
}

export interface StepUpPassed {
  challengeId: string;
  passed: true;
  method: StepUpMethod;
  /** Use it (repeat the request) before this time. */
  validUntil: Date;
}

function passedView(row: { id: string; method: StepUpMethod }, passedAt: Date): StepUpPassed {
  return { challengeId: row.id, passed: true, method: row.method, validUntil: new Date(passedAt.getTime() + STEP_UP_FRESH_MS) };
}

async function loadOwn(ctx: AppContext, principal: CardholderPrincipal, challengeId: string): Promise<StepUpRow> {
  const row = await ctx.db.selectFrom('identity_step_ups').selectAll().where('id', '=', challengeId).executeTakeFirst();
  if (!row || row.tenant_id !== principal.tenantId) throw new AppError('not_found', 'no such step-up challenge');
  // A step-up belongs to the session that was asked: another session (or person) cannot answer it.
  if (row.user_id !== principal.userId || row.session_id !== principal.sessionId) throw new AppError('forbidden', 'the challenge is not yours');
  return row;
}

/**
 * `POST /api/v1/step-ups/{challengeId}` `{ answer }`: the last 4 digits of the card's payment
 * password, the SMS code, or a face token from the face check. Wrong answers count like wrong
 * codes (5 per challenge, per-phone lockout, audit, risk signal); a passed face check is
 * remembered for this device.
 */
export async function answerStepUp(ctx: AppContext, principal: CardholderPrincipal, challengeId: string, answer: string, meta: RequestMeta): Promise<StepUpPassed> {
  const row = await loadOwn(ctx, principal, challengeId);
  const now = ctx.clock.now();
  if (row.status === 'passed' && row.passed_at) return passedView(row, row.passed_at);
  if (row.status === 'used') throw new AppError('otp_invalid', 'this challenge was already used', { attemptsLeft: 0 });
  const subject = { kind: 'step_up', id: row.id };

  if (row.method === 'sms_otp') {
    try {
      await verifyOtp(ctx, { challengeId: row.otp_challenge_id!, code: answer, purpose: 'step_up', subject: row.id, tenantId: row.tenant_id, userId: row.user_id, meta }, async (tx) => {
        await tx.updateTable('identity_step_ups').set({ status: 'passed', passed_at: now }).where('id', '=', row.id).execute();
        await audit(tx, { tenantId: row.tenant_id, userId: row.user_id, action: 'step_up.passed', outcome: 'ok', subject, detail: { method: row.method, purpose: row.purpose }, at: now }, meta);
      });
    } catch (err) {
      // A locked code locks its step-up too, so the next request asks afresh instead of reusing it.
      if (err instanceof AppError && err.code === 'otp_locked') {
        await ctx.db.updateTable('identity_step_ups').set({ status: 'locked' }).where('id', '=', row.id).where('status', '=', 'pending').execute();
      }
      throw err;
    }
    return passedView(row, now);
  }

  if (row.status === 'locked') throw new AppError('otp_locked', 'too many wrong answers; ask again', { retryAfter: Math.max(1, Math.ceil((row.expires_at.getTime() - now.getTime()) / 1000)) });
  if (row.expires_at.getTime() <= now.getTime()) throw new AppError('otp_invalid', 'the challenge has expired', { attemptsLeft: 0 });
  const locked = await phoneLocked(ctx, row.tenant_id, row.user_id, now);
  if (locked !== undefined) throw new AppError('otp_locked', 'too many wrong answers; try again later', { retryAfter: locked });

  let ok = false;
  if (row.method === 'payment_password_last4') {
    const card = row.card_id ? await ctx.db.selectFrom('identity_cards').select('core_card_id').where('id', '=', row.card_id).executeTakeFirst() : undefined;
    ok = !!card && (await verifyPaymentPasswordLast4(ctx.db, ctx.passwordPepper, card.core_card_id, answer));
  } else {
    const face = identityPorts(ctx).face;
    ok = !!face && (await face.verify(ctx.db, { tenantId: row.tenant_id, userId: row.user_id, faceToken: answer, now }));
  }

  const outcome = await inTx(ctx.db, async (tx) => {
    const cur = await tx.selectFrom('identity_step_ups').selectAll().where('id', '=', row.id).forUpdate().executeTakeFirstOrThrow();
    if (cur.status !== 'pending') return { kind: 'raced' as const, status: cur.status };
    if (ok) {
      await tx.updateTable('identity_step_ups').set({ status: 'passed', passed_at: now }).where('id', '=', row.id).execute();
      if (row.method === 'face') await rememberFacePass(tx, row.user_id, row.device_id, now);
      await audit(tx, { tenantId: row.tenant_id, userId: row.user_id, action: 'step_up.passed', outcome: 'ok', subject, detail: { method: row.method, purpose: row.purpose }, at: now }, meta);
      return { kind: 'passed' as const };
    }
    const attempts = cur.attempts + 1;
    const lockedNow = attempts >= cur.max_attempts;
    await tx.updateTable('identity_step_ups').set({ attempts, ...(lockedNow ? { status: 'locked' as const } : {}) }).where('id', '=', row.id).execute();
    const user = await tx.selectFrom('identity_users').select('phone_bidx').where('id', '=', row.user_id).executeTakeFirst();
    if (user?.phone_bidx) await tx.insertInto('identity_otp_failures').values({ tenant_id: row.tenant_id, phone_bidx: user.phone_bidx, challenge_id: row.id, at: now }).execute();
    await audit(tx, { tenantId: row.tenant_id, userId: row.user_id, action: 'step_up.failed', outcome: 'refused', subject, detail: { method: row.method, purpose: row.purpose, attempts, locked: lockedNow }, at: now }, meta);
    await riskSignal(ctx, tx, { tenantId: row.tenant_id, userId: row.user_id, kind: 'otp_failed', now, ip: meta.ip, detail: { purpose: 'step_up', method: row.method } });
    return { kind: 'failed' as const, attemptsLeft: cur.max_attempts - attempts, lockedNow };
  });
  if (outcome.kind === 'passed') return passedView(row, now);
  if (outcome.kind === 'raced') {
    if (outcome.status === 'passed') return passedView(row, now);
    throw new AppError('otp_invalid', 'this challenge is no longer open', { attemptsLeft: 0 });
  }
  if (outcome.lockedNow) throw new AppError('otp_locked', 'too many wrong answers; ask again', { retryAfter: Math.max(1, Math.ceil((row.expires_at.getTime() - now.getTime()) / 1000)) });
  throw new AppError('otp_invalid', 'wrong answer', { attemptsLeft: outcome.attemptsLeft });
}

// SMS one-time codes: 6 digits, 5 minutes, single use, hashed at rest, 5 tries per challenge, per-phone lockout, 60 s resend throttle.
import { createHmac, hkdfSync, randomInt, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { newId } from '../shared/ids.ts';
import { Phone } from '../shared/sensitive.ts';
import { requireTenant } from '../tenants/index.ts';
import { audit, riskSignal, type RequestMeta } from './events.ts';
import { identityPorts } from './ports.ts';
import { deliverSms } from './sms.ts';
import { phoneBidx } from './store.ts';
import {
  OTP_DIGITS,
  OTP_MAX_ATTEMPTS,
  OTP_TTL_MS,
  PHONE_OTP_FAILURE_LIMIT,
  PHONE_OTP_FAILURE_WINDOW_MS,
  otpSmsText,
  phoneLockRetryAfterSec,
  resendWaitSec,
} from './policy.ts';

/** What a code is for; `subject` then names the thing (binding id, `user:device`, a request id). */
export type OtpPurpose = 'binding' | 'device_activation' | 'step_up' | 'quick_balance' | 'topup' | (string & {});
const PURPOSE_PATTERN = /^[a-z][a-z0-9_.]{0,39}$/;

export interface NewOtp {
  tenantId: string;
  purpose: OtpPurpose;
  subject: string;
  phone: Phone;
  now: Date;
}

export interface CreatedOtp {
  challengeId: string;
  /** The clear code, for the SMS only: never stored, never logged, never answered. */
  code: string;
  expiresAt: Date;
  /** The masked phone (`138****0000`) for the answer. */
  otpSentTo: string;
}

/** The HMAC key for codes: derived from the pepper, so a copy of the table alone cannot test codes offline. */
function codeKey(pepper: string): Buffer {
  return Buffer.from(hkdfSync('sha256', pepper, 'wecard/identity', 'otp-code', 32));
}

function codeHash(pepper: string, challengeId: string, code: string): string {
  return createHmac('sha256', codeKey(pepper)).update(`${challengeId}:${code}`).digest('hex');
}

async function phoneFailures(db: Db | Tx, tenantId: string, bidx: string, now: Date): Promise<Date[]> {
  const rows = await db
    .selectFrom('identity_otp_failures')
    .select('at')
    .where('tenant_id', '=', tenantId)
    .where('phone_bidx', '=', bidx)
    .where('at', '>', new Date(now.getTime() - PHONE_OTP_FAILURE_WINDOW_MS))
    .orderBy('at', 'desc')
    .limit(PHONE_OTP_FAILURE_LIMIT)
    .execute();
  return rows.map((r) => r.at);
}

async function lastSentAt(db: Db | Tx, tenantId: string, bidx: string, purpose: string): Promise<Date | undefined> {
  const r = await db
    .selectFrom('identity_otp_challenges')
    .select('created_at')
    .where('tenant_id', '=', tenantId)
    .where('phone_bidx', '=', bidx)
    .where('purpose', '=', purpose)
    .where('cancelled_at', 'is', null)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r?.created_at;
}

/** Seconds to wait before the phone may get or try a code again; 0 = now. */
async function retryAfterFor(db: Db | Tx, tenantId: string, bidx: string, purpose: string, now: Date): Promise<number> {
  const locked = phoneLockRetryAfterSec(await phoneFailures(db, tenantId, bidx, now), now);
  if (locked !== undefined) return locked;
  return resendWaitSec(await lastSentAt(db, tenantId, bidx, purpose), now);
}

/**
 * Records a challenge in the caller's transaction (the SMS goes out after commit: deliverOtp).
 * A phone locked by too many wrong codes answers otp_locked; a second code for the same phone and
 * purpose within 60 s answers rate_limited, both with retryAfter.
 */
export async function createOtpChallenge(tx: Tx, pepper: string, crypto: AppContext['crypto'], o: NewOtp): Promise<CreatedOtp> {
  if (!PURPOSE_PATTERN.test(o.purpose)) throw new Error(`bad OTP purpose ${o.purpose}`);
  const bidx = phoneBidx(crypto, o.phone);
  // Serialises code requests per phone and purpose, so two at once cannot both pass the throttle.
  await sql`select pg_advisory_xact_lock(hashtextextended(${`otp:${o.tenantId}:${bidx}:${o.purpose}`}, 0))`.execute(tx);
  const lock = phoneLockRetryAfterSec(await phoneFailures(tx, o.tenantId, bidx, o.now), o.now);
  if (lock !== undefined) throw new AppError('otp_locked', 'too many wrong codes for this phone; try again later', { retryAfter: lock });
  const wait = resendWaitSec(await lastSentAt(tx, o.tenantId, bidx, o.purpose), o.now);
  if (wait > 0) throw new AppError('rate_limited', 'a code was sent to this phone less than a minute ago', { retryAfter: wait });

  const challengeId = newId('otp');
  const code = String(randomInt(0, 10 ** OTP_DIGITS)).padStart(OTP_DIGITS, '0');
  const expiresAt = new Date(o.now.getTime() + OTP_TTL_MS);
  await tx
    .insertInto('identity_otp_challenges')
    .values({
      id: challengeId,
      tenant_id: o.tenantId,
      purpose: o.purpose,
      subject: o.subject,
      phone_bidx: bidx,
      phone_masked: o.phone.masked,
      code_hash: codeHash(pepper, challengeId, code),
      attempts: 0,
      max_attempts: OTP_MAX_ATTEMPTS,
      created_at: o.now,
      expires_at: expiresAt,
      consumed_at: null,
      locked_at: null,
      cancelled_at: null,
    })
    .execute();
  return { challengeId, code, expiresAt, otpSentTo: o.phone.masked };
}

/**
 * Sends the code after the challenge committed. When the gateway refuses, the challenge is
 * cancelled (it neither counts for the resend throttle nor can be answered) and the caller gets
 * 503 service_paused.
 */
export async function deliverOtp(ctx: AppContext, c: { tenantId: string; challengeId: string; code: string; phone: Phone; action: string; purpose: string }): Promise<void> {
  const tenant = await requireTenant(ctx.db, c.tenantId);
  const text = otpSmsText(tenant.name, c.code, c.action);
  try {
    await deliverSms(ctx, identityPorts(ctx).sms, { phone: c.phone.reveal(), text, code: c.code }, c.purpose);
  } catch (err) {
    await ctx.db.updateTable('identity_otp_challenges').set({ cancelled_at: ctx.clock.now() }).where('id', '=', c.challengeId).execute();
    throw err;
  }
}

/**
 * Sends a code to `phone` for `purpose`/`subject` (its own transaction, then the SMS). For other
 * modules: quick balance, top-up confirmation. `action` completes "用于…" in the text and must
 * not hold a card number (last 4 digits at most).
 */
export async function sendOtp(
  ctx: AppContext,
  o: { tenantId: string; purpose: OtpPurpose; subject: string; phone: Phone | string; action: string; now?: Date },
): Promise<{ challengeId: string; otpSentTo: string; expiresAt: Date }> {
  const phone = typeof o.phone === 'string' ? Phone.parse(o.phone) : o.phone;
  const now = o.now ?? ctx.clock.now();
  const created = await inTx(ctx.db, (tx) => createOtpChallenge(tx, ctx.passwordPepper, ctx.crypto, { tenantId: o.tenantId, purpose: o.purpose, subject: o.subject, phone, now }));
  await deliverOtp(ctx, { tenantId: o.tenantId, challengeId: created.challengeId, code: created.code, phone, action: o.action, purpose: o.purpose });
  return { challengeId: created.challengeId, otpSentTo: created.otpSentTo, expiresAt: created.expiresAt };
}

export interface OtpCheck {
  challengeId: string;
  code: unknown;
  purpose: OtpPurpose;
  /** When given, the challenge must be for this subject (a binding id, `user:device`…). */
  subject?: string;
  tenantId: string;
  /** The cardholder answering, for the audit entry and the risk signal. */
  userId?: string | undefined;
  now?: Date;
  meta?: RequestMeta;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: AppError };

/**
 * Checks a code and, when right, consumes the challenge and runs `onVerified` in the same
 * transaction (so "code used" and what it unlocks commit together). A wrong code is recorded
 * (attempt count, per-phone failure, audit entry, risk signal) and committed before the caller
 * gets otp_invalid { attemptsLeft }; the 5th wrong code locks the challenge (otp_locked
 * { retryAfter }). Expired or used codes answer otp_invalid with attemptsLeft 0.
 */
export async function verifyOtp<T = void>(ctx: AppContext, c: OtpCheck, onVerified?: (tx: Tx) => Promise<T>): Promise<T> {
  const now = c.now ?? ctx.clock.now();
  const outcome = await inTx(ctx.db, async (tx): Promise<Outcome<T>> => {
    const ch = await tx.selectFrom('identity_otp_challenges').selectAll().where('id', '=', c.challengeId).forUpdate().executeTakeFirst();
    if (!ch || ch.tenant_id !== c.tenantId || ch.purpose !== c.purpose || ch.cancelled_at !== null || (c.subject !== undefined && ch.subject !== c.subject)) {
      return { ok: false, error: new AppError('not_found', 'no such code challenge') };
    }
    const phoneLock = phoneLockRetryAfterSec(await phoneFailures(tx, ch.tenant_id, ch.phone_bidx, now), now);
    if (ch.locked_at !== null || phoneLock !== undefined) {
      const retryAfter = Math.max(1, await retryAfterFor(tx, ch.tenant_id, ch.phone_bidx, ch.purpose, now));
      return { ok: false, error: new AppError('otp_locked', undefined, { retryAfter }) };
    }
    if (ch.consumed_at !== null || ch.expires_at.getTime() <= now.getTime()) {
      return { ok: false, error: new AppError('otp_invalid', ch.consumed_at ? 'the code was already used' : 'the code has expired', { attemptsLeft: 0 }) };
    }
    const given = typeof c.code === 'string' && new RegExp(`^\\d{${OTP_DIGITS}}$`).test(c.code) ? c.code : '';
    const expected = Buffer.from(ch.code_hash, 'hex');
    const actual = Buffer.from(codeHash(ctx.passwordPepper, ch.id, given), 'hex');
    if (given !== '' && timingSafeEqual(actual, expected)) {
      await tx.updateTable('identity_otp_challenges').set({ consumed_at: now }).where('id', '=', ch.id).execute();
      const value = onVerified ? await onVerified(tx) : (undefined as T);
      return { ok: true, value };
    }

    const attempts = ch.attempts + 1;
    const locked = attempts >= ch.max_attempts;
    await tx
      .updateTable('identity_otp_challenges')
      .set({ attempts, ...(locked ? { locked_at: now } : {}) })
      .where('id', '=', ch.id)
      .execute();
    await tx.insertInto('identity_otp_failures').values({ tenant_id: ch.tenant_id, phone_bidx: ch.phone_bidx, challenge_id: ch.id, at: now }).execute();
    await audit(
      tx,
      { tenantId: ch.tenant_id, userId: c.userId, action: 'otp.failed', outcome: 'refused', subject: { kind: 'otp_challenge', id: ch.id }, detail: { purpose: ch.purpose, attempts, locked, phone: ch.phone_masked }, at: now },
      c.meta,
    );
    await riskSignal(ctx, tx, { tenantId: ch.tenant_id, userId: c.userId, kind: 'otp_failed', now, ip: c.meta?.ip, detail: { purpose: ch.purpose, attempts } });
    if (locked) {
      const retryAfter = Math.max(1, await retryAfterFor(tx, ch.tenant_id, ch.phone_bidx, ch.purpose, now));
      return { ok: false, error: new AppError('otp_locked', 'too many wrong codes; request a new one', { retryAfter }) };
    }
    return { ok: false, error: new AppError('otp_invalid', 'wrong code', { attemptsLeft: ch.max_attempts - attempts }) };
  });
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

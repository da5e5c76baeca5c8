// Pure identity rules: session lifetimes, device trust, OTP limits and lockout, step-up method, card-status answers, SMS texts.
import { AppError } from '../app/errors.ts';
import type { Policy } from '../tenants/index.ts';
import { isDormantAt } from '../tenants/index.ts';

// ---- sessions and devices ------------------------------------------------------------------

/** Idle timeout: a session unused this long ends (sliding, renewed by use). */
export const SESSION_IDLE_TTL_MS = 2 * 60 * 60 * 1000;
/** Hard cap on a session's life, however active: the cardholder signs in again after this. */
export const SESSION_ABSOLUTE_TTL_MS = 12 * 60 * 60 * 1000;
/** The sliding expiry is written back at most this often (one write per minute, not per request). */
export const SESSION_TOUCH_INTERVAL_MS = 60 * 1000;
/** `X-Device-Id`: 16–64 characters of [A-Za-z0-9_-] (a client-generated random id). */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** Sessions a user may hold at once; the oldest are revoked beyond this. */
export const MAX_SESSIONS_PER_USER = 20;

export function sessionExpiry(now: Date, absoluteExpiresAt: Date): Date {
  return new Date(Math.min(now.getTime() + SESSION_IDLE_TTL_MS, absoluteExpiresAt.getTime()));
}

export interface DeviceTrustInput {
  /** Null when the device row does not exist yet. */
  device: { activatedAt: Date | null; activatedPhoneVersion: number | null } | null;
  user: { hasPhone: boolean; phoneVersion: number };
  newDeviceActivation: Policy['verification']['newDeviceActivation'];
}

/**
 * Whether calls from this device go through. With no phone on file there is nothing to verify a
 * device against, so it is trusted; otherwise it must have been activated by SMS under the
 * current phone (a changed phone or SIM makes every device activate again).
 */
export function isDeviceTrusted(i: DeviceTrustInput): boolean {
  if (i.newDeviceActivation === 'none') return true;
  if (!i.user.hasPhone) return true;
  return !!i.device && i.device.activatedAt !== null && i.device.activatedPhoneVersion === i.user.phoneVersion;
}

// ---- OTP -----------------------------------------------------------------------------------

export const OTP_DIGITS = 6;
export const OTP_TTL_MS = 5 * 60 * 1000;
/** Wrong codes one challenge takes before it locks. */
export const OTP_MAX_ATTEMPTS = 5;
/** One code per phone and purpose per minute. */
export const OTP_RESEND_INTERVAL_MS = 60 * 1000;
/** Wrong codes (over all challenges) that lock a phone at a tenant for the rest of the window. */
export const PHONE_OTP_FAILURE_LIMIT = 10;
export const PHONE_OTP_FAILURE_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * Seconds until the phone may try again, or undefined when it is not locked. `failures` are the
 * failure times inside the window, newest first: the lock lifts when the LIMIT-th newest leaves it.
 */
export function phoneLockRetryAfterSec(failures: readonly Date[], now: Date): number | undefined {
  if (failures.length < PHONE_OTP_FAILURE_LIMIT) return undefined;
  const pivot = failures[PHONE_OTP_FAILURE_LIMIT - 1]!;
  const ms = pivot.getTime() + PHONE_OTP_FAILURE_WINDOW_MS - now.getTime();
  return ms > 0 ? Math.ceil(ms / 1000) : undefined;
}

/** Seconds until another code may be sent for this phone and purpose (0 = now). */
export function resendWaitSec(lastSentAt: Date | undefined, now: Date): number {
  if (!lastSentAt) return 0;
  const ms = lastSentAt.getTime() + OTP_RESEND_INTERVAL_MS - now.getTime();
  return ms > 0 ? Math.ceil(ms / 1000) : 0;
}

/**
 * The SMS text: institution, code, validity and what it is for; never a card number (the last 4
 * digits at most, DOMAIN.md), never a name.
 */
export function otpSmsText(institution: string, code: string, action: string): string {
  return `【${institution}】验证码 ${code}，${OTP_TTL_MS / 60_000}分钟内有效，用于${action}。请勿告诉他人。`;
}

export const OTP_ACTIONS = {
  binding: (last4: string) => `绑定尾号${last4}的银行卡`,
  deviceActivation: () => '激活新设备',
  stepUp: () => '身份验证',
} as const;

// ---- binding -------------------------------------------------------------------------------

export const MAX_BOUND_CARDS_PER_USER = 20;
/** Binding attempts (four-element checks) per user per hour: the check must not become an oracle. */
export const BINDING_ATTEMPTS_PER_HOUR = 10;

// ---- step-up -------------------------------------------------------------------------------

export type StepUpMethod = 'payment_password_last4' | 'sms_otp' | 'face';
/** How long a step-up challenge may be answered. */
export const STEP_UP_TTL_MS = 5 * 60 * 1000;
/** A passed step-up must be used within this time (and is used once: "each time", DOMAIN.md). */
export const STEP_UP_FRESH_MS = 5 * 60 * 1000;
export const STEP_UP_MAX_ATTEMPTS = 5;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The method a step-up uses: the tenant's, unless it cannot work here. The last 4 digits of the
 * payment password need a card with a password; face needs a verifier and the user's separate
 * consent to biometrics (PIPL art. 28–29). Otherwise an SMS code to the phone on file.
 */
export function stepUpMethodFor(
  policy: Policy,
  can: { cardHasPassword: boolean; faceAvailable: boolean; faceConsent: boolean },
): StepUpMethod {
  const m = policy.verification.stepUpMethod;
  if (m === 'payment_password_last4' && can.cardHasPassword) return m;
  if (m === 'face' && can.faceAvailable && can.faceConsent) return m;
  return 'sms_otp';
}

/** True when a face check passed on this device recently enough to skip another (policy faceRememberDays, default 180). */
export function faceRemembered(faceVerifiedAt: Date | null, policy: Policy, now: Date): boolean {
  if (!faceVerifiedAt) return false;
  return now.getTime() - faceVerifiedAt.getTime() < policy.verification.faceRememberDays * DAY_MS;
}

// ---- card lifecycle ------------------------------------------------------------------------

export type CardUsePurpose = 'balance' | 'transactions' | 'topup' | 'manage';

export interface Reactivation {
  /** The first route the tenant offers. */
  route: 'counter' | 'online' | 'transfer';
  /** For `transfer`: the smallest incoming transfer that wakes the account. */
  minAmountFen?: number;
  /** Every route the tenant offers, in its order. */
  routes: { route: 'counter' | 'online' | 'transfer'; minAmountFen?: number }[];
}

/** The tenant's reactivation routes (policy.dormant.reactivation); none configured means the counter. */
export function reactivationFor(policy: Policy): Reactivation {
  const routes: Reactivation['routes'] = [];
  for (const m of policy.dormant.reactivation) {
    if (m === 'counter') routes.push({ route: 'counter' });
    else if (m === 'online') routes.push({ route: 'online' });
    // ≥ ¥1 (or the tenant's amount) transfer in, or the 1-cent verification transfer (DOMAIN.md).
    else if (m === 'transfer_min_fen') routes.push({ route: 'transfer', minAmountFen: policy.dormant.transferMinFen });
    else if (m === 'one_cent_verification') routes.push({ route: 'transfer', minAmountFen: 1 });
  }
  if (routes.length === 0) routes.push({ route: 'counter' });
  return { ...routes[0]!, routes };
}

/** The smallest incoming transfer that reactivates under the policy, or undefined when transfers do not. */
export function reactivatingTransferMinFen(policy: Policy): number | undefined {
  const mins = reactivationFor(policy).routes.filter((r) => r.route === 'transfer').map((r) => r.minAmountFen!);
  return mins.length ? Math.min(...mins) : undefined;
}

export interface CardStateInput {
  status: 'active' | 'lost' | 'frozen' | 'cancelled' | 'dormant';
  lastActivityAt: Date;
  /** A temporary risk freeze of the card or its user. */
  freeze?: { until: Date; scope: 'user' | 'card' } | undefined;
}

/**
 * The refusal a card's state gives for a use, or undefined when the use may go on. Loss reports
 * and unbinding ('manage') always go through except on cancelled cards. A dormant account (by
 * status, or by no customer transaction for the tenant's period) answers account_dormant with the
 * tenant's reactivation route; tenants whose dormant accounts stay queryable online let reads pass.
 */
export function cardRefusal(policy: Policy, card: CardStateInput, purpose: CardUsePurpose, now: Date): AppError | undefined {
  if (card.status === 'cancelled') return new AppError('card_cancelled');
  if (purpose === 'manage') return undefined;
  if (card.status === 'lost') return new AppError('card_lost');
  if (card.status === 'frozen') return new AppError('card_frozen');
  if (card.freeze) {
    return new AppError('card_frozen', 'temporarily frozen by risk control', { until: card.freeze.until.toISOString(), scope: card.freeze.scope });
  }
  const dormant = card.status === 'dormant' || isDormantAt(policy, card.lastActivityAt, now);
  if (dormant) {
    const read = purpose === 'balance' || purpose === 'transactions';
    if (read && policy.dormant.queryableOnline) return undefined;
    return new AppError('account_dormant', undefined, { reactivation: reactivationFor(policy) });
  }
  return undefined;
}

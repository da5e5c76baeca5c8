// Identity's pure rules: session expiry, device trust, OTP lockout and throttle, SMS text, step-up method, face memory, card-state refusals.
import { describe, expect, it } from 'vitest';
import { presetPolicy, applyPolicyPatch } from '../../../src/tenants/index.ts';
import {
  OTP_RESEND_INTERVAL_MS,
  PHONE_OTP_FAILURE_LIMIT,
  PHONE_OTP_FAILURE_WINDOW_MS,
  SESSION_ABSOLUTE_TTL_MS,
  SESSION_IDLE_TTL_MS,
  cardRefusal,
  faceRemembered,
  isDeviceTrusted,
  otpSmsText,
  OTP_ACTIONS,
  phoneLockRetryAfterSec,
  reactivatingTransferMinFen,
  reactivationFor,
  resendWaitSec,
  sessionExpiry,
  stepUpMethodFor,
  DEVICE_ID_PATTERN,
} from '../../../src/identity/policy.ts';

const now = new Date('2026-03-10T04:00:00Z');
const DAY = 86_400_000;

describe('sessions', () => {
  it('slides the idle expiry but never past the absolute one', () => {
    const absolute = new Date(now.getTime() + SESSION_ABSOLUTE_TTL_MS);
    expect(sessionExpiry(now, absolute)).toEqual(new Date(now.getTime() + SESSION_IDLE_TTL_MS));
    const late = new Date(absolute.getTime() - 60_000);
    expect(sessionExpiry(late, absolute)).toEqual(absolute);
  });

  it('accepts device ids of 16–64 characters of A–Z a–z 0–9 _ - only', () => {
    expect(DEVICE_ID_PATTERN.test('a'.repeat(16))).toBe(true);
    expect(DEVICE_ID_PATTERN.test('A_b-9'.repeat(12) + 'abcd')).toBe(true);
    expect(DEVICE_ID_PATTERN.test('a'.repeat(15))).toBe(false);
    expect(DEVICE_ID_PATTERN.test('a'.repeat(65))).toBe(false);
    expect(DEVICE_ID_PATTERN.test('abcdefghijklmnop/')).toBe(false);
  });
});

describe('device trust', () => {
  const user = { hasPhone: true, phoneVersion: 2 };
  it('trusts any device while the user has no phone on file', () => {
    expect(isDeviceTrusted({ device: null, user: { hasPhone: false, phoneVersion: 0 }, newDeviceActivation: 'sms_otp' })).toBe(true);
  });
  it('needs activation under the current phone otherwise', () => {
    expect(isDeviceTrusted({ device: null, user, newDeviceActivation: 'sms_otp' })).toBe(false);
    expect(isDeviceTrusted({ device: { activatedAt: null, activatedPhoneVersion: null }, user, newDeviceActivation: 'sms_otp' })).toBe(false);
    expect(isDeviceTrusted({ device: { activatedAt: now, activatedPhoneVersion: 2 }, user, newDeviceActivation: 'sms_otp' })).toBe(true);
    // Activated under the previous phone: a phone or SIM change needs activation again.
    expect(isDeviceTrusted({ device: { activatedAt: now, activatedPhoneVersion: 1 }, user, newDeviceActivation: 'sms_otp' })).toBe(false);
  });
  it("trusts every device when the tenant's policy asks no activation", () => {
    expect(isDeviceTrusted({ device: null, user, newDeviceActivation: 'none' })).toBe(true);
  });
});

describe('OTP limits', () => {
  it('locks a phone once the failure limit is reached inside the window, until the limit-th newest leaves it', () => {
    const failures = Array.from({ length: PHONE_OTP_FAILURE_LIMIT }, (_, i) => new Date(now.getTime() - i * 60_000));
    expect(phoneLockRetryAfterSec(failures.slice(1), now)).toBeUndefined();
    const oldestCounted = failures[PHONE_OTP_FAILURE_LIMIT - 1]!;
    expect(phoneLockRetryAfterSec(failures, now)).toBe(Math.ceil((oldestCounted.getTime() + PHONE_OTP_FAILURE_WINDOW_MS - now.getTime()) / 1000));
    expect(phoneLockRetryAfterSec(failures, new Date(oldestCounted.getTime() + PHONE_OTP_FAILURE_WINDOW_MS))).toBeUndefined();
  });

  it('throttles a resend for 60 seconds', () => {
    expect(resendWaitSec(undefined, now)).toBe(0);
    expect(resendWaitSec(new Date(now.getTime() - 10_000), now)).toBe(50);
    expect(resendWaitSec(new Date(now.getTime() - OTP_RESEND_INTERVAL_MS), now)).toBe(0);
  });

  it('writes SMS texts with the institution, the code and the validity, and at most the last 4 digits of a card', () => {
    const text = otpSmsText('示范农业银行', '012345', OTP_ACTIONS.binding('8903'));
    expect(text).toBe('【示范农业银行】验证码 012345，5分钟内有效，用于绑定尾号8903的银行卡。请勿告诉他人。');
    expect(text.replace('012345', '')).not.toMatch(/\d{5,}/);
  });
});

describe('step-up method', () => {
  const agri = presetPolicy('agricultural');
  const all = { cardHasPassword: true, faceAvailable: true, faceConsent: true };
  it("uses the tenant's method when it can work", () => {
    expect(stepUpMethodFor(agri, all)).toBe('payment_password_last4');
    const face = applyPolicyPatch(agri, { verification: { stepUpMethod: 'face' } });
    expect(stepUpMethodFor(face, all)).toBe('face');
    const sms = applyPolicyPatch(agri, { verification: { stepUpMethod: 'sms_otp' } });
    expect(stepUpMethodFor(sms, all)).toBe('sms_otp');
  });
  it('falls back to an SMS code without a card password, a face verifier or consent to biometrics', () => {
    expect(stepUpMethodFor(agri, { ...all, cardHasPassword: false })).toBe('sms_otp');
    const face = applyPolicyPatch(agri, { verification: { stepUpMethod: 'face' } });
    expect(stepUpMethodFor(face, { ...all, faceAvailable: false })).toBe('sms_otp');
    expect(stepUpMethodFor(face, { ...all, faceConsent: false })).toBe('sms_otp');
  });
  it('remembers a face pass on a device for 180 days by default', () => {
    expect(agri.verification.faceRememberDays).toBe(180);
    expect(faceRemembered(null, agri, now)).toBe(false);
    expect(faceRemembered(new Date(now.getTime() - 179 * DAY), agri, now)).toBe(true);
    expect(faceRemembered(new Date(now.getTime() - 180 * DAY), agri, now)).toBe(false);
  });
});

describe('card state refusals', () => {
  const agri = presetPolicy('agricultural');
  const active = { status: 'active' as const, lastActivityAt: new Date(now.getTime() - 30 * DAY) };

  it('lets an active, recently used card through', () => {
    for (const p of ['balance', 'transactions', 'topup', 'manage'] as const) expect(cardRefusal(agri, active, p, now)).toBeUndefined();
  });

  it('answers card_lost, card_frozen and card_cancelled by status', () => {
    expect(cardRefusal(agri, { ...active, status: 'lost' }, 'balance', now)?.code).toBe('card_lost');
    expect(cardRefusal(agri, { ...active, status: 'frozen' }, 'topup', now)?.code).toBe('card_frozen');
    expect(cardRefusal(agri, { ...active, status: 'cancelled' }, 'balance', now)?.code).toBe('card_cancelled');
  });

  it('still lets a lost or frozen card be managed (unbind, loss report), but not a cancelled one', () => {
    expect(cardRefusal(agri, { ...active, status: 'lost' }, 'manage', now)).toBeUndefined();
    expect(cardRefusal(agri, { ...active, status: 'cancelled' }, 'manage', now)?.code).toBe('card_cancelled');
  });

  it('answers card_frozen with until and scope for a temporary risk freeze', () => {
    const until = new Date(now.getTime() + DAY);
    const e = cardRefusal(agri, { ...active, freeze: { until, scope: 'user' } }, 'balance', now);
    expect(e?.code).toBe('card_frozen');
    expect(e?.extra).toEqual({ until: until.toISOString(), scope: 'user' });
  });

  it('answers account_dormant after 6 months without a customer transaction, with the tenant’s route', () => {
    const sleepy = { status: 'active' as const, lastActivityAt: new Date('2025-09-09T04:00:00Z') };
    const e = cardRefusal(agri, sleepy, 'balance', now);
    expect(e?.code).toBe('account_dormant');
    expect(e?.extra.reactivation).toEqual({ route: 'transfer', minAmountFen: 100, routes: [{ route: 'transfer', minAmountFen: 100 }] });
    expect(cardRefusal(agri, { ...sleepy, lastActivityAt: new Date('2025-09-11T04:00:00Z') }, 'balance', now)).toBeUndefined();
  });

  it('lets reads of a dormant account through where the tenant keeps them queryable online, but not payments', () => {
    const daily10 = presetPolicy('daily-10');
    const dormant = { status: 'dormant' as const, lastActivityAt: active.lastActivityAt };
    expect(cardRefusal(daily10, dormant, 'balance', now)).toBeUndefined();
    expect(cardRefusal(daily10, dormant, 'topup', now)?.code).toBe('account_dormant');
  });

  it("maps each preset's reactivation routes", () => {
    expect(reactivationFor(presetPolicy('unlimited-realtime'))).toEqual({ route: 'counter', routes: [{ route: 'counter' }, { route: 'online' }] });
    expect(reactivationFor(presetPolicy('daily-20'))).toEqual({ route: 'transfer', minAmountFen: 1, routes: [{ route: 'transfer', minAmountFen: 1 }] });
    expect(reactivationFor(presetPolicy('citizen-card'))).toEqual({ route: 'counter', routes: [{ route: 'counter' }] });
    expect(reactivatingTransferMinFen(presetPolicy('agricultural'))).toBe(100);
    expect(reactivatingTransferMinFen(presetPolicy('daily-10'))).toBeUndefined();
  });
});

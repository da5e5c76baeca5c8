// Step-up over HTTP: payment password last 4 for balances at or above the threshold, SMS code, face with a 180-day memory per device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World, type Session } from './world.ts';
import { balanceProbe } from './probe.ts';
import { inTx } from '../../../src/db/tx.ts';
import { updatePolicy } from '../../../src/tenants/index.ts';
import { consentRoutes } from '../../../src/audit/index.ts';
import { withCardholderAuth } from '../../../src/identity/index.ts';
import { STEP_UP_MAX_ATTEMPTS } from '../../../src/identity/policy.ts';

let w: World;
const DAY = 86_400_000;

beforeAll(async () => {
  w = await startWorld({ extraServerModules: [balanceProbe, withCardholderAuth(consentRoutes)] });
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const balance = (s: Session, cardId: string) => w.call('GET', `/test/cards/${cardId}/balance`, { session: s });
const wrongLast4 = (pw: string) => (pw.slice(-4) === '0000' ? '1111' : '0000');

async function setPolicy(tenantId: string, patch: Parameters<typeof updatePolicy>[2]) {
  await inTx(w.server.ctx.db, (tx) => updatePolicy(tx, tenantId, patch, w.clock.now()));
}

describe('payment password last 4 (balances at or above ¥500,000 at the agricultural bank)', () => {
  it('asks nothing below the threshold', async () => {
    const s = await w.signIn('abc-demo');
    const card = await w.bind(s, w.holder('abc-demo', (x) => x.name === '陈家豪'));
    const r = await balance(s, card.cardId);
    expect(r.status).toBe(200);
  });

  it('asks every time at or above it, and passes on the last 4 digits of the card payment password', async () => {
    const h = w.holder('abc-demo', (x) => x.name === '王建国');
    const s = await w.signIn('abc-demo');
    const card = await w.bind(s, h);
    const first = await balance(s, card.cardId);
    expect(first.status).toBe(403);
    expect(first.body).toMatchObject({ code: 'step_up_required', method: 'payment_password_last4', challengeId: expect.stringMatching(/^stp_/) });
    // Asking again before answering gives the same challenge.
    expect((await balance(s, card.cardId)).body.challengeId).toBe(first.body.challengeId);

    const wrong = await w.call('POST', `/api/v1/step-ups/${first.body.challengeId}`, { session: s, body: { answer: wrongLast4(h.paymentPassword) } });
    expect(wrong.status).toBe(422);
    expect(wrong.body).toMatchObject({ code: 'otp_invalid', attemptsLeft: STEP_UP_MAX_ATTEMPTS - 1 });
    const ok = await w.call('POST', `/api/v1/step-ups/${first.body.challengeId}`, { session: s, body: { answer: h.paymentPassword.slice(-4) } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ challengeId: first.body.challengeId, passed: true, method: 'payment_password_last4' });
    const read = await balance(s, card.cardId);
    expect(read.status).toBe(200);
    expect(BigInt(read.body.availableFen)).toBeGreaterThanOrEqual(50_000_000n);
    // "Each time": the pass was used by that read.
    const next = await balance(s, card.cardId);
    expect(next.body.code).toBe('step_up_required');
    expect(next.body.challengeId).not.toBe(first.body.challengeId);
  });

  it('locks a challenge after 5 wrong answers', async () => {
    const h = w.holder('abc-demo', (x) => x.name === '王建国');
    const s = await w.signIn('abc-demo');
    const card = await w.bind(s, h);
    const ch = (await balance(s, card.cardId)).body.challengeId;
    for (let i = 1; i < STEP_UP_MAX_ATTEMPTS; i++) {
      expect((await w.call('POST', `/api/v1/step-ups/${ch}`, { session: s, body: { answer: wrongLast4(h.paymentPassword) } })).body.code).toBe('otp_invalid');
    }
    const last = await w.call('POST', `/api/v1/step-ups/${ch}`, { session: s, body: { answer: wrongLast4(h.paymentPassword) } });
    expect(last.status).toBe(429);
    expect(last.body.code).toBe('otp_locked');
    const right = await w.call('POST', `/api/v1/step-ups/${ch}`, { session: s, body: { answer: h.paymentPassword.slice(-4) } });
    expect(right.body.code).toBe('otp_locked');
  });

  it('belongs to the session that was asked: another answers forbidden, an unknown id not_found', async () => {
    const h = w.holder('abc-demo', (x) => x.name === '王建国');
    const s = await w.signIn('abc-demo');
    const card = await w.bind(s, h);
    const ch = (await balance(s, card.cardId)).body.challengeId;
    const other = await w.signIn('abc-demo');
    const r = await w.call('POST', `/api/v1/step-ups/${ch}`, { session: other, body: { answer: h.paymentPassword.slice(-4) } });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('forbidden');
    expect((await w.call('POST', '/api/v1/step-ups/stp_nonexistent', { session: s, body: { answer: '1234' } })).status).toBe(404);
  });
});

describe('SMS code step-up', () => {
  it('sends a code with the challenge and passes on it', async () => {
    await setPolicy('realtime-bank', { verification: { stepUpThresholdFen: 0, stepUpMethod: 'sms_otp' } });
    const h = w.holder('realtime-bank', (x) => x.name === '李晓红');
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, h);
    w.clock.advance(61_000);
    const ask = await balance(s, card.cardId);
    expect(ask.body).toMatchObject({ code: 'step_up_required', method: 'sms_otp', otpSentTo: expect.stringMatching(/\*{4}/) });
    const sms = (await w.sms(h.phone))[0]!;
    expect(sms.text).toContain('身份验证');
    const wrong = await w.call('POST', `/api/v1/step-ups/${ask.body.challengeId}`, { session: s, body: { answer: sms.code === '000000' ? '000001' : '000000' } });
    expect(wrong.body).toMatchObject({ code: 'otp_invalid', attemptsLeft: 4 });
    expect((await w.call('POST', `/api/v1/step-ups/${ask.body.challengeId}`, { session: s, body: { answer: sms.code } })).status).toBe(200);
    expect((await balance(s, card.cardId)).status).toBe(200);
  });
});

describe('face step-up', () => {
  it('falls back to an SMS code without consent to face verification, uses face with it, and remembers a pass per device for 180 days', async () => {
    // No dormancy here: the test moves the clock half a year.
    await setPolicy('daily20-bank', { verification: { methods: ['payment_password', 'sms_otp', 'face'], stepUpThresholdFen: 0, stepUpMethod: 'face' }, dormant: { afterMonths: null } });
    const h = w.holder('daily20-bank', (x) => x.name === '冯雅婷');
    const s = await w.signIn('daily20-bank');
    const card = await w.bind(s, h);
    w.clock.advance(61_000);
    expect((await balance(s, card.cardId)).body.method).toBe('sms_otp');

    // Separate consent to biometrics (PIPL art. 28–29), through the consent API.
    const consent = await w.call('POST', '/api/v1/consents', { session: s, body: { purpose: 'face_verification', noticeVersion: 'v1', granted: true } });
    expect(consent.status).toBe(200);
    const ask = await balance(s, card.cardId);
    expect(ask.body).toMatchObject({ code: 'step_up_required', method: 'face' });
    const bad = await w.call('POST', `/api/v1/step-ups/${ask.body.challengeId}`, { session: s, body: { answer: 'face_not-a-real-token' } });
    expect(bad.body).toMatchObject({ code: 'otp_invalid', attemptsLeft: 4 });
    const face = await w.sandboxCall('POST', `/sandbox/api/face/${s.userId}`, {});
    expect(face.status).toBe(200);
    const ok = await w.call('POST', `/api/v1/step-ups/${ask.body.challengeId}`, { session: s, body: { answer: face.body.faceToken } });
    expect(ok.status).toBe(200);
    expect((await balance(s, card.cardId)).status).toBe(200);
    // Remembered on this device: no challenge on later reads…
    expect((await balance(s, card.cardId)).status).toBe(200);
    // …for 180 days (a new session on the same device after 179 days still passes).
    w.clock.advance(179 * DAY);
    const later = await w.signIn('daily20-bank', { openid: s.openid, unionid: s.unionid, deviceId: s.deviceId });
    expect((await balance(later, card.cardId)).status).toBe(200);
    w.clock.advance(2 * DAY);
    const after = await w.signIn('daily20-bank', { openid: s.openid, unionid: s.unionid, deviceId: s.deviceId });
    expect((await balance(after, card.cardId)).body).toMatchObject({ code: 'step_up_required', method: 'face' });
  });
});

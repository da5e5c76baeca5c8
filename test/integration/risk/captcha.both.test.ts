// Proof-of-work captcha on the database: single use, bound to its subject, expiring, bounded per subject.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import {
  CAPTCHA_MAX_OPEN_PER_SUBJECT,
  CAPTCHA_TTL_MS,
  issueCaptcha,
  POW_DIFFICULTY_BITS,
  requireCaptcha,
  solvePow,
  verifyCaptcha,
  type CaptchaChallenge,
} from '../../../src/risk/index.ts';
import { presetPolicy } from '../../../src/tenants/index.ts';
import { DB_TEST_TIMEOUT_MS, expectAppError, makeTenant, POW_TEST_TIMEOUT_MS, SETUP_TIMEOUT_MS } from './fixtures.ts';

let t: TestApp;
const T = 'bank-cap';
const NOW = new Date('2026-01-05T02:00:00Z');

beforeAll(async () => {
  t = await startTestApp({ modules: [] });
  await makeTenant(t.ctx, T, 'agricultural');
}, SETUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

const issue = (subject: string, now = NOW) => issueCaptcha(t.ctx, { tenantId: T, subject, now });
const solve = (c: CaptchaChallenge) => solvePow(c.prefix, c.difficultyBits);

describe('issueCaptcha and verifyCaptcha', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('issues a sha256 proof-of-work challenge that expires after the named TTL', async () => {
    const c = await issue('usr_shape');
    expect(c).toEqual({
      challengeId: expect.stringMatching(/^cap_[0-9a-z]{26}$/),
      kind: 'pow',
      algorithm: 'sha256',
      prefix: expect.stringMatching(/^wecard:[0-9a-z]+:$/),
      difficultyBits: POW_DIFFICULTY_BITS,
      expiresAt: new Date(NOW.getTime() + CAPTCHA_TTL_MS).toISOString(),
    });
    expect((await issue('usr_shape')).prefix).not.toBe(c.prefix);
  });

  it('accepts a solution once, for its subject', async () => {
    const c = await issue('usr_ok');
    const solution = solve(c);
    expect(await verifyCaptcha(t.ctx, { challengeId: c.challengeId, solution, subject: 'usr_ok', now: NOW })).toBe(true);
    expect(await verifyCaptcha(t.ctx, { challengeId: c.challengeId, solution, subject: 'usr_ok', now: NOW })).toBe(false);
  }, POW_TEST_TIMEOUT_MS);

  it('spends a challenge on any attempt: a wrong subject or a wrong solution leaves nothing to retry', async () => {
    const c = await issue('usr_victim');
    expect(await verifyCaptcha(t.ctx, { challengeId: c.challengeId, solution: '0', subject: 'usr_thief', now: NOW })).toBe(false);
    expect(await verifyCaptcha(t.ctx, { challengeId: c.challengeId, solution: solve(c), subject: 'usr_victim', now: NOW })).toBe(false);

    const d = await issue('usr_guess');
    // '0' may solve by luck with probability 2^-18; the check is only that a miss is final.
    const first = await verifyCaptcha(t.ctx, { challengeId: d.challengeId, solution: 'zzzz', subject: 'usr_guess', now: NOW });
    expect(await verifyCaptcha(t.ctx, { challengeId: d.challengeId, solution: 'zzzz', subject: 'usr_guess', now: NOW })).toBe(false);
    expect(typeof first).toBe('boolean');
  }, POW_TEST_TIMEOUT_MS);

  it('refuses a correct solution after the challenge expired', async () => {
    const c = await issue('usr_late');
    const late = new Date(NOW.getTime() + CAPTCHA_TTL_MS);
    expect(await verifyCaptcha(t.ctx, { challengeId: c.challengeId, solution: solve(c), subject: 'usr_late', now: late })).toBe(false);
  }, POW_TEST_TIMEOUT_MS);

  it('refuses unknown and malformed challenge ids without touching anything', async () => {
    expect(await verifyCaptcha(t.ctx, { challengeId: `cap_${'0'.repeat(26)}`, solution: '1', subject: 'u', now: NOW })).toBe(false);
    expect(await verifyCaptcha(t.ctx, { challengeId: "x' or 1=1 --", solution: '1', subject: 'u', now: NOW })).toBe(false);
  });

  it('accepts exactly one of two simultaneous answers with the same solution', async () => {
    const c = await issue('usr_race');
    const solution = solve(c);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => verifyCaptcha(t.ctx, { challengeId: c.challengeId, solution, subject: 'usr_race', now: NOW })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  }, POW_TEST_TIMEOUT_MS);

  it(`keeps at most ${CAPTCHA_MAX_OPEN_PER_SUBJECT} open challenges per subject, then says when to retry`, async () => {
    for (let i = 0; i < CAPTCHA_MAX_OPEN_PER_SUBJECT; i++) await issue('usr_farm', new Date(NOW.getTime() + i * 1000));
    const err = await expectAppError(issue('usr_farm', new Date(NOW.getTime() + 10_000)), 'rate_limited');
    expect(err.extra).toEqual({ retryAfter: CAPTCHA_TTL_MS / 1000 - 10 });
    await issue('usr_farm', new Date(NOW.getTime() + CAPTCHA_TTL_MS));
    await issue('usr_other', new Date(NOW.getTime() + 10_000));
  });
});

describe('requireCaptcha', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('lets queries through without a challenge where the policy asks for none', async () => {
    await requireCaptcha(t.ctx, { policy: presetPolicy('daily-10'), use: 'bound_query', tenantId: T, subject: 'usr_free', answer: undefined, now: NOW });
  });

  it('answers captcha_required with a fresh challenge, and passes once it is solved', async () => {
    const policy = presetPolicy('agricultural');
    const gate = (answer: string | undefined) => requireCaptcha(t.ctx, { policy, use: 'bound_query', tenantId: T, subject: 'usr_gate', answer, now: NOW });
    const err = await expectAppError(gate(undefined), 'captcha_required');
    expect(err.status).toBe(403);
    const c = err.extra.captcha as CaptchaChallenge;
    expect(c.kind).toBe('pow');
    const answer = `${c.challengeId}:${solve(c)}`;
    await gate(answer);
    // The same answer again is spent: a new challenge comes back.
    const again = await expectAppError(gate(answer), 'captcha_required');
    expect((again.extra.captcha as CaptchaChallenge).challengeId).not.toBe(c.challengeId);
    await expectAppError(gate('garbage'), 'captcha_required');
  }, POW_TEST_TIMEOUT_MS);
});

// The risk gates behind a real route: problem+json for rate_limited, captcha_required, cross_border_locked, quota_exceeded, card_frozen.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import type { ModulePlugin } from '../../../src/app/server.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { requireTenant } from '../../../src/tenants/index.ts';
import {
  CAPTCHA_ANSWER_HEADER,
  crossBorderLockOn,
  guardBoundQuery,
  rateLimitHook,
  solvePow,
  type CaptchaChallenge,
} from '../../../src/risk/index.ts';
import { DB_TEST_TIMEOUT_MS, makeTenant, POW_TEST_TIMEOUT_MS, SETUP_TIMEOUT_MS } from './fixtures.ts';

const RATE_LIMIT = 5;

/** A stand-in for the balance route: who is calling comes from test headers instead of a session. */
const gatedRoute: ModulePlugin = (app, ctx) => {
  app.get(
    '/test/cards/:cardId/balance',
    { preHandler: rateLimitHook(ctx, { bucket: 'test.balance', limit: RATE_LIMIT, windowMs: 60_000, key: (req) => String(req.headers['x-test-user']) }) },
    async (req) => {
      const tenant = await requireTenant(ctx.db, String(req.headers['x-test-tenant']));
      const used = await guardBoundQuery(ctx, {
        tenantId: tenant.id,
        policy: tenant.policy,
        userId: String(req.headers['x-test-user']),
        cardId: (req.params as { cardId: string }).cardId,
        ip: req.ip,
        crossBorderLockOn: crossBorderLockOn(tenant.policy, { lockOn: req.headers['x-test-lock'] !== 'off', internationalNetwork: false }),
        captchaAnswer: req.headers[CAPTCHA_ANSWER_HEADER],
        now: ctx.clock.now(),
      });
      return { used: used.used };
    },
  );
};

let t: TestApp;
const clock = new ManualClock('2026-01-05T02:00:00Z');

beforeAll(async () => {
  t = await startTestApp({ clock, modules: [gatedRoute] });
  await makeTenant(t.ctx, 'bank-slider', 'agricultural');
  await makeTenant(t.ctx, 'bank-open', 'unlimited-realtime');
  await makeTenant(t.ctx, 'bank-two-a-day', 'daily-10', { quotas: { boundPerUserPerDay: 2 }, freeze: { queriesPerDayAbove: 3 } });
}, SETUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

function get(tenant: string, user: string, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: 'GET',
    url: '/test/cards/card_1/balance',
    headers: { 'x-test-tenant': tenant, 'x-test-user': user, 'x-forwarded-for': '114.114.114.114', ...headers },
  });
}

describe('risk gates over HTTP', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('asks for the slider challenge on every bound query of the agricultural bank, and answers once it is solved', async () => {
    const first = await get('bank-slider', 'usr_slider');
    expect(first.statusCode).toBe(403);
    expect(first.headers['content-type']).toMatch(/application\/problem\+json/);
    const problem = first.json();
    expect(problem).toMatchObject({ code: 'captcha_required', status: 403, captcha: { kind: 'pow', algorithm: 'sha256' } });
    const c = problem.captcha as CaptchaChallenge;
    const ok = await get('bank-slider', 'usr_slider', { [CAPTCHA_ANSWER_HEADER]: `${c.challengeId}:${solvePow(c.prefix, c.difficultyBits)}` });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ used: 1 });
  }, POW_TEST_TIMEOUT_MS);

  it('refuses a query from abroad while the card’s lock is on (before any challenge), and lets it through once lifted', async () => {
    const locked = await get('bank-two-a-day', 'usr_abroad', { 'x-forwarded-for': '8.8.8.8' });
    expect(locked.statusCode).toBe(423);
    expect(locked.json()).toMatchObject({ code: 'cross_border_locked', country: 'US' });
    const hk = await get('bank-slider', 'usr_abroad', { 'x-forwarded-for': '202.45.84.58' });
    expect(hk.json()).toMatchObject({ code: 'cross_border_locked', country: 'HK' });
    const unlocked = await get('bank-two-a-day', 'usr_abroad', { 'x-forwarded-for': '8.8.8.8', 'x-test-lock': 'off' });
    expect(unlocked.statusCode).toBe(200);
  });

  it('answers quota_exceeded with limit and resetsAt after the daily bound queries, until 00:00 Shanghai', async () => {
    expect((await get('bank-two-a-day', 'usr_quota')).statusCode).toBe(200);
    expect((await get('bank-two-a-day', 'usr_quota')).statusCode).toBe(200);
    const over = await get('bank-two-a-day', 'usr_quota');
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ code: 'quota_exceeded', limit: 2, resetsAt: '2026-01-06T00:00:00+08:00' });
    clock.set('2026-01-05T16:00:00Z');
    expect((await get('bank-two-a-day', 'usr_quota')).statusCode).toBe(200);
  });

  it('freezes a user above the tenant’s daily query count and answers card_frozen with until', async () => {
    clock.set('2026-01-07T02:00:00Z');
    // Four query attempts today (quota refusals count as attempts): the fourth is above 3.
    const codes: (string | number)[] = [];
    for (let i = 0; i < 4; i++) {
      clock.advance(61_000); // stay under the per-minute rate limit
      const r = await get('bank-two-a-day', 'usr_hammer');
      codes.push(r.statusCode === 200 ? 200 : r.json().code);
    }
    expect(codes).toEqual([200, 200, 'quota_exceeded', 'card_frozen']);
    const frozen = await get('bank-two-a-day', 'usr_hammer');
    expect(frozen.statusCode).toBe(423);
    expect(frozen.json()).toMatchObject({ code: 'card_frozen', scope: 'user', until: expect.any(String) });
  });

  it('answers rate_limited with retryAfter and a Retry-After header beyond the route’s limit', async () => {
    clock.set('2026-01-08T02:00:30Z');
    for (let i = 0; i < RATE_LIMIT; i++) expect((await get('bank-open', 'usr_fast')).statusCode).toBe(200);
    const limited = await get('bank-open', 'usr_fast');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'rate_limited', retryAfter: 30 });
    expect(limited.headers['retry-after']).toBe('30');
    // Another user is not affected; the same user is again in the next window.
    expect((await get('bank-open', 'usr_calm')).statusCode).toBe(200);
    clock.advance(30_000);
    expect((await get('bank-open', 'usr_fast')).statusCode).toBe(200);
  });

  it('refuses to hand out more than a few open challenges to one user (farming), with retryAfter', async () => {
    clock.set('2026-01-09T02:00:00Z');
    // 20 s apart, so the route's own limit (5 a minute) is not what answers.
    for (let i = 0; i < 5; i++) {
      expect((await get('bank-slider', 'usr_farmer')).json().code).toBe('captcha_required');
      clock.advance(20_000);
    }
    const farmed = await get('bank-slider', 'usr_farmer');
    expect(farmed.statusCode).toBe(429);
    // The oldest open challenge (issued 100 s ago) expires in 20 s.
    expect(farmed.json()).toMatchObject({ code: 'rate_limited', retryAfter: 20 });
  });
});

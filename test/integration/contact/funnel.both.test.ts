// Funnel analytics: a scripted mix of 100 users' journeys against hand-computed counts, conversions, medians and 90th percentiles, per segment; the admin route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { inTx } from '../../../src/db/tx.ts';
import { AppError } from '../../../src/app/errors.ts';
import { createTenant } from '../../../src/tenants/index.ts';
import { contactRoutes, funnelReport, markStep, startJourney, type FunnelReport, type JourneyKey, type Segments } from '../../../src/contact/index.ts';
import { testOperatorAuth } from './world.ts';

let t: TestApp;
const T0 = new Date('2026-03-02T00:00:00Z');
const window = { from: T0, to: new Date('2026-03-03T00:00:00Z') };
const S = 1_000;
const M = 60_000;

async function journey(tenantId: string, userId: string, viewedAt: Date, segments: Segments, steps: number[]): Promise<void> {
  const key: JourneyKey = { tenantId, userId, billKey: randomBytes(32).toString('hex') };
  await startJourney(t.ctx.db, key, { billKind: 'transaction', segments, at: viewedAt });
  let at = viewedAt.getTime();
  const names = ['tapped', 'qr_shown', 'added', 'first_message'] as const;
  for (let i = 0; i < steps.length; i++) {
    at += steps[i]!;
    await markStep(t.ctx.db, key, names[i]!, new Date(at));
  }
}

/**
 * The script, user i of 100: 0–39 only view; 40–59 also tap (after k = i−39 s); 60–69 also get
 * the QR code (j = i−59 s later); 70–89 also add the agent (m = i−69 min later); 90–99 also write
 * (q = i−89 min later). Elderly: every tenth; new: below 25 and from 95; high value: i ≡ 0 (mod 3),
 * unknown when i ≡ 2.
 */
function scripted(i: number): { segments: Segments; steps: number[] } {
  const steps: number[] = [];
  if (i >= 40) steps.push((i - 39) * S);
  if (i >= 60) steps.push((i - 59) * S);
  if (i >= 70) steps.push((i - 69) * M);
  if (i >= 90) steps.push((i - 89) * M);
  return { segments: { elderly: i % 10 === 0, newUser: i < 25 || i >= 95, highValue: i % 3 === 0 ? true : i % 3 === 1 ? false : null }, steps };
}

beforeAll(async () => {
  t = await startTestApp({
    modules: [
      contactRoutes({
        authenticate: async () => {
          throw new AppError('unauthenticated');
        },
        operatorAuth: testOperatorAuth,
      }),
    ],
  });
  for (const id of ['fun-a', 'fun-b', 'fun-c']) {
    await inTx(t.ctx.db, (tx) => createTenant(tx, t.ctx.crypto, { id, name: id, kind: 'bank', preset: 'agricultural', now: T0 }));
  }
  for (let i = 0; i < 100; i++) {
    const { segments, steps } = scripted(i);
    await journey('fun-a', `usr_f${i}`, new Date(T0.getTime() + i * M), segments, steps);
  }
  const full = [S, S, M, M];
  const everyone: Segments = { elderly: true, newUser: true, highValue: true };
  // Noise the report must leave out: another tenant, before the window, at its (exclusive) end.
  for (let i = 0; i < 5; i++) await journey('fun-b', `usr_b${i}`, new Date(T0.getTime() + i * M), everyone, full);
  for (let i = 0; i < 5; i++) await journey('fun-a', `usr_early${i}`, new Date(T0.getTime() - (i + 1) * M), everyone, full);
  await journey('fun-a', 'usr_late', window.to, everyone, full);
}, 120_000);
afterAll(async () => {
  await t?.close();
});

const counts = (r: FunnelReport) => r.steps.map((s) => s.count);

describe('the funnel of 100 scripted users', () => {
  it('counts each step and converts from the step before and from the start', async () => {
    const r = await funnelReport(t.ctx.db, { tenantId: 'fun-a', ...window, segment: 'all' });
    expect(counts(r)).toEqual([100, 60, 40, 30, 10]);
    expect(r.steps.map((s) => s.step)).toEqual(['viewed', 'tapped', 'qr_shown', 'added', 'first_message']);
    expect(r.steps.map((s) => s.conversionFromPrevious)).toEqual([null, 0.6, 40 / 60, 0.75, 10 / 30]);
    expect(r.steps.map((s) => s.conversionFromStart)).toEqual([null, 0.6, 0.4, 0.3, 0.1]);
  });

  it('gives the median and 90th percentile of the time between steps', async () => {
    const r = await funnelReport(t.ctx.db, { tenantId: 'fun-a', ...window, segment: 'all' });
    // view → tap: 1…60 s. Median (30 + 31) / 2; p90 at rank 1 + 0.9 × 59 = 54.1: 54 + 0.1 × (55 − 54).
    // tap → QR: 1…40 s: 20.5 s and 36.1 s. QR → add: 1…30 min: 15.5 and 27.1 min. add → message: 1…10 min: 5.5 and 9.1 min.
    const expected = [
      { from: 'viewed', to: 'tapped', count: 60, medianMs: 30_500, p90Ms: 54_100 },
      { from: 'tapped', to: 'qr_shown', count: 40, medianMs: 20_500, p90Ms: 36_100 },
      { from: 'qr_shown', to: 'added', count: 30, medianMs: 15.5 * M, p90Ms: 27.1 * M },
      { from: 'added', to: 'first_message', count: 10, medianMs: 5.5 * M, p90Ms: 9.1 * M },
    ];
    expect(r.transitions.map((x) => ({ from: x.from, to: x.to, count: x.count }))).toEqual(expected.map(({ from, to, count }) => ({ from, to, count })));
    r.transitions.forEach((x, i) => {
      expect(x.medianMs).toBeCloseTo(expected[i]!.medianMs, 3);
      expect(x.p90Ms).toBeCloseTo(expected[i]!.p90Ms, 3);
    });
  });

  it('reports each segment on its own', async () => {
    const elderly = await funnelReport(t.ctx.db, { tenantId: 'fun-a', ...window, segment: 'elderly' });
    // Users 0, 10, …, 90: four only view, 40 and 50 tap, 60 gets the QR code, 70 and 80 add, 90 writes.
    expect(counts(elderly)).toEqual([10, 6, 4, 3, 1]);
    // view → tap of 40, 50, …, 90: 1, 11, 21, 31, 41, 51 s: median 26 s, p90 at rank 5.5: 41 + 0.5 × 10 = 46 s.
    expect(elderly.transitions[0]!.medianMs).toBeCloseTo(26_000, 3);
    expect(elderly.transitions[0]!.p90Ms).toBeCloseTo(46_000, 3);
    expect(elderly.steps[4]!.conversionFromStart).toBe(0.1);

    const fresh = await funnelReport(t.ctx.db, { tenantId: 'fun-a', ...window, segment: 'new_user' });
    // 0–24 only view; 95–99 go all the way, writing 6…10 min after the add: median 8, p90 at rank 4.6: 9.6 min.
    expect(counts(fresh)).toEqual([30, 5, 5, 5, 5]);
    expect(fresh.transitions[3]!.medianMs).toBeCloseTo(8 * M, 3);
    expect(fresh.transitions[3]!.p90Ms).toBeCloseTo(9.6 * M, 3);

    const rich = await funnelReport(t.ctx.db, { tenantId: 'fun-a', ...window, segment: 'high_value' });
    // Multiples of 3: 34 in 0–99, 20 in 40–99, 14 in 60–99, 10 in 70–99, 4 in 90–99 (unknown balances are left out).
    expect(counts(rich)).toEqual([34, 20, 14, 10, 4]);
  });

  it('answers zeros and no times for a window without journeys', async () => {
    const r = await funnelReport(t.ctx.db, { tenantId: 'fun-c', ...window, segment: 'all' });
    expect(counts(r)).toEqual([0, 0, 0, 0, 0]);
    expect(r.steps[1]!.conversionFromPrevious).toBeNull();
    expect(r.transitions.every((x) => x.medianMs === null && x.p90Ms === null)).toBe(true);
  });
});

describe('journeys', () => {
  it('keep the first time of each step and fill the steps skipped before it', async () => {
    const key: JourneyKey = { tenantId: 'fun-c', userId: 'usr_skip', billKey: randomBytes(32).toString('hex') };
    const at = new Date('2026-03-10T00:00:00Z');
    expect(await startJourney(t.ctx.db, key, { billKind: 'topup', segments: { elderly: false, newUser: false, highValue: null }, at })).toBe(true);
    expect(await startJourney(t.ctx.db, key, { billKind: 'topup', segments: { elderly: true, newUser: true, highValue: true }, at: new Date(at.getTime() + M) })).toBe(false);
    await markStep(t.ctx.db, key, 'added', new Date(at.getTime() + 5 * M));
    await markStep(t.ctx.db, key, 'tapped', new Date(at.getTime() + 9 * M));
    const row = await t.ctx.db.selectFrom('contact_journeys').selectAll().where('user_id', '=', 'usr_skip').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ elderly: false, viewed_at: at, tapped_at: new Date(at.getTime() + 5 * M), qr_shown_at: new Date(at.getTime() + 5 * M), added_at: new Date(at.getTime() + 5 * M), first_message_at: null });
  });
});

describe('the OpenAPI document', () => {
  it('describes the cardholder, agent and admin routes of the module', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    const paths = Object.keys(r.json().paths);
    for (const p of ['/api/v1/bills/{billRef}', '/api/v1/bills/{billRef}/contact', '/api/v1/contacts/{contactId}', '/api/v1/cs/contexts/{externalUserId}', '/api/v1/cs/emergencies/{serviceId}/verify', '/admin/api/v1/funnel']) {
      expect(paths).toContain(p);
    }
  });
});

describe('GET /admin/api/v1/funnel', () => {
  const url = (q: string) => `/admin/api/v1/funnel?tenantId=fun-a&from=${window.from.toISOString()}&to=${window.to.toISOString()}${q}`;

  it('answers the report to an operator of the tenant', async () => {
    const r = await t.app.inject({ method: 'GET', url: url('&segment=elderly'), headers: { 'x-test-operator': 'fun-a' } });
    expect(r.statusCode, r.body).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ tenantId: 'fun-a', segment: 'elderly', from: window.from.toISOString(), to: window.to.toISOString() });
    expect(body.steps.map((s: { count: number }) => s.count)).toEqual([10, 6, 4, 3, 1]);
    expect(body.transitions[0].medianMs).toBeCloseTo(26_000, 3);
  });

  it('refuses without the operator hook, another tenant’s operator, and a malformed window', async () => {
    expect((await t.app.inject({ method: 'GET', url: url('') })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: url(''), headers: { 'x-test-operator': 'fun-b' } })).statusCode).toBe(403);
    const backwards = await t.app.inject({ method: 'GET', url: `/admin/api/v1/funnel?tenantId=fun-a&from=${window.to.toISOString()}&to=${window.from.toISOString()}`, headers: { 'x-test-operator': 'fun-a' } });
    expect(backwards.statusCode).toBe(400);
    const segment = await t.app.inject({ method: 'GET', url: url('&segment=vip'), headers: { 'x-test-operator': 'fun-a' } });
    expect(segment.statusCode).toBe(400);
  });
});

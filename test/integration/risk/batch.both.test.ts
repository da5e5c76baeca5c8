// The batch versions (recordRiskSignals, consumeQuotas) against the single ones applied one by one: the same answers, the same rows, a freeze still triggered inside a batch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { inTx } from '../../../src/db/tx.ts';
import { AppError } from '../../../src/app/errors.ts';
import { activeFreeze, consumeQuota, consumeQuotas, recordRiskSignal, recordRiskSignals, riskModule, type QuotaRequest, type RiskSignal } from '../../../src/risk/index.ts';
import { makeTenant, SETUP_TIMEOUT_MS, DB_TEST_TIMEOUT_MS } from './fixtures.ts';

let t: TestApp;
const AGRI = 'bank-agri-b'; // freezes above 20 queries a day and on an unusual place
const SHORT = 'bank-short-b'; // freezes above 5 queries, for 30 minutes
const D0 = new Date('2026-01-05T01:00:00Z');
const at = (minutes: number) => new Date(D0.getTime() + minutes * 60_000);
const CN_IP = '114.114.114.114';
const US_IP = '8.8.8.8';

beforeAll(async () => {
  t = await startTestApp({ modules: [riskModule] });
  await makeTenant(t.ctx, AGRI, 'agricultural');
  await makeTenant(t.ctx, SHORT, 'daily-20', { freeze: { queriesPerDayAbove: 5, durationMinutes: 30 } });
}, SETUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

/** The same scenario under two prefixes: `s_` applied one by one, `b_` as one batch. */
function named(p: string, s: RiskSignal): RiskSignal {
  return { ...s, ...(s.userId ? { userId: p + s.userId } : {}), ...(s.cardId ? { cardId: p + s.cardId } : {}) };
}
const strip = (v: string | null) => (v === null ? null : v.slice(2));

async function riskRows(p: string) {
  const signals = await t.ctx.db
    .selectFrom('risk_signals')
    .select(['id', 'tenant_id', 'user_id', 'card_id', 'kind', 'country', 'detail', 'created_at'])
    .where((eb) => eb.or([eb('user_id', 'like', `${p}%`), eb('card_id', 'like', `${p}%`)]))
    .orderBy('id')
    .execute();
  const index = new Map(signals.map((s, i) => [String(s.id), i]));
  const subjects = await t.ctx.db.selectFrom('risk_subjects').selectAll().where('subject_id', 'like', `${p}%`).orderBy('subject_kind').orderBy('subject_id').execute();
  const events = await t.ctx.db.selectFrom('risk_events').selectAll().where('subject_id', 'like', `${p}%`).orderBy('created_at').orderBy('subject_id').execute();
  const freezes = await t.ctx.db.selectFrom('risk_freezes').selectAll().where('subject_id', 'like', `${p}%`).orderBy('starts_at').orderBy('subject_id').execute();
  const audits = await t.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'risk.freeze').where('subject_id', 'like', `${p}%`).orderBy('at').orderBy('subject_id').execute();
  const locations = await t.ctx.db.selectFrom('risk_locations').selectAll().where('user_id', 'like', `${p}%`).orderBy('user_id').orderBy('country').execute();
  return {
    signals: signals.map(({ id: _id, ...s }) => ({ ...s, user_id: strip(s.user_id), card_id: strip(s.card_id) })),
    subjects: subjects.map((s) => ({ ...s, subject_id: strip(s.subject_id), baseline_signal_id: s.baseline_signal_id === null ? null : index.get(String(s.baseline_signal_id)) })),
    events: events.map(({ id: _id, ...e }) => ({ ...e, subject_id: strip(e.subject_id) })),
    freezes: freezes.map(({ id: _id, event_id: _e, ...f }) => ({ ...f, subject_id: strip(f.subject_id) })),
    audits: audits.map((a) => ({ subject_id: strip(a.subject_id), at: a.at, detail: { ...JSON.parse(a.detail!), eventId: undefined } })),
    locations: locations.map((l) => ({ ...l, user_id: strip(l.user_id) })),
  };
}

describe('recordRiskSignals', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('answers and writes exactly what recordRiskSignal one by one does, freezing inside the batch at the threshold', async () => {
    const before: RiskSignal[] = [
      ...[1, 2, 3].map((m) => ({ tenantId: SHORT, userId: 'u1', cardId: 'c1', kind: 'query' as const, now: at(m), ip: CN_IP })),
      { tenantId: AGRI, userId: 'u3', cardId: 'c3', kind: 'query', now: at(4), ip: CN_IP },
    ];
    const batch: RiskSignal[] = [
      // u1's 6th query of the day (the 3rd of the batch) freezes; the next ones count from the new baseline.
      ...[10, 11, 12, 13, 14].map((m) => ({ tenantId: SHORT, userId: 'u1', cardId: 'c1', kind: 'query' as const, now: at(m), ip: CN_IP })),
      { tenantId: SHORT, userId: 'u2', cardId: 'c2', kind: 'query', now: at(10), ip: CN_IP },
      { tenantId: SHORT, userId: 'u2', kind: 'otp_failed', now: at(11), detail: { attempt: 1 } },
      // u3 was seen in CN: a query from the US adds new_location and, on this tenant, freezes.
      { tenantId: AGRI, userId: 'u3', cardId: 'c3', kind: 'query', now: at(12), ip: US_IP },
      { tenantId: AGRI, userId: 'u3', cardId: 'c3', kind: 'query', now: at(13), ip: US_IP },
      // A first-ever location is nobody's new location.
      { tenantId: AGRI, userId: 'u4', cardId: 'c4', kind: 'query', now: at(12), ip: US_IP },
      // Card subjects (no user): enumeration of no-bind card numbers.
      ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => ({ tenantId: SHORT, cardId: `k${n % 2}`, kind: 'nobind_card_probe' as const, now: at(10 + n), detail: { n } })),
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ tenantId: SHORT, userId: 'u5', cardId: `p${n}`, kind: 'nobind_card_probe' as const, now: at(10 + n) })),
    ];
    const one = await inTx(t.ctx.db, async (tx) => {
      for (const s of before) await recordRiskSignal(t.ctx, tx, named('s_', s));
      const out = [];
      for (const s of batch) out.push(await recordRiskSignal(t.ctx, tx, named('s_', s)));
      return out;
    });
    const many = await inTx(t.ctx.db, async (tx) => {
      for (const s of before) await recordRiskSignal(t.ctx, tx, named('b_', s));
      return recordRiskSignals(t.ctx, tx, batch.map((s) => named('b_', s)));
    });
    expect(many).toEqual(one);
    // The scenario does what it says: freezes inside the batch, and not only "none" everywhere.
    expect(many.map((r) => r.action)).toEqual([
      ...['none', 'none', 'freeze_user', 'none', 'none'], // u1
      ...['none', 'none'], // u2
      ...['freeze_user', 'none'], // u3
      'none', // u4
      ...Array<string>(9).fill('none'), // k0, k1: one card each
      ...Array<string>(7).fill('none'), 'freeze_user', // u5: the 8th distinct card (5 beyond the free 3)
    ]);
    const [a, b] = [await riskRows('s_'), await riskRows('b_')];
    expect(b).toEqual(a);
    expect(b.freezes.length).toBeGreaterThanOrEqual(3);
    expect(b.signals.filter((s) => s.kind === 'new_location')).toHaveLength(1);
    expect(await activeFreeze(t.ctx.db, { tenantId: SHORT, userId: 'b_u1', now: at(15) })).toMatchObject({ scope: 'user', until: new Date(at(12).getTime() + 30 * 60_000) });
  });

  it('refuses a card number given as an id, writing nothing', async () => {
    await expect(inTx(t.ctx.db, (tx) => recordRiskSignals(t.ctx, tx, [{ tenantId: SHORT, userId: 'ok_user', kind: 'query', now: at(1) }, { tenantId: SHORT, cardId: '6228480402564890018', kind: 'query', now: at(1) }]))).rejects.toThrow(/card number/);
    expect(await t.ctx.db.selectFrom('risk_signals').select('id').where('user_id', '=', 'ok_user').execute()).toEqual([]);
  });
});

describe('consumeQuotas', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('gives each use the count or refusal consumeQuota one by one gives, unlimited counters in bulk and limited ones exactly', async () => {
    const uses = (p: string): QuotaRequest[] => [
      ...[0, 1, 2, 3, 4, 5, 6].map((i) => ({ tenantId: SHORT, kind: 'bound_query' as const, key: `${p}free`, limit: null, now: at(i) })),
      ...[0, 1, 2, 3, 4].map((i) => ({ tenantId: SHORT, kind: 'bound_query' as const, key: `${p}capped`, limit: 3, now: at(i) })),
      { tenantId: SHORT, kind: 'nobind_card', key: `${p}free`, limit: null, now: at(1) },
      // Another business day (Shanghai) is another counter.
      { tenantId: SHORT, kind: 'bound_query', key: `${p}free`, limit: null, now: new Date('2026-01-05T16:30:00Z') },
      { tenantId: SHORT, kind: 'bound_query', key: `${p}zero`, limit: 0, now: at(1) },
    ];
    const shuffle = <T,>(xs: T[]) => xs.map((x, i) => [x, (i * 7) % xs.length] as const).sort((p, q) => p[1] - q[1]).map(([x]) => x);
    // Earlier uses today count too.
    for (const p of ['s_', 'b_']) {
      await consumeQuota(t.ctx.db, { tenantId: SHORT, kind: 'bound_query', key: `${p}free`, limit: null, now: at(0) });
      await consumeQuota(t.ctx.db, { tenantId: SHORT, kind: 'bound_query', key: `${p}capped`, limit: 3, now: at(0) });
    }
    const asResult = (r: unknown) => (r instanceof AppError ? { code: r.code, message: r.message, extra: r.extra } : r);
    const one = await inTx(t.ctx.db, async (tx) => {
      const out = [];
      for (const q of shuffle(uses('s_'))) {
        try {
          out.push(await consumeQuota(tx, q));
        } catch (err) {
          out.push(err);
        }
      }
      return out.map(asResult);
    });
    const many = (await inTx(t.ctx.db, (tx) => consumeQuotas(tx, shuffle(uses('b_'))))).map(asResult);
    expect(many).toEqual(one);
    expect(many.filter((r) => (r as { code?: string }).code === 'quota_exceeded')).toHaveLength(4);
    const counts = async (p: string) =>
      (await t.ctx.db.selectFrom('risk_quotas').select(['kind', 'key', 'day', 'used', 'updated_at']).where('key', 'like', `${p}%`).orderBy('kind').orderBy('key').orderBy('day').execute()).map((r) => ({ ...r, key: r.key.slice(2) }));
    expect(await counts('b_')).toEqual(await counts('s_'));
    expect((await counts('b_')).find((r) => r.key === 'free' && r.kind === 'bound_query' && r.day === '2026-01-05')?.used).toBe(8);
  });
});

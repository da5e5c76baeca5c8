// Risk signals on the database: scoring per subject, freezes with a risk event and an audit entry, expiry, baselines, review.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { inTx } from '../../../src/db/tx.ts';
import {
  activeFreeze,
  liftFreeze,
  listRiskEvents,
  pruneRiskData,
  recordRiskSignal,
  reviewRiskEvent,
  riskModule,
  RISK_PRUNE_TOPIC,
  type RiskSignal,
} from '../../../src/risk/index.ts';
import { makeTenant, SETUP_TIMEOUT_MS, DB_TEST_TIMEOUT_MS } from './fixtures.ts';

let t: TestApp;
const AGRI = 'bank-agri'; // freezes above 20 queries a day and on an unusual place, for 24 h
const PLAIN = 'bank-plain'; // no freeze rules of its own: the anomaly score alone decides
const SHORT = 'bank-short'; // freezes above 5 queries, for 30 minutes
const D0 = new Date('2026-01-05T01:00:00Z'); // 09:00 Shanghai
const at = (minutes: number) => new Date(D0.getTime() + minutes * 60_000);
const CN_IP = '114.114.114.114';
const US_IP = '8.8.8.8';
const HK_IP = '202.45.84.58';

beforeAll(async () => {
  t = await startTestApp({ modules: [riskModule] });
  await makeTenant(t.ctx, AGRI, 'agricultural');
  await makeTenant(t.ctx, PLAIN, 'daily-10');
  await makeTenant(t.ctx, SHORT, 'daily-20', { freeze: { queriesPerDayAbove: 5, durationMinutes: 30 } });
}, SETUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

const signal = (s: RiskSignal) => inTx(t.ctx.db, (tx) => recordRiskSignal(t.ctx, tx, s));

async function auditRows(tenantId: string, action: string) {
  return t.ctx.db.selectFrom('audit_log').selectAll().where('tenant_id', '=', tenantId).where('action', '=', action).execute();
}

describe('query frequency', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('freezes the user at the 21st query of the day where the tenant freezes above 20, with one risk event and an audit entry', async () => {
    const userId = 'usr_frequent';
    for (let i = 1; i <= 20; i++) {
      expect(await signal({ tenantId: AGRI, userId, cardId: 'card_f', kind: 'query', now: at(i), ip: CN_IP })).toEqual({ score: 0, action: 'none' });
    }
    expect(await activeFreeze(t.ctx.db, { tenantId: AGRI, userId, now: at(21) })).toBeUndefined();
    const r = await signal({ tenantId: AGRI, userId, cardId: 'card_f', kind: 'query', now: at(21), ip: CN_IP });
    expect(r).toEqual({ score: 100, action: 'freeze_user' });

    const f = await activeFreeze(t.ctx.db, { tenantId: AGRI, userId, now: at(22) });
    expect(f).toMatchObject({ scope: 'user', until: new Date(at(21).getTime() + 24 * 3600_000) });
    expect(f?.reason).toMatch(/excess_queries/);
    // The card itself is not frozen: the person is.
    expect(await activeFreeze(t.ctx.db, { tenantId: AGRI, cardId: 'card_f', now: at(22) })).toBeUndefined();

    const events = await listRiskEvents(t.ctx.db, { tenantId: AGRI, subject: { kind: 'user', id: userId } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: 'anomaly',
      score: 100,
      action: 'freeze_user',
      status: 'open',
      features: { queriesToday: 21, trigger: 'query', country: 'CN', contributions: { excess_queries: 100 } },
    });
    const audits = await auditRows(AGRI, 'risk.freeze');
    expect(audits.filter((a) => a.subject_id === userId)).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actor_kind: 'system', actor_id: 'risk', subject_kind: 'user', outcome: 'ok' });
  });

  it('keeps signalling a frozen user without a second freeze or event', async () => {
    const userId = 'usr_frequent';
    const r = await signal({ tenantId: AGRI, userId, kind: 'query', now: at(23) });
    expect(r.action).toBe('none'); // counts start again after the freeze
    expect(await listRiskEvents(t.ctx.db, { tenantId: AGRI, subject: { kind: 'user', id: userId } })).toHaveLength(1);
  });

  it('only scores the same frequency at a tenant without its own rule', async () => {
    let last = { score: 0, action: 'none' as string };
    for (let i = 1; i <= 25; i++) last = await signal({ tenantId: PLAIN, userId: 'usr_plain_freq', kind: 'query', now: at(i) });
    expect(last).toEqual({ score: 40, action: 'none' });
    expect(await activeFreeze(t.ctx.db, { tenantId: PLAIN, userId: 'usr_plain_freq', now: at(26) })).toBeUndefined();
  });

  it('counts queries per Shanghai business day: 20 before midnight and 20 after do not freeze', async () => {
    const userId = 'usr_midnight';
    const evening = new Date('2026-01-05T15:00:00Z'); // 23:00 Shanghai
    for (let i = 0; i < 20; i++) await signal({ tenantId: AGRI, userId, kind: 'query', now: new Date(evening.getTime() + i * 60_000) });
    const night = new Date('2026-01-05T16:00:00Z'); // 00:00 Shanghai
    let last = { score: -1, action: '' };
    for (let i = 0; i < 20; i++) last = await signal({ tenantId: AGRI, userId, kind: 'query', now: new Date(night.getTime() + i * 60_000) });
    expect(last).toEqual({ score: 0, action: 'none' });
  });

  it('lifts the freeze when its time is up, and does not freeze again for signals already acted on', async () => {
    const userId = 'usr_short';
    for (let i = 1; i <= 6; i++) await signal({ tenantId: SHORT, userId, kind: 'query', now: at(i) });
    const f = await activeFreeze(t.ctx.db, { tenantId: SHORT, userId, now: at(7) });
    expect(f?.until).toEqual(at(36));
    expect(await activeFreeze(t.ctx.db, { tenantId: SHORT, userId, now: at(35) })).toBeDefined();
    expect(await activeFreeze(t.ctx.db, { tenantId: SHORT, userId, now: at(36) })).toBeUndefined();
    // Same day, after the freeze: five more queries are fine, the sixth since the freeze freezes again.
    for (let i = 0; i < 5; i++) expect((await signal({ tenantId: SHORT, userId, kind: 'query', now: at(40 + i) })).action).toBe('none');
    expect((await signal({ tenantId: SHORT, userId, kind: 'query', now: at(50) })).action).toBe('freeze_user');
    expect(await listRiskEvents(t.ctx.db, { tenantId: SHORT, subject: { kind: 'user', id: userId } })).toHaveLength(2);
  });
});

describe('location, device and failed codes', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('never treats a user’s first location as new, and freezes on a new country where the tenant says so', async () => {
    const userId = 'usr_travel';
    expect((await signal({ tenantId: AGRI, userId, kind: 'query', now: at(1), ip: CN_IP })).action).toBe('none');
    expect((await signal({ tenantId: AGRI, userId, kind: 'query', now: at(2), ip: CN_IP })).action).toBe('none');
    const r = await signal({ tenantId: AGRI, userId, kind: 'query', now: at(3), ip: US_IP });
    expect(r).toEqual({ score: 100, action: 'freeze_user' });
    const [event] = await listRiskEvents(t.ctx.db, { tenantId: AGRI, subject: { kind: 'user', id: userId } });
    expect(event?.features).toMatchObject({ newLocations: 1, country: 'US', contributions: { new_location: 100 } });
    // The address itself is never stored, only its country.
    const rows = await t.ctx.db.selectFrom('risk_signals').selectAll().where('user_id', '=', userId).orderBy('id').execute();
    expect(rows.map((s) => [s.kind, s.country])).toEqual([
      ['query', 'CN'],
      ['query', 'CN'],
      ['query', 'US'],
      ['new_location', 'US'],
    ]);
    expect(JSON.stringify(rows, (_k, v) => (typeof v === "bigint" ? v.toString() : v))).not.toContain(US_IP);
  });

  it('only scores a new region at a tenant without the rule, and a known one is not new again', async () => {
    const userId = 'usr_hk';
    await signal({ tenantId: PLAIN, userId, kind: 'query', now: at(1), ip: CN_IP });
    expect(await signal({ tenantId: PLAIN, userId, kind: 'query', now: at(2), ip: HK_IP })).toEqual({ score: 30, action: 'none' });
    expect(await signal({ tenantId: PLAIN, userId, kind: 'query', now: at(3), ip: HK_IP })).toEqual({ score: 30, action: 'none' });
    const locs = await t.ctx.db.selectFrom('risk_locations').select('country').where('user_id', '=', userId).orderBy('country').execute();
    expect(locs.map((l) => l.country)).toEqual(['CN', 'HK']);
  });

  it('adds up a new device, failed codes and a new location to a freeze, but not the first two alone', async () => {
    const userId = 'usr_takeover';
    await signal({ tenantId: PLAIN, userId, kind: 'query', now: at(1), ip: CN_IP });
    expect((await signal({ tenantId: PLAIN, userId, kind: 'new_device', now: at(2) })).score).toBe(20);
    let r = { score: 0, action: 'none' as string };
    for (let i = 0; i < 5; i++) r = await signal({ tenantId: PLAIN, userId, kind: 'otp_failed', now: at(3 + i), detail: { purpose: 'binding' } });
    expect(r).toEqual({ score: 95, action: 'none' });
    r = await signal({ tenantId: PLAIN, userId, kind: 'otp_failed', now: at(9), ip: US_IP });
    expect(r).toEqual({ score: 100, action: 'freeze_user' });
  });

  it('forgets failed codes and devices after the 24-hour window', async () => {
    const userId = 'usr_window';
    for (let i = 0; i < 5; i++) await signal({ tenantId: PLAIN, userId, kind: 'otp_failed', now: at(i) });
    await signal({ tenantId: PLAIN, userId, kind: 'new_device', now: at(5) });
    const dayLater = at(24 * 60 + 6);
    expect(await signal({ tenantId: PLAIN, userId, kind: 'otp_failed', now: dayLater })).toEqual({ score: 15, action: 'none' });
  });
});

describe('card subjects, concurrency and the review queue', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('freezes the card when signals name only a card', async () => {
    const cardId = 'bidx_card_only';
    let r = { score: 0, action: 'none' as string };
    for (let i = 1; i <= 21; i++) r = await signal({ tenantId: AGRI, cardId, kind: 'query', now: at(i) });
    expect(r.action).toBe('freeze_card');
    expect(await activeFreeze(t.ctx.db, { tenantId: AGRI, cardId, now: at(22) })).toMatchObject({ scope: 'card' });
    expect(await activeFreeze(t.ctx.db, { tenantId: AGRI, userId: 'usr_someone', cardId, now: at(22) })).toMatchObject({ scope: 'card' });
  });

  it('freezes once when a burst of signals crosses the threshold together', async () => {
    const userId = 'usr_burst';
    for (let i = 1; i <= 18; i++) await signal({ tenantId: AGRI, userId, kind: 'query', now: at(i) });
    const results = await Promise.all(Array.from({ length: 10 }, () => signal({ tenantId: AGRI, userId, kind: 'query', now: at(30) })));
    expect(results.filter((r) => r.action === 'freeze_user').length).toBeGreaterThanOrEqual(1);
    const events = await listRiskEvents(t.ctx.db, { tenantId: AGRI, subject: { kind: 'user', id: userId } });
    expect(events).toHaveLength(1);
    const freezes = await t.ctx.db.selectFrom('risk_freezes').select('id').where('subject_id', '=', userId).execute();
    expect(freezes).toHaveLength(1);
  });

  it('lets an operator lift a freeze early and mark its event reviewed, each once', async () => {
    const userId = 'usr_travel';
    const f = await activeFreeze(t.ctx.db, { tenantId: AGRI, userId, now: at(10) });
    expect(f).toBeDefined();
    expect(await inTx(t.ctx.db, (tx) => liftFreeze(tx, { tenantId: AGRI, freezeId: f!.freezeId, operatorId: 'op_1', now: at(10) }))).toBe(true);
    expect(await inTx(t.ctx.db, (tx) => liftFreeze(tx, { tenantId: AGRI, freezeId: f!.freezeId, operatorId: 'op_1', now: at(11) }))).toBe(false);
    expect(await activeFreeze(t.ctx.db, { tenantId: AGRI, userId, now: at(11) })).toBeUndefined();
    expect((await auditRows(AGRI, 'risk.unfreeze')).map((a) => a.actor_id)).toEqual(['op_1']);

    const [event] = await listRiskEvents(t.ctx.db, { tenantId: AGRI, status: 'open', subject: { kind: 'user', id: userId } });
    expect(await inTx(t.ctx.db, (tx) => reviewRiskEvent(tx, { tenantId: AGRI, eventId: event!.id, operatorId: 'op_1', now: at(12) }))).toBe(true);
    expect(await inTx(t.ctx.db, (tx) => reviewRiskEvent(tx, { tenantId: AGRI, eventId: event!.id, operatorId: 'op_1', now: at(12) }))).toBe(false);
    expect((await listRiskEvents(t.ctx.db, { tenantId: AGRI, status: 'reviewed' })).map((e) => e.id)).toContain(event!.id);
  });

  it('drops a signal detail that holds a clear number or is too large, and keeps the signal', async () => {
    await signal({ tenantId: PLAIN, userId: 'usr_detail', kind: 'otp_failed', now: at(1), detail: { phone: '13800138000' } });
    await signal({ tenantId: PLAIN, userId: 'usr_detail', kind: 'otp_failed', now: at(2), detail: { note: 'x'.repeat(5_000) } });
    await signal({ tenantId: PLAIN, userId: 'usr_detail', kind: 'otp_failed', now: at(3), detail: { purpose: 'binding' } });
    const rows = await t.ctx.db.selectFrom('risk_signals').select('detail').where('user_id', '=', 'usr_detail').orderBy('id').execute();
    const details = rows.map((r) => (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail));
    expect(details).toEqual([{ dropped: 'looked_sensitive' }, { dropped: 'too_large' }, { purpose: 'binding' }]);
  });

  it('refuses a signal that names a clear card number, or nobody', async () => {
    await expect(signal({ tenantId: AGRI, cardId: '6222021234567890123', kind: 'query', now: at(1) })).rejects.toThrow(/card number/);
    await expect(signal({ tenantId: AGRI, kind: 'query', now: at(1) })).rejects.toThrow(/names a user or a card/);
  });
});

describe('retention', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('prunes signals, quota counters and challenges past their retention, and schedules itself daily', async () => {
    expect(t.ctx.jobs.topics()).toContain(RISK_PRUNE_TOPIC);
    // Started at 10:00 Shanghai on the 5th: the first prune is at 03:00 Shanghai on the 6th.
    const due = await t.ctx.db.selectFrom('outbox').select(['dedupe_key', 'run_after']).where('topic', '=', RISK_PRUNE_TOPIC).execute();
    expect(due).toEqual([{ dedupe_key: 'risk.prune:2026-01-06', run_after: new Date('2026-01-05T19:00:00Z') }]);

    const before = await t.ctx.db.selectFrom('risk_signals').select(t.ctx.db.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow();
    expect(Number(before.n)).toBeGreaterThan(0);
    const kept = await pruneRiskData(t.ctx.db, at(10 * 24 * 60));
    expect(kept.signals).toBe(0);
    const removed = await pruneRiskData(t.ctx.db, at(40 * 24 * 60));
    expect(removed.signals).toBe(Number(before.n));
    expect(removed.subjects).toBeGreaterThan(0);

    const ran = await t.ctx.jobs.runDue({ now: at(40 * 24 * 60), topics: [RISK_PRUNE_TOPIC] });
    expect(ran).toBe(1);
    const next = await t.ctx.db.selectFrom('outbox').select(['dedupe_key', 'run_after']).where('topic', '=', RISK_PRUNE_TOPIC).where('done_at', 'is', null).execute();
    expect(next).toEqual([{ dedupe_key: 'risk.prune:2026-02-15', run_after: new Date('2026-02-14T19:00:00Z') }]);
    // Events and freezes stay for the operators' history.
    expect((await listRiskEvents(t.ctx.db, { tenantId: AGRI })).length).toBeGreaterThan(0);
  });
});

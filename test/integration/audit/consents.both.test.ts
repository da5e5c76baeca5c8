// Consents over HTTP and in the store: grant, withdraw, re-consent to a new notice, history kept, each change audited; and the seal job on the outbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { FastifyRequest } from 'fastify';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { AppError } from '../../../src/app/errors.ts';
import type { Authenticate } from '../../../src/app/auth.ts';
import { inTx } from '../../../src/db/tx.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import {
  AUDIT_SEAL_INTERVAL_MS,
  AUDIT_SEAL_TOPIC,
  auditJobs,
  consentHistory,
  consentRoutes,
  hasConsent,
  listConsents,
  recordAudit,
  setConsent,
  verifyAuditChain,
} from '../../../src/audit/index.ts';
import { asSuperuser, entry, freshTenant } from './fixtures.ts';

/** Test-only: `x-test-cardholder: tenant:user:device` stands in for the identity module's session check. */
const testAuthenticate: Authenticate = async (request: FastifyRequest) => {
  const h = request.headers['x-test-cardholder'];
  const m = typeof h === 'string' ? /^([^:]+):([^:]+):([^:]+)$/.exec(h) : null;
  if (!m) throw new AppError('unauthenticated');
  request.cardholder = { tenantId: m[1]!, userId: m[2]!, deviceId: m[3]!, sessionId: 'ses_test' };
};

const OPEN_APP_TIMEOUT_MS = 120_000;
const CLEAR_CARD = '6228480402564890018';
let t: TestApp;
let clock: ManualClock;

beforeAll(async () => {
  registerSensitive(CLEAR_CARD);
  clock = new ManualClock('2026-03-02T01:00:00Z');
  t = await startTestApp({ clock, modules: [consentRoutes({ authenticate: testAuthenticate }), auditJobs] });
}, OPEN_APP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

function as(tenantId: string, userId: string) {
  const headers = { 'x-test-cardholder': `${tenantId}:${userId}:dev_${userId}` };
  return {
    get: () => t.app.inject({ method: 'GET', url: '/api/v1/consents', headers }),
    post: (payload: unknown) => t.app.inject({ method: 'POST', url: '/api/v1/consents', headers, payload: payload as object }),
  };
}

describe('consents over HTTP', () => {
  it('answers 401 problem+json without a cardholder', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/consents' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'unauthenticated' });
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/consents', payload: { purpose: 'marketing', noticeVersion: 'v1', granted: true } })).statusCode).toBe(401);
  });

  it('grants, lists, withdraws and re-grants under a new notice, keeping every decision', async () => {
    const tenant = freshTenant();
    const u = as(tenant, 'usr_a');
    expect((await u.get()).json()).toEqual({ items: [], nextCursor: null });

    const granted = await u.post({ purpose: 'financial_info', noticeVersion: '2026-01', granted: true });
    expect(granted.statusCode).toBe(200);
    expect(granted.json()).toEqual({ purpose: 'financial_info', noticeVersion: '2026-01', granted: true, at: '2026-03-02T01:00:00.000Z' });
    await u.post({ purpose: 'marketing', noticeVersion: '2026-01', granted: false });
    expect(await hasConsent(t.ctx.db, { tenantId: tenant, userId: 'usr_a', purpose: 'financial_info' })).toBe(true);

    clock.advance(60_000);
    const withdrawn = await u.post({ purpose: 'financial_info', noticeVersion: '2026-01', granted: false });
    expect(withdrawn.json()).toMatchObject({ granted: false, at: '2026-03-02T01:01:00.000Z' });
    expect(await hasConsent(t.ctx.db, { tenantId: tenant, userId: 'usr_a', purpose: 'financial_info' })).toBe(false);

    clock.advance(60_000);
    await u.post({ purpose: 'financial_info', noticeVersion: '2026-03', granted: true });
    expect(await hasConsent(t.ctx.db, { tenantId: tenant, userId: 'usr_a', purpose: 'financial_info', noticeVersion: '2026-03' })).toBe(true);
    expect(await hasConsent(t.ctx.db, { tenantId: tenant, userId: 'usr_a', purpose: 'financial_info', noticeVersion: '2026-01' })).toBe(false);

    expect((await u.get()).json().items).toEqual([
      { purpose: 'financial_info', noticeVersion: '2026-03', granted: true, at: '2026-03-02T01:02:00.000Z' },
      { purpose: 'marketing', noticeVersion: '2026-01', granted: false, at: '2026-03-02T01:00:00.000Z' },
    ]);
    const history = await consentHistory(t.ctx.db, tenant, 'usr_a');
    expect(history.filter((h) => h.purpose === 'financial_info').map((h) => [h.noticeVersion, h.granted])).toEqual([
      ['2026-03', true],
      ['2026-01', false],
      ['2026-01', true],
    ]);
  });

  it('records nothing new when the decision in force is sent again', async () => {
    const tenant = freshTenant();
    const u = as(tenant, 'usr_b');
    await u.post({ purpose: 'location', noticeVersion: 'v2', granted: true });
    clock.advance(1_000);
    const again = await u.post({ purpose: 'location', noticeVersion: 'v2', granted: true });
    expect(again.statusCode).toBe(200);
    expect((await consentHistory(t.ctx.db, tenant, 'usr_b')).length).toBe(1);
  });

  it("shows a user only their own consents", async () => {
    const tenant = freshTenant();
    await as(tenant, 'usr_c').post({ purpose: 'sms_banking', noticeVersion: 'v1', granted: true });
    expect((await as(tenant, 'usr_d').get()).json().items).toEqual([]);
    expect((await as(freshTenant(), 'usr_c').get()).json().items).toEqual([]);
    expect(await listConsents(t.ctx.db, tenant, 'usr_c')).toHaveLength(1);
  });

  it('refuses malformed bodies with validation_failed naming the field', async () => {
    const u = as(freshTenant(), 'usr_e');
    const cases: [unknown, string][] = [
      [{ purpose: 'everything', noticeVersion: 'v1', granted: true }, 'body.purpose'],
      [{ purpose: 'marketing', noticeVersion: 'v1' }, 'body.granted'],
      [{ purpose: 'marketing', noticeVersion: '', granted: true }, 'body.noticeVersion'],
      [{ purpose: 'marketing', noticeVersion: 'v 1', granted: true }, 'body.noticeVersion'],
      [{ purpose: 'marketing', noticeVersion: 'v1', granted: 'maybe' }, 'body.granted'],
      [{ purpose: 'marketing', noticeVersion: 'v1', granted: true, extra: 1 }, 'body.extra'],
      [{ purpose: 'marketing', noticeVersion: CLEAR_CARD, granted: true }, 'noticeVersion'],
    ];
    for (const [body, field] of cases) {
      const res = await u.post(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      const p = res.json();
      expect(p.code).toBe('validation_failed');
      expect(p.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(res.body).not.toContain(CLEAR_CARD);
    }
    expect(t.logs.join('\n')).not.toContain(CLEAR_CARD);
  });

  it('audits every change with the request facts, and nothing else', async () => {
    const tenant = freshTenant();
    const u = as(tenant, 'usr_f');
    await u.post({ purpose: 'face_verification', noticeVersion: 'v1', granted: true });
    await u.post({ purpose: 'face_verification', noticeVersion: 'v1', granted: true });
    await u.post({ purpose: 'face_verification', noticeVersion: 'v1', granted: false });
    const rows = await t.ctx.db.selectFrom('audit_log').selectAll().where('tenant_id', '=', tenant).orderBy('seq').execute();
    expect(rows.map((r) => [r.action, r.actor_kind, r.actor_id, r.subject_kind, r.subject_id, r.outcome, r.device_id])).toEqual([
      ['consent.granted', 'cardholder', 'usr_f', 'consent', 'face_verification', 'ok', 'dev_usr_f'],
      ['consent.withdrawn', 'cardholder', 'usr_f', 'consent', 'face_verification', 'ok', 'dev_usr_f'],
    ]);
    expect(JSON.parse(rows[0]!.detail!)).toEqual({ channel: 'api', noticeVersion: 'v1' });
    expect(rows[0]!.ip).toBe('127.0.0.1');
    expect(rows[0]!.request_id).toMatch(/^req_/);
  });

  it('lets a withdrawal recorded after a grant win even when its instance clock runs behind', async () => {
    const tenant = freshTenant();
    const base = { tenantId: tenant, userId: 'usr_h', purpose: 'financial_info' as const, noticeVersion: 'v1' };
    await inTx(t.ctx.db, (tx) => setConsent(tx, { ...base, granted: true, at: new Date('2026-03-02T01:00:01Z') }));
    await inTx(t.ctx.db, (tx) => setConsent(tx, { ...base, granted: false, at: new Date('2026-03-02T01:00:00Z') }));
    expect(await hasConsent(t.ctx.db, base)).toBe(false);
    expect((await listConsents(t.ctx.db, tenant, 'usr_h'))[0]).toMatchObject({ granted: false });
  });

  it('publishes both routes in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths['/api/v1/consents'])).toEqual(expect.arrayContaining(['get', 'post']));
  });

  it('rolls the consent back with the transaction it was given', async () => {
    const tenant = freshTenant();
    await inTx(t.ctx.db, async (tx) => {
      await setConsent(tx, { tenantId: tenant, userId: 'usr_g', purpose: 'bill_sharing_cs', noticeVersion: 'v1', granted: true, at: clock.now() });
      throw new Error('rolled back');
    }).catch(() => undefined);
    expect(await listConsents(t.ctx.db, tenant, 'usr_g')).toEqual([]);
  });
});

describe('the seal job', () => {
  it('is registered, runs on its slot from the outbox, seals ripe rows and schedules the next slot', async () => {
    expect(t.ctx.jobs.topics()).toContain(AUDIT_SEAL_TOPIC);
    const tenant = freshTenant();
    for (let i = 0; i < 3; i++) await recordAudit(t.ctx.db, entry(tenant, i));
    // Ripe: written a minute ago by the database clock, past the safety margin.
    await asSuperuser(t.ctx.db, async (tx) => {
      await sql`update audit_log set recorded_at = recorded_at - interval '1 minute'`.execute(tx);
    });
    clock.advance(AUDIT_SEAL_INTERVAL_MS);
    const ran = await t.ctx.jobs.runDue({ topics: [AUDIT_SEAL_TOPIC] });
    expect(ran).toBeGreaterThanOrEqual(1);
    const r = await verifyAuditChain(t.ctx.db);
    expect(r).toMatchObject({ ok: true, pending: 0 });
    expect(r.checked).toBeGreaterThanOrEqual(3);
    const next = await t.ctx.db
      .selectFrom('outbox')
      .select(['run_after'])
      .where('topic', '=', AUDIT_SEAL_TOPIC)
      .where('done_at', 'is', null)
      .executeTakeFirstOrThrow();
    expect(new Date(next.run_after).getTime()).toBeGreaterThan(clock.now().getTime());
    expect(await t.ctx.jobs.runDue({ topics: [AUDIT_SEAL_TOPIC] })).toBe(0);
  });
});

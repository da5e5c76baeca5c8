// The console's RBAC matrix (every role against every admin route), tenant scoping, CSRF, and sign-in: TOTP, replay, rate limit, idle expiry, audit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from 'otplib';
import { ManualClock } from '../../../src/shared/clock.ts';
import { inTx } from '../../../src/db/tx.ts';
import { createTenant, updatePolicy } from '../../../src/tenants/index.ts';
import { activeFreeze, recordRiskSignal } from '../../../src/risk/index.ts';
import { corePort } from '../../../src/core/index.ts';
import { ADMIN_ROUTES, createOperator, isAllowed, LOGIN_LIMIT_PER_USER, SESSION_IDLE_MS, type OperatorRole } from '../../../src/admin/index.ts';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { startServer, type RunningServer } from '../../helpers/platform.ts';
import { consoleFor, ensureAdminSchema, totpAt, withAdmin, type Console } from './helpers.ts';

const clock = new ManualClock('2026-03-18T02:00:00Z');
const PASSWORD = 'correct horse battery';
let db: TestDb;
let server: RunningServer;
const secrets = new Map<string, string>();

async function operator(username: string, tenantId: string | null, role: OperatorRole): Promise<void> {
  const secret = generateSecret();
  secrets.set(username, secret);
  await createOperator(server.ctx, { tenantId, username, displayName: username, role, password: PASSWORD, totpSecret: secret, createdBy: 'test' });
}

async function signedIn(username: string): Promise<Console> {
  const c = consoleFor(server.url, username, clock);
  const r = await c.signIn(PASSWORD, secrets.get(username)!);
  expect(r.status, r.text).toBe(201);
  return c;
}

beforeAll(async () => {
  db = await openTestDb();
  await ensureAdminSchema(db.db);
  server = await startServer({ modules: withAdmin([corePort()]), dbHandle: db, clock });
  const now = clock.now();
  await inTx(server.ctx.db, async (tx) => {
    await createTenant(tx, server.ctx.crypto, { id: 't-one', name: '一号银行', kind: 'bank', preset: 'daily-10', now });
    await createTenant(tx, server.ctx.crypto, { id: 't-two', name: '二号银行', kind: 'bank', preset: 'daily-20', now });
  });
  for (const role of ['operator', 'reviewer', 'auditor', 'admin'] as const) await operator(`one.${role}`, 't-one', role);
  await operator('two.admin', 't-two', 'admin');
  await operator('platform.admin', null, 'admin');
  await operator('platform.auditor', null, 'auditor');
}, 60_000);
afterAll(async () => {
  await server?.close();
  await db?.close();
});

/** A concrete request for a route pattern: ids that name nothing (so allowed calls change nothing), schema-invalid bodies on unsafe methods. */
function requestFor(route: { method: string; url: string }, tenantId: string): { path: string; body: unknown } {
  let path = route.url
    .replace(':tenantId', tenantId)
    .replace(':itemId', 'rvw_none')
    .replace(':eventId', 'rev_none')
    .replace(':runId', 'rc_none')
    .replace(':operatorId', 'op_none');
  if (path.endsWith('/funnel')) path += '?from=2026-03-01T00:00:00Z&to=2026-03-18T00:00:00Z';
  const body = ['POST', 'PUT', 'PATCH'].includes(route.method) && !/\/(approval|disable)$/.test(route.url) ? {} : undefined;
  return { path, body };
}

const ROUTES = ADMIN_ROUTES.filter((r) => !(r.method === 'POST' && r.url.endsWith('/session')));
// Signing out ends the session the rest of the walk needs: it goes last.
const ORDERED = [...ROUTES.filter((r) => r.method !== 'DELETE'), ...ROUTES.filter((r) => r.method === 'DELETE')];

describe('RBAC matrix', () => {
  it('lists every console route with its permission', () => {
    expect(ROUTES.length).toBeGreaterThanOrEqual(25);
    for (const r of ROUTES) expect(r.url).toMatch(/^\/admin\/api\/v1\//);
  });

  for (const role of ['operator', 'reviewer', 'auditor', 'admin'] as const) {
    it(`${role}: allowed routes answer, the others are forbidden and audited as refused`, async () => {
      clock.advance(31_000); // a fresh TOTP step for this sign-in
      const c = await signedIn(`one.${role}`);
      const seen: string[] = [];
      for (const route of ORDERED) {
        const { path, body } = requestFor(route, 't-one');
        const r = await c.call(route.method, path, body);
        const allowed = isAllowed(role, route.permission);
        const line = `${role} ${route.method} ${route.url} → ${r.status} ${r.body?.code ?? ''}`;
        seen.push(line);
        if (allowed) {
          expect(r.status, `${line}: ${r.text.slice(0, 300)}`).not.toBe(401);
          expect(r.status, `${line}: ${r.text.slice(0, 300)}`).not.toBe(403);
          expect(r.status, `${line}: ${r.text.slice(0, 300)}`).toBeLessThan(500);
        } else {
          expect([r.status, r.body?.code, r.body?.reason], line).toEqual([403, 'forbidden', 'role']);
        }
      }
      expect(seen).toHaveLength(ORDERED.length);
      const refused = await server.ctx.db
        .selectFrom('audit_log')
        .select(['action'])
        .where('actor_id', '=', await idOf(`one.${role}`))
        .where('outcome', '=', 'refused')
        .where('action', 'like', 'admin.%')
        .execute();
      expect(refused.length).toBe(ORDERED.filter((r) => !isAllowed(role, r.permission)).length);
    });
  }

  it('answers 401 unauthenticated on every route without a session', async () => {
    const c = consoleFor(server.url, 'nobody', clock);
    for (const route of ROUTES) {
      const { path, body } = requestFor(route, 't-one');
      const r = await c.call(route.method, path, body);
      expect([r.status, r.body?.code], `${route.method} ${route.url}`).toEqual([401, 'unauthenticated']);
    }
  });

  it("keeps a tenant's operators to their tenant; platform operators reach every tenant", async () => {
    clock.advance(31_000);
    const two = await signedIn('two.admin');
    expect((await two.call('GET', '/tenants')).body.items.map((t: { id: string }) => t.id)).toEqual(['t-two']);
    for (const route of ROUTES.filter((r) => r.url.includes(':tenantId'))) {
      const { path, body } = requestFor(route, 't-one');
      const r = await two.call(route.method, path, body);
      expect([r.status, r.body?.reason], `${route.method} ${route.url}`).toEqual([403, 'tenant']);
    }
    expect((await two.call('GET', '/tenants/t-two/policy')).status).toBe(200);
    const platform = await signedIn('platform.admin');
    expect((await platform.call('GET', '/tenants')).body.items.map((t: { id: string }) => t.id)).toEqual(['t-one', 't-two']);
    expect((await platform.call('GET', '/tenants/t-one/policy')).status).toBe(200);
    const r = await two.call('POST', '/operators', { tenantId: 't-one', username: 'sneaky.admin', displayName: 'x', role: 'admin', password: PASSWORD });
    expect([r.status, r.body.code]).toEqual([403, 'forbidden']);
  });

  it('refuses an unsafe request whose CSRF header is missing or does not match the cookie, changing nothing', async () => {
    clock.advance(31_000);
    const c = await signedIn('one.admin');
    const before = (await c.call('GET', '/tenants/t-one/settings')).body;
    for (const csrf of [false, 'not-the-token'] as const) {
      const r = await c.call('PATCH', '/tenants/t-one/settings', { fourEyesThresholdFen: 1 }, { csrf });
      expect([r.status, r.body.code, r.body.reason]).toEqual([403, 'forbidden', 'csrf']);
    }
    expect((await c.call('GET', '/tenants/t-one/settings')).body).toEqual(before);
    const ok = await c.call('PATCH', '/tenants/t-one/settings', { fourEyesThresholdFen: 1 });
    expect([ok.status, ok.body.fourEyesThresholdFen]).toEqual([200, '1']);
  });
});

async function idOf(username: string): Promise<string> {
  return (await server.ctx.db.selectFrom('admin_operators' as never).select('id' as never).where('username' as never, '=', username as never).executeTakeFirstOrThrow() as { id: string }).id;
}

describe('sign-in', () => {
  it('sets an HttpOnly SameSite=Strict session cookie and a readable CSRF cookie', async () => {
    clock.advance(31_000);
    const c = consoleFor(server.url, 'one.reviewer', clock);
    const r = await c.call('POST', '/session', { username: 'one.reviewer', password: PASSWORD, totp: totpAt(secrets.get('one.reviewer')!, clock) });
    expect(r.status, r.text).toBe(201);
    const cookies = r.headers.getSetCookie();
    expect(cookies.find((x) => x.startsWith('wecard_admin='))).toMatch(/; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=\d+/);
    expect(cookies.find((x) => x.startsWith('wecard_admin_csrf='))).toMatch(/SameSite=Strict/);
    expect(cookies.find((x) => x.startsWith('wecard_admin_csrf='))).not.toMatch(/HttpOnly/);
    expect(r.body).toMatchObject({ operator: { username: 'one.reviewer', role: 'reviewer', tenantId: 't-one' }, csrfToken: c.cookies.get('wecard_admin_csrf') });
    expect(r.body.permissions).toContain('review.decide');
    expect(r.body.permissions).not.toContain('policy.write');
  });

  it('refuses a wrong password or code with one answer, and a code used once already', async () => {
    clock.advance(31_000);
    const c = consoleFor(server.url, 'one.auditor', clock);
    const secret = secrets.get('one.auditor')!;
    const wrongPw = await c.call('POST', '/session', { username: 'one.auditor', password: 'wrong password!!', totp: totpAt(secret, clock) });
    const code = totpAt(secret, clock);
    const wrongCode = await c.call('POST', '/session', { username: 'one.auditor', password: PASSWORD, totp: code === '000000' ? '111111' : '000000' });
    expect([wrongPw.status, wrongPw.body.code, wrongCode.status, wrongCode.body.code]).toEqual([401, 'unauthenticated', 401, 'unauthenticated']);
    expect(wrongPw.body.detail).toBe(wrongCode.body.detail);
    expect((await c.call('POST', '/session', { username: 'one.auditor', password: PASSWORD, totp: code })).status).toBe(201);
    const replay = await consoleFor(server.url, 'one.auditor', clock).call('POST', '/session', { username: 'one.auditor', password: PASSWORD, totp: code });
    expect([replay.status, replay.body.code]).toEqual([401, 'unauthenticated']);
    const refusals = await server.ctx.db.selectFrom('audit_log').select('detail').where('action', '=', 'admin.login').where('outcome', '=', 'refused').where('actor_id', '=', await idOf('one.auditor')).execute();
    expect(refusals.map((r) => JSON.parse(r.detail!).reason)).toEqual(['bad_password', 'bad_totp', 'totp_replayed']);
  });

  it(`rate-limits sign-in attempts per username through src/risk (${LOGIN_LIMIT_PER_USER} per window)`, async () => {
    clock.set('2026-03-18T05:00:00Z'); // a fresh window
    const c = consoleFor(server.url, 'one.operator', clock);
    for (let i = 0; i < LOGIN_LIMIT_PER_USER; i++) {
      expect((await c.call('POST', '/session', { username: 'one.operator', password: 'nope nope nope', totp: '123456' })).status).toBe(401);
    }
    const limited = await c.call('POST', '/session', { username: 'one.operator', password: PASSWORD, totp: totpAt(secrets.get('one.operator')!, clock) });
    expect([limited.status, limited.body.code]).toEqual([429, 'rate_limited']);
    expect(limited.body.retryAfter).toBeGreaterThan(0);
  });

  it('ends a session after the idle limit and after sign-out', async () => {
    clock.set('2026-03-18T06:00:00Z');
    const c = await signedIn('one.auditor');
    expect((await c.call('GET', '/me')).status).toBe(200);
    clock.advance(SESSION_IDLE_MS - 1_000);
    expect((await c.call('GET', '/me')).status).toBe(200);
    clock.advance(SESSION_IDLE_MS + 1);
    expect((await c.call('GET', '/me')).body.code).toBe('unauthenticated');
    clock.advance(31_000);
    const d = await signedIn('one.auditor');
    const cookie = [...d.cookies];
    expect((await d.call('DELETE', '/session')).status).toBe(204);
    const stale = consoleFor(server.url, 'one.auditor', clock);
    for (const [k, v] of cookie) stale.cookies.set(k, v);
    expect((await stale.call('GET', '/me')).status).toBe(401);
  });
});

describe('risk events', () => {
  it('lists a freeze with filters and SLA, and a reviewer lifts it through the same use case as risk', async () => {
    const now = () => clock.now();
    await inTx(server.ctx.db, (tx) => updatePolicy(tx, 't-one', { freeze: { queriesPerDayAbove: 2, durationMinutes: 60 } }, now()));
    for (let i = 0; i < 3; i++) await inTx(server.ctx.db, (tx) => recordRiskSignal(server.ctx, tx, { tenantId: 't-one', userId: 'usr_risky', kind: 'query', now: now() }));
    expect(await activeFreeze(server.ctx.db, { tenantId: 't-one', userId: 'usr_risky', now: now() })).toBeDefined();

    clock.advance(31_000);
    const reviewer = await signedIn('one.reviewer');
    const listed = await reviewer.call('GET', '/tenants/t-one/risk-events?status=open&subjectKind=user&subjectId=usr_risky');
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.items).toEqual([expect.objectContaining({ subject: { kind: 'user', id: 'usr_risky' }, status: 'open', sla: expect.objectContaining({ overdue: false }) })]);
    expect((await reviewer.call('GET', '/tenants/t-one/risk-events?minScore=101')).body.items).toEqual([]);
    const eventId = listed.body.items[0].id as string;

    const auditor = await signedIn('one.auditor');
    expect((await auditor.call('POST', `/tenants/t-one/risk-events/${eventId}/decision`, { decision: 'unfreeze' })).status).toBe(403);
    const lifted = await reviewer.call('POST', `/tenants/t-one/risk-events/${eventId}/decision`, { decision: 'unfreeze', note: 'customer called' });
    expect(lifted.status, lifted.text).toBe(200);
    expect(lifted.body).toMatchObject({ eventId, decision: 'unfreeze', status: 'reviewed', liftedFreezeId: expect.stringMatching(/^frz_/) });
    expect(await activeFreeze(server.ctx.db, { tenantId: 't-one', userId: 'usr_risky', now: now() })).toBeUndefined();
    const again = await reviewer.call('POST', `/tenants/t-one/risk-events/${eventId}/decision`, { decision: 'keep' });
    expect([again.status, again.body.code]).toEqual([404, 'not_found']);
    const unfreezeAudit = await server.ctx.db.selectFrom('audit_log').select(['actor_id']).where('tenant_id', '=', 't-one').where('action', '=', 'risk.unfreeze').execute();
    expect(unfreezeAudit).toEqual([{ actor_id: await idOf('one.reviewer') }]);
  });
});

describe('unknown tenants', () => {
  it('answers not_found to a platform operator and forbidden to a tenant operator, changing nothing', async () => {
    clock.advance(31_000);
    const platform = await signedIn('platform.admin');
    const r = await platform.call('PATCH', '/tenants/no-such-bank/settings', { fourEyesThresholdFen: 5 });
    expect([r.status, r.body.code]).toEqual([404, 'not_found']);
    const one = await signedIn('one.admin');
    expect((await one.call('GET', '/tenants/no-such-bank/policy')).body.reason).toBe('tenant');
  });
});

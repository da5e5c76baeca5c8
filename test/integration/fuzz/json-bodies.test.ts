// Fuzzes every route of the real app that declares a JSON body schema (found through onRoute, so new routes are fuzzed too), with and without sessions: never a 5xx, 4xx is problem+json with a stable code and changes nothing.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { generateSecret, generateSync } from 'otplib';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModulePlugin } from '../../../src/app/server.ts';
import { modulesFor } from '../../../src/app/modules.ts';
import { ERROR_CODES } from '../../../src/app/errors.ts';
import { createOperator, CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE } from '../../../src/admin/index.ts';
import { generateSandboxCredentials } from '../../../src/sandbox/demo/credentials.ts';
import { inTx } from '../../../src/db/tx.ts';
import { createTenant } from '../../../src/tenants/index.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { testConfig } from '../../helpers/app.ts';
import { openTestDb } from '../../helpers/db.ts';
import { freePort, startServer } from '../../helpers/platform.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { fuzzRuns, fuzzSeed, fuzzTimeoutMs } from '../../unit/fuzz/fuzz.ts';
import { bodyCase, valueFor, type JsonSchema } from './json-arbitraries.ts';
import { differences, errorLogsSince, fingerprint, tablesOf, type Fingerprint } from './fingerprint.ts';

const seed = fuzzSeed('json-bodies');
/** Cases per route (each sent once without and once with the sessions): ~46 routes in the app today. */
const SMOKE_RUNS = 12;
const RUNS = fuzzRuns(SMOKE_RUNS);
const TIMEOUT_MS = fuzzTimeoutMs(RUNS, 150);
/** A citizen-card tenant with a full set of sandbox WeChat credentials (cheaper than the whole demo seed). */
const TENANT = 'fuzz-citizen-card';

interface BodyRoute {
  method: string;
  url: string;
  body: JsonSchema;
  params: JsonSchema | undefined;
}

// ---- The world: the server's own module list with the sandbox, one citizen-card tenant, a cardholder and a console session. ----

const routes: BodyRoute[] = [];
/** Collects every route declaring a body schema, as the app registers it (a new route is fuzzed without editing this file). */
const collectBodyRoutes: ModulePlugin = (app) => {
  app.addHook('onRoute', (r) => {
    const schema = r.schema as { body?: JsonSchema; params?: JsonSchema } | undefined;
    if (!schema?.body) return;
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, body: schema.body, params: schema.params });
  });
};

const clock = new ManualClock('2026-03-18T02:30:00Z');
const db = await openTestDb();
const port = await freePort();
// SMS_PROVIDER_TOKEN switches on SMS banking (the sandbox's inbound texts answer 503 service_paused without it).
const config = { PORT: String(port), SMS_PROVIDER_TOKEN: `fuzz-${randomBytes(16).toString('hex')}` };
registerSensitive(config.SMS_PROVIDER_TOKEN);
const server = await startServer({ modules: [collectBodyRoutes, ...modulesFor(testConfig(config))], dbHandle: db, clock, port, config });
afterAll(async () => {
  await server.close();
  await db.close();
});
const credentials = await generateSandboxCredentials('safe');
registerSensitive(credentials.oa!.token, credentials.oa!.encodingAESKey, credentials.oa!.appSecret, credentials.miniProgram!.appSecret, credentials.wecom!.secret, credentials.wecom!.token, credentials.wecom!.encodingAESKey, credentials.pay!.apiV3Key);
await inTx(server.ctx.db, (tx) => createTenant(tx, server.ctx.crypto, { id: TENANT, name: '模糊市民卡', kind: 'citizen_card', preset: 'citizen-card', credentials, now: clock.now() }));

async function call(method: string, url: string, payload?: unknown, headers: Record<string, string> = {}) {
  return server.app.inject({ method: method as 'POST', url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
}

/** A cardholder signed in through the sandbox's mini-program login, as the H5 app does. */
async function cardholderHeaders(): Promise<{ headers: Record<string, string>; openid: string }> {
  const creds = (await call('GET', `/sandbox/api/tenants/${TENANT}/credentials`)).json();
  const who = (await call('POST', '/sandbox/api/users', { tenantId: TENANT })).json();
  const code = (await call('POST', `/sandbox/api/users/${who.openid}/login-code`, { appId: creds.miniProgram.appId })).json().code;
  const deviceId = `dev_${randomBytes(12).toString('base64url')}`;
  const r = await call('POST', '/api/v1/sessions', { tenantId: TENANT, code }, { 'x-device-id': deviceId });
  if (r.statusCode !== 201) throw new Error(`cardholder sign-in failed: ${r.body}`);
  registerSensitive(r.json().token);
  return { headers: { authorization: `Bearer ${r.json().token}`, 'x-device-id': deviceId }, openid: who.openid };
}

/** A platform admin signed in to the console: session and CSRF cookies, and the CSRF header. */
async function consoleHeaders(): Promise<Record<string, string>> {
  const password = `fuzz-${randomBytes(12).toString('hex')}`;
  const totpSecret = generateSecret();
  registerSensitive(password, totpSecret);
  await createOperator(server.ctx, { tenantId: null, username: 'fuzz.admin', displayName: 'fuzz', role: 'admin', password, totpSecret, createdBy: 'test' });
  const totp = generateSync({ secret: totpSecret, epoch: Math.floor(clock.now().getTime() / 1000) });
  const r = await call('POST', '/admin/api/v1/session', { username: 'fuzz.admin', password, totp });
  if (r.statusCode !== 201) throw new Error(`console sign-in failed: ${r.body}`);
  const cookies = [r.headers['set-cookie']].flat().map((c) => String(c).split(';')[0]!);
  const session = cookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
  const csrf = cookies.find((c) => c.startsWith(`${CSRF_COOKIE}=`))!;
  registerSensitive(session.split('=')[1]!, csrf.split('=')[1]!);
  return { cookie: `${session}; ${csrf}`, [CSRF_HEADER]: csrf.split('=')[1]! };
}

const cardholder = await cardholderHeaders();
/** Every session at once: a route reads the one it knows (bearer + device, or console cookies) and ignores the rest. */
const signedIn: Record<string, string> = { ...cardholder.headers, ...(await consoleHeaders()) };
const tables = await tablesOf(server.ctx.db);

// ---- Path parameters: values the params schema accepts, so the body is what gets validated. ----

const KNOWN_PARAMS: Record<string, string> = { tenantId: TENANT, openid: cardholder.openid };

function encodable(v: string): boolean {
  try {
    encodeURIComponent(v);
    return true;
  } catch {
    return false; // a lone surrogate
  }
}

function pathFor(route: BodyRoute): string {
  const props = route.params?.properties ?? {};
  return route.url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
    const known = KNOWN_PARAMS[name];
    if (known) return encodeURIComponent(known);
    const schema = props[name];
    // A value the schema's pattern allows that names nothing: the handler answers 404 after validating the body.
    const fits = (v: string) => v.length >= Math.max(1, schema?.minLength ?? 0) && v.length <= (schema?.maxLength ?? 80) && encodable(v);
    const candidates = schema?.pattern ? fc.sample(fc.stringMatching(new RegExp(schema.pattern)), { seed, numRuns: 200 }) : [];
    return encodeURIComponent(candidates.find(fits) ?? `fuzz_${name}`);
  });
}

/**
 * The sandbox's simulated core banking system answers in the core contract's own error format
 * (src/core/CONTRACT.md "Errors": `{ code, message }`), as the external system it plays would; it is
 * not wecard's API, so problem+json is not asked of it. Its codes must still be stable strings.
 */
const FOREIGN_WIRE = /^\/sandbox\/core\//;

/**
 * What a refused request may leave behind: nothing, except the operator console's audit entry.
 * Every authenticated console request and every sign-in attempt is audited whatever its outcome
 * (src/admin/routes.ts): exactly one new audit_log row, an `admin.` action that did not succeed.
 */
async function unexpectedChanges(prev: Fingerprint, after: Fingerprint): Promise<string[]> {
  const changed = differences(prev, after);
  if (changed.length === 1 && after.audit_log === prev.audit_log! + 1) {
    const row = await server.ctx.db.selectFrom('audit_log').select(['action', 'outcome']).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
    if (row.action.startsWith('admin.') && row.outcome !== 'ok') return [];
    return [...changed, `(audit row ${row.action} ${row.outcome})`];
  }
  return changed;
}


// ---- The property, once per route. ----

describe('every JSON body route under fuzzing', () => {
  it('finds the routes through onRoute (the sandbox included)', () => {
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.some((r) => r.url.startsWith('/sandbox/'))).toBe(true);
    expect(routes.some((r) => r.url.startsWith('/admin/'))).toBe(true);
    expect(routes.some((r) => r.url.startsWith('/api/v1/'))).toBe(true);
  });

  // Order by what a route can switch for the others: cardholder routes first, then the console (whose
  // emergency switch pauses top-ups: 503 service_paused is that switch doing its job), then the
  // sandbox, and its fault switches last (a simulated core answering 503 on purpose).
  const rank = (r: BodyRoute) => (r.url.includes('/faults') ? 3 : r.url.startsWith('/sandbox/') ? 2 : r.url.startsWith('/admin/') ? 1 : 0);
  const ordered = [...routes].sort((a, b) => rank(a) - rank(b));
  for (const route of ordered) {
    it(
      `${route.method} ${route.url}: never 5xx; a 4xx is problem+json with a stable code and changes nothing`,
      async () => {
        const path = pathFor(route);
        // The parameters must pass, or the body is never looked at.
        const probe = await call(route.method, path, '{}', { 'content-type': 'application/json', ...signedIn });
        const probeErrors = (probe.json() as { errors?: { field: string }[] }).errors ?? [];
        expect(probeErrors.filter((e) => e.field.startsWith('params')), `${path}: ${probe.body}`).toEqual([]);

        let before: Fingerprint = await fingerprint(server.ctx.db, tables);
        const statuses = new Map<number, number>();
        await fc.assert(
          fc.asyncProperty(bodyCase(route.body), fc.boolean(), async (c, withSession) => {
            const headers: Record<string, string> = { ...(c.contentType ? { 'content-type': c.contentType } : {}), ...(withSession ? signedIn : {}) };
            const logsFrom = server.logs.length;
            const res = await call(route.method, path, c.payload, headers);
            const after = await fingerprint(server.ctx.db, tables);
            // Kept before any expectation can throw, so shrinking starts from the truth.
            const prev = before;
            before = after;
            statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
            const what = `${route.method} ${path} (${withSession ? 'signed in' : 'anonymous'}) → ${res.statusCode} ${res.body.slice(0, 300)}`;
            expect(res.statusCode, what).toBeLessThan(500);
            expect(({} as Record<string, unknown>).polluted, 'Object.prototype was polluted').toBeUndefined();
            expect(errorLogsSince(server.logs, logsFrom), what).toEqual([]);
            if (res.statusCode >= 400 && FOREIGN_WIRE.test(route.url)) {
              expect(String(res.headers['content-type']), what).toMatch(/^application\/json/);
              expect((res.json() as { code: unknown }).code, what).toMatch(/^[a-z_]+$/);
              expect(differences(prev, after), `${what}: a refused request changed the database`).toEqual([]);
            } else if (res.statusCode >= 400) {
              expect(String(res.headers['content-type']), what).toMatch(/^application\/problem\+json/);
              const problem = res.json() as { code: string; status: number; type: string };
              expect(Object.keys(ERROR_CODES), what).toContain(problem.code);
              expect(problem.status, what).toBe(res.statusCode);
              expect(problem.type).toBe(`https://wecard.dev/problems/${problem.code}`);
              const changes = await unexpectedChanges(prev, after);
              expect(changes, `${what}: a refused request changed the database (${changes.join(', ')})`).toEqual([]);
            }
          }),
          { seed, numRuns: RUNS },
        );
        process.stdout.write(`[fuzz] ${route.method} ${route.url}: ${[...statuses].sort().map(([s, n]) => `${s}×${n}`).join(' ')}\n`);
      },
      TIMEOUT_MS,
    );
  }

  it('refuses U+0000 in any string of any body with a 4xx, never a database error', async () => {
    // PostgreSQL text cannot hold NUL: a string that reaches a column with one fails the statement.
    const withNul = (v: unknown): unknown =>
      typeof v === 'string' ? `${v}\u0000` : Array.isArray(v) ? v.map(withNul) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withNul(x)])) : v;
    // The fault switches are fuzzed last and may have left the simulated core slow (any delayMs) or
    // down: a slow core holds each request to it for as long, so it is put right first.
    const reset = await call('POST', '/sandbox/api/core/faults', JSON.stringify({ mode: 'none' }), { 'content-type': 'application/json' });
    expect(reset.statusCode, reset.body).toBe(200);
    const failures: string[] = [];
    for (const route of routes.filter((r) => !r.url.includes('/faults'))) {
      const path = pathFor(route);
      for (const body of fc.sample(valueFor(route.body), { seed, numRuns: 3 })) {
        const before = await fingerprint(server.ctx.db, tables);
        const res = await call(route.method, path, JSON.stringify(withNul(body)), { 'content-type': 'application/json', ...signedIn });
        const changes = res.statusCode >= 400 && res.statusCode < 500 ? await unexpectedChanges(before, await fingerprint(server.ctx.db, tables)) : [];
        // 500 is the failed statement; a 503 here can only be a switch an earlier test flipped (top-ups paused).
        if (res.statusCode === 500 || changes.length > 0) failures.push(`${route.method} ${path} → ${res.statusCode} ${changes.join(', ')}`);
      }
    }
    expect(failures).toEqual([]);
    // Three cases per route, but after a sized run the tables it counts have grown.
  }, 120_000);
});

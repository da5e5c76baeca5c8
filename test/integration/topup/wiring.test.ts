// The server's own module list (src/app/modules.ts) in one process with the sandbox, as `npm start` runs it: the top-up routes are mounted and documented as API.md fixes them, and WeChat Pay notifications reach the top-up handlers.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modulesFor } from '../../../src/app/modules.ts';
import { demoCardholders, seedDemo, type DemoSummary } from '../../../src/sandbox/demo/index.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { testConfig } from '../../helpers/app.ts';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { freePort, startServer, type RunningServer } from '../../helpers/platform.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { testDemoCredentials } from '../../helpers/demo-credentials.ts';

for (const h of demoCardholders()) registerSensitive(h.name, h.idNumber, h.phone, ...h.cardNumbers);

const TENANT = 'hz-citizen-card';
let db: TestDb;
let server: RunningServer;
let demo: DemoSummary;
const clock = new ManualClock('2026-03-18T02:30:00Z');

async function call(method: string, path: string, o: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(o.body === undefined ? {} : { 'content-type': 'application/json' }), ...(o.headers ?? {}) },
    ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  db = await openTestDb();
  const port = await freePort();
  server = await startServer({ modules: modulesFor(testConfig({ PORT: String(port) })), dbHandle: db, clock, port });
  await seedDemo(server.ctx, { credentials: testDemoCredentials });
  demo = (await call('GET', '/sandbox/api/demo')).body;
}, 120_000);
afterAll(async () => {
  await server?.close();
  await db?.close();
});

describe('top-ups in the server’s module list', () => {
  it('documents /api/v1/topups and /api/v1/trusted-contacts with API.md’s fields', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    const props = (schema: any) => Object.keys(schema?.properties ?? {});
    expect(doc.paths['/api/v1/topups'], 'src/app/modules.ts mounts topupRoutes()').toBeDefined();
    const create = doc.paths['/api/v1/topups'].post;
    expect(props(create.requestBody.content['application/json'].schema)).toEqual(expect.arrayContaining(['citizenCardNumber', 'amount', 'method', 'onBehalfOf']));
    expect(props(create.responses['201'].content['application/json'].schema)).toEqual(expect.arrayContaining(['orderId', 'status', 'payParams', 'expectedArrival']));
    const one = doc.paths['/api/v1/topups/{orderId}'].get;
    expect(props(one.responses['200'].content['application/json'].schema)).toEqual(expect.arrayContaining(['orderId', 'status', 'amount', 'fee', 'method', 'paidAt', 'creditedAt', 'expectedArrival', 'history']));
    expect(doc.paths['/api/v1/trusted-contacts'].get).toBeDefined();
    expect(doc.paths['/api/v1/trusted-contacts'].post).toBeDefined();
  });

  it('takes a top-up from order to the card through the sandbox cashier and the Pay notification route', async () => {
    const h = demo.cardholders.find((x) => x.tenantId === TENANT && x.name === '徐静')!;
    const creds = (await call('GET', `/sandbox/api/tenants/${TENANT}/credentials`)).body;
    const who = (await call('POST', '/sandbox/api/users', { body: { tenantId: TENANT } })).body;
    const code = (await call('POST', `/sandbox/api/users/${who.openid}/login-code`, { body: { appId: creds.miniProgram.appId } })).body.code;
    const deviceId = `dev_${randomBytes(12).toString('base64url')}`;
    const session = await call('POST', '/api/v1/sessions', { body: { tenantId: TENANT, code }, headers: { 'x-device-id': deviceId } });
    expect(session.status, JSON.stringify(session.body)).toBe(201);
    registerSensitive(session.body.token);
    const auth = { authorization: `Bearer ${session.body.token}`, 'x-device-id': deviceId };
    const card = h.cards[0]!.number;
    const start = await call('POST', '/api/v1/bindings', { headers: auth, body: { cardNumber: card, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone } });
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    const sms = (await call('GET', `/sandbox/api/sms?phone=${encodeURIComponent(h.phone)}`)).body;
    const bound = await call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { headers: auth, body: { otp: sms[0].code, paymentPassword: h.paymentPassword } });
    expect(bound.status, JSON.stringify(bound.body)).toBe(201);

    expect(await call('GET', '/api/v1/trusted-contacts', { headers: auth })).toMatchObject({ status: 200, body: { items: [], nextCursor: null } });

    const order = await call('POST', '/api/v1/topups', { headers: { ...auth, 'idempotency-key': `wiring-${randomBytes(4).toString('hex')}` }, body: { citizenCardNumber: card, amount: 10_000, method: 'wechat_balance' } });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    expect(order.body).toMatchObject({ status: 'created', amount: 10_000, currency: 'CNY' });
    const prepayId = order.body.payParams.package.replace(/^prepay_id=/, '');
    // payNotifications(topupPaymentHandlers()) in the module list: the notification credits the card.
    const paid = await call('POST', `/sandbox/api/pay/orders/${prepayId}/pay`, { body: {} });
    expect(paid.body.notification.delivered, JSON.stringify(paid.body)).toBe(true);
    const view = await call('GET', `/api/v1/topups/${order.body.orderId}`, { headers: auth });
    expect(view.body).toMatchObject({ orderId: order.body.orderId, status: 'completed', amount: 10_000 });
    expect(view.body.history.map((x: { event: string }) => x.event)).toContain('credited');
  });
});

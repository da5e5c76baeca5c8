// WeCom unreachable: the user gets an emergency service id; an agent sees the bill only after a second verification (card last 4 or the app's one-time code); wrong answers lock it; it expires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coreCardIdOf, startWorld, type Session, type World } from './world.ts';
import { freePort } from '../../helpers/platform.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { EMERGENCY_TTL_MS, funnelReport } from '../../../src/contact/index.ts';
import type { CoreTransaction } from '../../../src/core/index.ts';

let w: World;
let s: Session;
let card: { cardId: string; last4: string; maskedNumber: string };
let txs: CoreTransaction[];
const tenantId = 'abc-demo';
const SERVICE_ID = /^CS-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/;

beforeAll(async () => {
  // Nothing listens there: every WeCom call fails to connect.
  const dead = await freePort();
  w = await startWorld({ config: { WECOM_API_BASE: `http://127.0.0.1:${dead}/cgi-bin-down` } });
  s = await w.signIn(tenantId);
  const h = w.holder(tenantId, '张伟明');
  card = await w.bind(s, h);
  txs = await w.statement(s, card, await coreCardIdOf(w, tenantId, h.cards[0]!.number));
}, 180_000);
afterAll(async () => {
  await w?.close();
});

const verify = (serviceId: string, body: unknown, tenant = tenantId) => w.call('POST', `/api/v1/cs/emergencies/${encodeURIComponent(serviceId)}/verify`, { token: w.agentTokens.get(tenant), body });
const wrongLast4 = () => (card.last4 === '0000' ? '1111' : '0000');

describe('with WeCom unreachable', () => {
  let contactId: string;
  let serviceId: string;

  it('answers an emergency service id to quote instead of a QR code, valid 72 hours', async () => {
    const now = w.clock.now();
    const r = await w.call('POST', `/api/v1/bills/${await w.refOf(s, card.cardId, txs[0]!)}/contact`, { session: s, body: { consent: true } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({
      status: 'emergency',
      qrCodeUrl: null,
      queue: null,
      expiresAt: new Date(now.getTime() + EMERGENCY_TTL_MS).toISOString(),
      emergency: { serviceId: expect.stringMatching(SERVICE_ID), verification: ['card_last4', 'user_code'] },
    });
    contactId = r.body.contactId;
    serviceId = r.body.emergency.serviceId;
    const row = await w.server.ctx.db.selectFrom('contact_requests').selectAll().where('id', '=', contactId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'emergency', state: null, snapshot: null, config_id: null, emergency_id: serviceId });
    expect((await w.call('GET', `/api/v1/contacts/${contactId}`, { session: s })).body).toMatchObject({ status: 'emergency', emergency: { serviceId } });
    const report = await funnelReport(w.server.ctx.db, { tenantId, from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-04-01T00:00:00Z'), segment: 'all' });
    expect(report.steps.map((x) => x.count)).toEqual([1, 1, 0, 0, 0]);
    expect(w.server.logs.some((l) => l.includes('issuing an emergency service id'))).toBe(true);
  });

  it('shows the agent nothing for the id alone or a wrong last 4, and counts the attempts', async () => {
    const wrong = await verify(serviceId, { method: 'card_last4', answer: wrongLast4() });
    expect(wrong.status).toBe(422);
    expect(wrong.body).toMatchObject({ code: 'otp_invalid', attemptsLeft: 4 });
    expect(JSON.stringify(wrong.body)).not.toContain(txs[0]!.id);
    expect((await verify('CS-2222-2222', { method: 'card_last4', answer: card.last4 })).status).toBe(404);
    expect((await verify(serviceId, { method: 'card_last4', answer: card.last4 }, 'realtime-bank')).status).toBe(404);
    expect((await w.call('POST', `/api/v1/cs/emergencies/${serviceId}/verify`, { body: { method: 'card_last4', answer: card.last4 } })).status).toBe(401);
  });

  it('resolves the id with the last 4 digits of the bill’s card, however the agent types the id', async () => {
    const t = txs[0]!;
    const r = await verify(serviceId.toLowerCase().replaceAll('-', ' '), { method: 'card_last4', answer: card.last4 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ serviceId, bill: { kind: 'transaction', orderNumber: t.id, amount: Number(t.amountFen < 0n ? -t.amountFen : t.amountFen), maskedCard: card.maskedNumber } });
    const audit = await w.server.ctx.db.selectFrom('audit_log').select(['action', 'outcome']).where('tenant_id', '=', tenantId).where('action', 'like', 'cs.emergency.%').orderBy('seq').execute();
    expect(audit).toEqual([
      { action: 'cs.emergency.refused', outcome: 'refused' },
      { action: 'cs.emergency.resolved', outcome: 'ok' },
    ]);
  });

  it('resolves it with the one-time code the user’s own app shows, once', async () => {
    const code = await w.call('POST', `/api/v1/contacts/${contactId}/verification-code`, { session: s });
    expect(code.status).toBe(201);
    expect(code.body).toMatchObject({ serviceId, code: expect.stringMatching(/^\d{6}$/) });
    registerSensitive(code.body.code);
    const other = await w.signIn(tenantId);
    expect((await w.call('POST', `/api/v1/contacts/${contactId}/verification-code`, { session: other })).status).toBe(403);
    const wrong = code.body.code === '000000' ? '000001' : '000000';
    expect((await verify(serviceId, { method: 'user_code', answer: wrong })).body).toMatchObject({ code: 'otp_invalid', attemptsLeft: 3 });
    expect((await verify(serviceId, { method: 'user_code', answer: code.body.code })).status).toBe(200);
    expect((await verify(serviceId, { method: 'user_code', answer: code.body.code })).body).toMatchObject({ code: 'otp_invalid', attemptsLeft: 2 });
  });

  it('locks the id for good after five wrong answers', async () => {
    expect((await verify(serviceId, { method: 'card_last4', answer: wrongLast4() })).body).toMatchObject({ attemptsLeft: 1 });
    const locked = await verify(serviceId, { method: 'card_last4', answer: wrongLast4() });
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ code: 'otp_locked', retryAfter: expect.any(Number) });
    expect((await verify(serviceId, { method: 'card_last4', answer: card.last4 })).body.code).toBe('otp_locked');
    expect((await w.call('POST', `/api/v1/contacts/${contactId}/verification-code`, { session: s })).body.code).toBe('otp_locked');
  });

  it('is gone after 72 hours, with its bill snapshot', async () => {
    const r = await w.call('POST', `/api/v1/bills/${await w.refOf(s, card.cardId, txs[1]!)}/contact`, { session: s, body: { consent: true } });
    const id = r.body.emergency.serviceId;
    w.clock.advance(EMERGENCY_TTL_MS);
    await w.runJobs();
    expect((await verify(id, { method: 'card_last4', answer: card.last4 })).status).toBe(404);
    expect(await w.server.ctx.db.selectFrom('contact_emergencies').select('service_id').where('service_id', '=', id).executeTakeFirst()).toBeUndefined();
    const row = await w.server.ctx.db.selectFrom('contact_requests').select(['snapshot', 'expires_at']).where('id', '=', r.body.contactId).executeTakeFirstOrThrow();
    expect(row.snapshot).toBeNull();
    expect(row.expires_at.getTime()).toBeLessThanOrEqual(w.clock.now().getTime());
  });
});

// Bill → customer service through the sandbox: bill, consent and contact, the signed encrypted add event, remark and welcome, replays, the agent's 72-hour context, first message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { coreCardIdOf, startWorld, type Session, type World } from './world.ts';
import { hasConsent } from '../../../src/audit/index.ts';
import { recentWecomEvents } from '../../../src/wechat/wecom/index.ts';
import { funnelReport, CONTEXT_TTL_MS, QR_TTL_MS } from '../../../src/contact/index.ts';
import type { CoreTransaction } from '../../../src/core/index.ts';

let w: World;
let s: Session;
let card: { cardId: string; last4: string; maskedNumber: string };
let txs: CoreTransaction[];
let ref: string;

const tenantId = 'abc-demo';
const yuan = (fen: bigint) => `¥${(Number(fen < 0n ? -fen : fen) / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

beforeAll(async () => {
  w = await startWorld();
  s = await w.signIn(tenantId);
  const h = w.holder(tenantId, '张伟明');
  card = await w.bind(s, h);
  txs = await w.statement(s, card, await coreCardIdOf(w, tenantId, h.cards[0]!.number));
  expect(txs.length).toBeGreaterThan(5);
  ref = await w.refOf(s, card.cardId, txs[0]!);
}, 180_000);
afterAll(async () => {
  await w?.close();
});

async function count(table: 'contact_requests' | 'contact_contexts' | 'contact_journeys', where: { userId?: string } = {}): Promise<number> {
  const q = w.server.ctx.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', tenantId);
  const r = await (where.userId ? q.where('user_id', '=', where.userId) : q).executeTakeFirstOrThrow();
  return Number(r.n);
}

describe('a bill', () => {
  it('answers the caller’s own card transaction by an opaque ref', async () => {
    const t = txs[0]!;
    expect(ref).toMatch(/^bill_[0-9a-z]{26}$/);
    expect(ref).not.toContain(t.id);
    const r = await w.call('GET', `/api/v1/bills/${ref}`, { session: s });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({
      billRef: ref,
      kind: 'transaction',
      orderNumber: t.id,
      amount: Number(t.amountFen < 0n ? -t.amountFen : t.amountFen),
      currency: 'CNY',
      direction: t.direction,
      status: t.state,
      occurredAt: t.bookedAt.toISOString(),
      title: t.description,
      counterparty: t.counterparty,
      card: { cardId: card.cardId, maskedNumber: card.maskedNumber, last4: card.last4, kind: 'debit' },
    });
  });

  it('answers not_found for a ref this server did not issue, and unauthenticated without a session', async () => {
    const forged = `${ref.slice(0, -3)}${ref.endsWith('aaa') ? 'bbb' : 'aaa'}`;
    expect((await w.call('GET', `/api/v1/bills/${forged}`, { session: s })).body.code).toBe('not_found');
    expect((await w.call('GET', '/api/v1/bills/12345', { session: s })).body.code).toBe('not_found');
    expect((await w.call('GET', `/api/v1/bills/${ref}`)).status).toBe(401);
  });
});

describe('contacting customer service from the bill', () => {
  let contactId: string;
  let configId: string;
  let externalUserId: string;
  let state: string;

  it('refuses without explicit consent, and records nothing', async () => {
    const before = await count('contact_requests');
    for (const body of [{}, { consent: false }, { consent: 'yes' }]) {
      const r = await w.call('POST', `/api/v1/bills/${ref}/contact`, { session: s, body });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('validation_failed');
    }
    expect(await count('contact_requests')).toBe(before);
    expect(await hasConsent(w.server.ctx.db, { tenantId, userId: s.userId, purpose: 'bill_sharing_cs' })).toBe(false);
  });

  it('records the consent, routes an agent and answers the QR code, the masked agent, a watermark and the 30-minute expiry', async () => {
    const now = w.clock.now();
    const r = await w.call('POST', `/api/v1/bills/${ref}/contact`, { session: s, body: { consent: true } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    contactId = r.body.contactId;
    expect(r.body).toMatchObject({
      contactId: expect.stringMatching(/^ctc_/),
      status: 'ready',
      qrCodeUrl: expect.stringMatching(new RegExp(`^${w.platform.sandbox.url}/sandbox/wecom/qr/[0-9a-f]{32}$`)),
      maskedAgent: { name: expect.stringMatching(/^.\*$/), id: expect.stringMatching(/^[A-Za-z]{2}\*+[a-z]{2}$/), title: expect.any(String) },
      expiresAt: new Date(now.getTime() + QR_TTL_MS).toISOString(),
      queue: null,
      emergency: null,
    });
    expect(r.body.watermark).toBe(`usr_****${s.userId.slice(-4)} 2026-03-18 ${new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(11, 19)} 仅限客服核对`);
    expect(await hasConsent(w.server.ctx.db, { tenantId, userId: s.userId, purpose: 'bill_sharing_cs', noticeVersion: '2026-01' })).toBe(true);
    configId = r.body.qrCodeUrl.split('/').pop();
  });

  it('answers the same request when the user taps again while the QR code lives', async () => {
    const r = await w.call('POST', `/api/v1/bills/${ref}/contact`, { session: s, body: { consent: true } });
    expect(r.status).toBe(200);
    expect(r.body.contactId).toBe(contactId);
    expect((await w.call('GET', `/api/v1/contacts/${contactId}`, { session: s })).body).toMatchObject({ contactId, status: 'ready' });
  });

  it('creates the contact way with a short random state of letters only: no personal data', async () => {
    const ways = (await w.sandboxCall('GET', `/sandbox/api/wecom/contact-ways?tenantId=${tenantId}`)).body.items;
    const way = ways.find((x: any) => x.configId === configId);
    state = way.state;
    expect(state).toMatch(/^[a-z]{20}$/);
    expect(way).toMatchObject({ userIds: [expect.any(String)], remark: '账单客服', deleted: false });
    for (const personal of [s.userId, card.last4, txs[0]!.id, card.cardId]) expect(state).not.toContain(personal);
  });

  it('on the scan, WeCom’s signed encrypted event (sent three times) opens one context: remark with the order number and amount, welcome with the summary, contact way deleted', async () => {
    const t = txs[0]!;
    const scan = await w.sandboxCall('POST', `/sandbox/api/wecom/contact-ways/${configId}/scan`, { externalUserName: '测试客户乙', repeat: 3 });
    expect(scan.status, JSON.stringify(scan.body)).toBe(200);
    expect(scan.body.delivery).toEqual({ delivered: true, status: 200 });
    externalUserId = scan.body.externalUserId;
    expect(await count('contact_contexts')).toBe(1);
    await w.runJobs();
    const contact = (await w.sandboxCall('GET', `/sandbox/api/wecom/contacts?tenantId=${tenantId}`)).body.items.find((c: any) => c.externalUserId === externalUserId);
    const amount = `${t.direction === 'debit' ? '-' : ''}${yuan(t.amountFen)}`;
    expect(contact.remark).toContain(amount);
    expect(t.id.endsWith(contact.remark.split(' ')[0].replace('…', ''))).toBe(true);
    expect([...contact.remark].length).toBeLessThanOrEqual(20);
    expect(contact.description).toContain(`订单号 ${t.id}`);
    expect(contact.description).toContain(`金额 ${amount}`);
    expect(contact.description).toContain(`尾号${card.last4}`);
    expect(contact.welcomeMessages).toHaveLength(1);
    const welcome: string = contact.welcomeMessages[0].content;
    expect(welcome).toContain(`订单号：${t.id}`);
    expect(welcome).toContain(`金额：${amount}`);
    expect(welcome).toContain(`卡号：尾号${card.last4}`);
    expect(welcome).not.toContain(card.maskedNumber.slice(0, 6));
    const ways = (await w.sandboxCall('GET', `/sandbox/api/wecom/contact-ways?tenantId=${tenantId}`)).body.items;
    expect(ways.find((x: any) => x.configId === configId).deleted).toBe(true);
    expect((await w.call('GET', `/api/v1/contacts/${contactId}`, { session: s })).body).toMatchObject({ status: 'added', qrCodeUrl: null });
  });

  it('changes nothing when the same event is replayed later, nor when a second customer arrives with the used state', async () => {
    const [event] = await recentWecomEvents(w.server.ctx.db, tenantId, 1);
    const corpId = await w.wecomCorpId(tenantId);
    const xml = (ext: string, welcome: string) =>
      `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>${Math.floor(event!.create_time.getTime() / 1000)}</CreateTime>` +
      '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType>' +
      `<UserID><![CDATA[${event!.user_id}]]></UserID><ExternalUserID><![CDATA[${ext}]]></ExternalUserID><State><![CDATA[${state}]]></State><WelcomeCode><![CDATA[${welcome}]]></WelcomeCode></xml>`;
    const jobsBefore = await sql<{ n: string }>`select count(*)::text as n from outbox where topic like 'contact.%'`.execute(w.server.ctx.db);
    const replay = await w.postWecomEvent(tenantId, xml(externalUserId, event!.welcome_code!));
    expect(replay.status).toBe(200);
    expect(replay.body).toBe('success');
    const stranger = await w.postWecomEvent(tenantId, xml('wmStrangerWhoGotTheQrCode0000000', 'WELCOMECODEOFTHESTRANGER'));
    expect(stranger.status).toBe(200);
    await w.runJobs();
    expect(await count('contact_contexts')).toBe(1);
    const jobsAfter = await sql<{ n: string }>`select count(*)::text as n from outbox where topic like 'contact.%'`.execute(w.server.ctx.db);
    expect(jobsAfter.rows[0]!.n).toBe(jobsBefore.rows[0]!.n);
    const contact = (await w.sandboxCall('GET', `/sandbox/api/wecom/contacts?tenantId=${tenantId}`)).body.items.find((c: any) => c.externalUserId === externalUserId);
    expect(contact.welcomeMessages).toHaveLength(1);
    expect(w.server.logs.some((l) => l.includes('repeated WeCom callback ignored'))).toBe(true);
  });

  it('lets an agent with the tenant token look the customer up: the masked bill summary, audited', async () => {
    const t = txs[0]!;
    const r = await w.call('GET', `/api/v1/cs/contexts/${externalUserId}`, { token: w.agentTokens.get(tenantId) });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.items).toHaveLength(1);
    expect(r.body.items[0]).toMatchObject({
      contactId,
      firstMessageAt: null,
      expiresAt: new Date(new Date(r.body.items[0].openedAt).getTime() + CONTEXT_TTL_MS).toISOString(),
      bill: { kind: 'transaction', orderNumber: t.id, amount: Number(t.amountFen < 0n ? -t.amountFen : t.amountFen), maskedCard: card.maskedNumber, direction: t.direction },
    });
    expect(JSON.stringify(r.body)).not.toContain(s.userId);
    const audit = await w.server.ctx.db.selectFrom('audit_log').select(['action', 'actor_kind']).where('tenant_id', '=', tenantId).where('action', '=', 'cs.context.read').execute();
    expect(audit).toEqual([{ action: 'cs.context.read', actor_kind: 'operator' }]);
  });

  it('refuses the agent API without a token, with a session token, and across tenants', async () => {
    expect((await w.call('GET', `/api/v1/cs/contexts/${externalUserId}`)).status).toBe(401);
    expect((await w.call('GET', `/api/v1/cs/contexts/${externalUserId}`, { token: s.token })).status).toBe(401);
    expect((await w.call('GET', `/api/v1/cs/contexts/${externalUserId}`, { token: w.agentTokens.get('realtime-bank') })).status).toBe(404);
    expect((await w.call('GET', '/api/v1/cs/contexts/wmNobody', { token: w.agentTokens.get(tenantId) })).status).toBe(404);
  });

  it('marks the first message once, and the funnel shows the whole way', async () => {
    const token = w.agentTokens.get(tenantId);
    expect((await w.call('POST', `/api/v1/cs/contexts/${externalUserId}/first-message`, { token })).body).toEqual({ marked: 1 });
    expect((await w.call('POST', `/api/v1/cs/contexts/${externalUserId}/first-message`, { token })).body).toEqual({ marked: 0 });
    const report = await funnelReport(w.server.ctx.db, { tenantId, from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-04-01T00:00:00Z'), segment: 'all' });
    expect(report.steps.map((x) => x.count)).toEqual([1, 1, 1, 1, 1]);
    const admin = await w.call('GET', `/admin/api/v1/funnel?tenantId=${tenantId}&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z`, { headers: { 'x-test-operator': tenantId } });
    expect(admin.status, JSON.stringify(admin.body)).toBe(200);
    expect(admin.body.steps.map((x: any) => x.count)).toEqual([1, 1, 1, 1, 1]);
    expect((await w.call('GET', `/admin/api/v1/funnel?tenantId=${tenantId}&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z`)).status).toBe(401);
    expect((await w.call('GET', `/admin/api/v1/funnel?tenantId=${tenantId}&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z`, { headers: { 'x-test-operator': 'realtime-bank' } })).status).toBe(403);
  });

  it('closes the context after 72 hours: the agent finds nothing, the snapshot and the customer id are gone', async () => {
    w.clock.advance(CONTEXT_TTL_MS - 60_000);
    await w.runJobs();
    expect((await w.call('GET', `/api/v1/cs/contexts/${externalUserId}`, { token: w.agentTokens.get(tenantId) })).status).toBe(200);
    w.clock.advance(60_000);
    expect((await w.call('GET', `/api/v1/cs/contexts/${externalUserId}`, { token: w.agentTokens.get(tenantId) })).status).toBe(404);
    await w.runJobs();
    expect(await count('contact_contexts')).toBe(0);
    const row = await w.server.ctx.db.selectFrom('contact_requests').selectAll().where('id', '=', contactId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'added', state: null, snapshot: null, external_user_id: null });
  });
});

describe('privacy in the logs', () => {
  it('never logs the state token, the customer’s WeCom id or the order number in clear', () => {
    const lines = w.server.logs.join('\n');
    expect(lines).not.toContain(txs[0]!.id);
    const states = w.server.logs.filter((l) => /"state":"[a-z]{20}"/.test(l));
    expect(states).toEqual([]);
  });
});

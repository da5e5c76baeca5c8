// Contact lifecycle: another user's bill, the 30-minute purge of an unused QR code, the human queue (closed, busy), limits, an unbound card.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coreCardIdOf, startWorld, type Session, type World } from './world.ts';
import { configureContactAgents, setContactSettings, DEFAULT_SCHEDULE, QR_TTL_MS } from '../../../src/contact/index.ts';
import type { CoreTransaction } from '../../../src/core/index.ts';

let w: World;
let a: Session;
let b: Session;
let aCard: { cardId: string; last4: string; maskedNumber: string };
let aTxs: CoreTransaction[];
const tenantId = 'abc-demo';

beforeAll(async () => {
  w = await startWorld();
  a = await w.signIn(tenantId);
  b = await w.signIn(tenantId);
  const zhang = w.holder(tenantId, '张伟明');
  aCard = await w.bind(a, zhang);
  await w.bind(b, w.holder(tenantId, '陈家豪'));
  aTxs = await w.statement(a, aCard, await coreCardIdOf(w, tenantId, zhang.cards[0]!.number));
}, 180_000);
afterAll(async () => {
  await w?.close();
});

const contact = (s: Session, ref: string, body: unknown = { consent: true }) => w.call('POST', `/api/v1/bills/${ref}/contact`, { session: s, body });
const ways = async (t = tenantId) => (await w.sandboxCall('GET', `/sandbox/api/wecom/contact-ways?tenantId=${t}`)).body.items as any[];

async function rowsOf(table: 'contact_requests' | 'contact_journeys', userId: string): Promise<number> {
  const r = await w.server.ctx.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
  return Number(r.n);
}

describe("another user's bill", () => {
  it('answers forbidden to the bill and to contact, and creates nothing: no request, journey, consent or contact way', async () => {
    const ref = await w.refOf(a, aCard.cardId, aTxs[0]!);
    const waysBefore = (await ways()).length;
    const read = await w.call('GET', `/api/v1/bills/${ref}`, { session: b });
    expect(read.status).toBe(403);
    expect(read.body.code).toBe('forbidden');
    const tap = await contact(b, ref);
    expect(tap.status).toBe(403);
    expect(tap.body.code).toBe('forbidden');
    expect(JSON.stringify(read.body) + JSON.stringify(tap.body)).not.toContain(aTxs[0]!.id);
    expect(await rowsOf('contact_requests', b.userId)).toBe(0);
    expect(await rowsOf('contact_journeys', b.userId)).toBe(0);
    const consents = await w.server.ctx.db.selectFrom('consents').select('id').where('user_id', '=', b.userId).execute();
    expect(consents).toEqual([]);
    expect((await ways()).length).toBe(waysBefore);
  });

  it('answers not_found at another institution, and for a ref made up for a card the caller does not hold', async () => {
    const ref = await w.refOf(a, aCard.cardId, aTxs[0]!);
    const elsewhere = await w.signIn('realtime-bank');
    expect((await w.call('GET', `/api/v1/bills/${ref}`, { session: elsewhere })).body.code).toBe('not_found');
    // B's own ref naming A's card: the binding check refuses it.
    const forged = await w.refOf(b, aCard.cardId, aTxs[0]!);
    expect((await w.call('GET', `/api/v1/bills/${forged}`, { session: b })).body.code).toBe('forbidden');
    expect(await rowsOf('contact_requests', b.userId)).toBe(0);
  });
});

describe('an unused QR code', () => {
  it('keeps its state and contact way for 30 minutes, then both are gone and the bill snapshot with them', async () => {
    const ref = await w.refOf(a, aCard.cardId, aTxs[1]!);
    const r = await contact(a, ref);
    expect(r.body.status).toBe('ready');
    const configId = r.body.qrCodeUrl.split('/').pop();
    const way = (await ways()).find((x) => x.configId === configId);
    const state = way.state as string;
    expect(await w.server.ctx.db.selectFrom('contact_requests').select('id').where('state', '=', state).executeTakeFirst()).toEqual({ id: r.body.contactId });

    w.clock.advance(QR_TTL_MS - 1_000);
    await w.runJobs();
    expect((await w.call('GET', `/api/v1/contacts/${r.body.contactId}`, { session: a })).body.status).toBe('ready');
    expect((await ways()).find((x) => x.configId === configId).deleted).toBe(false);

    w.clock.advance(1_000);
    await w.runJobs();
    const row = await w.server.ctx.db.selectFrom('contact_requests').selectAll().where('id', '=', r.body.contactId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'expired', state: null, snapshot: null, watermark: null });
    expect(row.way_deleted_at).not.toBeNull();
    expect(await w.server.ctx.db.selectFrom('contact_requests').select('id').where('state', '=', state).executeTakeFirst()).toBeUndefined();
    expect((await ways()).find((x) => x.configId === configId).deleted).toBe(true);
    expect((await w.sandboxCall('POST', `/sandbox/api/wecom/contact-ways/${configId}/scan`, {})).status).toBe(409);
    expect((await w.call('GET', `/api/v1/contacts/${r.body.contactId}`, { session: a })).body).toMatchObject({ status: 'expired', qrCodeUrl: null, watermark: null });
  });

  it('ignores an add that still arrives with the purged state', async () => {
    const [stale] = await w.server.ctx.db.selectFrom('contact_requests').select(['id', 'agent_user_id']).where('status', '=', 'expired').execute();
    const corpId = await w.wecomCorpId(tenantId);
    const contexts = async () => Number((await w.server.ctx.db.selectFrom('contact_contexts').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    const before = await contexts();
    const xml =
      `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>${Math.floor(w.clock.now().getTime() / 1000)}</CreateTime>` +
      '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType>' +
      `<UserID><![CDATA[${stale!.agent_user_id}]]></UserID><ExternalUserID><![CDATA[wmLateCustomer000000000000000000]]></ExternalUserID><State><![CDATA[abcdefghijklmnopqrst]]></State><WelcomeCode><![CDATA[LATECODE]]></WelcomeCode></xml>`;
    expect((await w.postWecomEvent(tenantId, xml)).status).toBe(200);
    expect(await contexts()).toBe(before);
  });

  it('lets the user tap again for a fresh QR code and state', async () => {
    const ref = await w.refOf(a, aCard.cardId, aTxs[1]!);
    const r = await contact(a, ref);
    expect(r.status).toBe(201);
    expect(r.body.status).toBe('ready');
  });
});

describe('two taps at once', () => {
  it('make one request and one contact way; both answers name it', async () => {
    const ref = await w.refOf(a, aCard.cardId, aTxs[8]!);
    const before = (await ways()).length;
    const [x, y] = await Promise.all([contact(a, ref), contact(a, ref)]);
    expect([x.status, y.status].sort()).toEqual([200, 201]);
    expect(x.body.contactId).toBe(y.body.contactId);
    for (const r of [x, y]) expect(['ready', 'preparing']).toContain(r.body.status);
    expect((await ways()).length).toBe(before + 1);
    expect((await w.call('GET', `/api/v1/contacts/${x.body.contactId}`, { session: a })).body.status).toBe('ready');
  });
});

describe('the human queue', () => {
  it('queues outside business hours with the wait until the opening, and hands out the QR code once open', async () => {
    // 14:30 in Shanghai now; open only from 20:00.
    const evening = { weekly: Array.from({ length: 7 }, () => [['20:00', '22:00']] as [string, string][]), closedDates: [] };
    await setContactSettings(w.server.ctx, tenantId, { schedule: evening, avgHandleMinutes: 10 });
    const now = w.clock.now();
    const r = await contact(a, await w.refOf(a, aCard.cardId, aTxs[2]!));
    expect(r.status).toBe(201);
    const opensAt = new Date(Math.floor((now.getTime() + 8 * 3_600_000) / 86_400_000) * 86_400_000 - 8 * 3_600_000 + 20 * 3_600_000);
    const untilOpen = Math.ceil((opensAt.getTime() - now.getTime()) / 60_000);
    expect(r.body).toMatchObject({
      status: 'queued',
      qrCodeUrl: null,
      maskedAgent: null,
      queue: { position: 1, opensAt: opensAt.toISOString(), expectedWaitMinutes: untilOpen + 10 },
    });
    await setContactSettings(w.server.ctx, tenantId, { schedule: DEFAULT_SCHEDULE });
    const polled = await w.call('GET', `/api/v1/contacts/${r.body.contactId}`, { session: a });
    expect(polled.body).toMatchObject({ contactId: r.body.contactId, status: 'ready', queue: null });
    expect(polled.body.qrCodeUrl).toMatch(/\/sandbox\/wecom\/qr\/[0-9a-f]{32}$/);
  });

  it('queues when every agent is at capacity, and the head of the queue goes first when a place frees', async () => {
    const t = 'realtime-bank';
    const h = w.holder(t, '李晓红');
    const c = await w.signIn(t);
    const d = await w.signIn(t);
    const cCard = await w.bind(c, h);
    await w.bind(d, w.holder(t, '赵志强'));
    const dTxs = await w.statement(d, { cardId: '' }, await coreCardIdOf(w, t, w.holder(t, '赵志强').cards[0]!.number));
    const dCard = (await w.call('GET', '/api/v1/cards', { session: d })).body.items.find((x: any) => x.kind === 'debit');
    const cTxs = await w.statement(c, cCard, await coreCardIdOf(w, t, h.cards[0]!.number));
    await configureContactAgents(w.server.ctx, t, [{ userId: 'LiQiang', displayName: '李强', title: '客服专员', capacity: 1 }]);
    const first = await contact(c, await w.refOf(c, cCard.cardId, cTxs[0]!));
    expect(first.body).toMatchObject({ status: 'ready', maskedAgent: { name: '李*', id: 'Li***ng', title: '客服专员' } });
    w.clock.advance(60_000);
    const second = await contact(c, await w.refOf(c, cCard.cardId, cTxs[1]!));
    expect(second.body).toMatchObject({ status: 'queued', queue: { position: 1, expectedWaitMinutes: 8, opensAt: null } });
    w.clock.advance(60_000);
    const third = await contact(d, await w.refOf(d, dCard.cardId, dTxs[0]!));
    expect(third.body).toMatchObject({ status: 'queued', queue: { position: 2, expectedWaitMinutes: 16 } });
    // The third may not jump the queue when the place frees.
    w.clock.advance(QR_TTL_MS);
    await w.runJobs();
    expect((await w.call('GET', `/api/v1/contacts/${third.body.contactId}`, { session: d })).body).toMatchObject({ status: 'queued', queue: { position: 2 } });
    expect((await w.call('GET', `/api/v1/contacts/${second.body.contactId}`, { session: c })).body.status).toBe('ready');
    expect((await w.call('GET', `/api/v1/contacts/${third.body.contactId}`, { session: d })).body).toMatchObject({ status: 'queued', queue: { position: 1 } });
    // Another user's contact request is not theirs to read.
    expect((await w.call('GET', `/api/v1/contacts/${second.body.contactId}`, { session: d })).status).toBe(403);
  });
});

describe('limits', () => {
  it('refuses a notice version other than the current one, and a fourth live request at once', async () => {
    const stale = await contact(a, await w.refOf(a, aCard.cardId, aTxs[3]!), { consent: true, noticeVersion: '2025-01' });
    expect(stale.status).toBe(400);
    expect(stale.body.errors[0].field).toBe('noticeVersion');
    // Earlier QR codes lapse first: the three below are A's only live requests.
    w.clock.advance(QR_TTL_MS);
    await w.runJobs();
    for (const i of [3, 4, 5]) expect((await contact(a, await w.refOf(a, aCard.cardId, aTxs[i]!))).status).toBe(201);
    const over = await contact(a, await w.refOf(a, aCard.cardId, aTxs[6]!));
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'rate_limited', retryAfter: expect.any(Number) });
  });

  it('answers not_found once the card is unbound: its bills are gone for the cardholder', async () => {
    const ref = await w.refOf(a, aCard.cardId, aTxs[7]!);
    expect((await w.call('GET', `/api/v1/bills/${ref}`, { session: a })).status).toBe(200);
    expect((await w.call('DELETE', `/api/v1/cards/${aCard.cardId}`, { session: a })).status).toBe(204);
    expect((await w.call('GET', `/api/v1/bills/${ref}`, { session: a })).body.code).toBe('not_found');
  });
});

// Top-up orders as bills: a real order paid at the sandbox cashier, found by ref or by its numbers, routed to the agent who takes top-ups, remarked; the context ends with the relationship.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type Session, type World } from './world.ts';
import { billRefFor, configureContactAgents } from '../../../src/contact/index.ts';

let w: World;
let s: Session;
let order: { orderId: string; transactionId: string; total: number; maskedNumber: string };
const tenantId = 'hz-citizen-card';

beforeAll(async () => {
  w = await startWorld({ topup: true });
  s = await w.signIn(tenantId);
  const h = w.holder(tenantId, '徐静');
  await w.bind(s, h);
  const created = await w.call('POST', '/api/v1/topups', {
    session: s,
    body: { citizenCardNumber: h.cards[0]!.number, amount: 10_000, method: 'wechat_balance' },
    headers: { 'idempotency-key': `k-${randomBytes(8).toString('hex')}` },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const prepayId = created.body.payParams.package.replace(/^prepay_id=/, '');
  const paid = await w.sandboxCall('POST', `/sandbox/api/pay/orders/${prepayId}/pay`, {});
  expect(paid.status, JSON.stringify(paid.body)).toBe(200);
  await w.runJobs();
  const view = (await w.call('GET', `/api/v1/topups/${created.body.orderId}`, { session: s })).body;
  expect(view.status).toBe('completed');
  order = { orderId: view.orderId, transactionId: view.transactionId, total: view.total, maskedNumber: view.card.maskedNumber };
  await configureContactAgents(w.server.ctx, tenantId, [
    { userId: 'ZhangMin', displayName: '张敏', title: '客服专员', billKinds: ['transaction'] },
    { userId: 'WangFang', displayName: '王芳', title: '客服主管', billKinds: ['topup'] },
  ]);
}, 180_000);
afterAll(async () => {
  await w?.close();
});

describe('a top-up order as a bill', () => {
  it('answers the order by its ref: what the user paid, the status, the masked citizen card', async () => {
    const ref = await billRefFor(w.server.ctx, { tenantId, userId: s.userId, kind: 'topup', sourceId: order.orderId });
    const r = await w.call('GET', `/api/v1/bills/${ref}`, { session: s });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      billRef: ref,
      kind: 'topup',
      orderNumber: order.orderId,
      amount: order.total,
      currency: 'CNY',
      direction: 'debit',
      status: 'completed',
      title: '市民卡充值',
      card: { cardId: null, maskedNumber: order.maskedNumber, last4: order.maskedNumber.slice(-4), kind: 'citizen' },
    });
  });

  it('finds the order by the numbers on the receipt (order id, WeChat transaction number) and answers its ref', async () => {
    const ref = await billRefFor(w.server.ctx, { tenantId, userId: s.userId, kind: 'topup', sourceId: order.orderId });
    for (const number of [order.orderId, order.transactionId]) {
      const r = await w.call('GET', `/api/v1/bills/${number}`, { session: s });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ billRef: ref, orderNumber: order.orderId });
    }
  });

  it('finds nothing by another user’s order number, and answers forbidden to another user’s ref', async () => {
    const other = await w.signIn(tenantId);
    expect((await w.call('GET', `/api/v1/bills/${order.orderId}`, { session: other })).body.code).toBe('not_found');
    expect((await w.call('POST', `/api/v1/bills/${order.transactionId}/contact`, { session: other, body: { consent: true } })).body.code).toBe('not_found');
    const ref = await billRefFor(w.server.ctx, { tenantId, userId: s.userId, kind: 'topup', sourceId: order.orderId });
    expect((await w.call('GET', `/api/v1/bills/${ref}`, { session: other })).body.code).toBe('forbidden');
    const unknown = await billRefFor(w.server.ctx, { tenantId, userId: s.userId, kind: 'topup', sourceId: 'tu_doesnotexist' });
    expect((await w.call('GET', `/api/v1/bills/${unknown}`, { session: s })).body.code).toBe('not_found');
  });

  it('routes the order to the agent who takes top-ups and remarks the customer with the order number and amount', async () => {
    const r = await w.call('POST', `/api/v1/bills/${order.orderId}/contact`, { session: s, body: { consent: true } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ status: 'ready', maskedAgent: { name: '王*', id: 'Wa****ng', title: '客服主管' } });
    const scan = await w.sandboxCall('POST', `/sandbox/api/wecom/contact-ways/${r.body.qrCodeUrl.split('/').pop()}/scan`, {});
    expect(scan.body.userId).toBe('WangFang');
    await w.runJobs();
    const added = (await w.sandboxCall('GET', `/sandbox/api/wecom/contacts?tenantId=${tenantId}`)).body.items[0];
    const amount = `-¥${(order.total / 100).toFixed(2)}`;
    expect(added.remark).toBe(`…${order.orderId.slice(-(20 - amount.length - 2))} ${amount}`);
    expect(added.description).toMatch(new RegExp(`^订单号 ${order.orderId} · 金额 ${amount} · 充值 2026-03-18 \\d\\d:\\d\\d · 尾号${order.maskedNumber.slice(-4)}$`));
    expect(added.welcomeMessages[0].content).toContain('您好，我是客服主管，已收到您关于以下充值账单的咨询：');
    expect(added.welcomeMessages[0].content).toContain(`订单号：${order.orderId}`);
  });

  it('closes the bill context at once when the customer deletes the agent', async () => {
    const ctxRow = await w.server.ctx.db.selectFrom('contact_contexts').selectAll().where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
    const corpId = await w.wecomCorpId(tenantId);
    const xml =
      `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>${Math.floor(w.clock.now().getTime() / 1000)}</CreateTime>` +
      '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[del_follow_user]]></ChangeType>' +
      `<UserID><![CDATA[${ctxRow.agent_user_id}]]></UserID><ExternalUserID><![CDATA[${ctxRow.external_user_id}]]></ExternalUserID></xml>`;
    expect((await w.call('GET', `/api/v1/cs/contexts/${ctxRow.external_user_id}`, { token: w.agentTokens.get(tenantId) })).status).toBe(200);
    expect((await w.postWecomEvent(tenantId, xml)).status).toBe(200);
    expect((await w.call('GET', `/api/v1/cs/contexts/${ctxRow.external_user_id}`, { token: w.agentTokens.get(tenantId) })).status).toBe(404);
    const req = await w.server.ctx.db.selectFrom('contact_requests').select(['external_user_id', 'closed_at']).where('id', '=', ctxRow.request_id).executeTakeFirstOrThrow();
    expect(req.external_user_id).toBeNull();
    expect(req.closed_at).not.toBeNull();
  });
});

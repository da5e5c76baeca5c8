// End to end through the sandbox: contact way → QR page → simulated scan → signed encrypted event → handler → remark and welcome message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { sandboxWxRoutes } from '../../../../src/sandbox/wx/index.ts';
import { sandboxWecomRoutes, SANDBOX_WECOM_AGENTS } from '../../../../src/sandbox/wecom/index.ts';
import { WechatApiError, getAccessToken } from '../../../../src/wechat/api/index.ts';
import {
  addContactWay,
  deleteContactWay,
  newContactWayState,
  recentWecomEvents,
  remarkExternalContact,
  sendWelcomeMessage,
  wecomCallbacks,
} from '../../../../src/wechat/wecom/index.ts';
import { contacts, sandboxTenant, scan, wecomApi } from './fixtures.ts';

let platform: Platform;
let tenantId: string;
let sandboxUrl: string;
const agent = SANDBOX_WECOM_AGENTS[0]!;

async function errcodeOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WechatApiError) return err.errcode;
    throw err;
  }
  return undefined;
}

beforeAll(async () => {
  platform = await startPlatform({ sandboxModules: [sandboxWxRoutes, sandboxWecomRoutes], serverModules: [wecomCallbacks()] });
  sandboxUrl = platform.sandbox.url;
  tenantId = (await sandboxTenant(platform.servers[0]!.ctx)).tenantId;
});
afterAll(async () => {
  await platform?.close();
});

describe('a customer adds customer service through a contact way', () => {
  const state = newContactWayState();
  let configId: string;
  let qrCode: string;
  let externalUserId: string;

  it('creates the contact way at the sandbox with the state and gets a QR code that points at the sandbox', async () => {
    const server = platform.servers[0]!;
    ({ configId, qrCode } = await addContactWay(server.ctx, tenantId, { agentUserId: agent.userId, state, remark: '账单客服' }));
    expect(configId).toMatch(/^[0-9a-f]{32}$/);
    expect(qrCode).toBe(`${sandboxUrl}/sandbox/wecom/qr/${configId}`);
    const token = await getAccessToken(server.ctx, { tenantId, kind: 'wecom' });
    const got = await wecomApi(sandboxUrl, 'get_contact_way', token, { config_id: configId });
    expect(got.httpStatus).toBe(200);
    expect(got.json).toMatchObject({
      errcode: 0,
      errmsg: 'ok',
      contact_way: { config_id: configId, type: 1, scene: 2, state, remark: '账单客服', skip_verify: true, user: [agent.userId], qr_code: qrCode },
    });
  });

  it('serves the QR page showing the member and a button that adds them', async () => {
    const res = await fetch(qrCode);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain(agent.name);
    expect(html).toContain('扫码添加');
    expect(html).toContain(`../../api/wecom/contact-ways/${configId}/scan`);
    expect(html).not.toContain(state);
  });

  it('scans it as a simulated WeChat user: the signed, encrypted event reaches the server and the default handler records it', async () => {
    registerSensitive('测试客户甲');
    const res = await scan(sandboxUrl, configId, { externalUserName: '测试客户甲' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ userId: agent.userId, state, delivery: { delivered: true, status: 200 } });
    externalUserId = res.json.externalUserId;
    expect(externalUserId).toMatch(/^wm[A-Za-z0-9_-]{28}$/);
    const [event] = await recentWecomEvents(platform.servers[0]!.ctx.db, tenantId, 1);
    expect(event).toMatchObject({ msg_type: 'event', event: 'change_external_contact', change_type: 'add_external_contact', user_id: agent.userId, external_user_id: externalUserId, state });
    expect(event!.welcome_code).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('sends the welcome message once with the event’s code and remarks the customer; the sandbox records both', async () => {
    const server = platform.servers[0]!;
    const [event] = await recentWecomEvents(server.ctx.db, tenantId, 1);
    await sendWelcomeMessage(server.ctx, tenantId, { welcomeCode: event!.welcome_code!, text: '您好，我是您的专属客服。' });
    expect(await errcodeOf(sendWelcomeMessage(server.ctx, tenantId, { welcomeCode: event!.welcome_code!, text: '再来一次' }))).toBe(41051);
    await remarkExternalContact(server.ctx, tenantId, { userId: agent.userId, externalUserId, remark: '订单 TU20260105', description: '来自账单 6222****1234' });
    const [contact] = await contacts(sandboxUrl, tenantId);
    expect(contact).toMatchObject({
      externalUserId,
      name: '测试客户甲',
      userId: agent.userId,
      configId,
      state,
      remark: '订单 TU20260105',
      description: '来自账单 6222****1234',
      welcomeMessages: [{ content: '您好，我是您的专属客服。' }],
    });
  });

  it('refuses a remark for a customer who did not add that member (84061)', async () => {
    const other = SANDBOX_WECOM_AGENTS[1]!.userId;
    expect(await errcodeOf(remarkExternalContact(platform.servers[0]!.ctx, tenantId, { userId: other, externalUserId, remark: 'x' }))).toBe(84061);
  });

  it('refuses scans and shows the QR page as expired once the contact way is deleted', async () => {
    await deleteContactWay(platform.servers[0]!.ctx, tenantId, configId);
    const res = await scan(sandboxUrl, configId);
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ code: 'conflict' });
    expect((await fetch(qrCode)).status).toBe(410);
    expect(await errcodeOf(deleteContactWay(platform.servers[0]!.ctx, tenantId, configId))).toBe(41044);
    expect((await contacts(sandboxUrl, tenantId)).filter((c) => c.configId === configId)).toHaveLength(1);
  });

  it('refuses a state over 30 characters before calling WeCom, and the sandbox refuses it too (40058)', async () => {
    const server = platform.servers[0]!;
    await expect(addContactWay(server.ctx, tenantId, { agentUserId: agent.userId, state: 'a'.repeat(31) })).rejects.toMatchObject({ code: 'validation_failed' });
    const token = await getAccessToken(server.ctx, { tenantId, kind: 'wecom' });
    const res = await wecomApi(sandboxUrl, 'add_contact_way', token, { type: 1, scene: 2, state: 'a'.repeat(31), user: [agent.userId] });
    expect(res.json.errcode).toBe(40058);
  });

  it('lists the contact ways and the demo members for the phone', async () => {
    const ways = (await (await fetch(`${sandboxUrl}/sandbox/api/wecom/contact-ways?tenantId=${tenantId}`)).json()) as { items: any[] };
    expect(ways.items.find((w) => w.configId === configId)).toMatchObject({ userIds: [agent.userId], state, deleted: true });
    const agents = (await (await fetch(`${sandboxUrl}/sandbox/api/wecom/agents`)).json()) as { items: any[] };
    expect(agents.items.map((a) => a.userId)).toEqual(SANDBOX_WECOM_AGENTS.map((a) => a.userId));
  });
});

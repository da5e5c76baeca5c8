// What the sandbox puts on the wire to the server: a WeCom callback that @wecom/crypto and wechat-crypto verify and decrypt; and no routes without the sandbox.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wecomCrypto from '@wecom/crypto';
// @ts-expect-error wechat-crypto ships no types
import WXBizMsgCrypt from 'wechat-crypto';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { startTestApp } from '../../../helpers/app.ts';
import { sandboxWxRoutes } from '../../../../src/sandbox/wx/index.ts';
import { sandboxWecomRoutes, SANDBOX_WECOM_AGENTS } from '../../../../src/sandbox/wecom/index.ts';
import { addContactWay, newContactWayState } from '../../../../src/wechat/wecom/index.ts';
import { parseWechatXml } from '../../../../src/wechat/xml.ts';
import type { WecomCredentials } from '../../../../src/tenants/index.ts';
import { sandboxTenant, scan } from './fixtures.ts';

interface Captured {
  url: URL;
  contentType: string | undefined;
  body: string;
}

describe('the add_external_contact callback the sandbox sends', () => {
  const captured: Captured[] = [];
  let receiver: Server;
  let platform: Platform;
  let tenantId: string;
  let wecom: WecomCredentials;

  beforeAll(async () => {
    // Stands where the wecard server would: records the request and answers 200.
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        captured.push({ url: new URL(req.url!, 'http://receiver'), contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        res.end('success');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as { port: number }).port;
    platform = await startPlatform({ sandboxModules: [sandboxWxRoutes, sandboxWecomRoutes], serverModules: [], config: { SANDBOX_SERVER_URL: `http://127.0.0.1:${port}` } });
    const t = await sandboxTenant(platform.servers[0]!.ctx);
    tenantId = t.tenantId;
    wecom = t.credentials.wecom!;
  });
  afterAll(async () => {
    await platform?.close();
    await new Promise((r) => receiver?.close(r));
  });

  it('is signed over the Encrypt text and decrypts with both libraries to the event XML for the corp', async () => {
    const state = newContactWayState();
    const { configId } = await addContactWay(platform.servers[0]!.ctx, tenantId, { agentUserId: SANDBOX_WECOM_AGENTS[2]!.userId, state });
    const res = await scan(platform.sandbox.url, configId);
    expect(res.json.delivery).toEqual({ delivered: true, status: 200 });
    expect(captured).toHaveLength(1);
    const { url, body, contentType } = captured[0]!;
    expect(url.pathname).toBe(`/wechat/wecom/${tenantId}`);
    expect(contentType).toMatch(/^text\/xml/);
    const envelope = parseWechatXml(body);
    expect(envelope.ToUserName).toBe(wecom.corpId);
    const encrypt = envelope.Encrypt as string;
    const [sig, timestamp, nonce] = ['msg_signature', 'timestamp', 'nonce'].map((k) => url.searchParams.get(k)!);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(nonce).toMatch(/^[0-9]+$/);
    expect(sig).toBe(wecomCrypto.getSignature(wecom.token, timestamp!, nonce!, encrypt));
    const peer = new WXBizMsgCrypt(wecom.token, wecom.encodingAESKey, wecom.corpId);
    expect(peer.getSignature(timestamp, nonce, encrypt)).toBe(sig);

    const byWecom = wecomCrypto.decrypt(wecom.encodingAESKey, encrypt);
    const byPeer = peer.decrypt(encrypt);
    expect(byWecom.id).toBe(wecom.corpId);
    expect(byPeer.id).toBe(wecom.corpId);
    expect(byPeer.message).toBe(byWecom.message);
    const xml = parseWechatXml(byWecom.message);
    expect(xml).toEqual({
      ToUserName: wecom.corpId,
      FromUserName: 'sys',
      CreateTime: expect.stringMatching(/^[0-9]{10}$/),
      MsgType: 'event',
      Event: 'change_external_contact',
      ChangeType: 'add_external_contact',
      UserID: SANDBOX_WECOM_AGENTS[2]!.userId,
      ExternalUserID: res.json.externalUserId,
      State: state,
      WelcomeCode: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
  });
});

describe('with the sandbox off', () => {
  it('registers none of the sandbox WeCom routes', async () => {
    const t = await startTestApp({ config: { SANDBOX: 'false', SEED_DEMO: 'false' }, modules: [sandboxWecomRoutes] });
    try {
      expect((await t.app.inject({ method: 'GET', url: '/sandbox/api/wecom/agents' })).statusCode).toBe(404);
      expect((await t.app.inject({ method: 'POST', url: '/sandbox/wecom/cgi-bin/externalcontact/add_contact_way', payload: {} })).statusCode).toBe(404);
    } finally {
      await t.close();
    }
  });
});

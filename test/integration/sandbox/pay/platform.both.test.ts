// The sandbox Pay platform as an independent client sees it: wechatpay-axios-plugin signs requests and verifies the signed answers and notifications; errors come in WeChat Pay's format.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aes, Formatter, Rsa, Wechatpay } from 'wechatpay-axios-plugin';
import { sandboxPayRoutes } from '../../../../src/sandbox/pay/index.ts';
import { createSandboxUser } from '../../../../src/sandbox/wx/index.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import { startTestApp } from '../../../helpers/app.ts';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { payerOpenid, payTenant, type PayTestTenant } from '../../wechat/pay/helpers.ts';
import { pay, sandboxApi } from './helpers.ts';

let platform: Platform;
let t: PayTestTenant;
let wxpay: any;
/** A merchant notify endpoint written for this test (not wecard): records what the platform sends. */
let receiver: Server;
let receiverUrl = '';
const received: { headers: Record<string, string>; body: string }[] = [];
let receiverStatus = 204;

beforeAll(async () => {
  // The library checks answers against the system clock, so the sandbox runs on it too.
  platform = await startPlatform({ sandboxModules: [sandboxPayRoutes], serverModules: [] });
  t = await payTenant(platform.sandbox.ctx, 'payp');
  wxpay = new Wechatpay({
    mchid: t.pay.mchId,
    serial: t.pay.merchantSerialNo,
    privateKey: t.pay.merchantPrivateKeyPem,
    certs: { [t.pay.platformSerialNo]: t.pay.platformPublicKeyPem },
    baseURL: `${platform.sandbox.url}/sandbox/pay/`,
  });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = receiverStatus;
      res.end(receiverStatus === 204 ? undefined : JSON.stringify({ code: 'FAIL', message: '失败' }));
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/pay/notify`;
});
afterAll(async () => {
  await new Promise((r) => receiver.close(r));
  await platform.close();
});

const orderBody = (over: Record<string, unknown> = {}) => ({
  appid: t.miniAppId,
  mchid: t.pay.mchId,
  description: '市民卡充值',
  out_trade_no: `T${randomToken(12)}`,
  notify_url: receiverUrl,
  amount: { total: 100, currency: 'CNY' },
  payer: { openid: payerOpenid() },
  ...over,
});

/** A request signed with the library's primitives, for the cases its client would not send. */
async function signedFetch(method: 'GET' | 'POST', path: string, body?: string, over: { timestamp?: number; serial?: string; mchid?: string; signature?: string; authorization?: string | null } = {}) {
  const url = new URL(`${platform.sandbox.url}/sandbox/pay${path}`);
  const timestamp = over.timestamp ?? Formatter.timestamp();
  const nonce = Formatter.nonce();
  const signature = over.signature ?? Rsa.sign(Formatter.request(method, `${url.pathname}${url.search}`, timestamp, nonce, body ?? ''), Rsa.from(t.pay.merchantPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE));
  const authorization = over.authorization === undefined ? Formatter.authorization(over.mchid ?? t.pay.mchId, nonce, signature, timestamp, over.serial ?? t.pay.merchantSerialNo) : over.authorization;
  const res = await fetch(url, { method, body, headers: { 'content-type': 'application/json', accept: 'application/json', ...(authorization ? { authorization } : {}) } });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** The library's own check of a signed answer. */
function libraryVerifies(r: { text: string; headers: Headers }, serial = t.pay.platformSerialNo, pem = t.pay.platformPublicKeyPem): boolean {
  if (r.headers.get('wechatpay-serial') !== serial) return false;
  return Rsa.verify(Formatter.response(r.headers.get('wechatpay-timestamp')!, r.headers.get('wechatpay-nonce')!, r.text), r.headers.get('wechatpay-signature')!, Rsa.from(pem, Rsa.KEY_TYPE_PUBLIC));
}

describe('the library as the merchant', () => {
  it('places an order (the sandbox verifies its signature) and verifies the signed answer', async () => {
    const { status, data } = await wxpay.v3.pay.transactions.jsapi.post(orderBody());
    expect(status).toBe(200);
    expect(data.prepay_id).toMatch(/^wx\d{14}[0-9a-f]{10}\d{10}$/);
  });

  it('queries it by out_trade_no, closes it (204 signed over an empty body), and reads it CLOSED', async () => {
    const body = orderBody();
    await wxpay.v3.pay.transactions.jsapi.post(body);
    const q = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get({ params: { mchid: t.pay.mchId }, out_trade_no: body.out_trade_no });
    expect(q.data).toMatchObject({ appid: t.miniAppId, mchid: t.pay.mchId, out_trade_no: body.out_trade_no, trade_state: 'NOTPAY', amount: { total: 100, currency: 'CNY' } });
    const closed = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.close.post({ mchid: t.pay.mchId }, { out_trade_no: body.out_trade_no });
    expect(closed.status).toBe(204);
    const raw = await signedFetch('GET', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}?mchid=${t.pay.mchId}`);
    expect(raw.json.trade_state).toBe('CLOSED');
    expect(libraryVerifies(raw)).toBe(true);
  });

  it('receives the signed, encrypted payment notification, verifies and decrypts it', async () => {
    const body = orderBody({ amount: { total: 4321, currency: 'CNY' }, attach: '附加' });
    const { data } = await wxpay.v3.pay.transactions.jsapi.post(body);
    received.length = 0;
    receiverStatus = 204;
    expect((await pay(platform, data.prepay_id)).json.notification).toEqual({ delivered: true, status: 204 });
    expect(received).toHaveLength(1);
    const { headers, body: text } = received[0]!;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['wechatpay-serial']).toBe(t.pay.platformSerialNo);
    expect(Rsa.verify(Formatter.response(headers['wechatpay-timestamp']!, headers['wechatpay-nonce']!, text), headers['wechatpay-signature']!, Rsa.from(t.pay.platformPublicKeyPem, Rsa.KEY_TYPE_PUBLIC))).toBe(true);
    const envelope = JSON.parse(text);
    expect(envelope).toMatchObject({ event_type: 'TRANSACTION.SUCCESS', resource_type: 'encrypt-resource', summary: '支付成功', resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction' } });
    expect(envelope.resource.nonce).toHaveLength(12);
    const resource = JSON.parse(Aes.AesGcm.decrypt(envelope.resource.ciphertext, t.pay.apiV3Key, envelope.resource.nonce, envelope.resource.associated_data));
    expect(resource).toMatchObject({
      appid: t.miniAppId,
      mchid: t.pay.mchId,
      out_trade_no: body.out_trade_no,
      trade_type: 'JSAPI',
      trade_state: 'SUCCESS',
      attach: '附加',
      payer: { openid: body.payer.openid },
      amount: { total: 4321, payer_total: 4321, currency: 'CNY', payer_currency: 'CNY' },
    });
    expect(resource.transaction_id).toMatch(/^4200\d{24}$/);
    expect(resource.success_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
  });

  it('a merchant answering 500 gets the notification again later; the sandbox records each attempt', async () => {
    const { data } = await wxpay.v3.pay.transactions.jsapi.post(orderBody());
    received.length = 0;
    receiverStatus = 500;
    try {
      expect((await pay(platform, data.prepay_id)).json.notification).toEqual({ delivered: false, status: 500 });
    } finally {
      receiverStatus = 204;
    }
    expect(received).toHaveLength(1);
  });

  it('asks for a refund and reads it back', async () => {
    const body = orderBody({ amount: { total: 800, currency: 'CNY' } });
    const { data } = await wxpay.v3.pay.transactions.jsapi.post(body);
    await pay(platform, data.prepay_id);
    const out_refund_no = `R${randomToken(12)}`;
    const r = await wxpay.v3.refund.domestic.refunds.post({ out_trade_no: body.out_trade_no, out_refund_no, amount: { refund: 800, total: 800, currency: 'CNY' } });
    expect(r.data).toMatchObject({ out_refund_no, out_trade_no: body.out_trade_no, status: 'PROCESSING', channel: 'ORIGINAL', amount: { refund: 800, total: 800 } });
    const q = await wxpay.v3.refund.domestic.refunds._out_refund_no_.get({ out_refund_no });
    expect(q.data.refund_id).toBe(r.data.refund_id);
  });
});

describe('errors in WeChat Pay format', () => {
  it('a wrong signature is 401 SIGN_ERROR with the sign information developers debug with, and the answer is signed', async () => {
    const body = JSON.stringify(orderBody());
    const r = await signedFetch('POST', '/v3/pay/transactions/jsapi', body, { signature: Rsa.sign('something else', Rsa.from(t.pay.merchantPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE)) });
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({
      code: 'SIGN_ERROR',
      message: '签名错误，请检查后再试',
      detail: { detail: { issue: 'sign not match' }, field: 'signature', location: 'authorization', sign_information: { method: 'POST', url: '/sandbox/pay/v3/pay/transactions/jsapi' } },
    });
    expect(r.json.detail.sign_information.truncated_sign_message).toMatch(/^POST\n\/sandbox\/pay\/v3\/pay\/transactions\/jsapi\n\d+\n\w{32}\n\{"appid"\n$/);
    expect(libraryVerifies(r)).toBe(true);
  });

  it('a stale timestamp, a missing or malformed Authorization are 401; a wrong merchant serial is 500 SYSTEM_ERROR; an unknown mchid MCH_NOT_EXISTS', async () => {
    const body = JSON.stringify(orderBody());
    expect((await signedFetch('POST', '/v3/pay/transactions/jsapi', body, { timestamp: Formatter.timestamp() - 301 })).json.code).toBe('SIGN_ERROR');
    expect((await signedFetch('POST', '/v3/pay/transactions/jsapi', body, { authorization: null })).status).toBe(401);
    expect((await signedFetch('POST', '/v3/pay/transactions/jsapi', body, { authorization: 'Bearer x' })).status).toBe(401);
    const wrongSerial = await signedFetch('POST', '/v3/pay/transactions/jsapi', body, { serial: 'ABCDEF0123456789' });
    expect([wrongSerial.status, wrongSerial.json.code]).toEqual([500, 'SYSTEM_ERROR']);
    const unknown = await signedFetch('POST', '/v3/pay/transactions/jsapi', body, { mchid: '1999999999' });
    expect([unknown.status, unknown.json.code]).toEqual([400, 'MCH_NOT_EXISTS']);
  });

  it('invalid JSON, a missing field, another appid, a fractional amount, a notify_url with a query are 400', async () => {
    const cases: [string, string][] = [
      ['{"appid":', 'PARAM_ERROR'],
      [JSON.stringify(orderBody({ payer: undefined })), 'PARAM_ERROR'],
      [JSON.stringify(orderBody({ appid: 'wx0000000000000000' })), 'APPID_MCHID_NOT_MATCH'],
      [JSON.stringify(orderBody({ amount: { total: 1.5 } })), 'PARAM_ERROR'],
      [JSON.stringify(orderBody({ notify_url: `${receiverUrl}?a=1` })), 'PARAM_ERROR'],
      [JSON.stringify(orderBody({ mchid: '1999999999' })), 'PARAM_ERROR'],
    ];
    for (const [body, code] of cases) {
      const r = await signedFetch('POST', '/v3/pay/transactions/jsapi', body);
      expect([r.status, r.json.code]).toEqual([400, code]);
      expect(typeof r.json.message).toBe('string');
    }
  });

  it("a simulated user's OA openid with the mini-program appid, or another tenant's user, is refused; the right openid is accepted", async () => {
    const user = await createSandboxUser(platform.sandbox.ctx, { tenantId: t.tenantId });
    registerSensitive(user.oaOpenid, user.miniOpenid);
    const other = await payTenant(platform.sandbox.ctx, 'payq');
    const stranger = await createSandboxUser(platform.sandbox.ctx, { tenantId: other.tenantId });
    const place = (appid: string, openid: string) => signedFetch('POST', '/v3/pay/transactions/jsapi', JSON.stringify(orderBody({ appid, payer: { openid } })));
    expect((await place(t.miniAppId, user.oaOpenid)).json).toMatchObject({ code: 'PARAM_ERROR', detail: { field: 'payer.openid' } });
    expect((await place(t.miniAppId, stranger.miniOpenid)).json).toMatchObject({ code: 'PARAM_ERROR' });
    expect((await place(t.miniAppId, user.miniOpenid)).status).toBe(200);
    expect((await place(t.oaAppId, user.oaOpenid)).status).toBe(200);
  });

  it('an unknown order is 404 ORDER_NOT_EXIST; certificates are 404 RESOURCE_NOT_EXISTS in public-key mode', async () => {
    const q = await signedFetch('GET', `/v3/pay/transactions/out-trade-no/NOPE${randomToken(8)}?mchid=${t.pay.mchId}`);
    expect([q.status, q.json.code]).toEqual([404, 'ORDER_NOT_EXIST']);
    expect(libraryVerifies(q)).toBe(true);
    const c = await signedFetch('GET', '/v3/certificates');
    expect([c.status, c.json.code]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
  });

  it('an oversized body is 413 in the platform format', async () => {
    const r = await signedFetch('POST', '/v3/pay/transactions/jsapi', JSON.stringify(orderBody({ attach: 'x'.repeat(70 * 1024) })));
    expect([r.status, r.json.code]).toEqual([413, 'PARAM_ERROR']);
  });

  it("another merchant's bill download token is not found", async () => {
    const r = await signedFetch('GET', `/v3/billdownload/file?token=${randomToken(20)}`);
    expect([r.status, r.json.code]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
  });
});

describe('the sandbox API', () => {
  it('an unknown prepay_id is 404 for the order and the cashier', async () => {
    expect((await sandboxApi(platform, 'GET', '/sandbox/api/pay/orders/wx0000')).status).toBe(404);
    expect((await pay(platform, 'wx0000')).status).toBe(404);
  });

  it('is not mounted when the sandbox is off', async () => {
    const off = await startTestApp({ config: { SANDBOX: 'false' }, modules: [sandboxPayRoutes] });
    try {
      expect((await off.app.inject({ method: 'POST', url: '/sandbox/pay/v3/pay/transactions/jsapi', payload: '{}' })).statusCode).toBe(404);
      expect((await off.app.inject({ method: 'GET', url: '/sandbox/api/pay/orders/wx1' })).statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });
});

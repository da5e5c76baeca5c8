// The WeCom callback route: the official vector byte-exact, interop with two libraries, rejections that change nothing, once-only handling, hostile bodies.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as wecomCrypto from '@wecom/crypto';
// @ts-expect-error wechat-crypto ships no types
import WXBizMsgCrypt from 'wechat-crypto';
import { startTestApp, type TestApp } from '../../../helpers/app.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { enqueueJob } from '../../../../src/app/jobs.ts';
import { wecomCallbacks, recentWecomEvents, WECOM_EVENT_RETENTION_MS, type AddExternalContactEvent, type WecomEvent } from '../../../../src/wechat/wecom/index.ts';
import type { WecomCredentials } from '../../../../src/tenants/index.ts';
import { addContactXml, OFFICIAL, signedPost, wecomCredentials, wecomEvent, wecomTenant } from './fixtures.ts';

const NOW = Date.parse('2026-01-05T02:00:00Z') / 1000;
const clock = new ManualClock(NOW * 1000);
const added: AddExternalContactEvent[] = [];
const others: WecomEvent[] = [];
let failNextAdd = false;
let t: TestApp;
let tenant: { tenantId: string; wecom: WecomCredentials };

beforeAll(async () => {
  t = await startTestApp({
    clock,
    modules: [
      wecomCallbacks({
        onAddExternalContact: async (_ctx, tx, event) => {
          if (failNextAdd) {
            failNextAdd = false;
            throw new Error('the handler failed');
          }
          added.push(event);
          // Slow work (welcome message, remark) goes to a job, in the same transaction.
          await enqueueJob(tx, { topic: 'test.wecom.welcome', payload: { externalUserId: event.externalUserId } });
        },
        onEvent: async (_ctx, _tx, event) => {
          others.push(event);
        },
      }),
    ],
  });
  tenant = await wecomTenant(t.ctx);
  registerSensitive(tenant.wecom.token, tenant.wecom.encodingAESKey, tenant.wecom.secret);
});
afterAll(async () => {
  await t?.close();
});
beforeEach(() => {
  clock.set(NOW * 1000);
  added.length = 0;
  others.length = 0;
  failNextAdd = false;
});

function post(req: { url: string; body: string | Buffer }, contentType: string | undefined = 'text/xml') {
  return t.app.inject({ method: 'POST', url: req.url, payload: req.body, headers: contentType ? { 'content-type': contentType } : {} });
}

async function counts(): Promise<{ events: number; outbox: number }> {
  const e = await t.ctx.db.selectFrom('wecom_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  const o = await t.ctx.db.selectFrom('outbox').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return { events: Number(e.n), outbox: Number(o.n) };
}

describe('the WeCom official vector through the route', () => {
  let official: string;
  beforeAll(async () => {
    official = (await wecomTenant(t.ctx, { corpId: OFFICIAL.corpId, token: OFFICIAL.token, encodingAESKey: OFFICIAL.encodingAESKey, secret: 'officialSampleSecret0123' })).tenantId;
  });

  it('answers URL verification with the decrypted echostr, byte for byte', async () => {
    clock.set(OFFICIAL.verify.timestamp * 1000);
    const res = await t.app.inject({ method: 'GET', url: `/wechat/wecom/${official}?${OFFICIAL.verify.query}` });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(Buffer.from(OFFICIAL.verify.answer))).toBe(true);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('accepts the encrypted message POST and records it once by its MsgId', async () => {
    clock.set(OFFICIAL.message.timestamp * 1000);
    const req = { url: `/wechat/wecom/${official}?${OFFICIAL.message.query}`, body: OFFICIAL.message.body };
    const res = await post(req);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('success');
    expect(others).toHaveLength(1);
    expect(others[0]).toMatchObject({ tenantId: official, corpId: OFFICIAL.corpId, msgType: 'text', fields: { Content: 'hello', AgentID: '218' } });
    expect((await post(req)).statusCode).toBe(200);
    expect(others).toHaveLength(1);
    const [row] = await recentWecomEvents(t.ctx.db, official, 1);
    expect(row).toMatchObject({ dedupe_key: `msgid:${OFFICIAL.message.msgId}`, msg_type: 'text' });
  });

  it('refuses the vector once its timestamp is more than five minutes old (a replay)', async () => {
    clock.set((OFFICIAL.verify.timestamp + 301) * 1000);
    const res = await t.app.inject({ method: 'GET', url: `/wechat/wecom/${official}?${OFFICIAL.verify.query}` });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'unauthenticated' });
  });
});

describe('add_external_contact events', () => {
  it('runs the handler with the typed event and answers success', async () => {
    const xml = addContactXml(tenant.wecom.corpId, { userId: 'LiQiang', externalUserId: 'wmExt001', state: 'abcstate', welcomeCode: 'WC001', createTime: NOW });
    const res = await post(wecomEvent(tenant.tenantId, tenant.wecom, xml, NOW));
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('success');
    expect(added).toEqual([
      { tenantId: tenant.tenantId, corpId: tenant.wecom.corpId, userId: 'LiQiang', externalUserId: 'wmExt001', state: 'abcstate', welcomeCode: 'WC001', createTime: new Date(NOW * 1000) },
    ]);
    const [row] = await recentWecomEvents(t.ctx.db, tenant.tenantId, 1);
    expect(row).toMatchObject({ change_type: 'add_external_contact', user_id: 'LiQiang', external_user_id: 'wmExt001', state: 'abcstate', welcome_code: 'WC001' });
  });

  it('accepts events encrypted by @wecom/crypto and by wechat-crypto, with or without a content type', async () => {
    const peer = new WXBizMsgCrypt(tenant.wecom.token, tenant.wecom.encodingAESKey, tenant.wecom.corpId);
    const a = addContactXml(tenant.wecom.corpId, { externalUserId: 'wmByWecomCrypto', createTime: NOW });
    const b = addContactXml(tenant.wecom.corpId, { externalUserId: 'wmByWechatCrypto', createTime: NOW });
    expect((await post(wecomEvent(tenant.tenantId, tenant.wecom, a, NOW), undefined)).statusCode).toBe(200);
    // Encrypted and signed by wechat-crypto alone.
    const enc = peer.encrypt(b);
    const byPeer = {
      url: `/wechat/wecom/${tenant.tenantId}?msg_signature=${peer.getSignature(String(NOW), '777', enc)}&timestamp=${NOW}&nonce=777`,
      body: `<xml><ToUserName><![CDATA[${tenant.wecom.corpId}]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`,
    };
    expect((await post(byPeer, 'application/xml')).statusCode).toBe(200);
    expect(added.map((e) => e.externalUserId)).toEqual(['wmByWecomCrypto', 'wmByWechatCrypto']);
  });

  it('runs the handler once when the same event arrives 5 times in a row and 5 times at once', async () => {
    const xml = addContactXml(tenant.wecom.corpId, { externalUserId: 'wmRepeated', createTime: NOW });
    for (let i = 0; i < 5; i++) expect((await post(wecomEvent(tenant.tenantId, tenant.wecom, xml, NOW + i))).statusCode).toBe(200);
    const concurrent = addContactXml(tenant.wecom.corpId, { externalUserId: 'wmConcurrent', createTime: NOW });
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => post(wecomEvent(tenant.tenantId, tenant.wecom, concurrent, NOW + i))));
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(added.map((e) => e.externalUserId)).toEqual(['wmRepeated', 'wmConcurrent']);
    const jobs = await t.ctx.db.selectFrom('outbox').select('payload').where('topic', '=', 'test.wecom.welcome').execute();
    expect(jobs.filter((j) => JSON.stringify(j.payload).includes('wmRepeated'))).toHaveLength(1);
  });

  it('tells apart two customers added in the same second', async () => {
    for (const ext of ['wmSameSecondA', 'wmSameSecondB']) {
      await post(wecomEvent(tenant.tenantId, tenant.wecom, addContactXml(tenant.wecom.corpId, { externalUserId: ext, welcomeCode: 'same', createTime: NOW }), NOW));
    }
    expect(added.map((e) => e.externalUserId)).toEqual(['wmSameSecondA', 'wmSameSecondB']);
  });

  it('keeps no record when the handler fails, so WeCom’s retry runs it again', async () => {
    const xml = addContactXml(tenant.wecom.corpId, { externalUserId: 'wmRetried', createTime: NOW });
    failNextAdd = true;
    const before = await counts();
    const first = await post(wecomEvent(tenant.tenantId, tenant.wecom, xml, NOW));
    expect(first.statusCode).toBe(500);
    expect(await counts()).toEqual(before);
    const retry = await post(wecomEvent(tenant.tenantId, tenant.wecom, xml, NOW + 5));
    expect(retry.statusCode).toBe(200);
    expect(added.map((e) => e.externalUserId)).toEqual(['wmRetried']);
  });
});

describe('rejections change nothing', () => {
  const event = () => addContactXml(tenant.wecom.corpId, { externalUserId: `wmRejected`, createTime: NOW });

  async function expectRefused(res: { statusCode: number; json(): any }, status: number, code: string): Promise<void> {
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ code, status });
  }

  it('refuses a forged msg_signature, a tampered ciphertext and a stale timestamp with 401', async () => {
    const before = await counts();
    const good = wecomEvent(tenant.tenantId, tenant.wecom, event(), NOW);
    await expectRefused(await post({ ...good, url: good.url.replace(/msg_signature=[0-9a-f]+/, `msg_signature=${'0'.repeat(40)}`) }), 401, 'unauthenticated');
    const enc = /<Encrypt><!\[CDATA\[(.*)\]\]><\/Encrypt>/.exec(good.body)![1]!;
    const flipped = `${enc[0] === 'A' ? 'B' : 'A'}${enc.slice(1)}`;
    await expectRefused(await post({ ...good, body: good.body.replace(enc, flipped) }), 401, 'unauthenticated');
    await expectRefused(await post(wecomEvent(tenant.tenantId, tenant.wecom, event(), NOW - 301)), 401, 'unauthenticated');
    await expectRefused(await post(wecomEvent(tenant.tenantId, tenant.wecom, event(), NOW + 301)), 401, 'unauthenticated');
    expect(await counts()).toEqual(before);
    expect(added).toEqual([]);
  });

  it('refuses a message encrypted for another corp (same key and token) or addressed to one with 403', async () => {
    const before = await counts();
    const foreign = wecomCrypto.encrypt(tenant.wecom.encodingAESKey, event(), 'ww00000000000000ff');
    await expectRefused(await post(signedPost(tenant.tenantId, tenant.wecom, foreign, NOW)), 403, 'forbidden');
    const ours = wecomCrypto.encrypt(tenant.wecom.encodingAESKey, event(), tenant.wecom.corpId);
    await expectRefused(await post(signedPost(tenant.tenantId, tenant.wecom, ours, NOW, { toUserName: 'ww00000000000000ff' })), 403, 'forbidden');
    expect(await counts()).toEqual(before);
  });

  it('refuses an event signed with the right token but encrypted with another key with 400', async () => {
    const before = await counts();
    const other = wecomCredentials();
    const enc = wecomCrypto.encrypt(other.encodingAESKey, event(), tenant.wecom.corpId);
    const res = await post(signedPost(tenant.tenantId, tenant.wecom, enc, NOW));
    expect([400, 403]).toContain(res.statusCode);
    expect(await counts()).toEqual(before);
  });

  it('refuses URL verification with a forged signature and for an unknown tenant', async () => {
    const echostr = wecomCrypto.encrypt(tenant.wecom.encodingAESKey, '12345', tenant.wecom.corpId);
    const sig = wecomCrypto.getSignature(tenant.wecom.token, NOW, '42', echostr);
    const q = (s: string) => `msg_signature=${s}&timestamp=${NOW}&nonce=42&echostr=${encodeURIComponent(echostr)}`;
    expect((await t.app.inject({ method: 'GET', url: `/wechat/wecom/${tenant.tenantId}?${q(sig)}` })).body).toBe('12345');
    await expectRefused(await t.app.inject({ method: 'GET', url: `/wechat/wecom/${tenant.tenantId}?${q('f'.repeat(40))}` }), 401, 'unauthenticated');
    await expectRefused(await t.app.inject({ method: 'GET', url: `/wechat/wecom/no-such-tenant?${q(sig)}` }), 404, 'not_found');
  });

  it('accepts an echostr whose "+" arrived unencoded (as a space)', async () => {
    let echostr = '';
    while (!echostr.includes('+')) echostr = wecomCrypto.encrypt(tenant.wecom.encodingAESKey, '67890', tenant.wecom.corpId);
    const sig = wecomCrypto.getSignature(tenant.wecom.token, NOW, '42', echostr);
    const res = await t.app.inject({ method: 'GET', url: `/wechat/wecom/${tenant.tenantId}?msg_signature=${sig}&timestamp=${NOW}&nonce=42&echostr=${echostr.replaceAll('=', '%3D').replaceAll('/', '%2F')}` });
    expect(res.body).toBe('67890');
  });
});

describe('hostile and malformed requests get a clear 4xx and change nothing', () => {
  const BOMB =
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><ToUserName>&lol2;</ToUserName><Encrypt>x</Encrypt></xml>';
  let before: { events: number; outbox: number };
  beforeEach(async () => {
    before = await counts();
  });

  async function expect4xx(res: { statusCode: number; json(): any }, status: number, code: string): Promise<void> {
    expect(res.statusCode).toBe(status);
    const problem = res.json();
    expect(problem).toMatchObject({ code, status });
    expect(JSON.stringify(problem)).not.toMatch(/at .*\.ts:|select |insert /i);
    expect(await counts()).toEqual(before);
  }

  it('refuses an XML bomb in the envelope and inside a correctly signed, encrypted event', async () => {
    await expect4xx(await post({ url: wecomEvent(tenant.tenantId, tenant.wecom, 'x', NOW).url, body: BOMB }), 400, 'validation_failed');
    await expect4xx(await post(wecomEvent(tenant.tenantId, tenant.wecom, BOMB, NOW)), 400, 'validation_failed');
  });

  it('refuses a 10 MB body with 413', async () => {
    const huge = `<xml><Encrypt><![CDATA[${'A'.repeat(10 * 1024 * 1024)}]]></Encrypt></xml>`;
    await expect4xx(await post({ url: wecomEvent(tenant.tenantId, tenant.wecom, 'x', NOW).url, body: huge }), 413, 'payload_too_large');
  });

  it('refuses invalid UTF-8 in the envelope and in the decrypted event', async () => {
    const bad = Buffer.concat([Buffer.from('<xml><ToUserName><![CDATA['), Buffer.from([0xff, 0xfe]), Buffer.from(']]></ToUserName><Encrypt>x</Encrypt></xml>')]);
    await expect4xx(await post({ url: wecomEvent(tenant.tenantId, tenant.wecom, 'x', NOW).url, body: bad }), 400, 'validation_failed');
    // A well-formed envelope (right key, padding, length, corp id) around bytes that are not UTF-8.
    const { createCipheriv } = await import('node:crypto');
    const key = Buffer.from(`${tenant.wecom.encodingAESKey}=`, 'base64');
    const msg = Buffer.from([0x3c, 0xff, 0xfe, 0x3e]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(msg.length);
    let plain = Buffer.concat([Buffer.alloc(16, 7), len, msg, Buffer.from(tenant.wecom.corpId)]);
    const pad = 32 - (plain.length % 32);
    plain = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
    const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
    const enc = Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
    await expect4xx(await post(signedPost(tenant.tenantId, tenant.wecom, enc, NOW)), 400, 'validation_failed');
  });

  it('refuses missing fields: no body, no Encrypt, no query signature, no MsgType, no ExternalUserID', async () => {
    const url = wecomEvent(tenant.tenantId, tenant.wecom, 'x', NOW).url;
    await expect4xx(await post({ url, body: '' }), 400, 'validation_failed');
    await expect4xx(await post({ url, body: '<xml><ToUserName>x</ToUserName></xml>' }), 400, 'validation_failed');
    await expect4xx(await post({ url: `/wechat/wecom/${tenant.tenantId}?timestamp=${NOW}&nonce=1`, body: '<xml><Encrypt>x</Encrypt></xml>' }), 400, 'validation_failed');
    const noType = addContactXml(tenant.wecom.corpId, { createTime: NOW }).replace(/<MsgType>.*?<\/MsgType>/, '');
    await expect4xx(await post(wecomEvent(tenant.tenantId, tenant.wecom, noType, NOW)), 400, 'validation_failed');
    const noExternal = addContactXml(tenant.wecom.corpId, { createTime: NOW }).replace(/<ExternalUserID>.*?<\/ExternalUserID>/, '');
    const res = await post(wecomEvent(tenant.tenantId, tenant.wecom, noExternal, NOW));
    await expect4xx(res, 400, 'validation_failed');
    expect(res.json().errors).toEqual([{ field: 'ExternalUserID', message: 'is required' }]);
  });

  it('refuses a root other than <xml> and plain text', async () => {
    const url = wecomEvent(tenant.tenantId, tenant.wecom, 'x', NOW).url;
    await expect4xx(await post({ url, body: '<root><Encrypt>x</Encrypt></root>' }), 400, 'validation_failed');
    await expect4xx(await post({ url, body: 'hello' }, 'text/plain'), 400, 'validation_failed');
  });
});

describe('retention of the event record', () => {
  it(`forgets events older than ${WECOM_EVENT_RETENTION_MS / 86_400_000} days in a daily job, and keeps newer ones`, async () => {
    const { tenantId, wecom } = await wecomTenant(t.ctx);
    const old = NOW - WECOM_EVENT_RETENTION_MS / 1000 - 86_400;
    clock.set(old * 1000);
    await post(wecomEvent(tenantId, wecom, addContactXml(wecom.corpId, { externalUserId: 'wmOld', createTime: old }), old));
    clock.set(NOW * 1000);
    await post(wecomEvent(tenantId, wecom, addContactXml(wecom.corpId, { externalUserId: 'wmNew', createTime: NOW }), NOW));
    const prunes = await t.ctx.db.selectFrom('outbox').select('dedupe_key').where('topic', '=', 'wecom.prune_events').execute();
    expect(prunes.map((p) => p.dedupe_key)).toEqual(expect.arrayContaining([`wecom.prune_events:${new Date(NOW * 1000).toISOString().slice(0, 10)}`]));
    await t.ctx.jobs.runDue({ topics: ['wecom.prune_events'] });
    expect((await recentWecomEvents(t.ctx.db, tenantId)).map((e) => e.external_user_id)).toEqual(['wmNew']);
  });
});

// temporary (oa): CPU of the OA handler pipeline without Fastify
import * as wecomCrypto from '@wecom/crypto';
import { createHash, randomInt } from 'node:crypto';
import { MsgCrypto } from '../src/wechat/crypto/msg-crypto.ts';
import { verifyPush } from '../src/wechat/oa/verify.ts';
import { handlePush } from '../src/wechat/oa/handle.ts';
import { buildEnvelope } from '../src/wechat/oa/wire.ts';
import { defaultOnMessage } from '../src/wechat/oa/default-handler.ts';
import { systemClock } from '../src/shared/clock.ts';
const OA = { appId: 'wx5e2f0c1a9b8d7e6f', appSecret: '0123456789abcdef0123456789abcdef', token: 'benchToken0123456789', encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', mode: 'safe' as const, originalId: 'gh_0123456789ab' };
const tenant = { tenantId: 'b', oa: OA, crypto: new MsgCrypto(OA.token, OA.encodingAESKey, OA.appId) };
const ctx = { clock: systemClock, log: { error() {}, info() {} } } as any;
const opts = { onMessage: defaultOnMessage, replyDeadlineMs: 4500, claims: null as any };
let seq = BigInt(Date.now()) * 1000000n;
const sha1 = (...p: string[]) => createHash('sha1').update(p.sort().join('')).digest('hex');
const N = 20000; const ts = String(Math.floor(Date.now() / 1000));
const reqs = Array.from({ length: N }, () => {
  const nonce = String(randomInt(1e9)); seq++;
  const inner = `<xml><ToUserName><![CDATA[${OA.originalId}]]></ToUserName><FromUserName><![CDATA[oBenchUser000000000000000001]]></FromUserName><CreateTime>${ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content><MsgId>${seq}</MsgId></xml>`;
  const enc = wecomCrypto.encrypt(OA.encodingAESKey, inner, OA.appId);
  return { q: { signature: sha1(OA.token, ts, nonce), timestamp: ts, nonce, openid: 'oBenchUser000000000000000001', encrypt_type: 'aes' as const, msg_signature: wecomCrypto.getSignature(OA.token, ts, nonce, enc) }, body: Buffer.from(`<xml><ToUserName><![CDATA[${OA.originalId}]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`) };
});
for (const part of ['verify', 'verify+handle', 'all']) {
  const c0 = process.cpuUsage();
  for (const r of reqs) {
    const p = verifyPush(tenant, r.q, r.body, Date.now());
    if (part === 'verify') continue;
    const a = await handlePush(ctx, opts, tenant, p, Date.now());
    if (part === 'all') buildEnvelope(tenant.crypto, a.plaintext!, ts, '1234567890', 'xml');
  }
  const c = process.cpuUsage(c0); console.log(part, ((c.user + c.system) / N).toFixed(1), 'µs/push');
}

// The sandbox pushes as WeChat does: the identical signed request again after each timeout, up to 3 retries; a reply that does not verify is no reply.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wecomCrypto from '@wecom/crypto';
import { startTestApp, type TestApp } from '../../../helpers/app.ts';
import { pushOaMessage, SERVICE_UNAVAILABLE_TEXT, WECHAT_PUSH_RETRIES, newMsgId } from '../../../../src/sandbox/oa/index.ts';
import { buildEnvelope } from '../../../../src/wechat/oa/index.ts';
import { MsgCrypto } from '../../../../src/wechat/crypto/msg-crypto.ts';
import { randomOa } from '../../wechat/oa/helpers.ts';

/** Short, so held requests time out quickly; nothing asserts on time. */
const TIMEOUT_MS = 150;
const STARTUP_TIMEOUT_MS = 60_000;

let t: TestApp;
let server: Server;
let url: string;
const seen: { url: string; body: string }[] = [];
/** What the fake wecard does with the n-th request (0-based): hold it (never answer) or answer. */
let behaviour: (n: number, req: IncomingMessage, body: string, res: ServerResponse) => void = () => undefined;
const held: ServerResponse[] = [];

beforeAll(async () => {
  t = await startTestApp({ modules: [] });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ url: req.url!, body });
      behaviour(seen.length - 1, req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}, STARTUP_TIMEOUT_MS);
afterAll(async () => {
  for (const r of held) r.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await t?.close();
});

function fields(oa: { originalId?: string }) {
  return { ToUserName: oa.originalId!, FromUserName: 'oRetryUser', CreateTime: Math.floor(t.clock.now().getTime() / 1000), MsgType: 'text', Content: '帮助', MsgId: newMsgId() };
}

describe('sandbox push retries', () => {
  it('sends the identical request again after each timeout, and reads the reply of the attempt that answers', async () => {
    const oa = randomOa('safe');
    seen.length = 0;
    const crypto = new MsgCrypto(oa.token, oa.encodingAESKey, oa.appId);
    behaviour = (n, _req, _body, res) => {
      if (n < 2) return void held.push(res);
      const inner = `<xml><ToUserName><![CDATA[oRetryUser]]></ToUserName><FromUserName><![CDATA[${oa.originalId}]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[第三次才回答]]></Content></xml>`;
      res.end(buildEnvelope(crypto, inner, '1700000000', '12345', 'xml'));
    };
    const r = await pushOaMessage(t.ctx, { tenantId: 't-retry', oa, fields: fields(oa) }, { serverUrl: url, timeoutMs: TIMEOUT_MS });
    expect(r).toEqual({ reply: '第三次才回答', attempts: 3 });
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.url)).size).toBe(1);
    expect(new Set(seen.map((s) => s.body)).size).toBe(1);
    // What was pushed is WeChat's safe-mode request, readable by an independent implementation.
    const q = new URL(seen[0]!.url, url).searchParams;
    const encrypt = /<Encrypt><!\[CDATA\[(.*?)\]\]><\/Encrypt>/.exec(seen[0]!.body)![1]!;
    expect(q.get('encrypt_type')).toBe('aes');
    expect(q.get('msg_signature')).toBe(wecomCrypto.getSignature(oa.token, q.get('timestamp')!, q.get('nonce')!, encrypt));
    const inner = wecomCrypto.decrypt(oa.encodingAESKey, encrypt);
    expect(inner.id).toBe(oa.appId);
    expect(inner.message).toContain('<Content><![CDATA[帮助]]></Content>');
    expect(seen[0]!.body).not.toContain('帮助');
  });

  it('gives up after the first try and 3 retries, showing WeChat’s failure notice', async () => {
    seen.length = 0;
    behaviour = (_n, _req, _body, res) => void held.push(res);
    const oa = randomOa('plain');
    const r = await pushOaMessage(t.ctx, { tenantId: 't-retry', oa, fields: fields(oa) }, { serverUrl: url, timeoutMs: TIMEOUT_MS });
    expect(r).toEqual({ reply: null, attempts: 1 + WECHAT_PUSH_RETRIES, failure: SERVICE_UNAVAILABLE_TEXT });
    expect(seen).toHaveLength(1 + WECHAT_PUSH_RETRIES);
  });

  it('does not retry an answered request: an error status or a reply that fails its signature is a failure', async () => {
    seen.length = 0;
    behaviour = (_n, _req, _body, res) => {
      res.statusCode = 500;
      res.end('oops');
    };
    const oa = randomOa('safe');
    expect(await pushOaMessage(t.ctx, { tenantId: 't-retry', oa, fields: fields(oa) }, { serverUrl: url, timeoutMs: TIMEOUT_MS })).toEqual({ reply: null, attempts: 1, failure: SERVICE_UNAVAILABLE_TEXT });
    const other = new MsgCrypto(oa.token, randomOa('safe').encodingAESKey, oa.appId);
    behaviour = (_n, _req, _body, res) => res.end(buildEnvelope(other, '<xml><MsgType>text</MsgType><Content>x</Content></xml>', '1', '2', 'xml').replace(/<MsgSignature><!\[CDATA\[[0-9a-f]+/, `<MsgSignature><![CDATA[${'0'.repeat(40)}`));
    expect((await pushOaMessage(t.ctx, { tenantId: 't-retry', oa, fields: fields(oa) }, { serverUrl: url, timeoutMs: TIMEOUT_MS })).failure).toBe(SERVICE_UNAVAILABLE_TEXT);
    behaviour = (_n, _req, _body, res) => res.end('<xml><ToUserName>o</ToUserName><MsgType>text</MsgType><Content>plain in safe mode</Content></xml>');
    expect((await pushOaMessage(t.ctx, { tenantId: 't-retry', oa, fields: fields(oa) }, { serverUrl: url, timeoutMs: TIMEOUT_MS })).failure).toBe(SERVICE_UNAVAILABLE_TEXT);
  });

  it('treats success and an empty body as "no passive reply"', async () => {
    const oa = randomOa('compatible');
    for (const answer of ['success', '']) {
      behaviour = (_n, _req, _body, res) => res.end(answer);
      expect(await pushOaMessage(t.ctx, { tenantId: 't-retry', oa, fields: fields(oa) }, { serverUrl: url, timeoutMs: TIMEOUT_MS })).toEqual({ reply: null, attempts: 1 });
    }
  });
});

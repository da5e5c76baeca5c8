// WeChat's retries are handled once: the same push 5 times in a row or at once runs the handler once and gets the same reply or success; credentials refresh; old claims are purged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../helpers/app.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { inTx } from '../../../../src/db/tx.ts';
import { setCredentials } from '../../../../src/tenants/index.ts';
import { oaServer, OA_CREDENTIALS_TTL_MS, OA_DEDUP_RETENTION_MS, PURGE_TOPIC, type OaInbound } from '../../../../src/wechat/oa/index.ts';
import { defaultReply } from '../../../../src/wechat/oa/default-handler.ts';
import { createOaTenant, eventXml, nextMsgId, openReply, randomOa, textXml, wechatRequest, type WechatRequest } from './helpers.ts';

/** Opening a migrated PGlite on a loaded machine can take a while. */
const STARTUP_TIMEOUT_MS = 60_000;

const REPEATS = 5;
let t: TestApp;
const clock = new ManualClock('2026-03-03T08:00:00Z');
const calls: OaInbound[] = [];

beforeAll(async () => {
  t = await startTestApp({
    clock,
    modules: [
      oaServer({
        onMessage: async (_ctx, msg) => {
          calls.push(msg);
          // Yield a few times so concurrent deliveries really overlap the first one.
          for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
          return defaultReply(msg);
        },
      }),
    ],
  });
}, STARTUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

const nowSec = () => Math.floor(clock.now().getTime() / 1000);
const callsFor = (openid: string) => calls.filter((c) => c.openid === openid).length;

async function post(req: WechatRequest) {
  const res = await t.app.inject({ method: 'POST', url: req.url, headers: { 'content-type': 'text/xml' }, payload: req.body });
  expect(res.statusCode).toBe(200);
  return res.body;
}

describe('duplicate deliveries', () => {
  it('runs the handler once for 5 sequential deliveries and gives each the same passive reply', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('safe'));
    const req = wechatRequest(tenantId, oa, textXml(oa, 'oSeq', '帮助', nextMsgId(), nowSec()), { timestamp: nowSec() });
    const bodies: string[] = [];
    for (let i = 0; i < REPEATS; i++) bodies.push(await post(req));
    expect(callsFor('oSeq')).toBe(1);
    const plaintexts = bodies.map((b) => openReply(oa, b));
    expect(new Set(plaintexts).size).toBe(1);
    // Each retry is a fresh envelope (new nonce), around the one stored reply.
    expect(new Set(bodies).size).toBe(REPEATS);
  });

  it('runs the handler once for 5 concurrent deliveries; each gets that reply or success', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('safe'));
    const req = wechatRequest(tenantId, oa, textXml(oa, 'oPar', '帮助', nextMsgId(), nowSec()), { timestamp: nowSec() });
    const bodies = await Promise.all(Array.from({ length: REPEATS }, () => post(req)));
    expect(callsFor('oPar')).toBe(1);
    const replies = bodies.filter((b) => b !== 'success').map((b) => openReply(oa, b));
    expect(replies.length).toBeGreaterThanOrEqual(1);
    expect(new Set(replies).size).toBe(1);
  });

  it('recognises an event retried with a new signature by FromUserName + CreateTime', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('plain'));
    const xml = eventXml(oa, 'oEvt', 'CLICK', nowSec(), 'BALANCE');
    for (let i = 0; i < REPEATS; i++) await post(wechatRequest(tenantId, oa, xml, { timestamp: nowSec() + i, nonce: String(1000 + i) }));
    expect(callsFor('oEvt')).toBe(1);
  });

  it('keeps apart two clicks in the same second and the same MsgId at two tenants', async () => {
    const a = await createOaTenant(t.ctx, randomOa('plain'));
    const b = await createOaTenant(t.ctx, randomOa('plain'));
    await post(wechatRequest(a.tenantId, a.oa, eventXml(a.oa, 'oTwo', 'CLICK', nowSec(), 'BALANCE'), { timestamp: nowSec() }));
    await post(wechatRequest(a.tenantId, a.oa, eventXml(a.oa, 'oTwo', 'CLICK', nowSec(), 'STATEMENT'), { timestamp: nowSec() }));
    const msgId = nextMsgId();
    await post(wechatRequest(a.tenantId, a.oa, textXml(a.oa, 'oTwo', 'x', msgId, nowSec()), { timestamp: nowSec() }));
    await post(wechatRequest(b.tenantId, b.oa, textXml(b.oa, 'oTwo', 'x', msgId, nowSec()), { timestamp: nowSec() }));
    expect(callsFor('oTwo')).toBe(4);
  });
});

describe('credentials', () => {
  it('takes a new token into use once the cached credentials expire', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('safe'));
    await post(wechatRequest(tenantId, oa, textXml(oa, 'oCred', 'x', nextMsgId(), nowSec()), { timestamp: nowSec() }));
    const rotated = { ...oa, token: randomOa('safe').token };
    await inTx(t.ctx.db, (tx) => setCredentials(tx, t.ctx.crypto, tenantId, { oa: rotated }, clock.now()));
    const withNewToken = () => wechatRequest(tenantId, rotated, textXml(rotated, 'oCred', 'y', nextMsgId(), nowSec()), { timestamp: nowSec() });
    const stale = await t.app.inject({ method: 'POST', url: withNewToken().url, payload: withNewToken().body });
    expect(stale.statusCode).toBe(401);
    clock.advance(OA_CREDENTIALS_TTL_MS + 1);
    const req = withNewToken();
    expect(openReply(rotated, await post(req))).toContain('<MsgType><![CDATA[text]]></MsgType>');
  });
});

describe('retention', () => {
  it('purges claims older than the retention through the oa.purge job, keeping recent ones', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('plain'));
    await post(wechatRequest(tenantId, oa, textXml(oa, 'oOld', 'x', nextMsgId(), nowSec()), { timestamp: nowSec() }));
    clock.advance(OA_DEDUP_RETENTION_MS + 60_000);
    await post(wechatRequest(tenantId, oa, textXml(oa, 'oNew', 'x', nextMsgId(), nowSec()), { timestamp: nowSec() }));
    // The purge is requested without delaying the reply: wait for its row.
    for (let i = 0; i < 100; i++) {
      const due = await t.ctx.db.selectFrom('outbox').select('id').where('topic', '=', PURGE_TOPIC).where('done_at', 'is', null).executeTakeFirst();
      if (due) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // The first push of the file asked for one too (another interval).
    expect(await t.ctx.jobs.runDue({ topics: [PURGE_TOPIC] })).toBeGreaterThanOrEqual(1);
    const left = await t.ctx.db.selectFrom('oa_messages').select('received_at').execute();
    expect(left.length).toBeGreaterThanOrEqual(1);
    for (const r of left) expect(r.received_at.getTime()).toBeGreaterThanOrEqual(clock.now().getTime() - OA_DEDUP_RETENTION_MS);
  });
});

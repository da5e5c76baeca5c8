// The 5-second rule: a handler that misses its window gets `success` answered at once; its reply is queued as a customer-service message; retries meanwhile get success.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../helpers/app.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { oaServer, CUSTOM_REPLY_TOPIC, type OaDeadline, type OaInbound, type OaReply } from '../../../../src/wechat/oa/index.ts';
import { createOaTenant, nextMsgId, randomOa, textXml, wechatRequest, type WechatRequest } from './helpers.ts';

/** Opening a migrated PGlite on a loaded machine can take a while. */
const STARTUP_TIMEOUT_MS = 60_000;

/** Short, so the test does not wait 4.5 s; nothing is asserted about time itself. */
const DEADLINE_MS = 150;

interface Gate {
  msg: OaInbound;
  deadline: OaDeadline;
  settle: (r: { reply?: OaReply; error?: Error }) => void;
}

let t: TestApp;
const clock = new ManualClock('2026-03-04T08:00:00Z');
const gates: Gate[] = [];

beforeAll(async () => {
  t = await startTestApp({
    clock,
    modules: [
      oaServer({
        replyDeadlineMs: DEADLINE_MS,
        onMessage: (_ctx, msg, deadline) =>
          new Promise((resolve, reject) => {
            gates.push({ msg, deadline, settle: (r) => (r.error ? reject(r.error) : resolve(r.reply)) });
          }),
      }),
    ],
  });
}, STARTUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

const nowSec = () => Math.floor(clock.now().getTime() / 1000);

async function post(req: WechatRequest): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: req.url, headers: { 'content-type': 'text/xml' }, payload: req.body });
  expect(res.statusCode).toBe(200);
  return res.body;
}

async function stateOf(tenantId: string): Promise<string | undefined> {
  const r = await t.ctx.db.selectFrom('oa_messages').select('state').where('tenant_id', '=', tenantId).executeTakeFirst();
  return r?.state;
}

/** The late outcome is recorded after the handler settles, off the request: wait for it. */
async function waitForState(tenantId: string, not: string): Promise<string | undefined> {
  for (let i = 0; i < 200; i++) {
    const s = await stateOf(tenantId);
    if (s !== not) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
  return stateOf(tenantId);
}

describe('the passive-reply window', () => {
  it('answers success when the handler is late, success to retries meanwhile, and queues the late reply as a customer-service message', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('safe'));
    const req = wechatRequest(tenantId, oa, textXml(oa, 'oSlow', '余额', nextMsgId(), nowSec()), { timestamp: nowSec(), openid: 'oSlow' });
    expect(await post(req)).toBe('success');
    const gate = gates.at(-1)!;
    expect(gate.deadline.signal.aborted).toBe(true);
    expect(await stateOf(tenantId)).toBe('processing');
    // WeChat's retry arrives while the work goes on.
    expect(await post(req)).toBe('success');
    expect(gates.filter((g) => g.msg.openid === 'oSlow')).toHaveLength(1);

    gate.settle({ reply: { type: 'text', content: '您尾号 8888 的账户余额为 100.00 元' } });
    expect(await waitForState(tenantId, 'processing')).toBe('deferred');
    const jobs = await t.ctx.db.selectFrom('outbox').select(['payload', 'dedupe_key']).where('topic', '=', CUSTOM_REPLY_TOPIC).execute();
    const mine = jobs.map((j) => (typeof j.payload === 'string' ? JSON.parse(j.payload) : j.payload)).filter((p) => p.tenantId === tenantId);
    expect(mine).toEqual([{ tenantId, openid: 'oSlow', content: '您尾号 8888 的账户余额为 100.00 元' }]);
    // A retry after the answer went out later gets success, not a second answer.
    expect(await post(req)).toBe('success');
  });

  it('queues news as text, records a late failure without a message, and a late "no answer" as done', async () => {
    const news = await createOaTenant(t.ctx, randomOa('plain'));
    expect(await post(wechatRequest(news.tenantId, news.oa, textXml(news.oa, 'oNews', 'x', nextMsgId(), nowSec()), { timestamp: nowSec() }))).toBe('success');
    gates.at(-1)!.settle({ reply: { type: 'news', articles: [{ title: '明细', url: 'https://bank.example/s' }] } });
    expect(await waitForState(news.tenantId, 'processing')).toBe('deferred');
    const job = await t.ctx.db.selectFrom('outbox').select('payload').where('dedupe_key', 'like', `${CUSTOM_REPLY_TOPIC}:${news.tenantId}:%`).executeTakeFirstOrThrow();
    expect((typeof job.payload === 'string' ? JSON.parse(job.payload) : job.payload).content).toBe('明细\nhttps://bank.example/s');

    const failing = await createOaTenant(t.ctx, randomOa('plain'));
    expect(await post(wechatRequest(failing.tenantId, failing.oa, textXml(failing.oa, 'oFail', 'x', nextMsgId(), nowSec()), { timestamp: nowSec() }))).toBe('success');
    gates.at(-1)!.settle({ error: new Error('core timeout') });
    expect(await waitForState(failing.tenantId, 'processing')).toBe('failed');

    const silent = await createOaTenant(t.ctx, randomOa('plain'));
    expect(await post(wechatRequest(silent.tenantId, silent.oa, textXml(silent.oa, 'oQuiet', 'x', nextMsgId(), nowSec()), { timestamp: nowSec() }))).toBe('success');
    gates.at(-1)!.settle({});
    expect(await waitForState(silent.tenantId, 'processing')).toBe('replied');
    const queued = await t.ctx.db.selectFrom('outbox').select('id').where('dedupe_key', 'like', `${CUSTOM_REPLY_TOPIC}:${failing.tenantId}:%`).execute();
    expect(queued).toHaveLength(0);
  });
});

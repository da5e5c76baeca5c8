// Two wecard instances on one PostgreSQL behind WeChat's retries: a push delivered 5 times, to either instance, also at once, is handled once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { oaServer, HELP_TEXT, type OaInbound } from '../../../../src/wechat/oa/index.ts';
import { defaultReply } from '../../../../src/wechat/oa/default-handler.ts';
import { createOaTenant, eventXml, nextMsgId, openReply, randomOa, textXml, wechatRequest, xmlElement, type WechatRequest } from './helpers.ts';

/** Opening a migrated PGlite on a loaded machine can take a while. */
const STARTUP_TIMEOUT_MS = 60_000;

const REPEATS = 5;
let p: Platform;
const calls: OaInbound[] = [];

describe.skipIf(!process.env.TEST_DATABASE_URL)('OA pushes across two instances (needs PostgreSQL)', () => {
  beforeAll(async () => {
    p = await startPlatform({
      instances: 2,
      sandboxModules: [],
      serverModules: [
        oaServer({
          onMessage: async (_ctx, msg) => {
            calls.push(msg);
            // A little real latency so deliveries to the other instance overlap this one.
            await new Promise((r) => setTimeout(r, 5));
            return defaultReply(msg);
          },
        }),
      ],
    });
  }, STARTUP_TIMEOUT_MS);
  afterAll(async () => {
    await p?.close();
  });

  const nowSec = () => Math.floor(Date.now() / 1000);
  const callsFor = (openid: string) => calls.filter((c) => c.openid === openid).length;

  async function deliver(req: WechatRequest, instance: number): Promise<string> {
    const res = await fetch(`${p.servers[instance]!.url}${req.url}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: req.body });
    expect(res.status).toBe(200);
    return res.text();
  }

  it('handles a message delivered 5 times at once, alternately to both instances, once', async () => {
    const { tenantId, oa } = await createOaTenant(p.servers[0]!.ctx, randomOa('safe'));
    const req = wechatRequest(tenantId, oa, textXml(oa, 'oMulti', '帮助', nextMsgId(), nowSec()), { timestamp: nowSec() });
    const bodies = await Promise.all(Array.from({ length: REPEATS }, (_, i) => deliver(req, i % 2)));
    expect(callsFor('oMulti')).toBe(1);
    const replies = bodies.filter((b) => b !== 'success').map((b) => openReply(oa, b));
    expect(replies.length).toBeGreaterThanOrEqual(1);
    expect(new Set(replies).size).toBe(1);
    expect(xmlElement(replies[0]!, 'Content')).toBe(HELP_TEXT);
  });

  it('gives later retries at either instance the stored reply', async () => {
    const { tenantId, oa } = await createOaTenant(p.servers[0]!.ctx, randomOa('safe'));
    const req = wechatRequest(tenantId, oa, textXml(oa, 'oMultiSeq', '帮助', nextMsgId(), nowSec()), { timestamp: nowSec() });
    const first = openReply(oa, await deliver(req, 0));
    for (let i = 1; i < REPEATS; i++) expect(openReply(oa, await deliver(req, i % 2))).toBe(first);
    expect(callsFor('oMultiSeq')).toBe(1);
  });

  it('handles an event delivered 5 times at once to both instances once', async () => {
    const { tenantId, oa } = await createOaTenant(p.servers[1]!.ctx, randomOa('plain'));
    const xml = eventXml(oa, 'oMultiEvt', 'CLICK', nowSec(), 'BALANCE');
    await Promise.all(Array.from({ length: REPEATS }, (_, i) => deliver(wechatRequest(tenantId, oa, xml, { timestamp: nowSec(), nonce: String(i) }), i % 2)));
    expect(callsFor('oMultiEvt')).toBe(1);
  });
});

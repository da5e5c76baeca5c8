// Balance-change alerts through the sandbox: a posting on a bound card becomes one OA template message (once only, masked), the opt-out (chat or API) is honoured, refusals are not retried.
import { beforeAll, describe, expect, it } from 'vitest';
import { ALERT_JOB_OPTIONS, ALERT_SCAN_INTERVAL_MS, ALERT_SCAN_TOPIC, ALERT_SEND_TOPIC, DEFAULT_ALERT_TEMPLATE_ID } from '../../../src/channels/index.ts';
import { cdb } from '../../../src/channels/store.ts';
import { type ChannelsWorld, type OaUser } from './world.ts';

let w: ChannelsWorld;
const tenantId = 'realtime-bank';


/** One scan and the sends it queued, on the server's job runner, as a polling instance would run them. */
async function runAlerts(): Promise<void> {
  w.clock.advance(ALERT_SCAN_INTERVAL_MS);
  await w.server.ctx.jobs.runDue({ topics: [ALERT_SCAN_TOPIC] });
  await w.server.ctx.jobs.runDue({ topics: [ALERT_SEND_TOPIC] });
}

async function inbox(openid: string): Promise<{ templateId: string; data: Record<string, { value: string }> }[]> {
  return w.sandboxGet(`/sandbox/api/template-messages?openid=${openid}&limit=50`);
}

async function alertRows(cardId: string) {
  return cdb(w.server.ctx.db).selectFrom('channels_alerts').selectAll().where('card_id', '=', cardId).orderBy('created_at').execute();
}

async function boundUser(name: string, cardIndex = 0): Promise<OaUser & { cardId: string; maskedNumber: string; numbers: string[] }> {
  const u = await w.signInOa(tenantId);
  const h = w.holder(tenantId, name);
  const card = await w.bind(u.session, h, cardIndex);
  return { ...u, ...card, numbers: h.cards.map((c) => c.number) };
}

/** Registers the suite on the file's shared world (one platform start per test file). */
export function alertsSuite(world: () => ChannelsWorld): void {
  beforeAll(() => {
    w = world();
  });

describe('balance-change alerts', { timeout: 60_000 }, () => {
  it('sends one masked template message per posting on a bound card, once, and none for postings before the binding', async () => {
    const u = await boundUser('李晓红');
    await runAlerts();
    expect(await inbox(u.oaOpenid)).toHaveLength(0);
    await w.post(u.session, u.cardId, 12_345_67n, '工资');
    await w.post(u.session, u.cardId, -88_00n, '超市购物');
    await runAlerts();
    const sent = await inbox(u.oaOpenid);
    expect(sent).toHaveLength(2);
    expect(sent.every((m) => m.templateId === DEFAULT_ALERT_TEMPLATE_ID)).toBe(true);
    const [out, into] = sent; // newest first
    expect(into!.data.keyword1!.value).toBe(`尾号${u.maskedNumber.slice(-4)}`);
    expect(into!.data.keyword3!.value).toBe('+¥12,345.67');
    expect(into!.data.keyword4!.value).toContain('工资');
    expect(out!.data.keyword3!.value).toBe('-¥88.00');
    expect(out!.data.first!.value).toContain('支出');
    for (const n of u.numbers) expect(JSON.stringify(sent)).not.toContain(n);
    // Scanning again (the overlap re-reads the same postings) and running the jobs again send nothing more.
    await runAlerts();
    await runAlerts();
    expect(await inbox(u.oaOpenid)).toHaveLength(2);
    const rows = await alertRows(u.cardId);
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent']);
    expect(rows.every((r) => r.msgid && /^\d+$/.test(r.msgid))).toBe(true);
  });

  it('honours the opt-out from the chat (退订提醒) and the API, also for alerts already queued, and alerts again after opting back in', async () => {
    const u = await boundUser('孙丽娟');
    expect((await w.chat(tenantId, u.oaOpenid, { text: '退订提醒' })).reply).toContain('已关闭');
    expect((await w.call('GET', '/api/v1/alerts', { session: u.session })).body).toEqual({ enabled: false });
    await w.post(u.session, u.cardId, 500_00n);
    await runAlerts();
    expect(await inbox(u.oaOpenid)).toHaveLength(0);
    expect((await alertRows(u.cardId)).map((r) => [r.status, r.reason])).toEqual([['skipped', 'opted_out']]);

    const on = await w.call('PUT', '/api/v1/alerts', { session: u.session, body: { enabled: true } });
    expect([on.status, on.body]).toEqual([200, { enabled: true }]);
    await w.post(u.session, u.cardId, 600_00n);
    await runAlerts();
    expect((await inbox(u.oaOpenid)).map((m) => m.data.keyword3!.value)).toEqual(['+¥600.00']);

    // Queued, then the user opts out before the job runs: nothing is sent.
    await w.post(u.session, u.cardId, 700_00n);
    w.clock.advance(ALERT_SCAN_INTERVAL_MS);
    await w.server.ctx.jobs.runDue({ topics: [ALERT_SCAN_TOPIC] });
    const off = await w.call('PUT', '/api/v1/alerts', { session: u.session, body: { enabled: false } });
    expect(off.body).toEqual({ enabled: false });
    await w.server.ctx.jobs.runDue({ topics: [ALERT_SEND_TOPIC] });
    expect(await inbox(u.oaOpenid)).toHaveLength(1);
    expect((await alertRows(u.cardId)).map((r) => r.status)).toEqual(['skipped', 'sent', 'skipped']);
    const bad = await w.call('PUT', '/api/v1/alerts', { session: u.session, body: { enabled: 'no' } });
    expect([bad.status, bad.body.code]).toEqual([400, 'validation_failed']);
    expect((await w.call('GET', '/api/v1/alerts')).status).toBe(401);
  });

  it('retries a send that failed for a passing reason (WeChat unreachable) and sends it once when WeChat is back', async () => {
    const u = await boundUser('李晓红', 1);
    await w.post(u.session, u.cardId, 10_00n);
    w.clock.advance(ALERT_SCAN_INTERVAL_MS);
    await w.server.ctx.jobs.runDue({ topics: [ALERT_SCAN_TOPIC] });
    const wechat = w.server.ctx.config.wechat;
    const apiBase = wechat.apiBase;
    // The platform cannot be reached (nothing listens on the discard port).
    wechat.apiBase = 'http://127.0.0.1:9';
    try {
      await w.server.ctx.jobs.runDue({ topics: [ALERT_SEND_TOPIC] });
    } finally {
      wechat.apiBase = apiBase;
    }
    expect((await alertRows(u.cardId)).map((r) => r.status)).toEqual(['queued']);
    const job = () => w.server.ctx.db.selectFrom('outbox').select(['attempts', 'done_at', 'last_error']).where('topic', '=', ALERT_SEND_TOPIC).where('dedupe_key', 'like', `%${u.cardId}%`).executeTakeFirstOrThrow();
    expect(await job()).toMatchObject({ attempts: 1, done_at: null });
    // Not before the backoff: then once.
    await w.server.ctx.jobs.runDue({ topics: [ALERT_SEND_TOPIC] });
    expect(await inbox(u.oaOpenid)).toHaveLength(0);
    w.clock.advance(ALERT_JOB_OPTIONS.retryDelayMs(1));
    await w.server.ctx.jobs.runDue({ topics: [ALERT_SEND_TOPIC] });
    expect((await inbox(u.oaOpenid)).map((m) => m.data.keyword3!.value)).toEqual(['+¥10.00']);
    expect((await alertRows(u.cardId)).map((r) => r.status)).toEqual(['sent']);
    expect((await job()).attempts).toBe(2);
  });

  it('does not retry what WeChat refuses for good (an unfollowed account) and sends nothing for an unbound card', async () => {
    const u = await boundUser('赵志强');
    await w.sandboxPost(`/sandbox/api/users/${u.oaOpenid}/subscription`, { subscribed: false });
    await w.post(u.session, u.cardId, 1_00n);
    await runAlerts();
    expect((await alertRows(u.cardId)).map((r) => [r.status, r.reason])).toEqual([['failed', 'refused']]);
    const jobs = await w.server.ctx.db.selectFrom('outbox').select(['attempts', 'done_at']).where('topic', '=', ALERT_SEND_TOPIC).where('dedupe_key', 'like', `%${u.cardId}%`).execute();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.attempts).toBe(1);
    expect(jobs[0]!.done_at).not.toBeNull();

    await w.sandboxPost(`/sandbox/api/users/${u.oaOpenid}/subscription`, { subscribed: true });
    const del = await w.call('DELETE', `/api/v1/cards/${u.cardId}`, { session: u.session });
    expect(del.status, del.text).toBeLessThan(300);
    await w.post(u.session, u.cardId, 2_00n).catch(() => undefined);
    await runAlerts();
    expect(await alertRows(u.cardId)).toHaveLength(1);
    expect(await inbox(u.oaOpenid)).toHaveLength(0);
  });
});
}

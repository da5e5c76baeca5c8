// SMS banking through the sandbox provider: signed inbound texts YE / YE#1234 / MX / BZ answered by SMS from the same use cases (quota, audit) as the API; unsigned or replayed texts refused.
import { beforeAll, describe, expect, it } from 'vitest';
import { getBalance } from '../../../src/ledger/index.ts';
import { SMS_COMMAND_TOPIC, SMS_REPLY_TOPIC, SMS_HELP_TEXT, SMS_NOT_REGISTERED_TEXT, smsSignature } from '../../../src/channels/index.ts';
import { SMS_PROVIDER_TOKEN, type ChannelsWorld } from './world.ts';

let w: ChannelsWorld;


function yuan(fen: bigint): string {
  const neg = fen < 0n;
  const a = neg ? -fen : fen;
  return `${neg ? '-' : ''}¥${(a / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${(a % 100n).toString().padStart(2, '0')}`;
}

/** The phone texts the bank; the job runs; the newest SMS to that phone is the answer. */
async function text(tenantId: string, from: string, body: string): Promise<string> {
  const r = await w.sandboxPost('/sandbox/api/sms/inbound', { tenantId, from, text: body });
  expect(r.status).toBe(200);
  expect([r.body.status, r.body.body]).toEqual([202, { accepted: true }]);
  await w.server.ctx.jobs.runDue({ topics: [SMS_COMMAND_TOPIC] });
  await w.server.ctx.jobs.runDue({ topics: [SMS_REPLY_TOPIC] });
  const box = await w.sandboxGet(`/sandbox/api/sms?phone=${from}&limit=1`);
  return box[0].text as string;
}

async function rawPost(tenantId: string, raw: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(`${w.server.url}/sms/inbound/${tenantId}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: raw });
  return { status: res.status, body: await res.json() };
}

/** Registers the suite on the file's shared world (one platform start per test file). */
export function smsSuite(world: () => ChannelsWorld): void {
  beforeAll(() => {
    w = world();
  });

describe('SMS banking', { timeout: 60_000 }, () => {
  it('answers YE, YE#1234, MX and BZ for the cards registered to the sender’s phone, masked, matching the ledger and the statement API', async () => {
    const tenantId = 'realtime-bank';
    const h = w.holder(tenantId, '李晓红');
    const u = await w.signInOa(tenantId);
    const first = await w.bind(u.session, h, 0);
    const second = await w.bind(u.session, h, 1);
    for (let i = 1; i <= 4; i++) {
      w.clock.advance(60_000);
      await w.post(u.session, first.cardId, 1_000n * BigInt(i), `短信测试${i}`);
    }
    const ye = await text(tenantId, h.phone, 'YE');
    const ledger = await getBalance(w.server.ctx.db, (await w.coreOf(u.session, first.cardId)).ledgerAccountId);
    expect(ye).toContain(first.maskedNumber);
    expect(ye).toContain(`可用余额：${yuan(ledger.availableFen)}`);
    for (const n of [...h.cards.map((c) => c.number), h.idNumber]) expect(ye).not.toContain(n);

    const ye2 = await text(tenantId, h.phone, `ye#${second.maskedNumber.slice(-4)}`);
    expect(ye2).toContain(second.maskedNumber);

    const mx = await text(tenantId, h.phone, 'MX');
    const api = await w.call('GET', `/api/v1/cards/${first.cardId}/transactions?limit=3`, { session: u.session });
    expect(api.status).toBe(200);
    const entries = mx.split('；').slice(1);
    expect(entries).toHaveLength(3);
    (api.body.items as { amount: number; description: string }[]).forEach((it, i) => {
      expect(entries[i]).toContain(it.description);
      expect(entries[i]).toContain(`+${yuan(BigInt(it.amount))}`);
    });
    expect(await text(tenantId, h.phone, 'BZ')).toContain(SMS_HELP_TEXT);
    expect(await text(tenantId, h.phone, '你好')).toContain(SMS_HELP_TEXT);
    expect(await text(tenantId, h.phone, 'YE#0000')).toContain('没有找到尾号0000');

    // Audited: the command, and the reads as bound queries from the SMS channel.
    const audit = await w.server.ctx.db.selectFrom('audit_log').select(['action', 'detail', 'actor_id', 'outcome']).where('actor_id', '=', u.session.userId).where('action', 'in', ['sms.command', 'balance.read', 'transactions.read']).execute();
    const sms = audit.filter((a) => a.action === 'sms.command');
    expect(sms.length).toBeGreaterThanOrEqual(4);
    expect(sms.every((a) => !a.detail!.includes(h.phone))).toBe(true);
    expect(audit.filter((a) => a.action === 'balance.read').map((a) => JSON.parse(a.detail!).channel)).toEqual(['sms', 'sms']);
  });

  it('applies the tenant’s daily query quota to SMS as to the API', async () => {
    const tenantId = 'daily10-bank';
    const h = w.holder(tenantId, '周文斌');
    const u = await w.signInOa(tenantId);
    await w.bind(u.session, h, 0);
    const answers: string[] = [];
    for (let i = 0; i < 11; i++) answers.push(await text(tenantId, h.phone, 'YE'));
    expect(answers.slice(0, 10).every((a) => a.includes('可用余额'))).toBe(true);
    expect(answers[10]).toContain('今日查询次数已用完');
  });

  it('tells an unknown phone how to register, and refuses unsigned, tampered, stale and malformed posts; a repeated messageId is answered once', async () => {
    const stranger = '13912340000';
    expect(await text('realtime-bank', stranger, 'YE')).toContain(SMS_NOT_REGISTERED_TEXT);

    const now = Math.floor(w.clock.now().getTime() / 1000);
    const raw = JSON.stringify({ messageId: 'm-dup-1', from: stranger, text: 'BZ' });
    const ts = String(now);
    const good = { 'x-sms-timestamp': ts, 'x-sms-signature': smsSignature(SMS_PROVIDER_TOKEN, ts, raw) };
    expect((await rawPost('realtime-bank', raw, {})).body.code).toBe('unauthenticated');
    expect((await rawPost('realtime-bank', raw, { ...good, 'x-sms-signature': smsSignature('wrong-token', ts, raw) })).status).toBe(401);
    expect((await rawPost('realtime-bank', raw.replace('BZ', 'YE'), good)).status).toBe(401);
    const old = String(now - 3600);
    expect((await rawPost('realtime-bank', raw, { 'x-sms-timestamp': old, 'x-sms-signature': smsSignature(SMS_PROVIDER_TOKEN, old, raw) })).status).toBe(401);
    const bad = JSON.stringify({ messageId: 'm-bad', from: 'not-a-phone', text: 'YE' });
    const badAnswer = await rawPost('realtime-bank', bad, { 'x-sms-timestamp': ts, 'x-sms-signature': smsSignature(SMS_PROVIDER_TOKEN, ts, bad) });
    expect([badAnswer.status, badAnswer.body.code]).toEqual([400, 'validation_failed']);

    const before = (await w.sandboxGet(`/sandbox/api/sms?phone=${stranger}&limit=50`)).length;
    expect((await rawPost('realtime-bank', raw, good)).status).toBe(202);
    expect((await rawPost('realtime-bank', raw, good)).status).toBe(202);
    await w.server.ctx.jobs.runDue({ topics: [SMS_COMMAND_TOPIC] });
    await w.server.ctx.jobs.runDue({ topics: [SMS_REPLY_TOPIC] });
    const after = await w.sandboxGet(`/sandbox/api/sms?phone=${stranger}&limit=50`);
    expect(after.length).toBe(before + 1);
    expect(after[0].text).toContain(SMS_HELP_TEXT);
  });
});
}

// Issue 5 acceptance through the sandbox: a demo user binds a card in the H5 API, then 余额 in the OA chat (safe mode, real encrypted protocol) answers the masked balance of the ledger and 明细 the statement API's entries.
import { beforeAll, describe, expect, it } from 'vitest';
import { getBalance } from '../../../src/ledger/index.ts';
import { setCardStatus } from '../../../src/core/index.ts';
import { inTx } from '../../../src/db/tx.ts';
import { getCredentials } from '../../../src/tenants/index.ts';
import { pushOaMessage } from '../../../src/sandbox/oa/index.ts';
import { expectMasked, strings } from '../accounts/world.ts';
import { type ChannelsWorld } from './world.ts';

let w: ChannelsWorld;


/** Written here, independently of src/channels/format.ts: ¥ with thousands separators and 2 decimals. */
function yuan(fen: bigint): string {
  const neg = fen < 0n;
  const a = neg ? -fen : fen;
  const whole = (a / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}¥${whole}.${(a % 100n).toString().padStart(2, '0')}`;
}

/** Asia/Shanghai `MM-DD HH:mm`. */
function shanghai(iso: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(iso));
  const p = (t: string) => parts.find((x) => x.type === t)!.value;
  return `${p('month')}-${p('day')} ${p('hour')}:${p('minute')}`;
}

function expectNoClear(reply: string, h: { cards: { number: string }[]; phone: string; idNumber: string }): void {
  expectMasked({ status: 200, body: reply, text: reply, headers: new Headers() }, h as never);
}

/** Registers the suite on the file's shared world (one platform start per test file). */
export function chatSuite(world: () => ChannelsWorld): void {
  beforeAll(() => {
    w = world();
  });

describe('OA chat (safe mode, through the sandbox push)', { timeout: 60_000 }, () => {
  it('binds in the H5 API, then 余额 answers the masked balance matching the ledger and 明细 the statement API’s last 5 entries', async () => {
    const tenantId = 'realtime-bank';
    const creds = await w.sandboxGet(`/sandbox/api/tenants/${tenantId}/credentials`);
    expect(creds.oa.mode).toBe('safe');
    const h = w.holder(tenantId, '李晓红');
    const u = await w.signInOa(tenantId);
    const card = await w.bind(u.session, h);
    for (let i = 1; i <= 7; i++) {
      w.clock.advance(60_000);
      await w.post(u.session, card.cardId, i % 3 === 0 ? -1_234n * BigInt(i) : 100_000n * BigInt(i), `第${i}笔`);
    }
    w.clock.advance(60_000);

    const r = await w.chat(tenantId, u.oaOpenid, { text: '余额' });
    expect(r.attempts).toBe(1);
    expect(r.failure).toBeUndefined();
    const core = await w.coreOf(u.session, card.cardId);
    const ledger = await getBalance(w.server.ctx.db, core.ledgerAccountId);
    expect(r.reply).toContain(card.maskedNumber);
    expect(r.reply).toContain(`可用余额：${yuan(ledger.availableFen)}`);
    expect(r.reply).toContain(`账面余额：${yuan(ledger.postedFen)}`);
    expectNoClear(r.reply!, h);
    // The same answer as the API's, and one audited bound read from the OA channel.
    const api = await w.call('GET', `/api/v1/cards/${card.cardId}/balance`, { session: u.session });
    expect(api.status, api.text).toBe(200);
    expect(r.reply).toContain(`可用余额：${yuan(BigInt(api.body.available))}`);
    const audit = await w.server.ctx.db.selectFrom('audit_log').select(['detail', 'actor_id']).where('action', '=', 'balance.read').where('subject_id', '=', card.cardId).execute();
    expect(audit.map((a) => JSON.parse(a.detail!).channel ?? 'api').sort()).toEqual(['api', 'oa']);
    expect(audit.every((a) => a.actor_id === u.session.userId)).toBe(true);

    const m = await w.chat(tenantId, u.oaOpenid, { text: '明细' });
    const statement = await w.call('GET', `/api/v1/cards/${card.cardId}/transactions?limit=5`, { session: u.session });
    expect(statement.status, statement.text).toBe(200);
    const items = statement.body.items as { bookedAt: string; amount: number; description: string; counterparty: string | null }[];
    expect(items).toHaveLength(5);
    const lines = m.reply!.split('\n');
    expect(lines[0]).toContain(card.maskedNumber);
    expect(lines.slice(1)).toHaveLength(5);
    items.forEach((it, i) => {
      const line = lines[1 + i]!;
      const amount = BigInt(it.amount);
      expect(line.startsWith(shanghai(it.bookedAt)), line).toBe(true);
      expect(line).toContain(amount < 0n ? yuan(amount) : `+${yuan(amount)}`);
      expect(line).toContain(it.description);
      if (it.counterparty) expect(line).toContain(it.counterparty);
    });
    // Newest first, as the API: the 7th posting heads the list.
    expect(lines[1]).toContain('第7笔');
    expectNoClear(m.reply!, h);
  });

  it('picks a card by its last 4 (余额 1234, full-width too) and lists the bound cards, masked, for an unknown last 4', async () => {
    const tenantId = 'realtime-bank';
    const h = w.holder(tenantId, '李晓红');
    const u = await w.signInOa(tenantId);
    const first = await w.bind(u.session, h, 0);
    const second = await w.bind(u.session, h, 1);
    await w.post(u.session, second.cardId, 4_242_00n);
    const last4 = second.maskedNumber.slice(-4);
    const r = await w.chat(tenantId, u.oaOpenid, { text: `余额 ${last4}` });
    expect(r.reply).toContain(second.maskedNumber);
    expect(r.reply).not.toContain(first.maskedNumber);
    const ledger = await getBalance(w.server.ctx.db, (await w.coreOf(u.session, second.cardId)).ledgerAccountId);
    expect(r.reply).toContain(yuan(ledger.availableFen));
    const fullWidth = await w.chat(tenantId, u.oaOpenid, { text: `余额　${last4.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)))}` });
    expect(fullWidth.reply).toContain(second.maskedNumber);
    // The default card (the first bound) answers plain 余额 and the BALANCE menu key.
    expect((await w.chat(tenantId, u.oaOpenid, { text: '余额' })).reply).toContain(first.maskedNumber);
    expect((await w.chat(tenantId, u.oaOpenid, { menuKey: 'BALANCE' })).reply).toContain(first.maskedNumber);
    expect((await w.chat(tenantId, u.oaOpenid, { menuKey: 'STATEMENT' })).reply).toContain(first.maskedNumber);
    const other = first.maskedNumber.slice(-4) === '0000' ? '0001' : '0000';
    const none = await w.chat(tenantId, u.oaOpenid, { text: `余额 ${other}` });
    expect(none.reply).toContain(`没有找到尾号${other}`);
    expect(none.reply).toContain(first.maskedNumber);
    expect(none.reply).toContain(second.maskedNumber);
    for (const reply of [r, fullWidth, none]) expectNoClear(reply.reply!, h);
  });

  it('answers a user who bound in the mini-program (linked by unionid) and gives unbound users the binding link', async () => {
    const tenantId = 'realtime-bank';
    // A follower who never signed in: the H5 binding page through OA web auth.
    const stranger = (await w.sandboxPost('/sandbox/api/users', { tenantId })).body.openid as string;
    const bindLink = `${w.server.url}/h5/bind?tenant=${tenantId}`;
    for (const m of [{ text: '余额' }, { text: '明细' }, { menuKey: 'BALANCE' }]) expect((await w.chat(tenantId, stranger, m)).reply).toContain(bindLink);
    expect((await w.chat(tenantId, stranger, { text: '绑卡' })).reply).toContain(bindLink);
    // Signed in through OA web auth but nothing bound yet: the link as well.
    const fresh = await w.signInOa(tenantId);
    expect((await w.chat(tenantId, fresh.oaOpenid, { text: '余额' })).reply).toContain(bindLink);

    // Bound in the mini-program; the OA openid is linked through the unionid (OA user/info).
    const s = await w.signIn(tenantId);
    const h = w.holder(tenantId, '李晓红');
    const card = await w.bind(s, h, 0);
    const sandboxUser = await w.server.ctx.db.selectFrom('identity_wechat_ids').select(['unionid']).where('user_id', '=', s.userId).executeTakeFirstOrThrow();
    const oaOpenid = (await w.server.ctx.db.selectFrom('sandbox_wx_users').select('oa_openid').where('unionid', '=', sandboxUser.unionid!).executeTakeFirst())?.oa_openid;
    expect(oaOpenid).toBeDefined();
    expect((await w.chat(tenantId, oaOpenid!, { text: '余额' })).reply).toContain(card.maskedNumber);
  });

  it('answers 帮助, the HELP key and a subscribe welcome; a lost card is refused in words, never with its number', async () => {
    const tenantId = 'realtime-bank';
    const u = await w.signInOa(tenantId);
    const help = await w.chat(tenantId, u.oaOpenid, { text: '帮助' });
    expect(help.reply).toContain('余额');
    expect(help.reply).toContain('明细');
    expect(help.reply).toContain('绑卡');
    expect((await w.chat(tenantId, u.oaOpenid, { menuKey: 'HELP' })).reply).toBe(help.reply);
    // Following the account: a welcome with the binding link while nothing is bound.
    const oa = (await getCredentials(w.sandbox.ctx.db, w.sandbox.ctx.crypto, tenantId))!.oa!;
    const subscribe = (openid: string) =>
      pushOaMessage(w.sandbox.ctx, {
        tenantId,
        oa,
        fields: { ToUserName: oa.originalId ?? 'gh_test', FromUserName: openid, CreateTime: Math.floor(w.clock.now().getTime() / 1000), MsgType: 'event', Event: 'subscribe', EventKey: '' },
      });
    const welcome = await subscribe(u.oaOpenid);
    expect(welcome.reply).toContain('感谢关注');
    expect(welcome.reply).toContain(`/h5/bind?tenant=${tenantId}`);
    // 赵志强's second card (USD): the other suites use his first.
    const h = w.holder(tenantId, '赵志强');
    const card = await w.bind(u.session, h, 1);
    const core = await w.coreOf(u.session, card.cardId);
    await inTx(w.server.ctx.db, (tx) => setCardStatus(tx, core.id, 'lost', w.clock.now()));
    w.forgetHotState();
    const lost = await w.chat(tenantId, u.oaOpenid, { text: '余额' });
    expect(lost.reply).toContain('挂失');
    expect(lost.reply).toContain(card.maskedNumber.slice(-4));
    expect(strings(lost.reply).join()).not.toContain(h.cards[1]!.number);
    // Once bound, a returning follower is welcomed without the link.
    w.clock.advance(1_000);
    const again = await subscribe(u.oaOpenid);
    expect(again.reply).toContain('感谢关注');
    expect(again.reply).not.toContain('/h5/bind');
  });
});
}

// Security: another cardholder's ids are refused on every /api/v1 route that takes one, codes lock after 5 tries, nothing sensitive in logs or in clear at rest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startWorld, type World } from './world.ts';
import { balanceProbe } from './probe.ts';
import { registerSensitive } from '../../helpers/secrets.ts';

let w: World;
const codesSeen: string[] = [];

beforeAll(async () => {
  w = await startWorld({ extraServerModules: [balanceProbe] });
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe("another cardholder's ids", () => {
  it('are refused with forbidden on every route that takes a card, binding, step-up or device id; unknown ids are not_found', async () => {
    const rich = w.holder('abc-demo', (x) => x.name === '王建国');
    const other = w.holder('abc-demo', (x) => x.name === '陈家豪');
    const a = await w.signIn('abc-demo');
    const b = await w.signIn('abc-demo');
    await w.bind(a, other);
    const bCard = await w.bind(b, rich);
    // B's open binding, step-up challenge and device.
    w.clock.advance(61_000);
    const bBinding = (await w.call('POST', '/api/v1/bindings', { session: b, body: { cardNumber: rich.cards[0]!.number, holderName: rich.name, idType: rich.idType, idNumber: rich.idNumber, phone: rich.phone } }));
    expect(bBinding.status).toBe(409); // already bound: use a binding of another card instead
    const zhang = w.holder('abc-demo', (x) => x.name === '张伟明');
    const open = await w.call('POST', '/api/v1/bindings', { session: b, body: { cardNumber: zhang.cards[0]!.number, holderName: zhang.name, idType: zhang.idType, idNumber: zhang.idNumber, phone: zhang.phone } });
    expect(open.status).toBe(201);
    const stepUp = (await w.call('GET', `/test/cards/${bCard.cardId}/balance`, { session: b })).body;
    expect(stepUp.code).toBe('step_up_required');

    const attempts: [string, string, unknown?][] = [
      ['DELETE', `/api/v1/cards/${bCard.cardId}`],
      ['POST', `/api/v1/cards/${bCard.cardId}/loss-report`],
      ['POST', `/api/v1/cards/${bCard.cardId}/default`],
      ['POST', `/api/v1/cards/${bCard.cardId}/reactivation`],
      ['GET', `/test/cards/${bCard.cardId}/balance`],
      ['POST', `/api/v1/bindings/${open.body.bindingId}/confirm`, { otp: await w.lastCode(zhang.phone), paymentPassword: zhang.paymentPassword }],
      ['POST', `/api/v1/step-ups/${stepUp.challengeId}`, { answer: rich.paymentPassword.slice(-4) }],
      ['POST', `/api/v1/devices/${b.deviceId}/activation`, {}],
    ];
    for (const [method, path, body] of attempts) {
      const r = await w.call(method, path, { session: a, body });
      expect([r.status, r.body.code], `${method} ${path}`).toEqual([403, 'forbidden']);
    }
    // Nothing happened to B's card, binding or challenge.
    const bList = await w.call('GET', '/api/v1/cards', { session: b });
    expect(bList.body.items).toEqual([expect.objectContaining({ cardId: bCard.cardId, status: 'active', isDefault: true })]);
    const confirm = await w.call('POST', `/api/v1/bindings/${open.body.bindingId}/confirm`, { session: b, body: { otp: await w.lastCode(zhang.phone), paymentPassword: zhang.paymentPassword } });
    expect(confirm.status).toBe(201);

    for (const [method, path, body] of [
      ['DELETE', '/api/v1/cards/card_00000000000000000000000000'],
      ['POST', '/api/v1/cards/card_00000000000000000000000000/loss-report'],
      ['POST', '/api/v1/cards/card_00000000000000000000000000/default'],
      ['POST', '/api/v1/cards/card_00000000000000000000000000/reactivation'],
      ['POST', '/api/v1/bindings/bnd_00000000000000000000000000/confirm', { otp: '123456' }],
      ['POST', '/api/v1/step-ups/stp_00000000000000000000000000', { answer: '1234' }],
    ] as [string, string, unknown?][]) {
      const r = await w.call(method, path, { session: a, body });
      expect([r.status, r.body.code], `${method} ${path}`).toEqual([404, 'not_found']);
    }
  });

  it("are not_found from another institution's session", async () => {
    const h = w.holder('hz-citizen-card');
    const owner = await w.signIn('hz-citizen-card');
    const card = await w.bind(owner, h);
    const stranger = await w.signIn('realtime-bank');
    for (const [method, path] of [
      ['DELETE', `/api/v1/cards/${card.cardId}`],
      ['POST', `/api/v1/cards/${card.cardId}/loss-report`],
      ['POST', `/api/v1/cards/${card.cardId}/default`],
    ]) {
      const r = await w.call(method!, path!, { session: stranger });
      expect(r.status, `${method} ${path}`).toBe(404);
    }
  });
});

describe('brute force', () => {
  it('locks a device-activation code after 5 wrong tries', async () => {
    const h = w.holder('realtime-bank', (x) => x.name === '李晓红');
    const first = await w.signIn('realtime-bank');
    await w.bind(first, h);
    const second = await w.signIn('realtime-bank', { openid: first.openid, unionid: first.unionid });
    w.clock.advance(61_000);
    expect((await w.call('POST', `/api/v1/devices/${second.deviceId}/activation`, { session: second, body: {} })).status).toBe(202);
    const code = await w.lastCode(h.phone);
    codesSeen.push(code);
    const wrong = code === '000000' ? '999999' : '000000';
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await w.call('POST', `/api/v1/devices/${second.deviceId}/activation`, { session: second, body: { otp: wrong } })).body);
    expect(answers.map((a) => a.code)).toEqual(['otp_invalid', 'otp_invalid', 'otp_invalid', 'otp_invalid', 'otp_locked']);
    expect(answers.slice(0, 4).map((a) => a.attemptsLeft)).toEqual([4, 3, 2, 1]);
    const right = await w.call('POST', `/api/v1/devices/${second.deviceId}/activation`, { session: second, body: { otp: code } });
    expect(right.body.code).toBe('otp_locked');
    expect((await w.call('GET', '/api/v1/cards', { session: second })).body.code).toBe('device_activation_required');
    // Each failure is in the audit log.
    const failed = await w.server.ctx.db.selectFrom('identity_otp_failures').select('id').execute();
    expect(failed.length).toBeGreaterThanOrEqual(5);
  });
});

describe('audit and risk', () => {
  it('records an audit entry for each session, binding, device activation, failed code, step-up outcome, unbinding and loss report', async () => {
    const h = w.holder('abc-demo', (x) => x.name === '王建国');
    const first = await w.signIn('abc-demo');
    w.clock.advance(61_000);
    const start = await w.call('POST', '/api/v1/bindings', { session: first, body: { cardNumber: h.cards[0]!.number, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone } });
    const code = await w.lastCode(h.phone);
    await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: first, body: { otp: code === '000000' ? '000001' : '000000', paymentPassword: h.paymentPassword } });
    const card = (await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: first, body: { otp: code, paymentPassword: h.paymentPassword } })).body;
    const second = await w.signIn('abc-demo', { openid: first.openid, unionid: first.unionid });
    w.clock.advance(61_000);
    await w.call('POST', `/api/v1/devices/${second.deviceId}/activation`, { session: second, body: {} });
    await w.call('POST', `/api/v1/devices/${second.deviceId}/activation`, { session: second, body: { otp: await w.lastCode(h.phone) } });
    const ch = (await w.call('GET', `/test/cards/${card.cardId}/balance`, { session: second })).body.challengeId;
    await w.call('POST', `/api/v1/step-ups/${ch}`, { session: second, body: { answer: h.paymentPassword.slice(-4) === '0000' ? '1111' : '0000' } });
    await w.call('POST', `/api/v1/step-ups/${ch}`, { session: second, body: { answer: h.paymentPassword.slice(-4) } });
    await w.call('POST', `/api/v1/cards/${card.cardId}/loss-report`, { session: second });
    await w.call('DELETE', `/api/v1/cards/${card.cardId}`, { session: second });

    const rows = await w.server.ctx.db.selectFrom('audit_log').select(['action', 'outcome', 'subject_kind', 'detail']).where('actor_id', '=', first.userId).orderBy('seq').execute();
    expect(rows.map((r) => `${r.action}:${r.outcome}`)).toEqual([
      'session.created:ok',
      'card.bind_requested:ok',
      'otp.failed:refused',
      'card.bind:ok',
      'session.created:ok',
      'device.activated:ok',
      'step_up.failed:refused',
      'step_up.passed:ok',
      'card.loss_report:ok',
      'card.unbind:ok',
    ]);
    const text = JSON.stringify(rows);
    for (const v of [h.phone, h.idNumber, h.name, h.cards[0]!.number, code]) expect(text).not.toContain(v);
  });

  it('turns failed codes and new devices into risk signals, which freeze the user at the threshold', async () => {
    const h = w.holder('daily10-bank', (x) => x.name === '周文斌');
    const first = await w.signIn('daily10-bank');
    const card = await w.bind(first, h);
    // Two more devices (new-device signals), then wrong activation codes (failed-OTP signals).
    await w.signIn('daily10-bank', { openid: first.openid, unionid: first.unionid });
    const third = await w.signIn('daily10-bank', { openid: first.openid, unionid: first.unionid });
    w.clock.advance(61_000);
    await w.call('POST', `/api/v1/devices/${third.deviceId}/activation`, { session: third, body: {} });
    const code = await w.lastCode(h.phone);
    for (let i = 0; i < 5; i++) await w.call('POST', `/api/v1/devices/${third.deviceId}/activation`, { session: third, body: { otp: code === '000000' ? '999999' : '000000' } });
    const r = await w.call('GET', `/test/cards/${card.cardId}/balance`, { session: first });
    expect(r.status).toBe(423);
    expect(r.body).toMatchObject({ code: 'card_frozen', scope: 'user' });
  });
});

describe('secrets at rest and in logs', () => {
  it('keeps tokens, codes, phones, card and ID numbers out of the identity tables', async () => {
    const s = await w.signIn('daily20-bank');
    const h = w.holder('daily20-bank', (x) => x.name === '冯雅婷');
    await w.bind(s, h);
    for (const m of await w.sms(h.phone)) if (m.code) codesSeen.push(m.code);
    const tables = ['identity_users', 'identity_wechat_ids', 'identity_devices', 'identity_sessions', 'identity_otp_challenges', 'identity_otp_failures', 'identity_bindings', 'identity_cards', 'identity_step_ups', 'idempotency_keys'];
    let dump = '';
    for (const t of tables) dump += JSON.stringify((await sql`select * from ${sql.table(t)}`.execute(w.server.ctx.db)).rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    expect(dump).not.toContain(s.token);
    for (const holder of w.demo.cardholders) {
      for (const v of [holder.phone, holder.idNumber, holder.name, ...holder.cards.map((c) => c.number)]) expect(dump, 'a clear personal value').not.toContain(v);
    }
    for (const code of codesSeen) expect(dump).not.toMatch(new RegExp(`"${code}"`));
  });

  it('writes no token, code, password or personal number into any server log line', async () => {
    registerSensitive(...codesSeen.map((c) => `"${c}"`));
    const lines = [...w.server.logs, ...w.sandbox.logs];
    expect(lines.length).toBeGreaterThan(0);
    const values = w.demo.cardholders.flatMap((h) => [h.phone, h.idNumber, h.name, h.paymentPassword, ...h.cards.map((c) => c.number)]);
    for (const line of w.server.logs) {
      for (const v of values) expect(line.includes(v), `log line leaks a value ending ${v.slice(-2)}`).toBe(false);
      for (const c of codesSeen) expect(line.includes(`"${c}"`) || line.includes(`验证码 ${c}`)).toBe(false);
    }
  });
});

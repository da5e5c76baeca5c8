// Card binding over HTTP: field validation, four-element check, SMS code rules, idempotency, payment password, card management.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World, type Holder } from './world.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { inTx } from '../../../src/db/tx.ts';
import { createCustomer, findCardByNumber, getCard, openCard, setCardStatus, verifyPaymentPassword } from '../../../src/core/index.ts';
import { OTP_TTL_MS, PHONE_OTP_FAILURE_LIMIT } from '../../../src/identity/policy.ts';
import { setIdentityPorts } from '../../../src/identity/ports.ts';

let w: World;

beforeAll(async () => {
  w = await startWorld();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const elements = (h: Holder, i = 0) => ({ cardNumber: h.cards[i]!.number, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone });
const wrongCode = (code: string) => (code === '000000' ? '000001' : '000000');

describe('POST /api/v1/bindings', () => {
  it('names every malformed field in validation_failed, never echoing a value', async () => {
    const s = await w.signIn('abc-demo');
    const r = await w.call('POST', '/api/v1/bindings', {
      session: s,
      body: { cardNumber: '1234', holderName: '', idType: 'driving_licence', idNumber: 'x', phone: '12345' },
    });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('validation_failed');
    expect(r.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['cardNumber', 'holderName', 'idType', 'phone']);
    const h = w.holder('abc-demo');
    const badId = await w.call('POST', '/api/v1/bindings', { session: s, body: { ...elements(h), idType: 'resident_id', idNumber: '310101200001011234' } });
    expect(badId.body.errors.map((e: { field: string }) => e.field)).toEqual(['idNumber']);
    expect(JSON.stringify(badId.body)).not.toContain('310101200001011234');
  });

  it('answers card_not_bindable when any element differs, without saying which', async () => {
    const s = await w.signIn('abc-demo');
    const h = w.holder('abc-demo', (x) => x.name === '陈家豪');
    const other = w.holder('abc-demo', (x) => x.name === '张伟明');
    for (const body of [
      { ...elements(h), holderName: '陈家华' },
      { ...elements(h), phone: other.phone },
      { ...elements(h), idType: other.idType, idNumber: other.idNumber },
      { ...elements(h), cardNumber: other.cards[0]!.number },
    ]) {
      const r = await w.call('POST', '/api/v1/bindings', { session: s, body });
      expect(r.status).toBe(422);
      expect(r.body.code).toBe('card_not_bindable');
      expect(r.body.detail).not.toMatch(/name|phone|id|number/i);
    }
  });

  it('sends a code to the reserved phone whose text carries no card number, and binds on the right code', async () => {
    const s = await w.signIn('abc-demo');
    const h = w.holder('abc-demo', (x) => x.name === '陈家豪');
    w.clock.advance(61_000);
    const start = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
    expect(start.status).toBe(201);
    expect(start.body).toEqual({ bindingId: expect.stringMatching(/^bnd_/), otpSentTo: `${h.phone.slice(0, 3)}****${h.phone.slice(7)}`, expiresAt: expect.any(String) });
    const sms = (await w.sms(h.phone))[0]!;
    expect(sms.code).toMatch(/^\d{6}$/);
    expect(sms.text).toContain(`尾号${h.cards[0]!.number.slice(-4)}`);
    expect(sms.text).not.toContain(h.cards[0]!.number.slice(0, 6));
    expect(sms.text.replace(sms.code!, '')).not.toMatch(/\d{5,}/);
    const card = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: sms.code, paymentPassword: h.paymentPassword } });
    expect(card.status).toBe(201);
    expect(card.body).toEqual({
      cardId: expect.stringMatching(/^card_/),
      institution: '示范农业银行（演示）',
      maskedNumber: `${h.cards[0]!.number.slice(0, 6)}${'*'.repeat(h.cards[0]!.number.length - 10)}${h.cards[0]!.number.slice(-4)}`,
      kind: 'debit',
      status: 'active',
      isDefault: true,
      last4: h.cards[0]!.number.slice(-4),
    });
    // A code is single use.
    const again = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: sms.code } });
    expect(again.status).toBe(409);
  });

  it('counts wrong codes down, then locks the challenge on the 5th (otp_locked with retryAfter)', async () => {
    const s = await w.signIn('realtime-bank');
    const h = w.holder('realtime-bank', (x) => x.name === '李晓红');
    w.clock.advance(61_000);
    const start = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
    const code = await w.lastCode(h.phone);
    for (let left = 4; left >= 1; left--) {
      const r = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: wrongCode(code), paymentPassword: h.paymentPassword } });
      expect(r.status).toBe(422);
      expect(r.body).toMatchObject({ code: 'otp_invalid', attemptsLeft: left });
    }
    const fifth = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: wrongCode(code), paymentPassword: h.paymentPassword } });
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe('otp_locked');
    expect(fifth.body.retryAfter).toBeGreaterThan(0);
    expect(fifth.headers.get('retry-after')).toBe(String(fifth.body.retryAfter));
    // Even the right code no longer opens a locked challenge.
    const right = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: code, paymentPassword: h.paymentPassword } });
    expect(right.body.code).toBe('otp_locked');
  });

  it('refuses an expired code with otp_invalid and attemptsLeft 0', async () => {
    const s = await w.signIn('realtime-bank');
    const h = w.holder('realtime-bank', (x) => x.name === '赵志强');
    w.clock.advance(61_000);
    const start = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
    const code = await w.lastCode(h.phone);
    w.clock.advance(OTP_TTL_MS + 1_000);
    const r = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: code, paymentPassword: h.paymentPassword } });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: 'otp_invalid', attemptsLeft: 0 });
  });

  it('throttles a second code to the same phone within 60 s (rate_limited with retryAfter)', async () => {
    const s = await w.signIn('realtime-bank');
    const h = w.holder('realtime-bank', (x) => x.name === '孙丽娟');
    w.clock.advance(61_000);
    expect((await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) })).status).toBe(201);
    w.clock.advance(20_000);
    const r = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ code: 'rate_limited', retryAfter: 40 });
    w.clock.advance(40_000);
    expect((await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) })).status).toBe(201);
  });

  it('locks the phone after too many wrong codes across challenges', async () => {
    const h = w.holder('daily10-bank', (x) => x.name === '周文斌');
    let failures = 0;
    while (failures < PHONE_OTP_FAILURE_LIMIT) {
      // A fresh person per challenge, so the risk module's per-user freeze does not interfere.
      const s = await w.signIn('daily10-bank');
      w.clock.advance(61_000);
      const start = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
      expect(start.status, JSON.stringify(start.body)).toBe(201);
      for (let i = 0; i < 5 && failures < PHONE_OTP_FAILURE_LIMIT; i++, failures++) {
        await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: wrongCode(await w.lastCode(h.phone)), paymentPassword: h.paymentPassword } });
      }
    }
    const s = await w.signIn('daily10-bank');
    w.clock.advance(61_000);
    const r = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
    expect(r.status).toBe(429);
    expect(r.body.code).toBe('otp_locked');
    expect(r.body.retryAfter).toBeGreaterThan(3_600);
  });

  it('replays the first answer for the same Idempotency-Key and body, and refuses another body (idempotency_conflict)', async () => {
    const s = await w.signIn('daily20-bank');
    const h = w.holder('daily20-bank', (x) => x.name === '何俊杰');
    w.clock.advance(61_000);
    const key = 'bind-once-1';
    const a = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h), headers: { 'idempotency-key': key } });
    expect(a.status).toBe(201);
    const sent = (await w.sms(h.phone)).length;
    const b = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h), headers: { 'idempotency-key': key } });
    expect(b.status).toBe(201);
    expect(b.body).toEqual(a.body);
    expect(await w.sms(h.phone)).toHaveLength(sent);
    const c = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h, 1), headers: { 'idempotency-key': key } });
    expect(c.status).toBe(409);
    expect(c.body.code).toBe('idempotency_conflict');
  });
});

describe('SMS delivery', () => {
  it('answers service_paused when the gateway refuses, and the unsent code neither counts for the throttle nor opens the binding', async () => {
    const ctx = w.server.ctx;
    const s = await w.signIn('daily20-bank');
    const h = w.holder('daily20-bank', (x) => x.name === '冯雅婷');
    setIdentityPorts(ctx, { sms: { send: async () => { throw new Error('gateway down'); } } });
    try {
      w.clock.advance(61_000);
      const r = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('service_paused');
    } finally {
      setIdentityPorts(ctx, {});
    }
    const cancelled = await ctx.db.selectFrom('identity_otp_challenges').select(['cancelled_at']).where('purpose', '=', 'binding').orderBy('created_at', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(cancelled.cancelled_at).not.toBeNull();
    // At once, not 60 s later: the failed send did not count.
    const again = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
    expect(again.status).toBe(201);
  });
});

describe('payment password on confirmation', () => {
  it("requires the card's payment password on a user's first card and refuses a wrong one with card_not_bindable", async () => {
    const s = await w.signIn('daily20-bank');
    const h = w.holder('daily20-bank', (x) => x.name === '林美玲');
    w.clock.advance(61_000);
    const start = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
    const code = await w.lastCode(h.phone);
    const missing = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: code } });
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { field: string }) => e.field)).toEqual(['paymentPassword']);
    const wrongPw = h.paymentPassword === '135790' ? '135791' : '135790';
    const wrong = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: code, paymentPassword: wrongPw } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.code).toBe('card_not_bindable');
    // The binding is closed: the code cannot be reused to guess again.
    const retry = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: code, paymentPassword: h.paymentPassword } });
    expect(retry.status).toBe(409);
    const card = await w.bind(s, h);
    expect(card.status).toBe('active');
  });

  it('sets a payment password on a card that has none, refusing a guessable one', async () => {
    const ctx = w.server.ctx;
    const person = { name: '钱多多', idType: 'resident_id' as const, idNumber: '110101199003077758', phone: '13700007777' };
    const number = '6228480012345678903';
    registerSensitive(person.name, person.idNumber, person.phone, number, '246813');
    await inTx(ctx.db, async (tx) => {
      const c = await createCustomer(tx, ctx.crypto, { tenantId: 'abc-demo', ...person, now: w.clock.now() });
      await openCard(tx, ctx, { tenantId: 'abc-demo', customerId: c.id, number, kind: 'debit', currency: 'CNY', reservedPhone: person.phone, now: w.clock.now() });
    });
    const h: Holder = { tenantId: 'abc-demo', name: person.name, idType: person.idType, idNumber: person.idNumber, phone: person.phone, paymentPassword: '246813', cards: [{ number, kind: 'debit', currency: 'CNY', status: 'active' }] };
    const s = await w.signIn('abc-demo');
    w.clock.advance(61_000);
    const start = await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) });
    const code = await w.lastCode(h.phone);
    const weak = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: code, paymentPassword: '123456' } });
    expect(weak.status).toBe(400);
    expect(weak.body.errors[0].field).toBe('paymentPassword');
    const ok = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: code, paymentPassword: '246813' } });
    expect(ok.status).toBe(201);
    const core = (await findCardByNumber(ctx.db, ctx.crypto, 'abc-demo', number))!;
    expect(await verifyPaymentPassword(ctx.db, ctx.passwordPepper, core.id, '246813')).toBe(true);
  });
});

describe('bound cards', () => {
  it('lists, sets the default, unbinds (the next card becomes default) and binds citizen cards the same way', async () => {
    const s = await w.signIn('abc-demo');
    const h = w.holder('abc-demo', (x) => x.name === '张伟明');
    const debit = await w.bind(s, h, 0);
    const credit = await w.bind(s, h, 1);
    expect([debit.isDefault, credit.isDefault]).toEqual([true, false]);
    const list = await w.call('GET', '/api/v1/cards', { session: s });
    expect(list.body).toEqual({ items: [debit, credit], nextCursor: null });
    const def = await w.call('POST', `/api/v1/cards/${credit.cardId}/default`, { session: s });
    expect(def.body).toMatchObject({ cardId: credit.cardId, isDefault: true });
    expect((await w.call('GET', '/api/v1/cards', { session: s })).body.items.map((c: { cardId: string; isDefault: boolean }) => [c.cardId, c.isDefault])).toEqual([
      [credit.cardId, true],
      [debit.cardId, false],
    ]);
    expect((await w.call('DELETE', `/api/v1/cards/${credit.cardId}`, { session: s })).status).toBe(204);
    expect((await w.call('GET', '/api/v1/cards', { session: s })).body.items).toEqual([{ ...debit, isDefault: true }]);
    expect((await w.call('DELETE', `/api/v1/cards/${credit.cardId}`, { session: s })).status).toBe(404);
    const me = await w.call('GET', '/api/v1/me', { session: s });
    expect(me.body.boundCards).toBe(1);

    const c = await w.signIn('hz-citizen-card');
    const citizen = await w.bind(c, w.holder('hz-citizen-card'));
    expect(citizen).toMatchObject({ kind: 'citizen', institution: '杭州市民卡（演示）', isDefault: true });
  });

  it('refuses to bind the same card twice (conflict) and refuses lost, frozen and cancelled cards', async () => {
    const s = await w.signIn('daily10-bank');
    const h = w.holder('daily10-bank', (x) => x.name === '郑浩然');
    await w.bind(s, h);
    w.clock.advance(61_000);
    expect((await w.call('POST', '/api/v1/bindings', { session: s, body: elements(h) })).status).toBe(409);

    const ctx = w.server.ctx;
    const wu = w.holder('daily10-bank', (x) => x.name === '吴秀英');
    const core = (await findCardByNumber(ctx.db, ctx.crypto, 'daily10-bank', wu.cards[0]!.number))!;
    const t = await w.signIn('daily10-bank');
    for (const [status, code] of [['lost', 'card_lost'], ['frozen', 'card_frozen'], ['cancelled', 'card_cancelled']] as const) {
      await inTx(ctx.db, (tx) => setCardStatus(tx, core.id, status, w.clock.now()));
      w.clock.advance(61_000);
      const r = await w.call('POST', '/api/v1/bindings', { session: t, body: elements(wu) });
      expect(r.status).toBe(423);
      expect(r.body.code).toBe(code);
    }
    expect((await getCard(ctx.db, core.id))!.status).toBe('cancelled');
  });
});

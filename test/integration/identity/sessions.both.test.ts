// Sessions and devices over HTTP: sign-in by mini-program and OA codes, one person across apps, expiry, revocation, device activation, /me.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startWorld, newDeviceId, type World } from './world.ts';
import { SESSION_ABSOLUTE_TTL_MS, SESSION_IDLE_TTL_MS } from '../../../src/identity/policy.ts';
import { hashSessionToken } from '../../../src/identity/sessions.ts';
import { findUserByOpenid, resolveOaUser } from '../../../src/identity/index.ts';

let w: World;

beforeAll(async () => {
  w = await startWorld();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('POST /api/v1/sessions', () => {
  it('signs in with a mini-program code and answers a token, its expiry and the user', async () => {
    const s = await w.signIn('abc-demo');
    expect(s.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.user).toEqual({ id: expect.stringMatching(/^usr_/), tenantId: 'abc-demo', maskedPhone: null, elderlyMode: false, voice: false, deviceActivationRequired: false });
    const me = await w.call('GET', '/api/v1/me', { session: s });
    expect(me.status).toBe(200);
    expect(me.body.tenant).toEqual({ id: 'abc-demo', name: expect.any(String), kind: 'bank' });
    expect(me.body.boundCards).toBe(0);
  });

  it('links the OA and the mini-program openids of one person by unionid', async () => {
    const mini = await w.signIn('abc-demo', { app: 'mini' });
    const oa = await w.signIn('abc-demo', { openid: mini.openid, unionid: mini.unionid, app: 'oa', scope: 'snsapi_userinfo' });
    expect(oa.userId).toBe(mini.userId);
    const other = await w.signIn('abc-demo');
    expect(other.userId).not.toBe(mini.userId);
  });

  it('links an OA openid that came without a unionid (snsapi_base web auth, OA chat) through the OA user/info', async (t) => {
    // Needs the sandbox's cgi-bin/user/info (requested from the sandbox's owner); skipped until it answers.
    const probe = await fetch(`${w.sandbox.url}/sandbox/wx/cgi-bin/user/info?access_token=x&openid=y`);
    if (probe.status === 404) t.skip();
    const mini = await w.signIn('abc-demo');
    const oa = await w.signIn('abc-demo', { openid: mini.openid, unionid: mini.unionid, app: 'oa' });
    expect(oa.userId).toBe(mini.userId);
    // The OA chat meets an OA openid no sign-in brought yet: resolved to the person by unionid.
    const other = await w.signIn('abc-demo');
    expect(await resolveOaUser(w.server.ctx, 'abc-demo', other.openid)).toEqual({ userId: other.userId });
    expect(await findUserByOpenid(w.server.ctx.db, 'abc-demo', other.openid)).toEqual({ userId: other.userId });
  });

  it('creates one person when the same WeChat user signs in from several apps at once', async () => {
    const u = await w.newWechatUser('realtime-bank');
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push([await w.loginCode('realtime-bank', u.openid, 'mini'), 'mini'] as const);
    for (let i = 0; i < 4; i++) codes.push([await w.loginCode('realtime-bank', u.openid, 'oa', 'snsapi_userinfo'), 'oa'] as const);
    const answers = await Promise.all(
      codes.map(([code, app]) => w.call('POST', '/api/v1/sessions', { deviceId: newDeviceId(), body: { tenantId: 'realtime-bank', code, ...(app === 'oa' ? { kind: 'oauth' } : {}) } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201));
    expect(new Set(answers.map((a) => a.body.user.id)).size).toBe(1);
  });

  it('refuses a used or unknown code with unauthenticated', async () => {
    const u = await w.newWechatUser('abc-demo');
    const code = await w.loginCode('abc-demo', u.openid, 'mini');
    const first = await w.call('POST', '/api/v1/sessions', { deviceId: newDeviceId(), body: { tenantId: 'abc-demo', code } });
    expect(first.status).toBe(201);
    const again = await w.call('POST', '/api/v1/sessions', { deviceId: newDeviceId(), body: { tenantId: 'abc-demo', code } });
    expect(again.status).toBe(401);
    expect(again.body.code).toBe('unauthenticated');
    const bogus = await w.call('POST', '/api/v1/sessions', { deviceId: newDeviceId(), body: { tenantId: 'abc-demo', code: 'not-a-code' } });
    expect(bogus.body.code).toBe('unauthenticated');
  });

  it('requires a well-formed X-Device-Id and names the header when it is not', async () => {
    const u = await w.newWechatUser('abc-demo');
    const code = await w.loginCode('abc-demo', u.openid, 'mini');
    const missing = await w.call('POST', '/api/v1/sessions', { body: { tenantId: 'abc-demo', code } });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('validation_failed');
    expect(missing.body.errors.map((e: { field: string }) => e.field)).toContain('headers.x-device-id');
    const short = await w.call('POST', '/api/v1/sessions', { deviceId: 'short', body: { tenantId: 'abc-demo', code } });
    expect(short.body.errors.map((e: { field: string }) => e.field)).toContain('headers.x-device-id');
  });

  it('answers not_found for an unknown institution and validation_failed for a malformed body', async () => {
    const nf = await w.call('POST', '/api/v1/sessions', { deviceId: newDeviceId(), body: { tenantId: 'no-such-bank', code: 'x' } });
    expect(nf.status).toBe(404);
    expect(nf.body.code).toBe('not_found');
    const bad = await w.call('POST', '/api/v1/sessions', { deviceId: newDeviceId(), body: { tenantId: 'abc-demo' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain('body.code');
  });

  it('stores only the SHA-256 of the token', async () => {
    const s = await w.signIn('abc-demo');
    const rows = await w.server.ctx.db.selectFrom('identity_sessions').selectAll().where('user_id', '=', s.userId).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(hashSessionToken(s.token));
    const dump = JSON.stringify(await sql`select * from identity_sessions`.execute(w.server.ctx.db));
    expect(dump).not.toContain(s.token);
  });
});

describe('authenticated calls', () => {
  it('answer unauthenticated without a token, with a malformed or unknown one', async () => {
    expect((await w.call('GET', '/api/v1/me')).body.code).toBe('unauthenticated');
    expect((await w.call('GET', '/api/v1/me', { token: 'abc' })).status).toBe(401);
    expect((await w.call('GET', '/api/v1/me', { token: 'A'.repeat(43) })).body.code).toBe('unauthenticated');
  });

  it('slide the idle expiry with use and end at the absolute expiry', async () => {
    const s = await w.signIn('abc-demo');
    // Used every 90 minutes, the session outlives its 2-hour idle timeout…
    for (let t = 0; t + 90 * 60_000 < SESSION_ABSOLUTE_TTL_MS - 60_000; t += 90 * 60_000) {
      w.clock.advance(90 * 60_000);
      expect((await w.call('GET', '/api/v1/me', { session: s })).status).toBe(200);
    }
    // …but not its 12-hour cap.
    w.clock.advance(90 * 60_000);
    expect((await w.call('GET', '/api/v1/me', { session: s })).body.code).toBe('unauthenticated');
  });

  it('end after the idle timeout without use', async () => {
    const s = await w.signIn('abc-demo');
    w.clock.advance(SESSION_IDLE_TTL_MS - 1_000);
    expect((await w.call('GET', '/api/v1/me', { session: s })).status).toBe(200);
    w.clock.advance(SESSION_IDLE_TTL_MS + 1_000);
    expect((await w.call('GET', '/api/v1/me', { session: s })).status).toBe(401);
  });

  it('stop at once when the session is revoked (DELETE or POST …/revoke)', async () => {
    const a = await w.signIn('abc-demo');
    expect((await w.call('DELETE', '/api/v1/sessions/current', { session: a })).status).toBe(204);
    expect((await w.call('GET', '/api/v1/me', { session: a })).status).toBe(401);
    const b = await w.signIn('abc-demo');
    expect((await w.call('POST', '/api/v1/sessions/current/revoke', { session: b })).status).toBe(204);
    expect((await w.call('GET', '/api/v1/me', { session: b })).body.code).toBe('unauthenticated');
  });

  it('refuse a token sent from another device', async () => {
    const s = await w.signIn('abc-demo');
    const r = await w.call('GET', '/api/v1/me', { token: s.token, deviceId: newDeviceId() });
    expect(r.status).toBe(401);
  });

  it('change the elderly-mode and voice preferences with PATCH /api/v1/me', async () => {
    const s = await w.signIn('hz-citizen-card');
    const r = await w.call('PATCH', '/api/v1/me', { session: s, body: { elderlyMode: true, voice: true } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ elderlyMode: true, voice: true, user: { elderlyMode: true, voice: true } });
    const bad = await w.call('PATCH', '/api/v1/me', { session: s, body: { elderlyMode: 'yes' } });
    expect(bad.body.code).toBe('validation_failed');
  });
});

describe('devices', () => {
  it('trust the devices of a user without a phone, then ask a new device for SMS activation after the first binding', async () => {
    const h = w.holder('abc-demo', (x) => x.name === '张伟明');
    const first = await w.signIn('abc-demo');
    const card = await w.bind(first, h);
    expect(card.isDefault).toBe(true);

    // The same person on a new phone (device): everything but activation and /me is refused.
    const second = await w.signIn('abc-demo', { openid: first.openid, unionid: first.unionid });
    expect(second.userId).toBe(first.userId);
    expect(second.user.deviceActivationRequired).toBe(true);
    const cards = await w.call('GET', '/api/v1/cards', { session: second });
    expect(cards.status).toBe(403);
    expect(cards.body.code).toBe('device_activation_required');
    const me = await w.call('GET', '/api/v1/me', { session: second });
    expect(me.status).toBe(200);
    expect(me.body.user.deviceActivationRequired).toBe(true);
    expect(me.body.user.maskedPhone).toBe(`${h.phone.slice(0, 3)}****${h.phone.slice(7)}`);

    // Another session's device cannot be activated from here.
    const foreign = await w.call('POST', `/api/v1/devices/${first.deviceId}/activation`, { session: second, body: {} });
    expect(foreign.status).toBe(403);
    expect(foreign.body.code).toBe('forbidden');

    w.clock.advance(61_000);
    const req = await w.call('POST', `/api/v1/devices/${second.deviceId}/activation`, { session: second, body: {}, headers: { 'idempotency-key': 'activate-1' } });
    expect(req.status).toBe(202);
    expect(req.body).toMatchObject({ activated: false, otpSentTo: expect.stringMatching(/^\d{3}\*{4}\d{4}$/) });
    // A retried request with the same key gets the same answer and sends no second SMS.
    const sent = (await w.sms(h.phone)).length;
    const replay = await w.call('POST', `/api/v1/devices/${second.deviceId}/activation`, { session: second, body: {}, headers: { 'idempotency-key': 'activate-1' } });
    expect([replay.status, replay.body]).toEqual([202, req.body]);
    expect(await w.sms(h.phone)).toHaveLength(sent);
    const sms = (await w.sms(h.phone))[0]!;
    expect(sms.text).toContain('激活新设备');
    const wrong = await w.call('POST', `/api/v1/devices/${second.deviceId}/activation`, { session: second, body: { otp: sms.code === '000000' ? '111111' : '000000' } });
    expect(wrong.status).toBe(422);
    expect(wrong.body).toMatchObject({ code: 'otp_invalid', attemptsLeft: 4 });
    const ok = await w.call('POST', `/api/v1/devices/${second.deviceId}/activation`, { session: second, body: { otp: sms.code } });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ activated: true });
    expect((await w.call('GET', '/api/v1/cards', { session: second })).status).toBe(200);
    // The first device was the one that proved the phone: still trusted.
    expect((await w.call('GET', '/api/v1/cards', { session: first })).status).toBe(200);
  });

  it('need activation again when the core reports a new reserved phone for the card', async () => {
    const h = w.holder('abc-demo', (x) => x.name === '王建国');
    const s = await w.signIn('abc-demo');
    await w.bind(s, h);
    expect((await w.call('GET', '/api/v1/cards', { session: s })).status).toBe(200);

    // The bank records a new SIM / number for the card (a direct core change: the core's own records).
    const newPhone = '13900001234';
    const core = await w.server.ctx.db.selectFrom('identity_cards').select('core_card_id').where('user_id', '=', s.userId).executeTakeFirstOrThrow();
    const { blindIndexOf } = await import('../../../src/core/store.ts');
    await w.server.ctx.db
      .updateTable('core_cards')
      .set({ reserved_phone_enc: w.server.ctx.crypto.encrypt(newPhone), reserved_phone_bidx: blindIndexOf.phone(w.server.ctx.crypto, newPhone), reserved_phone_masked: '139****1234' })
      .where('id', '=', core.core_card_id)
      .execute();

    // The next sign-in notices: every device, this one included, must activate by SMS to the new number.
    const again = await w.signIn('abc-demo', { openid: s.openid, unionid: s.unionid, deviceId: s.deviceId });
    expect(again.user).toMatchObject({ maskedPhone: '139****1234', deviceActivationRequired: true });
    expect((await w.call('GET', '/api/v1/cards', { session: again })).body.code).toBe('device_activation_required');
    w.clock.advance(61_000);
    expect((await w.call('POST', `/api/v1/devices/${again.deviceId}/activation`, { session: again, body: {} })).status).toBe(202);
    const code = await w.lastCode(newPhone);
    expect((await w.call('POST', `/api/v1/devices/${again.deviceId}/activation`, { session: again, body: { otp: code } })).status).toBe(200);
    expect((await w.call('GET', '/api/v1/cards', { session: again })).status).toBe(200);
  });

  it('are not asked for activation when the tenant switched it off', async () => {
    const { updatePolicy } = await import('../../../src/tenants/index.ts');
    const { inTx } = await import('../../../src/db/tx.ts');
    const h = w.holder('daily20-bank');
    const s = await w.signIn('daily20-bank');
    await w.bind(s, h);
    await inTx(w.server.ctx.db, (tx) => updatePolicy(tx, 'daily20-bank', { verification: { newDeviceActivation: 'none' } }, w.clock.now()));
    const other = await w.signIn('daily20-bank', { openid: s.openid, unionid: s.unionid });
    expect(other.user.deviceActivationRequired).toBe(false);
    expect((await w.call('GET', '/api/v1/cards', { session: other })).status).toBe(200);
  });
});

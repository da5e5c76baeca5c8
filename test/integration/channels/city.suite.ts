// City services through the sandbox: authorise, face + card-element verification, then the bank balance beside the 社保 / 公积金 accounts of a second (social-security) provider tenant.
import { beforeAll, describe, expect, it } from 'vitest';
import { getBalance } from '../../../src/ledger/index.ts';
import { CITY_MAX_ATTEMPTS, CITY_VERIFIED_TTL_MS, setChannelSettings } from '../../../src/channels/index.ts';
import { type ChannelsWorld } from './world.ts';

let w: ChannelsWorld;
const tenantId = 'realtime-bank';
const provider = 'city-social-security';


/** Registers the suite on the file's shared world (one platform start per test file). */
export function citySuite(world: () => ChannelsWorld): void {
  beforeAll(() => {
    w = world();
  });

describe('city services', { timeout: 60_000 }, () => {
  it('authorises, verifies face + card elements, and shows the live bank balance beside the provider tenant’s accounts, masked', async () => {
    const h = w.holder(tenantId, '李晓红');
    const u = await w.signInOa(tenantId);
    const card = await w.bind(u.session, h, 0);
    await w.post(u.session, card.cardId, 321_00n);
    const pension = await w.sandboxPost('/sandbox/api/social-security/accounts', { providerTenantId: provider, providerName: '市社保中心（演示）', idNumber: h.idNumber, kind: 'pension', balance: 8_765_432, monthly: 123_400, paidThrough: '2026-02' });
    expect(pension.status).toBe(201);
    expect((await w.sandboxPost('/sandbox/api/social-security/accounts', { providerTenantId: provider, idNumber: h.idNumber, kind: 'housing_fund', balance: 4_560_000, monthly: 250_000, paidThrough: '2026-03' })).status).toBe(201);
    // Another person's account at the provider must not show.
    await w.sandboxPost('/sandbox/api/social-security/accounts', { providerTenantId: provider, idNumber: w.holder(tenantId, '孙丽娟').idNumber, kind: 'pension', balance: 1, monthly: 1, paidThrough: '2026-01' });
    await setChannelSettings(w.server.ctx.db, tenantId, { socialSecurityTenantId: provider }, w.clock.now());

    const auth = await w.call('POST', '/api/v1/city/authorisations', { session: u.session, body: { consent: true } });
    expect(auth.status, auth.text).toBe(201);
    const id = auth.body.authorisationId as string;
    expect(auth.body).toMatchObject({ status: 'authorised', next: 'verify' });
    const early = await w.call('GET', `/api/v1/city/authorisations/${id}/overview`, { session: u.session });
    expect([early.status, early.body.code]).toEqual([409, 'conflict']);

    const elements = { cardNumber: h.cards[0]!.number, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone };
    const wrongFace = await w.call('POST', `/api/v1/city/authorisations/${id}/verify`, { session: u.session, body: { faceToken: 'face_not-a-real-token', ...elements } });
    expect([wrongFace.status, wrongFace.body.code]).toEqual([403, 'forbidden']);
    const faceToken = async () => (await w.sandboxPost(`/sandbox/api/face/${u.session.userId}`, {})).body.faceToken as string;
    const otherPhone = h.phone.endsWith('0') ? `${h.phone.slice(0, -1)}1` : `${h.phone.slice(0, -1)}0`;
    const wrongElements = await w.call('POST', `/api/v1/city/authorisations/${id}/verify`, { session: u.session, body: { faceToken: await faceToken(), ...elements, phone: otherPhone } });
    expect([wrongElements.status, wrongElements.body.code]).toEqual([422, 'card_not_bindable']);
    const ok = await w.call('POST', `/api/v1/city/authorisations/${id}/verify`, { session: u.session, body: { faceToken: await faceToken(), ...elements } });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ status: 'verified', cardId: card.cardId });

    const view = await w.call('GET', `/api/v1/city/authorisations/${id}/overview`, { session: u.session });
    expect(view.status, view.text).toBe(200);
    const ledger = await getBalance(w.server.ctx.db, (await w.coreOf(u.session, card.cardId)).ledgerAccountId);
    expect(view.body.bank).toMatchObject({ cardId: card.cardId, maskedNumber: card.maskedNumber, available: Number(ledger.availableFen), ledger: Number(ledger.postedFen), currency: 'CNY', freshness: 'realtime', stale: false });
    expect(view.body.socialSecurity.providerTenantId).toBe(provider);
    expect(view.body.socialSecurity.providerName).toBe('市社保中心（演示）');
    expect(view.body.socialSecurity.accounts.map((a: any) => [a.kind, a.balance, a.monthly, a.paidThrough]).sort()).toEqual([
      ['housing_fund', 4_560_000, 250_000, '2026-03'],
      ['pension', 8_765_432, 123_400, '2026-02'],
    ]);
    for (const s of [...h.cards.map((c) => c.number), h.idNumber, h.phone]) expect(view.text).not.toContain(s);
    const audit = await w.server.ctx.db.selectFrom('audit_log').select(['action', 'outcome']).where('subject_id', '=', id).orderBy('seq').execute();
    expect(audit.map((a) => `${a.action}:${a.outcome}`)).toEqual(['city.authorised:ok', 'city.verify:refused', 'city.verify:refused', 'city.verify:ok', 'city.overview:ok']);

    // Only for its owner, and only while the verification lasts.
    const other = await w.signInOa(tenantId);
    expect((await w.call('GET', `/api/v1/city/authorisations/${id}/overview`, { session: other.session })).status).toBe(404);
    w.clock.advance(CITY_VERIFIED_TTL_MS + 1_000);
    expect((await w.call('GET', `/api/v1/city/authorisations/${id}/overview`, { session: u.session })).status).toBe(409);
  });

  it('spends the authorisation after repeated failures and refuses a card the user has not bound or a missing consent', async () => {
    const h = w.holder(tenantId, '孙丽娟');
    const u = await w.signInOa(tenantId);
    expect((await w.call('POST', '/api/v1/city/authorisations', { session: u.session, body: { consent: false } })).status).toBe(400);
    const id = (await w.call('POST', '/api/v1/city/authorisations', { session: u.session, body: { consent: true } })).body.authorisationId as string;
    const elements = { cardNumber: h.cards[0]!.number, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone };
    const faceToken = async () => (await w.sandboxPost(`/sandbox/api/face/${u.session.userId}`, {})).body.faceToken as string;
    // Right person, right elements, but the card is not bound by this user.
    const notBound = await w.call('POST', `/api/v1/city/authorisations/${id}/verify`, { session: u.session, body: { faceToken: await faceToken(), ...elements } });
    expect([notBound.status, notBound.body.code]).toEqual([403, 'forbidden']);
    for (let i = 1; i < CITY_MAX_ATTEMPTS; i++) await w.call('POST', `/api/v1/city/authorisations/${id}/verify`, { session: u.session, body: { faceToken: 'face_wrong', ...elements } });
    await w.bind(u.session, h, 0);
    const spent = await w.call('POST', `/api/v1/city/authorisations/${id}/verify`, { session: u.session, body: { faceToken: await faceToken(), ...elements } });
    expect([spent.status, spent.body.code]).toEqual([409, 'conflict']);
    const malformed = await w.call('POST', `/api/v1/city/authorisations/${id}/verify`, { session: u.session, body: { faceToken: 'x', ...elements, idNumber: '123' } });
    expect([malformed.status, malformed.body.code]).toEqual([400, 'validation_failed']);
  });
});
}

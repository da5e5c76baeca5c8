// Trusted contacts: a relative asks, the card's owner accepts, the relative tops up the owner's card; limits per relative and per card; ending a contact; the tenant's real-name rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/shared/clock.ts';
import { inTx } from '../../../src/db/tx.ts';
import { updatePolicy } from '../../../src/tenants/index.ts';
import { assertEveryFenAccounted, baseline, CITIZEN, startTopupWorld, TENANT, type Baseline, type Session, type TopupWorld } from './world.ts';

let w: TopupWorld;
let base: Baseline;
let owner: Session;
let relative: Session;
const clock = new ManualClock('2026-03-18T02:30:00Z');
const elderCard = () => w.holder(CITIZEN.physical).cards[0]!.number;

beforeAll(async () => {
  w = await startTopupWorld({ clock });
  base = await baseline(w);
  owner = await w.signIn();
  await w.bind(owner, w.holder(CITIZEN.physical));
  relative = await w.signIn();
});
afterAll(async () => {
  await w?.close();
});

describe('trusted contacts', () => {
  let contactId = '';

  it('lets a relative ask to top up a card, shows the request to the card’s owner, and refuses top-ups until accepted', async () => {
    const asked = await w.call('POST', '/api/v1/trusted-contacts', { session: relative, body: { citizenCardNumber: elderCard(), relation: 'child' } });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    expect(asked.body).toMatchObject({ role: 'requester', status: 'pending', relation: 'child' });
    expect(asked.body.maskedCardNumber).toMatch(/^\d{6}\*+\d{4}$/);
    contactId = asked.body.id;
    const again = await w.call('POST', '/api/v1/trusted-contacts', { session: relative, body: { citizenCardNumber: elderCard(), relation: 'child' } });
    expect(again.body.id).toBe(contactId);

    const seen = await w.call('GET', '/api/v1/trusted-contacts', { session: owner });
    expect(seen.body.items).toEqual([expect.objectContaining({ id: contactId, role: 'owner', status: 'pending' })]);

    const early = await w.topup(relative, { citizenCardNumber: elderCard(), amount: 10_000, method: 'wechat_balance', onBehalfOf: contactId });
    expect(early.status).toBe(403);
    const notOwner = await w.call('POST', `/api/v1/trusted-contacts/${contactId}/accept`, { session: relative });
    expect(notOwner.status).toBe(403);
  });

  it('lets the relative top up the owner’s card once the owner accepted, and the owner sees and loads it', async () => {
    const accepted = await w.call('POST', `/api/v1/trusted-contacts/${contactId}/accept`, { session: owner });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body.status).toBe('accepted');

    const order = await w.topup(relative, { citizenCardNumber: elderCard(), amount: 10_000, method: 'wechat_balance', onBehalfOf: contactId });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    await w.pay(w.prepayOf(order.body.payParams));
    const asOwner = await w.call('GET', `/api/v1/topups/${order.body.orderId}`, { session: owner });
    expect(asOwner.status).toBe(200);
    expect(asOwner.body).toMatchObject({ status: 'credited', onBehalfOf: true, load: { state: 'pending' } });
    const loaded = await w.call('POST', `/api/v1/topups/${order.body.orderId}/load`, { session: owner, body: { channel: 'nfc' } });
    expect(loaded.body.status).toBe('completed');
    const stranger = await w.signIn();
    expect((await w.call('GET', `/api/v1/topups/${order.body.orderId}`, { session: stranger })).status).toBe(403);
  });

  it('refuses asking for your own card', async () => {
    const own = await w.call('POST', '/api/v1/trusted-contacts', { session: owner, body: { citizenCardNumber: elderCard(), relation: 'spouse' } });
    expect(own.status).toBe(400);
  });

  it('allows a relative at most the tenant’s number of contacts', async () => {
    await inTx(w.server.ctx.db, (tx) => updatePolicy(tx, TENANT, { topup: { maxTrustedContacts: 2 } }, clock.now()));
    const second = await w.call('POST', '/api/v1/trusted-contacts', { session: relative, body: { citizenCardNumber: w.holder(CITIZEN.electronic).cards[0]!.number, relation: 'sibling' } });
    expect(second.status).toBe(201);
    const third = await w.call('POST', '/api/v1/trusted-contacts', { session: relative, body: { citizenCardNumber: w.holder(CITIZEN.anonymous).cards[0]!.number, relation: 'sibling' } });
    expect(third.status).toBe(409);
    expect(third.body).toMatchObject({ reason: 'trusted_contacts_limit', limit: 2 });
    await inTx(w.server.ctx.db, (tx) => updatePolicy(tx, TENANT, { topup: { maxTrustedContacts: 3 } }, clock.now()));
  });

  it('allows a card at most three emergency contacts', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await w.call('POST', '/api/v1/trusted-contacts', { session: await w.signIn(), body: { citizenCardNumber: elderCard(), relation: 'grandchild' } });
      expect(r.status).toBe(201);
    }
    const fourth = await w.call('POST', '/api/v1/trusted-contacts', { session: await w.signIn(), body: { citizenCardNumber: elderCard(), relation: 'grandchild' } });
    expect(fourth.status).toBe(409);
    expect(fourth.body).toMatchObject({ reason: 'card_contacts_limit', limit: 3 });
    // The owner's list pages as every list does (API.md: ?limit, ?cursor, nextCursor).
    const all = await w.call('GET', '/api/v1/trusted-contacts', { session: owner });
    expect(all.body.items.filter((c: { role: string }) => c.role === 'owner')).toHaveLength(3);
    expect(all.body.nextCursor).toBeNull();
    const first = await w.call('GET', '/api/v1/trusted-contacts?limit=2', { session: owner });
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const rest = await w.call('GET', `/api/v1/trusted-contacts?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`, { session: owner });
    expect([...first.body.items, ...rest.body.items].map((c: { id: string }) => c.id)).toEqual(all.body.items.map((c: { id: string }) => c.id));
    expect(rest.body.nextCursor).toBeNull();
    expect((await w.call('GET', '/api/v1/trusted-contacts?cursor=nonsense', { session: owner })).body).toMatchObject({ status: 400, code: 'validation_failed' });
  });

  it('stops top-ups for a relative once the owner revokes the contact', async () => {
    const del = await w.call('DELETE', `/api/v1/trusted-contacts/${contactId}`, { session: owner });
    expect(del.status).toBe(204);
    const r = await w.topup(relative, { citizenCardNumber: elderCard(), amount: 10_000, method: 'wechat_balance', onBehalfOf: contactId });
    expect(r.status).toBe(403);
    const list = await w.call('GET', '/api/v1/trusted-contacts', { session: relative });
    expect(list.body.items.some((c: { id: string }) => c.id === contactId)).toBe(false);
  });

  it('refuses anonymous cards where the operator tops up registered cards only', async () => {
    await inTx(w.server.ctx.db, (tx) => updatePolicy(tx, TENANT, { topup: { realNameRequired: true } }, clock.now()));
    const anon = await w.signIn();
    await w.bind(anon, w.holder(CITIZEN.anonymous));
    const r = await w.topup(anon, { citizenCardNumber: w.holder(CITIZEN.anonymous).cards[0]!.number, amount: 5_000, method: 'wechat_balance' });
    expect(r.status).toBe(409);
    expect(r.body.reason).toBe('real_name_required');
    await inTx(w.server.ctx.db, (tx) => updatePolicy(tx, TENANT, { topup: { realNameRequired: false } }, clock.now()));
  });

  it('accounts for every fen paid', async () => {
    await assertEveryFenAccounted(w, base);
  });
});

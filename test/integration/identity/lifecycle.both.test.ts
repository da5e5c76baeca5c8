// Card lifecycle over HTTP: loss report, frozen cards and users, cancelled cards (at once and by the daily sweep), dormant accounts and reactivation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World, type Session } from './world.ts';
import { balanceProbe } from './probe.ts';
import { inTx } from '../../../src/db/tx.ts';
import { findCardByNumber, getCard, setCardStatus } from '../../../src/core/index.ts';
import { recordRiskSignal } from '../../../src/risk/index.ts';
import { CANCEL_SWEEP_TOPIC, IDENTITY_PRUNE_TOPIC, IDENTITY_RETENTION_MS, onCardStatusChanged, reactivateIfQualifying, sweepCancelledCards } from '../../../src/identity/index.ts';

let w: World;
const DAY = 86_400_000;

beforeAll(async () => {
  w = await startWorld({ extraServerModules: [balanceProbe] });
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const balance = (s: Session, cardId: string, purpose = 'balance') => w.call('GET', `/test/cards/${cardId}/balance?purpose=${purpose}`, { session: s });
async function coreOf(tenantId: string, number: string) {
  return (await findCardByNumber(w.server.ctx.db, w.server.ctx.crypto, tenantId, number))!;
}
async function setStatus(coreId: string, status: 'active' | 'lost' | 'frozen' | 'cancelled' | 'dormant', at = w.clock.now()) {
  await inTx(w.server.ctx.db, (tx) => setCardStatus(tx, coreId, status, at));
}

describe('loss report (挂失)', () => {
  it('marks the card lost at once: the next balance read answers card_lost; reporting again changes nothing', async () => {
    const h = w.holder('realtime-bank', (x) => x.name === '赵志强');
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, h);
    expect((await balance(s, card.cardId)).status).toBe(200);
    const r = await w.call('POST', `/api/v1/cards/${card.cardId}/loss-report`, { session: s });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ cardId: card.cardId, status: 'lost', reportedAt: w.clock.now().toISOString() });
    expect((await getCard(w.server.ctx.db, (await coreOf('realtime-bank', h.cards[0]!.number)).id))!.status).toBe('lost');
    const read = await balance(s, card.cardId);
    expect(read.status).toBe(423);
    expect(read.body.code).toBe('card_lost');
    expect((await balance(s, card.cardId, 'topup')).body.code).toBe('card_lost');
    expect((await w.call('POST', `/api/v1/cards/${card.cardId}/loss-report`, { session: s })).status).toBe(200);
    const list = await w.call('GET', '/api/v1/cards', { session: s });
    expect(list.body.items[0]).toMatchObject({ cardId: card.cardId, status: 'lost' });
  });
});

describe('frozen', () => {
  it('answers card_frozen for a card the bank froze', async () => {
    const h = w.holder('daily20-bank', (x) => x.name === '何俊杰');
    const s = await w.signIn('daily20-bank');
    const card = await w.bind(s, h);
    const core = await coreOf('daily20-bank', h.cards[0]!.number);
    await setStatus(core.id, 'frozen');
    expect((await balance(s, card.cardId)).body.code).toBe('card_frozen');
    await setStatus(core.id, 'active');
    expect((await balance(s, card.cardId)).status).toBe(200);
  });

  it('answers card_frozen { until, scope: user } while risk control has the user frozen, and refuses new bindings too', async () => {
    const h = w.holder('daily20-bank', (x) => x.name === '冯雅婷');
    const s = await w.signIn('daily20-bank');
    const card = await w.bind(s, h);
    const ctx = w.server.ctx;
    let action = 'none';
    await inTx(ctx.db, async (tx) => {
      for (let i = 0; i < 5; i++) action = (await recordRiskSignal(ctx, tx, { tenantId: 'daily20-bank', userId: s.userId, kind: 'otp_failed', now: w.clock.now() })).action;
      for (let i = 0; i < 2; i++) action = (await recordRiskSignal(ctx, tx, { tenantId: 'daily20-bank', userId: s.userId, kind: 'new_device', now: w.clock.now() })).action;
    });
    expect(action).toBe('freeze_user');
    const r = await balance(s, card.cardId);
    expect(r.status).toBe(423);
    expect(r.body).toMatchObject({ code: 'card_frozen', scope: 'user', until: expect.any(String) });
    w.clock.advance(61_000);
    const other = w.holder('daily20-bank', (x) => x.name === '林美玲');
    const bind = await w.call('POST', '/api/v1/bindings', { session: s, body: { cardNumber: other.cards[0]!.number, holderName: other.name, idType: other.idType, idNumber: other.idNumber, phone: other.phone } });
    expect(bind.body.code).toBe('card_frozen');
    // Reporting a loss still works for a frozen user.
    expect((await w.call('POST', `/api/v1/cards/${card.cardId}/loss-report`, { session: s })).status).toBe(200);
  });
});

describe('cancelled cards', () => {
  it('lose channel access at once: card_cancelled, and the status feed revokes the binding', async () => {
    const h = w.holder('daily10-bank', (x) => x.name === '周文斌');
    const s = await w.signIn('daily10-bank');
    const card = await w.bind(s, h, 1);
    const core = await coreOf('daily10-bank', h.cards[1]!.number);
    await setStatus(core.id, 'cancelled');
    expect((await balance(s, card.cardId)).body.code).toBe('card_cancelled');
    expect((await w.call('POST', `/api/v1/cards/${card.cardId}/loss-report`, { session: s })).body.code).toBe('card_cancelled');
    expect(await onCardStatusChanged(w.server.ctx, { coreCardId: core.id, status: 'cancelled' })).toEqual({ revoked: 1 });
    expect((await w.call('GET', '/api/v1/cards', { session: s })).body.items.map((c: { cardId: string }) => c.cardId)).not.toContain(card.cardId);
    expect((await balance(s, card.cardId)).status).toBe(404);
    const audit = await w.server.ctx.db.selectFrom('identity_cards').select(['unbound_reason']).where('id', '=', card.cardId).executeTakeFirstOrThrow();
    expect(audit.unbound_reason).toBe('card_cancelled');
  });

  it('are swept by the daily job when the feed missed them, flagged overdue past 7 working days', async () => {
    const h = w.holder('daily10-bank', (x) => x.name === '郑浩然');
    const s1 = await w.signIn('daily10-bank');
    const s2 = await w.signIn('daily10-bank');
    const c1 = await w.bind(s1, h);
    const c2 = await w.bind(s2, h);
    const core = await coreOf('daily10-bank', h.cards[0]!.number);
    // Cancelled 20 days ago and nobody told identity: past the 7-working-day deadline.
    await setStatus(core.id, 'cancelled', new Date(w.clock.now().getTime() - 20 * DAY));

    // The sweep runs as the job at 02:00 Shanghai.
    const ran = await w.server.ctx.jobs.runDue({ now: new Date(w.clock.now().getTime() + DAY), topics: [CANCEL_SWEEP_TOPIC] });
    expect(ran).toBe(1);
    for (const [s, c] of [[s1, c1], [s2, c2]] as const) {
      expect((await w.call('GET', '/api/v1/cards', { session: s })).body.items.map((x: { cardId: string }) => x.cardId)).not.toContain(c.cardId);
    }
    const entries = await w.server.ctx.db.selectFrom('identity_cards').select(['id', 'unbound_reason']).where('id', 'in', [c1.cardId, c2.cardId]).execute();
    expect(entries.map((e) => e.unbound_reason)).toEqual(['cancel_sweep', 'cancel_sweep']);
    // The next run is scheduled for the following day; a second sweep finds nothing left.
    const next = await w.server.ctx.db.selectFrom('outbox').select(['run_after']).where('topic', '=', CANCEL_SWEEP_TOPIC).where('done_at', 'is', null).execute();
    expect(next).toHaveLength(1);
    expect(await sweepCancelledCards(w.server.ctx, w.clock.now())).toMatchObject({ revoked: 0, overdue: 0 });
  });

  it('counts a recent cancellation swept within its deadline as not overdue', async () => {
    const h = w.holder('realtime-bank', (x) => x.name === '孙丽娟');
    const s = await w.signIn('realtime-bank');
    await w.bind(s, h);
    const core = await coreOf('realtime-bank', h.cards[0]!.number);
    await setStatus(core.id, 'cancelled');
    const r = await sweepCancelledCards(w.server.ctx, new Date(w.clock.now().getTime() + DAY));
    expect(r).toMatchObject({ revoked: 1, overdue: 0 });
  });
});

describe('dormant accounts', () => {
  it("answer account_dormant with the tenant's route, and a qualifying transfer reactivates", async () => {
    const h = w.holder('abc-demo', (x) => x.name === '刘德福');
    const s = await w.signIn('abc-demo');
    const card = await w.bind(s, h);
    expect(card.status).toBe('dormant');
    const r = await balance(s, card.cardId);
    expect(r.status).toBe(423);
    expect(r.body).toMatchObject({ code: 'account_dormant', reactivation: { route: 'transfer', minAmountFen: 100 } });
    // Online reactivation is not this bank's route.
    const online = await w.call('POST', `/api/v1/cards/${card.cardId}/reactivation`, { session: s });
    expect(online.status).toBe(423);
    expect(online.body.code).toBe('account_dormant');

    const core = await coreOf('abc-demo', h.cards[0]!.number);
    const ctx = w.server.ctx;
    expect(await inTx(ctx.db, (tx) => reactivateIfQualifying(tx, core, { amountFen: 99n, incoming: true, at: w.clock.now() }))).toBe(false);
    expect(await inTx(ctx.db, (tx) => reactivateIfQualifying(tx, core, { amountFen: 100n, incoming: false, at: w.clock.now() }))).toBe(false);
    expect(await inTx(ctx.db, (tx) => reactivateIfQualifying(tx, core, { amountFen: 100n, incoming: true, at: w.clock.now() }))).toBe(true);
    expect((await balance(s, card.cardId)).status).toBe(200);
  });

  it('count as dormant after the period without a customer transaction even before the core marks them', async () => {
    const h = w.holder('abc-demo', (x) => x.name === '陈家豪');
    const s = await w.signIn('abc-demo');
    const card = await w.bind(s, h);
    expect((await balance(s, card.cardId)).status).toBe(200);
    w.clock.advance(200 * DAY);
    const again = await w.signIn('abc-demo', { openid: s.openid, unionid: s.unionid, deviceId: s.deviceId });
    expect((await balance(again, card.cardId)).body.code).toBe('account_dormant');
  });

  it('stay readable where the tenant keeps dormant accounts queryable online, but refuse payments', async () => {
    const h = w.holder('daily10-bank', (x) => x.name === '吴秀英');
    const s = await w.signIn('daily10-bank');
    const card = await w.bind(s, h, 1);
    expect(card.status).toBe('dormant');
    expect((await balance(s, card.cardId)).status).toBe(200);
    const pay = await balance(s, card.cardId, 'topup');
    expect(pay.body).toMatchObject({ code: 'account_dormant', reactivation: { route: 'counter' } });
  });

  it('wake online after a step-up where the tenant offers it', async () => {
    const h = w.holder('realtime-bank', (x) => x.name === '李晓红');
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, h);
    const core = await coreOf('realtime-bank', h.cards[0]!.number);
    await setStatus(core.id, 'dormant');
    expect((await balance(s, card.cardId)).body).toMatchObject({ code: 'account_dormant', reactivation: { route: 'counter', routes: [{ route: 'counter' }, { route: 'online' }] } });
    const ask = await w.call('POST', `/api/v1/cards/${card.cardId}/reactivation`, { session: s });
    expect(ask.status).toBe(403);
    expect(ask.body).toMatchObject({ code: 'step_up_required', method: 'payment_password_last4' });
    expect((await w.call('POST', `/api/v1/step-ups/${ask.body.challengeId}`, { session: s, body: { answer: h.paymentPassword.slice(-4) } })).status).toBe(200);
    const done = await w.call('POST', `/api/v1/cards/${card.cardId}/reactivation`, { session: s });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ cardId: card.cardId, status: 'active' });
    expect((await balance(s, card.cardId)).status).toBe(200);
  });
});

describe('retention', () => {
  it('prunes ended sessions, old challenges, bindings and step-ups after 30 days, keeping bound cards', async () => {
    const db = w.server.ctx.db;
    const countOf = async (t: 'identity_sessions' | 'identity_otp_challenges' | 'identity_bindings' | 'identity_step_ups' | 'identity_cards') =>
      Number((await db.selectFrom(t).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    const before = { sessions: await countOf('identity_sessions'), challenges: await countOf('identity_otp_challenges'), cards: await countOf('identity_cards') };
    expect(before.sessions).toBeGreaterThan(0);
    expect(before.challenges).toBeGreaterThan(0);
    const ran = await w.server.ctx.jobs.runDue({ now: new Date(w.clock.now().getTime() + IDENTITY_RETENTION_MS + 2 * DAY), topics: [IDENTITY_PRUNE_TOPIC] });
    expect(ran).toBe(1);
    expect(await countOf('identity_sessions')).toBe(0);
    expect(await countOf('identity_otp_challenges')).toBe(0);
    expect(await countOf('identity_bindings')).toBe(0);
    expect(await countOf('identity_step_ups')).toBe(0);
    expect(await countOf('identity_cards')).toBe(before.cards);
  });
});

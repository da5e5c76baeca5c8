// Quick balance without binding over HTTP: card number + reserved phone + SMS code → the T+1 balance and the last 3 entries, under the no-bind quotas and card kinds.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTx } from '../../../src/db/tx.ts';
import { findCardByNumber, type CoreCard } from '../../../src/core/index.ts';
import { findAccountByCode, history, transfer } from '../../../src/ledger/index.ts';
import { internalAccountCode } from '../../../src/sandbox/demo/index.ts';
import { CardNumber } from '../../../src/shared/sensitive.ts';
import { expectMasked, startWorld, type Holder, type Session, type World } from './world.ts';

let w: World;

beforeAll(async () => {
  w = await startWorld();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const start = (s: Session, body: unknown) => w.call('POST', '/api/v1/quick-balance', { session: s, body });
const confirm = (s: Session, challengeId: string, otp: string) => w.call('POST', `/api/v1/quick-balance/${challengeId}/confirm`, { session: s, body: { otp } });
const ask = (s: Session, h: Holder, cardIndex = 0, phone = h.phone) => start(s, { tenantId: s.tenantId, cardNumber: h.cards[cardIndex]!.number, phone });

/** Starts a query and answers the code from the sandbox outbox (past the SMS resend throttle first). */
async function quick(s: Session, h: Holder, cardIndex = 0) {
  w.clock.advance(61_000);
  const started = await ask(s, h, cardIndex);
  expect(started.status, started.text).toBe(201);
  return confirm(s, started.body.challengeId, await w.lastCode(h.phone));
}

async function coreCard(h: Holder, cardIndex = 0): Promise<CoreCard> {
  return (await findCardByNumber(w.server.ctx.db, w.server.ctx.crypto, h.tenantId, CardNumber.parse(h.cards[cardIndex]!.number)))!;
}

/** The card's ledger entries up to `to`, newest first. */
async function entriesUpTo(core: CoreCard, to: Date) {
  const page = await history(w.server.ctx.db, core.ledgerAccountId, { to, limit: 20 });
  return page.items;
}

async function deposit(core: CoreCard, amountFen: bigint): Promise<void> {
  const clearing = (await findAccountByCode(w.server.ctx.db, core.tenantId, internalAccountCode('clearing', core.currency)))!;
  await inTx(w.server.ctx.db, (tx) =>
    transfer(tx, {
      idempotencyId: `qb-test-${randomBytes(8).toString('hex')}`,
      debitAccountId: clearing.id,
      creditAccountId: core.ledgerAccountId,
      amountFen,
      kind: 'deposit',
      description: 'quick balance test',
      counterparty: '测试商户',
      now: w.clock.now(),
    }),
  );
}

describe('quick balance', { timeout: 60_000 }, () => {
  it('answers the T+1 balance and the last 3 posted entries up to then, masked, after the SMS code; a posting today shows the next business day', async () => {
    const h = w.holder('abc-demo', '陈家豪');
    const s = await w.signIn('abc-demo');
    const core = await coreCard(h);
    // 2026-03-18 14:30 Shanghai (a Wednesday): T+1 is the end of Tuesday 2026-03-17.
    const t1 = new Date('2026-03-17T15:59:59.999Z');
    await deposit(core, 4_321n);

    w.clock.advance(61_000);
    const started = await ask(s, h);
    expect(started.status, started.text).toBe(201);
    expect(started.body).toEqual({ challengeId: expect.stringMatching(/^qb_/), otpSentTo: expect.stringMatching(/^\d{3}\*+\d{4}$/), expiresAt: expect.any(String) });
    expectMasked(started, h);
    const r = await confirm(s, started.body.challengeId, await w.lastCode(h.phone));
    expect(r.status, r.text).toBe(200);
    expectMasked(r, h);

    const ledger = (await entriesUpTo(core, t1)).filter((e) => e.state === 'posted');
    expect(ledger.length).toBeGreaterThanOrEqual(3);
    expect(r.body).toMatchObject({ maskedNumber: core.maskedNumber, available: Number(ledger[0]!.balanceAfterFen), currency: 'CNY', asOf: t1.toISOString(), freshness: 't+1', stale: false });
    expect(r.body.lastTransactions.map((t: { id: string }) => t.id)).toEqual(ledger.slice(0, 3).map((e) => e.transferId));
    for (const t of r.body.lastTransactions) {
      expect(t.state).toBe('posted');
      // The card is not the caller's: no bill to contact customer service about.
      expect(t).not.toHaveProperty('billRef');
    }
    const audit = await w.server.ctx.db.selectFrom('audit_log').select(['actor_id', 'outcome']).where('action', '=', 'quick_balance.read').where('subject_id', '=', started.body.challengeId).execute();
    expect(audit).toEqual([{ actor_id: s.userId, outcome: 'ok' }]);

    // The code is spent: the same query is not answered twice.
    const again = await confirm(s, started.body.challengeId, await w.lastCode(h.phone));
    expect([again.status, again.body.code, again.body.attemptsLeft]).toEqual([422, 'otp_invalid', 0]);

    // Thursday 2026-03-19 09:00 Shanghai: T+1 is the end of Wednesday, with today's deposit in it.
    w.clock.set('2026-03-19T01:00:00Z');
    const next = await quick(await w.signIn('abc-demo'), h);
    expect(next.status, next.text).toBe(200);
    expect(next.body).toMatchObject({ available: r.body.available + 4_321, asOf: '2026-03-18T15:59:59.999Z' });
    expect(next.body.lastTransactions[0]).toMatchObject({ amount: 4_321, direction: 'credit', description: 'quick balance test' });
  });

  it('refuses a number and phone that do not match (card_not_bindable), card kinds the tenant does not allow, other tenants and institutions without the service', async () => {
    const s = await w.signIn('abc-demo');
    const h = w.holder('abc-demo', '张伟明');
    const other = w.holder('abc-demo', '王建国');
    const mismatch = await ask(s, h, 0, other.phone);
    expect([mismatch.status, mismatch.body.code]).toEqual([422, 'card_not_bindable']);
    expectMasked(mismatch, h);
    // Card 1 is a credit card: the agricultural bank offers quick balance for debit cards only.
    w.clock.advance(61_000);
    const credit = await ask(s, h, 1);
    expect([credit.status, credit.body.code, credit.body.allowedKinds]).toEqual([403, 'forbidden', ['debit']]);
    const elsewhere = await start(s, { tenantId: 'realtime-bank', cardNumber: h.cards[0]!.number, phone: h.phone });
    expect([elsewhere.status, elsewhere.body.code]).toEqual([403, 'forbidden']);
    const bad = await start(s, { tenantId: 'abc-demo', cardNumber: '1234', phone: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['cardNumber', 'phone']);

    const citizen = await w.signIn('hz-citizen-card');
    const ch = w.demo.cardholders.find((x) => x.tenantId === 'hz-citizen-card')!;
    const off = await start(citizen, { tenantId: 'hz-citizen-card', cardNumber: ch.cards[0]!.number, phone: ch.phone });
    expect([off.status, off.body.code]).toEqual([403, 'forbidden']);
  });

  it('checks the code: a wrong one answers otp_invalid { attemptsLeft }, another account’s query is forbidden', async () => {
    const h = w.holder('abc-demo', '王建国');
    const s = await w.signIn('abc-demo');
    w.clock.advance(61_000);
    const started = await ask(s, h);
    expect(started.status, started.text).toBe(201);
    const code = await w.lastCode(h.phone);
    const wrong = await confirm(s, started.body.challengeId, code === '000000' ? '111111' : '000000');
    expect([wrong.status, wrong.body.code]).toEqual([422, 'otp_invalid']);
    expect(wrong.body.attemptsLeft).toBeGreaterThan(0);
    const stranger = await w.signIn('abc-demo');
    expect((await confirm(stranger, started.body.challengeId, code)).body.code).toBe('forbidden');
    expect((await confirm(s, 'qb_00000000000000000000000000', code)).body.code).toBe('not_found');
    expect((await confirm(s, started.body.challengeId, code)).status).toBe(200);
  });

  it('allows 3 queries per card and 5 per WeChat account a day (agricultural bank), counting mismatches, until 00:00 Shanghai', async () => {
    w.clock.set('2026-03-20T02:00:00Z');
    const s = await w.signIn('abc-demo');
    const x = w.holder('abc-demo', '陈家豪');
    const y = w.holder('abc-demo', '张伟明');
    for (let i = 0; i < 3; i++) {
      w.clock.advance(61_000);
      expect((await ask(s, x)).status).toBe(201);
    }
    w.clock.advance(61_000);
    const perCard = await ask(s, x);
    expect(perCard.status).toBe(429);
    expect(perCard.body).toMatchObject({ code: 'quota_exceeded', limit: 3, resetsAt: '2026-03-21T00:00:00+08:00' });
    // The card's quota holds for every account asking about it.
    w.clock.advance(61_000);
    expect((await ask(await w.signIn('abc-demo'), x)).body).toMatchObject({ code: 'quota_exceeded', limit: 3 });

    // The account has used 3 of 5: a mismatching try counts too.
    w.clock.advance(61_000);
    expect((await ask(s, y)).status).toBe(201);
    expect((await ask(s, y, 0, x.phone)).body.code).toBe('card_not_bindable');
    w.clock.advance(61_000);
    const perAccount = await ask(s, y);
    expect(perAccount.status).toBe(429);
    expect(perAccount.body).toMatchObject({ code: 'quota_exceeded', limit: 5 });

    // The next Shanghai day the card answers again (a new sign-in: the old session has idled out).
    w.clock.set('2026-03-20T16:00:00Z');
    expect((await ask(await w.signIn('abc-demo'), x)).status).toBe(201);
  });
});

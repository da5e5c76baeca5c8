// The demo seed (its speed is in bench/bulk.ts): the demo sheet's shape and validity, a year of history per card, zero sums, idempotence, reset.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSign, createVerify } from 'node:crypto';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { validateCardNumber } from '../../../src/shared/card-number.ts';
import { lookupBin } from '../../../src/shared/bins.ts';
import { validateIdDocument } from '../../../src/shared/id-document.ts';
import { inTx } from '../../../src/db/tx.ts';
import { findAccountByCode, getBalance, history, transfer } from '../../../src/ledger/index.ts';
import { findCardByNumber, getCard, listCards, setCardStatus, type CoreCard } from '../../../src/core/index.ts';
import { getCredentials, getTenant, updatePolicy } from '../../../src/tenants/index.ts';
import { DEMO_TENANTS, demoCardholders, demoRoutes, demoSummary, internalAccountCode, seedDemo, seedDemoIfEmpty, type DemoSummary } from '../../../src/sandbox/demo/index.ts';

const DAY_MS = 86_400_000;

// Every value of the demo sheet must stay out of the logs.
for (const h of demoCardholders()) registerSensitive(h.name, h.idNumber, h.phone, h.paymentPassword, ...h.cardNumbers);

let t: TestApp;
let clock: ManualClock;
let first: DemoSummary;

beforeAll(async () => {
  clock = new ManualClock('2026-03-18T06:30:00Z');
  t = await startTestApp({ modules: [demoRoutes], clock });
  const r = await seedDemo(t.ctx);
  expect(r.seeded).toEqual(DEMO_TENANTS.map((x) => x.id));
  first = (await t.app.inject('/sandbox/api/demo')).json();
}, 120_000);
afterAll(async () => {
  await t?.close();
});

async function cardOf(tenantId: string, number: string): Promise<CoreCard> {
  const c = await findCardByNumber(t.ctx.db, t.ctx.crypto, tenantId, number);
  if (!c) throw new Error('demo card not found');
  return c;
}

async function allEntries(accountId: string, from: Date, to: Date) {
  const out = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await history(t.ctx.db, accountId, { from, to, limit: 100, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

describe('demo seed', () => {
  it('answers GET /sandbox/api/demo with one tenant per preset', async () => {
    expect(first.tenants.map((x) => [x.id, x.kind, x.preset])).toEqual([
      ['abc-demo', 'bank', 'agricultural'],
      ['daily10-bank', 'bank', 'daily-10'],
      ['daily20-bank', 'bank', 'daily-20'],
      ['hz-citizen-card', 'citizen_card', 'citizen-card'],
      ['realtime-bank', 'bank', 'unlimited-realtime'],
    ]);
    for (const x of first.tenants) expect(x.name.length).toBeGreaterThan(0);
  });

  it('has at least three cardholders per bank, a Hong Kong resident, a dormant account and one holding ≥ ¥500,000', async () => {
    for (const bank of DEMO_TENANTS.filter((x) => x.kind === 'bank')) {
      expect(first.cardholders.filter((h) => h.tenantId === bank.id).length).toBeGreaterThanOrEqual(3);
    }
    expect(first.cardholders.some((h) => h.idType === 'hk_macao_travel_permit' && /^H\d{8}$/.test(h.idNumber))).toBe(true);
    const dormant = first.cardholders.filter((h) => h.cards.some((c) => c.status === 'dormant'));
    expect(dormant.map((h) => h.tenantId)).toContain('abc-demo');
    let rich = 0;
    for (const h of first.cardholders.filter((x) => x.tenantId === 'abc-demo')) {
      for (const c of h.cards) {
        const bal = await getBalance(t.ctx.db, (await cardOf(h.tenantId, c.number)).ledgerAccountId);
        if (bal.postedFen >= 50_000_000n) rich++;
      }
    }
    expect(rich).toBeGreaterThanOrEqual(1);
  });

  it('gives the citizen-card operator’s holders citizen cards', () => {
    const holders = first.cardholders.filter((h) => h.tenantId === 'hz-citizen-card');
    expect(holders.length).toBeGreaterThanOrEqual(3);
    for (const h of holders) expect(h.cards.every((c) => c.kind === 'citizen')).toBe(true);
  });

  it('uses valid-looking numbers: Luhn-correct cards with real BINs, valid documents, fake-pattern phones, 6-digit passwords', () => {
    for (const h of first.cardholders) {
      const doc = validateIdDocument(h.idType, h.idNumber, clock.now());
      expect(doc.ok, `${h.idType} of a ${h.tenantId} holder`).toBe(true);
      expect(h.phone).toMatch(/^1380000\d{4}$/);
      expect(h.paymentPassword).toMatch(/^\d{6}$/);
      expect(h.cards.length).toBeGreaterThan(0);
      for (const c of h.cards) {
        const check = validateCardNumber(c.number);
        expect(check.ok && check.luhn === 'pass').toBe(true);
        expect(lookupBin(c.number), 'a known issuer prefix').toBeDefined();
      }
    }
  });

  it('gives each card a year of history; an active card has postings in at least 10 of the last 12 months', async () => {
    const now = clock.now();
    const yearAgo = new Date(now.getTime() - 366 * DAY_MS);
    for (const h of first.cardholders) {
      for (const c of h.cards) {
        const card = await cardOf(h.tenantId, c.number);
        const entries = await allEntries(card.ledgerAccountId, yearAgo, now);
        expect(entries.length).toBeGreaterThan(5);
        for (const e of entries) expect(e.bookedAt.getTime()).toBeLessThanOrEqual(now.getTime());
        const months = new Set(entries.map((e) => new Date(e.bookedAt.getTime() + 8 * 3_600_000).toISOString().slice(0, 7)));
        if (card.status === 'dormant') {
          // Dormant: the last customer transaction is over 6 months old.
          expect(now.getTime() - card.lastActivityAt.getTime()).toBeGreaterThan(183 * DAY_MS);
        } else {
          expect(months.size).toBeGreaterThanOrEqual(10);
        }
        if (card.kind === 'debit' && card.currency === 'CNY' && card.status === 'active') {
          expect(entries.some((e) => e.kind === 'salary' || e.kind === 'pension')).toBe(true);
          expect(entries.some((e) => e.kind === 'utility')).toBe(true);
          expect(entries.every((e) => e.description.length > 0)).toBe(true);
        }
      }
    }
  });

  it('keeps every per-currency sum of balances at zero, and no deposit account below zero', async () => {
    const sums = new Map<string, bigint>();
    const addBal = async (accountId: string) => {
      const b = await getBalance(t.ctx.db, accountId);
      sums.set(b.currency, (sums.get(b.currency) ?? 0n) + b.postedFen);
      return b;
    };
    for (const tenant of DEMO_TENANTS) {
      for (const card of await listCards(t.ctx.db, tenant.id)) {
        const b = await addBal(card.ledgerAccountId);
        if (card.kind !== 'credit') expect(b.postedFen).toBeGreaterThanOrEqual(0n);
        else expect(b.postedFen).toBeLessThanOrEqual(0n);
      }
      for (const which of ['clearing', 'settlement', 'fee', 'interest'] as const) {
        for (const ccy of ['CNY', 'USD']) {
          const a = await findAccountByCode(t.ctx.db, tenant.id, internalAccountCode(which, ccy));
          if (a) await addBal(a.id);
        }
      }
    }
    expect(sums.get('CNY')).toBe(0n);
    expect(sums.get('USD')).toBe(0n);
  });

  it('keeps stored-value citizen cards within the PBOC caps', async () => {
    for (const card of await listCards(t.ctx.db, 'hz-citizen-card')) {
      const cap = card.citizen?.realName ? 500_000n : 100_000n;
      expect((await getBalance(t.ctx.db, card.ledgerAccountId)).postedFen).toBeLessThanOrEqual(cap);
    }
  });

  it('serves each tenant’s sandbox credentials: working RSA pairs and the OA mode per tenant', async () => {
    const modes: Record<string, string> = {};
    for (const tenant of DEMO_TENANTS) {
      const res = await t.app.inject(`/sandbox/api/tenants/${tenant.id}/credentials`);
      expect(res.statusCode).toBe(200);
      const c = res.json();
      expect(c.oa.appId).toMatch(/^wx[0-9a-f]{16}$/);
      expect(c.oa.encodingAESKey).toHaveLength(43);
      expect(c.miniProgram.appId).not.toBe(c.oa.appId);
      expect(c.pay.apiV3Key).toHaveLength(32);
      expect(c.wecom.corpId).toMatch(/^ww/);
      modes[tenant.id] = c.oa.mode;
      const msg = 'GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n';
      const sig = createSign('RSA-SHA256').update(msg).sign(c.pay.platformPrivateKeyPem, 'base64');
      expect(createVerify('RSA-SHA256').update(msg).verify(c.pay.platformPublicKeyPem, sig, 'base64')).toBe(true);
      const stored = await getCredentials(t.ctx.db, t.ctx.crypto, tenant.id);
      const msig = createSign('RSA-SHA256').update(msg).sign(stored!.pay!.merchantPrivateKeyPem, 'base64');
      expect(createVerify('RSA-SHA256').update(msg).verify(c.pay.merchantPublicKeyPem, msig, 'base64')).toBe(true);
      // The merchant's private key stays with the merchant: the platform only needs its public half.
      expect(JSON.stringify(c)).not.toContain(stored!.pay!.merchantPrivateKeyPem.split('\n')[1]!);
    }
    expect(modes['abc-demo']).toBe('safe');
    expect(Object.values(modes)).toContain('plain');
  });

  it('answers 404 problem+json for the credentials of an unknown tenant', async () => {
    const res = await t.app.inject('/sandbox/api/tenants/no-such-bank/credentials');
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('not_found');
  });

  it('changes nothing when seeded again', async () => {
    const cardsBefore = await listCards(t.ctx.db, 'abc-demo');
    const r = await seedDemo(t.ctx);
    expect(r.seeded).toEqual([]);
    expect(r.skipped).toEqual(DEMO_TENANTS.map((x) => x.id));
    expect(await seedDemoIfEmpty(t.ctx)).toBeUndefined();
    expect(await listCards(t.ctx.db, 'abc-demo')).toEqual(cardsBefore);
    expect((await t.app.inject('/sandbox/api/demo')).json()).toEqual(first);
  });

  it('re-creates the seeded state on reset, keeping the sandbox credentials', async () => {
    const holder = first.cardholders.find((h) => h.tenantId === 'abc-demo')!;
    const card = await cardOf('abc-demo', holder.cards[0]!.number);
    const seededBalance = (await getBalance(t.ctx.db, card.ledgerAccountId)).postedFen;
    const credsBefore = await getCredentials(t.ctx.db, t.ctx.crypto, 'abc-demo');
    // Play in the sandbox: spend, report the card lost, cancel another, retune the policy.
    const clearing = await findAccountByCode(t.ctx.db, 'abc-demo', 'clearing');
    await inTx(t.ctx.db, async (tx) => {
      await transfer(tx, { idempotencyId: 'play-1', debitAccountId: card.ledgerAccountId, creditAccountId: clearing!.id, amountFen: 1_234n, kind: 'purchase', description: '测试', now: clock.now() });
      await setCardStatus(tx, card.id, 'lost', clock.now());
      await updatePolicy(tx, 'abc-demo', { quotas: { noBindPerCardPerDay: 99 } }, clock.now());
    });
    const other = await cardOf('abc-demo', holder.cards[1]?.number ?? first.cardholders[1]!.cards[0]!.number);
    await inTx(t.ctx.db, (tx) => setCardStatus(tx, other.id, 'cancelled', clock.now()));

    const r = await seedDemo(t.ctx, { reset: true });
    expect(r.seeded).toEqual(DEMO_TENANTS.map((x) => x.id));
    const after = await getCard(t.ctx.db, card.id);
    expect(after?.status).toBe('active');
    expect(after?.ledgerAccountId).not.toBe(card.ledgerAccountId);
    expect((await getBalance(t.ctx.db, after!.ledgerAccountId)).postedFen).toBe(seededBalance);
    expect((await getCard(t.ctx.db, other.id))?.status).toBe('active');
    expect((await getTenant(t.ctx.db, 'abc-demo'))?.policy.quotas.noBindPerCardPerDay).toBe(3);
    expect(await getCredentials(t.ctx.db, t.ctx.crypto, 'abc-demo')).toEqual(credsBefore);
    expect(await demoSummary(t.ctx)).toEqual(first);
  }, 60_000);

  it('never wrote a demo number, phone, name or password to the log', () => {
    const text = t.logs.join('\n');
    for (const h of demoCardholders()) {
      for (const v of [h.idNumber, h.phone, ...h.cardNumbers]) expect(text).not.toContain(v);
    }
    expect(t.logs.some((l) => l.includes('demo data seeded'))).toBe(true);
  });
});

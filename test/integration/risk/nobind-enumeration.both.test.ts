// Enumeration of card numbers in no-bind mode from one account is stopped by the daily quota and by a risk freeze.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { AppError } from '../../../src/app/errors.ts';
import { activeFreeze, guardNoBindQuery, listRiskEvents, quotaStatus } from '../../../src/risk/index.ts';
import type { Tenant } from '../../../src/tenants/index.ts';
import { expectAppError, makeTenant, SETUP_TIMEOUT_MS, DB_TEST_TIMEOUT_MS } from './fixtures.ts';

let t: TestApp;
let agri: Tenant; // 5 no-bind queries per account, 3 per card, per day
let open: Tenant; // no quotas at all: only risk stands in the way
let closed: Tenant; // no-bind mode switched off
const NOW = new Date('2026-01-05T02:00:00Z');
const CN_IP = '114.114.114.114';

/** 50 distinct UnionPay-looking debit card numbers (19 digits, 62…), as an enumerator would try. */
const CARD_NUMBERS = Array.from({ length: 50 }, (_, i) => `6228480${String(402564890018 + i * 7919).padStart(12, '0')}`);

beforeAll(async () => {
  t = await startTestApp({ modules: [] });
  registerSensitive(...CARD_NUMBERS);
  agri = await makeTenant(t.ctx, 'bank-agri', 'agricultural');
  open = await makeTenant(t.ctx, 'bank-open', 'unlimited-realtime');
  closed = await makeTenant(t.ctx, 'bank-closed', 'citizen-card');
}, SETUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

/** What the quick-balance route passes: the card's blind index, never its number. */
const cardKey = (n: string) => t.ctx.crypto.blindIndex('card', n);

async function probe(tenant: Tenant, accountKey: string, cardNumber: string, i: number): Promise<string> {
  try {
    await guardNoBindQuery(t.ctx, { tenantId: tenant.id, policy: tenant.policy, accountKey, cardKey: cardKey(cardNumber), ip: CN_IP, now: new Date(NOW.getTime() + i * 1000) });
    return 'ok';
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
}

describe('no-bind enumeration from one WeChat account', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('stops 50 distinct card numbers: 5 pass, the quota refuses the next, the 8th distinct card freezes the account', async () => {
    const outcomes: string[] = [];
    for (const [i, n] of CARD_NUMBERS.entries()) outcomes.push(await probe(agri, 'acct_enumerator', n, i));
    expect(outcomes.slice(0, 5)).toEqual(Array(5).fill('ok'));
    expect(outcomes.slice(5, 7)).toEqual(['quota_exceeded', 'quota_exceeded']);
    expect(outcomes.slice(7)).toEqual(Array(43).fill('card_frozen'));

    const freeze = await activeFreeze(t.ctx.db, { tenantId: agri.id, userId: 'acct_enumerator', now: new Date(NOW.getTime() + 60_000) });
    expect(freeze).toMatchObject({ scope: 'user' });
    expect(freeze?.reason).toMatch(/nobind_cards_probed/);
    const events = await listRiskEvents(t.ctx.db, { tenantId: agri.id, subject: { kind: 'user', id: 'acct_enumerator' } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'freeze_user', score: 100, features: { nobindCardsProbed: 8, trigger: 'nobind_card_probe' } });
    const audit = await t.ctx.db.selectFrom('audit_log').select(['subject_id']).where('tenant_id', '=', agri.id).where('action', '=', 'risk.freeze').execute();
    expect(audit.map((a) => a.subject_id)).toEqual(['acct_enumerator']);
    expect((await quotaStatus(t.ctx.db, { tenantId: agri.id, kind: 'nobind_account', key: 'acct_enumerator', limit: 5, now: NOW })).used).toBe(5);
  });

  it('freezes the enumerating account, not the victims’ cards: another account still queries them', async () => {
    expect(await activeFreeze(t.ctx.db, { tenantId: agri.id, cardId: cardKey(CARD_NUMBERS[0]!), now: NOW })).toBeUndefined();
    expect(await probe(agri, 'acct_owner', CARD_NUMBERS[0]!, 100)).toBe('ok');
  });

  it('stops the enumeration by risk alone where the tenant sets no quota: the 8th distinct card freezes', async () => {
    const outcomes: string[] = [];
    for (const [i, n] of CARD_NUMBERS.entries()) outcomes.push(await probe(open, 'acct_enumerator', n, i));
    expect(outcomes.slice(0, 7)).toEqual(Array(7).fill('ok'));
    expect(outcomes.slice(7)).toEqual(Array(43).fill('card_frozen'));
  });

  it('never freezes a person who checks their own three cards again and again', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) outcomes.push(await probe(open, 'acct_honest', CARD_NUMBERS[i % 3]!, i));
    expect(new Set(outcomes)).toEqual(new Set(['ok']));
    expect(await activeFreeze(t.ctx.db, { tenantId: open.id, userId: 'acct_honest', now: NOW })).toBeUndefined();
  });

  it('limits one card to 3 no-bind queries a day across accounts, without using the refused account’s quota', async () => {
    const card = CARD_NUMBERS[40]!;
    expect(await probe(agri, 'acct_a', card, 1)).toBe('ok');
    expect(await probe(agri, 'acct_b', card, 2)).toBe('ok');
    expect(await probe(agri, 'acct_c', card, 3)).toBe('ok');
    const err = await expectAppError(
      guardNoBindQuery(t.ctx, { tenantId: agri.id, policy: agri.policy, accountKey: 'acct_d', cardKey: cardKey(card), now: NOW }),
      'quota_exceeded',
    );
    expect(err.extra).toEqual({ limit: 3, resetsAt: '2026-01-06T00:00:00+08:00' });
    expect((await quotaStatus(t.ctx.db, { tenantId: agri.id, kind: 'nobind_account', key: 'acct_d', limit: 5, now: NOW })).used).toBe(0);
  });

  it('refuses no-bind queries where the institution does not offer them', async () => {
    await expectAppError(
      guardNoBindQuery(t.ctx, { tenantId: closed.id, policy: closed.policy, accountKey: 'acct_x', cardKey: cardKey(CARD_NUMBERS[0]!), now: NOW }),
      'forbidden',
    );
  });

  it('keeps card numbers out of the risk tables and the logs', async () => {
    const texts = [
      JSON.stringify(await t.ctx.db.selectFrom('risk_quotas').selectAll().execute()),
      JSON.stringify(await t.ctx.db.selectFrom('risk_signals').select(['user_id', 'card_id', 'detail']).execute()),
      JSON.stringify(await t.ctx.db.selectFrom('risk_events').select(['subject_id', 'features']).execute()),
      t.logs.join('\n'),
    ];
    for (const text of texts) for (const n of CARD_NUMBERS) expect(text).not.toContain(n);
  });
});

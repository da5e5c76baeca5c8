// Trends (monthly income and expense) and the overview of all bound cards with totals per currency, over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBalance, history } from '../../../src/ledger/index.ts';
import { CAPTCHA_ANSWER_HEADER, solvePow } from '../../../src/risk/index.ts';
import { expectMasked, startWorld, type Session, type World } from './world.ts';

let w: World;

beforeAll(async () => {
  w = await startWorld();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const get = (s: Session, path: string, headers: Record<string, string> = {}) => w.call('GET', path, { session: s, headers });
const shanghaiMonth = (d: Date) => new Date(d.getTime() + 8 * 3_600_000).toISOString().slice(0, 7);

describe('trends', { timeout: 60_000 }, () => {
  it('sums posted money in and out per Shanghai calendar month, oldest first, matching the ledger', async () => {
    const h = w.holder('realtime-bank', '李晓红');
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, h);
    const r = await get(s, `/api/v1/cards/${card.cardId}/trends?months=12`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toHaveLength(12);
    expect(r.body.map((m: any) => m.month)).toEqual(['2025-04', '2025-05', '2025-06', '2025-07', '2025-08', '2025-09', '2025-10', '2025-11', '2025-12', '2026-01', '2026-02', '2026-03']);

    const core = await w.coreOf(s, card.cardId);
    const sums = new Map<string, { income: number; expense: number }>();
    let cursor: string | undefined;
    do {
      const page = await history(w.server.ctx.db, core.ledgerAccountId, { from: new Date('2025-03-31T16:00:00Z'), cursor, limit: 100 });
      for (const e of page.items.filter((x) => x.state === 'posted')) {
        const m = sums.get(shanghaiMonth(e.bookedAt)) ?? { income: 0, expense: 0 };
        if (e.amountFen >= 0n) m.income += Number(e.amountFen);
        else m.expense -= Number(e.amountFen);
        sums.set(shanghaiMonth(e.bookedAt), m);
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    for (const m of r.body) expect(m).toEqual({ month: m.month, currency: 'CNY', ...(sums.get(m.month) ?? { income: 0, expense: 0 }) });
    expect(r.body.some((m: any) => m.income > 0 && m.expense > 0)).toBe(true);
    expect((await w.server.ctx.db.selectFrom('audit_log').select('seq').where('action', '=', 'trends.read').where('subject_id', '=', card.cardId).execute()).length).toBe(1);
  });

  it('defaults to 12 months, allows up to 24 and names the field otherwise', async () => {
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, w.holder('realtime-bank', '孙丽娟'));
    expect((await get(s, `/api/v1/cards/${card.cardId}/trends`)).body).toHaveLength(12);
    const two = await get(s, `/api/v1/cards/${card.cardId}/trends?months=24`);
    expect(two.body).toHaveLength(24);
    expect(two.body[0].month).toBe('2024-04');
    for (const bad of ['25', '0', 'x']) {
      const r = await get(s, `/api/v1/cards/${card.cardId}/trends?months=${bad}`);
      expect([r.status, r.body.code]).toEqual([400, 'validation_failed']);
      expect(r.body.errors[0].field).toMatch(/months$/);
    }
  });
});

describe('overview', { timeout: 60_000 }, () => {
  it('lists every bound card with its balance and totals each currency apart, with a CNY total when asked', async () => {
    const h = w.holder('realtime-bank', '赵志强');
    const s = await w.signIn('realtime-bank');
    const cny = await w.bind(s, h, 0);
    const usd = await w.bind(s, h, 1);
    const r = await get(s, '/api/v1/overview?cny=1');
    expect(r.status, r.text).toBe(200);
    expectMasked(r, h);
    const [a, b] = r.body.accounts;
    expect(a).toMatchObject({ cardId: cny.cardId, institution: '实时银行（演示）', isDefault: true, currency: 'CNY', unavailable: null, freshness: 'realtime', stale: false });
    expect(b).toMatchObject({ cardId: usd.cardId, isDefault: false, currency: 'USD', unavailable: null });
    const ledgerOf = async (cardId: string) => getBalance(w.server.ctx.db, (await w.coreOf(s, cardId)).ledgerAccountId);
    const [lc, lu] = [await ledgerOf(cny.cardId), await ledgerOf(usd.cardId)];
    expect(r.body.totals).toEqual([
      { currency: 'CNY', available: Number(lc.availableFen), ledger: Number(lc.postedFen), accounts: 1, omitted: 0 },
      { currency: 'USD', available: Number(lu.availableFen), ledger: Number(lu.postedFen), accounts: 1, omitted: 0 },
    ]);
    expect(r.body.cnyTotal).toEqual({ available: a.available + b.cnyEquivalent.available.amount, ledger: a.ledger + b.cnyEquivalent.ledger.amount, complete: true });
    expect((await get(s, '/api/v1/overview')).body).not.toHaveProperty('cnyTotal');
  });

  it('lists a card that cannot be read without a balance, saying why, and leaves it out of the totals', async () => {
    const h = w.holder('daily10-bank', '吴秀英');
    const s = await w.signIn('daily10-bank');
    const retired = await w.bind(s, h, 0);
    const dormant = await w.bind(s, h, 1);
    expect((await w.call('POST', `/api/v1/cards/${retired.cardId}/loss-report`, { session: s })).status).toBeLessThan(300);
    const r = await get(s, '/api/v1/overview?cny=1');
    expect(r.status, r.text).toBe(200);
    // The dormant card stays queryable online at this institution; the lost one is not.
    expect(r.body.accounts.find((x: any) => x.cardId === retired.cardId)).toMatchObject({ available: null, ledger: null, unavailable: 'card_lost', status: 'lost' });
    expect(r.body.accounts.find((x: any) => x.cardId === dormant.cardId)).toMatchObject({ unavailable: null, status: 'dormant' });
    expect(r.body.totals).toEqual([{ currency: 'CNY', available: expect.any(Number), ledger: expect.any(Number), accounts: 1, omitted: 1 }]);
    expect(r.body.cnyTotal.complete).toBe(false);
    expect((await w.server.ctx.db.selectFrom('audit_log').select('detail').where('action', '=', 'overview.read').where('actor_id', '=', s.userId).execute()).map((x) => JSON.parse(x.detail!))).toEqual([{ cards: 2, shown: 1 }]);
  });

  it('hides a balance at or above the step-up threshold behind step_up_required', async () => {
    const s = await w.signIn('abc-demo');
    const card = await w.bind(s, w.holder('abc-demo', '王建国'));
    const ask = await get(s, '/api/v1/overview');
    expect(ask.body.code).toBe('captcha_required');
    const c = ask.body.captcha;
    const r = await get(s, '/api/v1/overview', { [CAPTCHA_ANSWER_HEADER]: `${c.challengeId}:${solvePow(c.prefix, c.difficultyBits)}` });
    expect(r.status, r.text).toBe(200);
    expect(r.body.accounts).toEqual([expect.objectContaining({ cardId: card.cardId, available: null, unavailable: 'step_up_required' })]);
    expect(r.body.totals).toEqual([{ currency: 'CNY', available: 0, ledger: 0, accounts: 0, omitted: 1 }]);
  });

  it('answers an empty overview for a reader with no cards', async () => {
    const s = await w.signIn('realtime-bank');
    expect((await get(s, '/api/v1/overview')).body).toEqual({ accounts: [], totals: [] });
  });
});

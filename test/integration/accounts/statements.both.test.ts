// Statements over HTTP: pages match the ledger, the tenant's window and mode, direction filter, CNY equivalents, the CSV export, quota and audit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { history } from '../../../src/ledger/index.ts';
import { BILL_REF_PATTERN, transactionBills } from '../../../src/contact/index.ts';
import { expectMasked, startWorld, type Answer, type Session, type World } from './world.ts';

let w: World;

beforeAll(async () => {
  w = await startWorld();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

const get = (s: Session, path: string) => w.call('GET', path, { session: s });

/** Every page of a listing, following nextCursor. */
async function all(s: Session, path: string): Promise<{ pages: Answer[]; items: any[] }> {
  const pages: Answer[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await get(s, cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    expect(r.status, r.text).toBe(200);
    pages.push(r);
    cursor = r.body.nextCursor;
  } while (cursor);
  return { pages, items: pages.flatMap((p) => p.body.items) };
}

async function ledgerIds(s: Session, cardId: string, from: Date, to: Date): Promise<string[]> {
  const core = await w.coreOf(s, cardId);
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await history(w.server.ctx.db, core.ledgerAccountId, { from, to, cursor, limit: 100 });
    ids.push(...page.items.map((e) => e.transferId));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

async function usedQuota(s: Session): Promise<number> {
  const r = await w.server.ctx.db.selectFrom('risk_quotas').select('used').where('tenant_id', '=', s.tenantId).where('kind', '=', 'bound_query').where('key', '=', s.userId).executeTakeFirst();
  return r?.used ?? 0;
}

describe('statement pages', { timeout: 60_000 }, () => {
  it('pages the whole window newest first, each ledger entry exactly once, masked, as one query and one audit entry per page', async () => {
    const h = w.holder('realtime-bank', '李晓红');
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, h);
    const { pages, items } = await all(s, `/api/v1/cards/${card.cardId}/transactions?limit=50`);
    expect(pages.length).toBeGreaterThan(1);
    const range = pages[0]!.body.range;
    expect(range).toMatchObject({ mode: 'paged', maxMonths: 6, earliest: '2025-09-17T16:00:00.000Z', to: '2026-03-18T15:59:59.999Z' });
    expect(items.map((i) => i.id)).toEqual(await ledgerIds(s, card.cardId, new Date(range.from), new Date(range.to)));
    for (let i = 1; i < items.length; i++) expect(items[i - 1].bookedAt >= items[i].bookedAt).toBe(true);
    for (const i of items) {
      expect(Math.sign(i.amount)).toBe(i.direction === 'credit' ? 1 : -1);
      expect(i.currency).toBe('CNY');
    }
    for (const p of pages) expectMasked(p, h);
    expect(await usedQuota(s)).toBe(1);
    const audit = await w.server.ctx.db.selectFrom('audit_log').select('detail').where('action', '=', 'transactions.read').where('subject_id', '=', card.cardId).orderBy('seq').execute();
    expect(audit.map((a) => JSON.parse(a.detail!).page)).toEqual(['first', ...pages.slice(1).map(() => 'next')]);
  });

  it('filters by direction and by calendar month, the page unit of a paged institution', async () => {
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, w.holder('realtime-bank', '孙丽娟'));
    const debits = await all(s, `/api/v1/cards/${card.cardId}/transactions?direction=debit&limit=100`);
    expect(debits.items.length).toBeGreaterThan(0);
    expect(debits.items.every((i) => i.direction === 'debit' && i.amount < 0)).toBe(true);
    const feb = await all(s, `/api/v1/cards/${card.cardId}/transactions?month=2026-02&limit=100`);
    expect(feb.pages[0]!.body.range).toMatchObject({ from: '2026-01-31T16:00:00.000Z', to: '2026-02-28T15:59:59.999Z' });
    expect(feb.items.map((i) => i.id)).toEqual(await ledgerIds(s, card.cardId, new Date('2026-01-31T16:00:00Z'), new Date('2026-02-28T15:59:59.999Z')));
    expect(feb.items.length).toBeGreaterThan(0);
  });

  it('refuses a free date range where statements are paged, and one outside the window where ranges are custom, naming each field', async () => {
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, w.holder('realtime-bank', '赵志强'));
    const paged = await get(s, `/api/v1/cards/${card.cardId}/transactions?from=2026-01-01&to=2026-01-31`);
    expect(paged.status).toBe(400);
    expect(paged.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'from' }, { field: 'to' }] });
    expect((await get(s, `/api/v1/cards/${card.cardId}/transactions?month=2025-08`)).body.errors).toEqual([{ field: 'month', message: expect.stringContaining('2025-09-18') }]);

    const c = await w.signIn('daily20-bank');
    const custom = await w.bind(c, w.holder('daily20-bank', '冯雅婷'));
    const ok = await get(c, `/api/v1/cards/${custom.cardId}/transactions?from=2026-01-01&to=2026-01-31&limit=100`);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.range).toMatchObject({ mode: 'custom_range', maxMonths: 24, from: '2025-12-31T16:00:00.000Z', to: '2026-01-31T15:59:59.999Z' });
    expect(ok.body.items.map((i: any) => i.id)).toEqual(await ledgerIds(c, custom.cardId, new Date('2025-12-31T16:00:00Z'), new Date('2026-01-31T15:59:59.999Z')));
    const bad = await get(c, `/api/v1/cards/${custom.cardId}/transactions?from=2024-03-01&to=2026-03-19`);
    expect(bad.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'from', message: expect.stringMatching(/^must not be before 2024-03-18/) }, { field: 'to' }] });
    expect((await get(c, `/api/v1/cards/${custom.cardId}/transactions?from=2026-02-01&to=2026-01-01`)).body.errors).toEqual([{ field: 'from', message: 'must not be after to' }]);
  });

  it('refuses forged cursors, other people’s cards and unknown cards', async () => {
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, w.holder('realtime-bank', '李晓红'), 1);
    const forged = await get(s, `/api/v1/cards/${card.cardId}/transactions?cursor=c.${Buffer.from('999999999').toString('base64url')}`);
    expect([forged.status, forged.body.code]).toEqual([400, 'validation_failed']);
    expect((await get(s, `/api/v1/cards/${card.cardId}/transactions?cursor=not-a-cursor`)).body.errors).toEqual([{ field: 'cursor', message: expect.any(String) }]);
    const other = await w.signIn('realtime-bank');
    // Every read route that takes a card id refuses another person's card.
    for (const route of ['balance', 'transactions', 'transactions.csv', 'trends']) {
      const r = await get(other, `/api/v1/cards/${card.cardId}/${route}`);
      expect([r.status, r.body.code], route).toEqual([403, 'forbidden']);
    }
    expect((await get(s, '/api/v1/cards/card_nope/transactions')).body.code).toBe('not_found');
    // A cursor from another card of the same person is not this card's.
    const second = await w.bind(s, w.holder('realtime-bank', '李晓红'), 0);
    const page = await get(s, `/api/v1/cards/${second.cardId}/transactions?limit=1`);
    expect((await get(s, `/api/v1/cards/${card.cardId}/transactions?cursor=${page.body.nextCursor}`)).body.code).toBe('validation_failed');
  });

  it('gives each entry a billRef that contact resolves to the same transaction of the reader, the same ref every time', async () => {
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, w.holder('realtime-bank', '李晓红'));
    const page = await get(s, `/api/v1/cards/${card.cardId}/transactions?limit=5`);
    expect(page.status, page.text).toBe(200);
    const refs = page.body.items.map((i: { billRef: string }) => i.billRef);
    expect(refs).toHaveLength(5);
    for (const r of refs) expect(r).toMatch(BILL_REF_PATTERN);
    expect(new Set(refs).size).toBe(5);
    const again = await get(s, `/api/v1/cards/${card.cardId}/transactions?limit=5`);
    expect(again.body.items.map((i: { billRef: string }) => i.billRef)).toEqual(refs);
    const rows = await w.server.ctx.db.selectFrom('contact_bill_refs').selectAll().where('ref', 'in', refs).execute();
    expect(rows).toHaveLength(5);
    for (const item of page.body.items) {
      const row = rows.find((x) => x.ref === item.billRef)!;
      expect(row).toMatchObject({ tenant_id: s.tenantId, user_id: s.userId, kind: 'transaction' });
      const bill = await transactionBills.load(w.server.ctx, { tenantId: s.tenantId, userId: s.userId }, row.source_id, w.clock.now());
      expect(bill).toMatchObject({ orderNumber: item.id, amountFen: BigInt(Math.abs(item.amount)), direction: item.direction, card: { cardId: card.cardId } });
    }
    // The source re-checks ownership: another user cannot open the bill.
    const other = await w.signIn('realtime-bank');
    await expect(transactionBills.load(w.server.ctx, { tenantId: s.tenantId, userId: other.userId }, rows[0]!.source_id, w.clock.now())).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('adds a CNY equivalent at the rate in force on each booking day when asked', async () => {
    const s = await w.signIn('realtime-bank');
    const usd = await w.bind(s, w.holder('realtime-bank', '赵志强'), 1);
    const r = await get(s, `/api/v1/cards/${usd.cardId}/transactions?cny=1&limit=100`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.items.length).toBeGreaterThan(0);
    for (const i of r.body.items) {
      expect(i.currency).toBe('USD');
      // Demo rates take effect on the first of each month.
      expect(i.cnyEquivalent.rateDate).toBe(`${new Date(Date.parse(i.bookedAt) + 8 * 3_600_000).toISOString().slice(0, 7)}-01`);
      expect(Math.abs(i.cnyEquivalent.amount - i.amount * Number(i.cnyEquivalent.rate))).toBeLessThanOrEqual(0.5);
    }
    expect((await get(s, `/api/v1/cards/${usd.cardId}/transactions?limit=1`)).body.items[0]).not.toHaveProperty('cnyEquivalent');
  });
});

describe('CSV export', { timeout: 60_000 }, () => {
  it('streams the same range as the JSON pages: UTF-8 BOM, zh-CN headers, yuan with 2 decimals, one query, audited', async () => {
    const h = w.holder('daily20-bank', '何俊杰');
    const s = await w.signIn('daily20-bank');
    const card = await w.bind(s, h);
    const range = 'from=2025-06-01&to=2026-03-18';
    const json = await all(s, `/api/v1/cards/${card.cardId}/transactions?${range}&limit=100`);
    const before = await usedQuota(s);
    const res = await fetch(`${w.server.url}/api/v1/cards/${card.cardId}/transactions.csv?${range}`, { headers: { authorization: `Bearer ${s.token}`, 'x-device-id': s.deviceId } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="transactions-\d{4}-20250601-20260318\.csv"; filename\*=UTF-8''/);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8');
    for (const secret of [...h.cards.map((c) => c.number), h.phone, h.idNumber]) expect(text).not.toContain(secret);
    const rows = parse(text, { bom: true }) as string[][];
    expect(rows[0]).toEqual(['交易时间', '收支', '金额', '币种', '交易后余额', '对方户名', '摘要', '状态', '交易编号']);
    expect(rows.slice(1).map((r) => r[8])).toEqual(json.items.map((i) => i.id));
    rows.slice(1).forEach((r, k) => {
      const i = json.items[k];
      expect(r[2]).toBe((i.amount / 100).toFixed(2));
      expect(r[1]).toBe(i.direction === 'credit' ? '收入' : '支出');
      expect(r[4]).toBe(i.balanceAfter === null ? '' : (i.balanceAfter / 100).toFixed(2));
    });
    expect(text.includes('\r\n')).toBe(true);
    expect(await usedQuota(s)).toBe(before + 1);
    const audit = await w.server.ctx.db.selectFrom('audit_log').select('detail').where('action', '=', 'transactions.export').where('subject_id', '=', card.cardId).execute();
    expect(audit).toHaveLength(1);
  });

  it('answers a refusal as problem+json before any byte of the file', async () => {
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, w.holder('realtime-bank', '孙丽娟'));
    const r = await w.call('GET', `/api/v1/cards/${card.cardId}/transactions.csv?from=2026-01-01`, { session: s });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

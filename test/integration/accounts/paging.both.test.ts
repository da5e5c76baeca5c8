// Cursor stability: 10,000 entries (1,000 on PGlite) paged at 50 over HTTP while postings keep arriving: each entry exactly once, in order.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTx } from '../../../src/db/tx.ts';
import { findAccountByCode, history, transferMany, MAX_TRANSFER_BATCH } from '../../../src/ledger/index.ts';
import { internalAccountCode } from '../../../src/sandbox/demo/index.ts';
import { testDbKind } from '../../helpers/db.ts';
import { startWorld, type World } from './world.ts';

const ENTRIES = testDbKind() === 'postgres' ? 10_000 : 1_000;
const PAGE = 50;
const BATCH = Math.min(500, MAX_TRANSFER_BATCH);
const DAY_MS = 86_400_000;

let w: World;

beforeAll(async () => {
  w = await startWorld();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('cursor pagination', () => {
  it(`returns each of ${ENTRIES} entries exactly once, newest first, paged at ${PAGE} while new postings are booked`, { timeout: 600_000 }, async () => {
    const s = await w.signIn('realtime-bank');
    const card = await w.bind(s, w.holder('realtime-bank', '孙丽娟'));
    const core = await w.coreOf(s, card.cardId);
    const clearing = (await findAccountByCode(w.server.ctx.db, s.tenantId, internalAccountCode('clearing', 'CNY')))!;
    const now = w.clock.now();
    // Spread over the last 150 days (inside the 6-month window), several entries per instant, all before now.
    const inputs = Array.from({ length: ENTRIES }, (_, i) => ({
      idempotencyId: `paging-${i}-${randomBytes(4).toString('hex')}`,
      debitAccountId: clearing.id,
      creditAccountId: core.ledgerAccountId,
      amountFen: BigInt(100 + (i % 97)),
      kind: 'deposit',
      description: `entry ${i}`,
      counterparty: '测试商户',
      bookedAt: new Date(now.getTime() - DAY_MS - Math.floor(i / 3) * Math.floor((150 * DAY_MS) / ENTRIES) * 3),
      now,
    }));
    for (let i = 0; i < inputs.length; i += BATCH) await inTx(w.server.ctx.db, (tx) => transferMany(tx, inputs.slice(i, i + BATCH)));

    // What the statement holds before paging starts, in statement order.
    const window = (await w.call('GET', `/api/v1/cards/${card.cardId}/transactions?limit=1`, { session: s })).body.range;
    const expected: string[] = [];
    let c: string | undefined;
    do {
      const page = await history(w.server.ctx.db, core.ledgerAccountId, { from: new Date(window.from), to: new Date(window.to), cursor: c, limit: 100 });
      expected.push(...page.items.map((e) => e.transferId));
      c = page.nextCursor ?? undefined;
    } while (c);
    expect(expected.length).toBeGreaterThanOrEqual(ENTRIES);

    // Postings keep arriving while the client pages (money in and out, booked now).
    let stop = false;
    let booked = 0;
    const poster = (async () => {
      while (!stop) {
        await w.post(s, card.cardId, booked % 2 === 0 ? 500n : -100n, `concurrent ${booked}`);
        booked++;
      }
    })();
    const seen: string[] = [];
    const times: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    try {
      do {
        const r = await w.call('GET', `/api/v1/cards/${card.cardId}/transactions?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { session: s });
        expect(r.status, r.text).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(PAGE);
        seen.push(...r.body.items.map((i: { id: string }) => i.id));
        times.push(...r.body.items.map((i: { bookedAt: string }) => i.bookedAt));
        cursor = r.body.nextCursor;
        pages++;
      } while (cursor);
    } finally {
      stop = true;
      await poster;
    }
    expect(booked).toBeGreaterThan(0);
    expect(new Set(seen).size).toBe(seen.length);
    const expectedSet = new Set(expected);
    expect(seen.filter((id) => expectedSet.has(id))).toEqual(expected);
    // Anything else seen is one of the concurrent postings, at the head (newer than every old entry).
    const extra = seen.length - expected.length;
    expect(extra).toBeLessThanOrEqual(booked);
    expect(seen.slice(extra)).toEqual(expected);
    for (let i = 1; i < times.length; i++) expect(times[i - 1]! >= times[i]!).toBe(true);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / PAGE));
  });
});

// Cursor stability: 10,000 entries (1,000 on PGlite) paged at 50 over HTTP while a posting is booked beside every page request: each entry exactly once, in order.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTx } from '../../../src/db/tx.ts';
import { findAccountByCode, history, transfer, transferMany, MAX_TRANSFER_BATCH } from '../../../src/ledger/index.ts';
import { internalAccountCode } from '../../../src/sandbox/demo/index.ts';
import { testDbKind } from '../../helpers/db.ts';
import { startWorld, type Answer, type World } from './world.ts';

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

    // Fresh planner statistics, as autovacuum keeps them on a live database (10,000 rows just arrived at once).
    await sql`analyze ledger_postings`.execute(w.server.ctx.db);
    await sql`analyze ledger_transfers`.execute(w.server.ctx.db);
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

    // Postings keep arriving while the client pages: one is booked alongside every page request
    // (money in and out, booked now, racing the page's read), so each page sees a newer head.
    const ledgerId = core.ledgerAccountId;
    let booked = 0;
    const postOne = async () => {
      const n = booked++;
      const into = n % 2 === 0;
      await inTx(w.server.ctx.db, (tx) =>
        transfer(tx, {
          idempotencyId: `paging-concurrent-${n}-${randomBytes(4).toString('hex')}`,
          debitAccountId: into ? clearing.id : ledgerId,
          creditAccountId: into ? ledgerId : clearing.id,
          amountFen: into ? 500n : 100n,
          kind: into ? 'deposit' : 'purchase',
          description: `concurrent ${n}`,
          counterparty: '测试商户',
          now: w.clock.now(),
        }),
      );
    };
    const seen: string[] = [];
    const times: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const [r]: [Answer, void] = await Promise.all([
        w.call('GET', `/api/v1/cards/${card.cardId}/transactions?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { session: s }),
        postOne(),
      ]);
      expect(r.status, r.text).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(PAGE);
      seen.push(...r.body.items.map((i: { id: string }) => i.id));
      times.push(...r.body.items.map((i: { bookedAt: string }) => i.bookedAt));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor);
    expect(booked).toBe(pages);
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

// Pure pieces of the port: the bounded balance memory, single-flight reads, statement cursors, and where catch-up starts reading.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BalanceMemory, SingleFlight } from '../../../src/core/cache.ts';
import { decodeCursor, encodeCoreCursor, encodeMirrorCursor, MAX_CURSOR_CHARS } from '../../../src/core/transactions.ts';
import { catchUpFrom, CATCH_UP_MAX_LOOKBACK_MS, CATCH_UP_OVERLAP_MS } from '../../../src/core/catch-up.ts';
import { AppError } from '../../../src/app/errors.ts';
import type { KeptBalance } from '../../../src/core/freshness.ts';
import { check, propertySeed } from '../shared/seed.ts';

const seed = propertySeed('core/cache-and-cursors');
const T0 = Date.parse('2026-01-05T02:00:00Z');
const kept = (asOfMs: number, fen = 1n): KeptBalance => ({ availableFen: fen, ledgerFen: fen, currency: 'CNY', asOf: new Date(T0 + asOfMs), fetchedAt: new Date(T0 + asOfMs) });

describe('balance memory', () => {
  it('keeps the later of two values for a card and forgets the least recently used beyond its bound', () => {
    const m = new BalanceMemory(2);
    m.set('a', kept(10, 1n));
    m.set('a', kept(5, 2n));
    expect(m.get('a')?.availableFen).toBe(1n);
    m.set('b', kept(0));
    m.get('a');
    m.set('c', kept(0));
    expect(m.get('b')).toBeUndefined();
    expect(m.get('a')).toBeDefined();
    expect(m.size).toBe(2);
  });
});

describe('single flight', () => {
  it('shares one call among concurrent readers of a key and starts a new one afterwards', async () => {
    const f = new SingleFlight<number>();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const run = () => f.run('k', async () => {
      calls++;
      await gate;
      return calls;
    });
    const both = Promise.all([run(), run(), run()]);
    release();
    expect(await both).toEqual([1, 1, 1]);
    expect(await run()).toBe(2);
  });

  it('passes a failure to every waiter and forgets it', async () => {
    const f = new SingleFlight<number>();
    const boom = () => f.run('k', () => Promise.reject(new Error('down')));
    await expect(Promise.all([boom(), boom()])).rejects.toThrow('down');
    expect(await f.run('k', async () => 7)).toBe(7);
  });
});

describe('statement cursors', () => {
  it('round-trips any core cursor and any mirror position (property)', () => {
    check(
      seed,
      fc.property(fc.string({ minLength: 1, maxLength: 512 }), fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.bigInt({ min: 1n, max: 2n ** 62n }), (c, ms, seq) => {
        const core = decodeCursor(encodeCoreCursor(c));
        expect(core).toEqual({ kind: 'core', cursor: c });
        expect(decodeCursor(encodeMirrorCursor({ bookedAt: new Date(ms), seq }))).toEqual({ kind: 'mirror', at: { bookedAt: new Date(ms), seq } });
      }),
      200,
    );
  });

  it('refuses anything it did not issue', () => {
    for (const bad of ['', 'x', 'c.', 'm.', 'q.abc', 'c.a b', 'm.' + Buffer.from('12:0').toString('base64url'), 'm.' + Buffer.from('x:1').toString('base64url'), 'c.' + 'a'.repeat(MAX_CURSOR_CHARS)]) {
      expect(() => decodeCursor(bad), bad).toThrow(AppError);
    }
  });
});

describe('catch-up window', () => {
  const dirty = new Date(T0);
  it('starts from the last contact before the dirty mark, less the overlap', () => {
    const contact = new Date(T0 - 3_600_000);
    expect(catchUpFrom(dirty, [contact, new Date(T0 - 7_200_000), null]).getTime()).toBe(contact.getTime() - CATCH_UP_OVERLAP_MS);
  });

  it('ignores contacts after the mark and starts from the mark without any', () => {
    expect(catchUpFrom(dirty, [new Date(T0 + 1), undefined]).getTime()).toBe(T0 - CATCH_UP_OVERLAP_MS);
  });

  it('never reaches back further than its bound', () => {
    expect(catchUpFrom(dirty, [new Date(T0 - 30 * 86_400_000)]).getTime()).toBe(T0 - CATCH_UP_MAX_LOOKBACK_MS);
  });
});

// The hot-path cache: entries expire on the caller's clock, memory stays bounded, concurrent misses share one load, errors are not kept.
import { describe, expect, it } from 'vitest';
import { TtlCache } from '../../../src/accounts/ttl-cache.ts';

describe('TtlCache', () => {
  it('serves an entry for ttlMs and not a millisecond longer, nor when the clock went back', () => {
    const c = new TtlCache<number>(1_000, 10);
    c.set('a', 1, 5_000);
    expect(c.get('a', 5_999)).toBe(1);
    expect(c.get('a', 6_000)).toBeUndefined();
    c.set('b', 2, 5_000);
    expect(c.get('b', 4_999)).toBeUndefined();
  });

  it('keeps at most maxEntries, dropping the oldest stored first', () => {
    const c = new TtlCache<number>(1_000, 2);
    c.set('a', 1, 0);
    c.set('b', 2, 0);
    c.set('a', 3, 0); // re-stored: now the newest
    c.set('c', 4, 0);
    expect([c.get('a', 1), c.get('b', 1), c.get('c', 1)]).toEqual([3, undefined, 4]);
    expect(c.size).toBe(2);
  });

  it('shares one load between concurrent misses and caches nothing when it fails', async () => {
    const c = new TtlCache<number>(1_000, 10);
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 5));
      return 7;
    };
    expect(await Promise.all([c.getOrLoad('k', 0, load), c.getOrLoad('k', 0, load)])).toEqual([7, 7]);
    expect(loads).toBe(1);
    expect(c.getOrLoad('k', 10, load)).toBe(7);
    await expect(c.getOrLoad('x', 0, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(c.get('x', 0)).toBeUndefined();
  });

  it('forgets keys by prefix and stores nothing with a zero ttl', () => {
    const c = new TtlCache<number>(1_000, 10);
    c.set('t\u0000u1\u0000a', 1, 0);
    c.set('t\u0000u1\u0000b', 2, 0);
    c.set('t\u0000u2\u0000a', 3, 0);
    c.deletePrefix('t\u0000u1\u0000');
    expect([c.get('t\u0000u1\u0000a', 1), c.get('t\u0000u2\u0000a', 1)]).toEqual([undefined, 3]);
    const off = new TtlCache<number>(0, 10);
    off.set('a', 1, 0);
    expect(off.get('a', 0)).toBeUndefined();
  });
});

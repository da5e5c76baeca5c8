// GeoIP country look-ups and the cross-border check, the proof-of-work solver and answer parsing, the bounded in-process limiter.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/app/errors.ts';
import { checkCrossBorder, countryOf } from '../../../src/risk/geo.ts';
import { parseCaptchaAnswer, POW_DIFFICULTY_BITS, solvePow } from '../../../src/risk/captcha.ts';
import { powSolves } from '../../../src/risk/policy.ts';
import { InProcessRateLimiter } from '../../../src/risk/rate-limit.ts';

describe('countryOf (bundled DB-IP Lite)', () => {
  it('locates well-known public resolvers, IPv4 and IPv6', () => {
    expect(countryOf('114.114.114.114')).toBe('CN');
    expect(countryOf('240e::1')).toBe('CN');
    expect(countryOf('8.8.8.8')).toBe('US');
    expect(countryOf('202.45.84.58')).toBe('HK');
    expect(countryOf('202.175.3.3')).toBe('MO');
    expect(countryOf('168.95.1.1')).toBe('TW');
  });

  it('reads IPv4 peers reported by a dual-stack socket', () => {
    expect(countryOf('::ffff:114.114.114.114')).toBe('CN');
    expect(countryOf('::FFFF:8.8.8.8')).toBe('US');
  });

  it('gives undefined for private, loopback, link-local, CGNAT, documentation and multicast addresses', () => {
    for (const ip of [
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '127.0.0.1',
      '169.254.1.1',
      '100.64.0.1',
      '192.0.2.1',
      '224.0.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fe80::1%eth0',
      'fd12:3456::1',
      '2001:db8::1',
      '::ffff:10.0.0.1',
    ]) {
      expect(countryOf(ip), ip).toBeUndefined();
    }
  });

  it('gives undefined for anything that is not an address', () => {
    for (const ip of ['', ' ', 'localhost', '999.1.1.1', '1.2.3', 'x'.repeat(1000), '114.114.114.114, 8.8.8.8']) {
      expect(countryOf(ip), ip).toBeUndefined();
    }
  });
});

describe('checkCrossBorder', () => {
  const refused = (ip: string, lockOn: boolean) => {
    try {
      checkCrossBorder({ ip, lockOn });
      return undefined;
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      return err as AppError;
    }
  };

  it('refuses queries from abroad, Hong Kong, Macao and Taiwan while the lock is on', () => {
    for (const [ip, country] of [
      ['8.8.8.8', 'US'],
      ['202.45.84.58', 'HK'],
      ['202.175.3.3', 'MO'],
      ['168.95.1.1', 'TW'],
    ] as const) {
      const err = refused(ip, true);
      expect(err?.code).toBe('cross_border_locked');
      expect(err?.status).toBe(423);
      expect(err?.extra).toEqual({ country });
    }
  });

  it('lets mainland, private and unknown addresses through, and everything through once unlocked', () => {
    for (const ip of ['114.114.114.114', '10.0.0.1', '::1', 'garbage']) expect(refused(ip, true)).toBeUndefined();
    for (const ip of ['8.8.8.8', '202.45.84.58']) expect(refused(ip, false)).toBeUndefined();
  });
});

describe('the proof-of-work solver', () => {
  it('finds a nonce the checker accepts, and a harder one is also an easier one', () => {
    const prefix = 'wecard:unit:';
    const nonce = solvePow(prefix, 12);
    expect(powSolves(prefix, nonce, 12)).toBe(true);
    expect(powSolves(prefix, nonce, 8)).toBe(true);
  });

  it('gives up after its iteration bound', () => {
    expect(() => solvePow('wecard:unit:', 64, 100)).toThrow(/no proof of work/);
  });

  it('issues a difficulty a browser solves in about a second (2^16..2^20 expected hashes)', () => {
    expect(POW_DIFFICULTY_BITS).toBeGreaterThanOrEqual(16);
    expect(POW_DIFFICULTY_BITS).toBeLessThanOrEqual(20);
  });

  it('parses `<challengeId>:<solution>` answers and nothing else', () => {
    const id = `cap_${'a'.repeat(26)}`;
    expect(parseCaptchaAnswer(`${id}:1z9`)).toEqual({ challengeId: id, solution: '1z9' });
    expect(parseCaptchaAnswer(` ${id}:1z9 `)).toEqual({ challengeId: id, solution: '1z9' });
    for (const bad of [undefined, '', id, `${id}:`, `${id}:a:b`, `cap_x:1`, `${id}:${'1'.repeat(33)}`, [`${id}:1`]]) {
      expect(parseCaptchaAnswer(bad as string | undefined)).toBeUndefined();
    }
  });
});

describe('the in-process rate limiter', () => {
  it('counts hits per key within a fixed window and starts again in the next', () => {
    const l = new InProcessRateLimiter(10);
    const t0 = 1_000_000 * 60_000;
    expect([1, 2, 3].map(() => l.hit('a', 60_000, t0 + 5))).toEqual([1, 2, 3]);
    expect(l.hit('b', 60_000, t0 + 5)).toBe(1);
    expect(l.hit('a', 60_000, t0 + 59_999)).toBe(4);
    expect(l.hit('a', 60_000, t0 + 60_000)).toBe(1);
  });

  it('keeps at most its named number of keys, evicting the oldest window first', () => {
    const l = new InProcessRateLimiter(3);
    const t = 0;
    l.hit('k1', 1000, t);
    l.hit('k2', 1000, t);
    l.hit('k3', 1000, t);
    l.hit('k1', 1000, t); // same window: k1 stays the oldest entry
    l.hit('k4', 1000, t);
    expect(l.size).toBe(3);
    expect(l.hit('k1', 1000, t)).toBe(1); // evicted, starts again (and evicts k2)
    expect(l.hit('k3', 1000, t)).toBe(2);
    expect(l.size).toBe(3);
  });
});

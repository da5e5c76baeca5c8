// Rate limits without Redis and with Redis down: counted in process, per instance, refusing with retryAfter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { checkRateLimit } from '../../../src/risk/index.ts';
import { localLimiter } from '../../../src/risk/rate-limit.ts';
import { expectAppError, SETUP_TIMEOUT_MS, DB_TEST_TIMEOUT_MS } from './fixtures.ts';

const NOW = new Date('2026-01-05T02:00:10Z');

let plain: TestApp;
let redisDown: TestApp;

beforeAll(async () => {
  plain = await startTestApp({ modules: [] });
  // Nothing listens on port 1: every Redis command fails fast.
  redisDown = await startTestApp({ modules: [], config: { REDIS_URL: 'redis://127.0.0.1:1/0' } });
}, SETUP_TIMEOUT_MS);
afterAll(async () => {
  redisDown?.ctx.redis?.disconnect();
  await redisDown?.close();
  await plain?.close();
});

describe('checkRateLimit', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('allows `limit` requests per window and then answers rate_limited with the seconds to the next window', async () => {
    const rule = { bucket: 'test.plain', key: 'usr_1', limit: 3, windowMs: 60_000, now: NOW };
    for (let i = 0; i < 3; i++) await checkRateLimit(plain.ctx, rule);
    const err = await expectAppError(checkRateLimit(plain.ctx, rule), 'rate_limited');
    expect(err.status).toBe(429);
    expect(err.extra).toEqual({ retryAfter: 50 });
    await checkRateLimit(plain.ctx, { ...rule, key: 'usr_2' });
    await checkRateLimit(plain.ctx, { ...rule, bucket: 'test.other' });
    await checkRateLimit(plain.ctx, { ...rule, now: new Date('2026-01-05T02:01:00Z') });
  });

  it('never answers less than one second', async () => {
    const rule = { bucket: 'test.edge', key: 'usr_1', limit: 0, windowMs: 60_000, now: new Date('2026-01-05T02:00:59.999Z') };
    expect((await expectAppError(checkRateLimit(plain.ctx, rule), 'rate_limited')).extra).toEqual({ retryAfter: 1 });
  });

  it('falls back to the in-process limiter when Redis is configured but down, and still refuses', async () => {
    expect(redisDown.ctx.redis).toBeDefined();
    const rule = { bucket: 'test.down', key: 'usr_1', limit: 2, windowMs: 60_000, now: NOW };
    await checkRateLimit(redisDown.ctx, rule);
    await checkRateLimit(redisDown.ctx, rule);
    await expectAppError(checkRateLimit(redisDown.ctx, rule), 'rate_limited');
    expect(localLimiter(redisDown.ctx).size).toBeGreaterThan(0);
  });

  it('keeps each instance’s in-process counts apart', async () => {
    const rule = { bucket: 'test.apart', key: 'usr_1', limit: 1, windowMs: 60_000, now: NOW };
    await checkRateLimit(plain.ctx, rule);
    await checkRateLimit(redisDown.ctx, rule);
    await expectAppError(checkRateLimit(plain.ctx, rule), 'rate_limited');
  });

  it('refuses nonsensical rules as programming errors', async () => {
    await expect(checkRateLimit(plain.ctx, { bucket: 'b', key: 'k', limit: -1, windowMs: 1000, now: NOW })).rejects.toThrow();
    await expect(checkRateLimit(plain.ctx, { bucket: 'b', key: 'k', limit: 1, windowMs: 0, now: NOW })).rejects.toThrow();
  });
});

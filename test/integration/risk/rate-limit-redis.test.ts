// Rate limits shared through Redis: two instances count one window together (needs the local Redis; runs with the PostgreSQL suite).
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { randomToken } from '../../../src/shared/ids.ts';
import { checkRateLimit } from '../../../src/risk/index.ts';
import { localLimiter } from '../../../src/risk/rate-limit.ts';
import { DB_TEST_TIMEOUT_MS, expectAppError, SETUP_TIMEOUT_MS } from './fixtures.ts';

const full = Boolean(process.env.TEST_DATABASE_URL);
const REDIS_URL = process.env.REDIS_URL_TEST ?? 'redis://127.0.0.1:6379/15';
const NOW = new Date('2026-01-05T02:00:10Z');

let db: TestDb;
let a: TestApp;
let b: TestApp;

describe.skipIf(!full)('rate limits through Redis', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    db = await openTestDb();
    a = await startTestApp({ db, modules: [], config: { REDIS_URL } });
    b = await startTestApp({ db, modules: [], config: { REDIS_URL } });
    for (const app of [a, b]) if (app.ctx.redis!.status !== 'ready') await once(app.ctx.redis!, 'ready');
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    a?.ctx.redis?.disconnect();
    b?.ctx.redis?.disconnect();
    await b?.close();
    await a?.close();
    await db?.close();
  });

  it('counts one window across two instances: the limit holds for the pair, not for each', async () => {
    // A fresh bucket per run: Redis keeps windows between runs until they expire.
    const rule = { bucket: `test.shared.${randomToken(6)}`, key: 'usr_1', limit: 5, windowMs: 60_000, now: NOW };
    for (let i = 0; i < 5; i++) await checkRateLimit(i % 2 === 0 ? a.ctx : b.ctx, rule);
    const err = await expectAppError(checkRateLimit(b.ctx, rule), 'rate_limited');
    expect(err.extra).toEqual({ retryAfter: 50 });
    await expectAppError(checkRateLimit(a.ctx, rule), 'rate_limited');
    expect(localLimiter(a.ctx).size + localLimiter(b.ctx).size).toBe(0);
  });

  it('holds under 100 concurrent requests from both instances: exactly the limit pass', async () => {
    const rule = { bucket: `test.burst.${randomToken(6)}`, key: 'usr_1', limit: 30, windowMs: 60_000, now: NOW };
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => checkRateLimit(i % 2 === 0 ? a.ctx : b.ctx, rule)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(30);
  });

  it('gives each window key an expiry, so Redis does not fill up with old windows', async () => {
    const bucket = `test.ttl.${randomToken(6)}`;
    await checkRateLimit(a.ctx, { bucket, key: 'usr_1', limit: 5, windowMs: 60_000, now: NOW });
    const keys = await a.ctx.redis!.keys(`wecard:rl:${bucket}:*`);
    expect(keys).toHaveLength(1);
    const ttl = await a.ctx.redis!.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(65_000);
  });
});

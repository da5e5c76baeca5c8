// Quotas across two server instances on PostgreSQL: 200 concurrent uses through two database pools, exactly the limit succeed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import type { AppError } from '../../../src/app/errors.ts';
import { consumeQuota, type QuotaKind, type QuotaUse } from '../../../src/risk/index.ts';
import { DB_TEST_TIMEOUT_MS, makeTenant, SETUP_TIMEOUT_MS } from './fixtures.ts';

const pg = Boolean(process.env.TEST_DATABASE_URL);
const T = 'bank-two';
const NOW = new Date('2026-01-05T02:00:00Z');
const CONCURRENT = 200;

let db: TestDb;
let a: TestApp;
let b: TestApp;

describe.skipIf(!pg)('quotas across two instances (PostgreSQL)', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    db = await openTestDb({ poolMax: 20 });
    a = await startTestApp({ db, modules: [] });
    // The second instance: its own context and its own connection pool on the same schema.
    const other = db.openAnother(20);
    b = await startTestApp({ db: { ...db, ...other, close: other.close }, modules: [] });
    await makeTenant(a.ctx, T, 'agricultural');
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await db?.close();
  });

  for (const [kind, limit] of [
    ['nobind_account', 5],
    ['nobind_card', 3],
    ['bound_query', 150],
  ] as [QuotaKind, number][]) {
    it(`lets exactly ${limit} of ${CONCURRENT} concurrent ${kind} uses through, the rest get quota_exceeded with limit and resetsAt`, async () => {
      const key = `key_${kind}`;
      const results = await Promise.allSettled(
        Array.from({ length: CONCURRENT }, (_, i) => consumeQuota((i % 2 === 0 ? a : b).ctx.db, { tenantId: T, kind, key, limit, now: NOW })),
      );
      const ok = results.filter((r): r is PromiseFulfilledResult<QuotaUse> => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(limit);
      expect(ok.map((r) => r.value.used).sort((x, y) => x - y)).toEqual(Array.from({ length: limit }, (_, i) => i + 1));
      expect(refused).toHaveLength(CONCURRENT - limit);
      for (const r of refused) {
        const err = r.reason as AppError;
        expect(err.code).toBe('quota_exceeded');
        expect(err.extra).toEqual({ limit, resetsAt: '2026-01-06T00:00:00+08:00' });
      }
      const row = await a.ctx.db.selectFrom('risk_quotas').select('used').where('key', '=', key).executeTakeFirstOrThrow();
      expect(row.used).toBe(limit);
    });
  }
});

// Daily quotas on the database: exactly the limit per business day, reset at 00:00 Asia/Shanghai, atomic, opaque keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { inTx } from '../../../src/db/tx.ts';
import { consumeQuota, quotaStatus } from '../../../src/risk/index.ts';
import { expectAppError, makeTenant, SETUP_TIMEOUT_MS, DB_TEST_TIMEOUT_MS } from './fixtures.ts';

let t: TestApp;
const T = 'bank-q';
const MORNING = new Date('2026-01-05T02:00:00Z'); // 10:00 in Shanghai

beforeAll(async () => {
  t = await startTestApp({ modules: [] });
  await makeTenant(t.ctx, T, 'daily-10');
  await makeTenant(t.ctx, 'bank-other', 'daily-10');
}, SETUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

describe('consumeQuota', { timeout: DB_TEST_TIMEOUT_MS }, () => {
  it('lets exactly `limit` uses through, then refuses with quota_exceeded { limit, resetsAt } and counts nothing', async () => {
    const q = { tenantId: T, kind: 'bound_query' as const, key: 'usr_limit', limit: 3, now: MORNING };
    expect((await consumeQuota(t.ctx.db, q)).used).toBe(1);
    expect((await consumeQuota(t.ctx.db, q)).used).toBe(2);
    const third = await consumeQuota(t.ctx.db, q);
    expect(third).toEqual({ used: 3, limit: 3, resetsAt: new Date('2026-01-05T16:00:00Z') });
    const err = await expectAppError(consumeQuota(t.ctx.db, q), 'quota_exceeded');
    expect(err.status).toBe(429);
    expect(err.extra).toEqual({ limit: 3, resetsAt: '2026-01-06T00:00:00+08:00' });
    await expectAppError(consumeQuota(t.ctx.db, q), 'quota_exceeded');
    expect((await quotaStatus(t.ctx.db, q)).used).toBe(3);
  });

  it('starts again at 00:00 Asia/Shanghai (16:00 UTC), not at UTC midnight', async () => {
    const q = { tenantId: T, kind: 'nobind_card' as const, key: 'bidx_reset', limit: 1 };
    await consumeQuota(t.ctx.db, { ...q, now: new Date('2026-01-05T15:59:59Z') });
    await expectAppError(consumeQuota(t.ctx.db, { ...q, now: new Date('2026-01-05T15:59:59.999Z') }), 'quota_exceeded');
    const next = await consumeQuota(t.ctx.db, { ...q, now: new Date('2026-01-05T16:00:00Z') });
    expect(next).toEqual({ used: 1, limit: 1, resetsAt: new Date('2026-01-06T16:00:00Z') });
    // UTC midnight of the 6th is 08:00 in Shanghai: still the same business day.
    await expectAppError(consumeQuota(t.ctx.db, { ...q, now: new Date('2026-01-06T00:00:00Z') }), 'quota_exceeded');
  });

  it('counts each tenant, kind and key apart', async () => {
    const base = { key: 'shared_key', limit: 1, now: MORNING };
    await consumeQuota(t.ctx.db, { ...base, tenantId: T, kind: 'nobind_account' });
    await consumeQuota(t.ctx.db, { ...base, tenantId: T, kind: 'nobind_card' });
    await consumeQuota(t.ctx.db, { ...base, tenantId: 'bank-other', kind: 'nobind_account' });
    await consumeQuota(t.ctx.db, { ...base, tenantId: T, kind: 'nobind_account', key: 'another_key' });
    await expectAppError(consumeQuota(t.ctx.db, { ...base, tenantId: T, kind: 'nobind_account' }), 'quota_exceeded');
  });

  it('counts unlimited (null) quotas without ever refusing', async () => {
    const q = { tenantId: T, kind: 'bound_query' as const, key: 'usr_unlimited', limit: null, now: MORNING };
    let last = 0;
    for (let i = 0; i < 30; i++) last = (await consumeQuota(t.ctx.db, q)).used;
    expect(last).toBe(30);
    expect(await quotaStatus(t.ctx.db, q)).toMatchObject({ used: 30, limit: null, remaining: null });
  });

  it('refuses every use under a zero quota without writing a counter', async () => {
    const q = { tenantId: T, kind: 'nobind_card' as const, key: 'bidx_zero', limit: 0, now: MORNING };
    expect((await expectAppError(consumeQuota(t.ctx.db, q), 'quota_exceeded')).extra.limit).toBe(0);
    expect((await quotaStatus(t.ctx.db, q)).used).toBe(0);
  });

  it('gives the use back when the caller’s transaction rolls back', async () => {
    const q = { tenantId: T, kind: 'bound_query' as const, key: 'usr_rollback', limit: 1, now: MORNING };
    await inTx(t.ctx.db, async (tx) => {
      await consumeQuota(tx, q);
      throw new Error('the query failed');
    }).catch(() => undefined);
    expect((await consumeQuota(t.ctx.db, q)).used).toBe(1);
  });

  it('holds under concurrent uses on one instance: exactly the limit succeed', async () => {
    const q = { tenantId: T, kind: 'nobind_account' as const, key: 'acct_concurrent', limit: 7, now: MORNING };
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => consumeQuota(t.ctx.db, q)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(7);
    expect(new Set(ok.map((r) => (r as PromiseFulfilledResult<{ used: number }>).value.used))).toEqual(new Set([1, 2, 3, 4, 5, 6, 7]));
    for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('quota_exceeded');
  });

  it('refuses a key that is a clear card or phone number (keys are blind indexes, tokens or ids)', async () => {
    await expect(consumeQuota(t.ctx.db, { tenantId: T, kind: 'nobind_card', key: '6222021234567890123', limit: 3, now: MORNING })).rejects.toThrow(/card number/);
    await expect(consumeQuota(t.ctx.db, { tenantId: T, kind: 'nobind_card', key: 'x'.repeat(201), limit: 3, now: MORNING })).rejects.toThrow();
    const rows = await t.ctx.db.selectFrom('risk_quotas').select('key').execute();
    expect(rows.some((r) => /^\d{11,19}$/.test(r.key))).toBe(false);
  });
});

// The signed daily batch export: the day's top-ups as CSV with a detached RSA-2048 SHA-256 signature, made by the 02:00 job, verified with node:crypto alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, verify } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import {
  DAILY_EXPORT_TOPIC,
  EXPORT_COLUMNS,
  dailyExport,
  disableDailyExport,
  enableDailyExport,
  exportPublicKeys,
  generateDailyExport,
  getDailyExport,
  listDailyExports,
  rotateExportKey,
  type ExportTopup,
  type ListTopupsForDay,
} from '../../../src/notify/index.ts';
import { citizenTenant } from './fixtures.ts';

// Monday 2 March 2026, 10:00 in Shanghai.
const clock = new ManualClock('2026-03-02T02:00:00Z');
const DAY = '2026-03-02';
let t: TestApp;

/** The day's top-ups per tenant, as src/topup would list them (the export's source port). */
const orders = new Map<string, ExportTopup[]>();
const source: ListTopupsForDay = async (_db, tenantId, day, limit) => (orders.get(`${tenantId}:${day}`) ?? []).slice(0, limit + 1);

function order(i: number, over: Partial<ExportTopup> = {}): ExportTopup {
  const at = new Date(Date.parse('2026-03-02T01:00:00Z') + i * 60_000);
  return {
    orderId: `tu_${String(i).padStart(4, '0')}`,
    createdAt: at,
    paidAt: new Date(at.getTime() + 5_000),
    creditedAt: new Date(at.getTime() + 6_000),
    maskedCardNumber: '623091*********4321',
    method: i % 2 ? 'bank_card' : 'wechat_balance',
    amountFen: BigInt(5_000 + i * 100),
    feeFen: i % 2 ? 50n : 0n,
    refundedFen: 0n,
    currency: 'CNY',
    status: 'credited',
    outTradeNo: `wc${i}`,
    transactionId: `42000000${i}`,
    ...over,
  };
}

beforeAll(async () => {
  t = await startTestApp({ clock, modules: [dailyExport({ listTopupsForDay: source })] });
});
afterAll(async () => {
  await t?.close();
});

/** The partner's check: node:crypto's verify with the published public key, nothing of wecard's. */
function partnerVerifies(publicKeyPem: string, csv: string, signatureB64: string): boolean {
  return verify('sha256', Buffer.from(csv, 'utf8'), createPublicKey(publicKeyPem), Buffer.from(signatureB64, 'base64'));
}

describe('daily batch export', () => {
  it('makes one RSA-2048 signing key per tenant, keeps its private half encrypted, and publishes the public half', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const key = await enableDailyExport(t.ctx, tenantId);
    expect(await enableDailyExport(t.ctx, tenantId)).toEqual(key);
    const pub = createPublicKey(key.publicKeyPem);
    expect(pub.asymmetricKeyType).toBe('rsa');
    expect(pub.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const stored = await t.ctx.db.selectFrom('notify_export_keys').selectAll().where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
    expect(stored.private_key_enc).toMatch(/^sm4:/);
    expect(stored.private_key_enc).not.toContain('PRIVATE KEY');
    expect(await exportPublicKeys(t.ctx.db, tenantId)).toEqual([key]);
  });

  it("writes the day's top-ups at 02:00 Shanghai the next day: the rows match and the signature verifies with the public key", async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const other = await citizenTenant(t.ctx, clock.now(), 0); // export not enabled: no file
    const key = await enableDailyExport(t.ctx, tenantId);
    const rows = [order(1), order(2, { status: 'refunded', refundedFen: 5_200n }), order(3, { transactionId: null, creditedAt: null, status: 'paid' })];
    orders.set(`${tenantId}:${DAY}`, rows);
    orders.set(`${other.tenantId}:${DAY}`, [order(9)]);

    // Not before 02:00 on the 3rd (Shanghai), which is 18:00 UTC on the 2nd.
    clock.set('2026-03-02T17:59:00Z');
    await t.ctx.jobs.runDue({ topics: [DAILY_EXPORT_TOPIC] });
    expect(await getDailyExport(t.ctx.db, tenantId, DAY)).toBeUndefined();
    clock.set('2026-03-02T18:00:00Z');
    expect(await t.ctx.jobs.runDue({ topics: [DAILY_EXPORT_TOPIC] })).toBe(1);

    const file = (await getDailyExport(t.ctx.db, tenantId, DAY))!;
    expect(file).toMatchObject({ day: DAY, version: 1, kid: key.kid, rowCount: 3, totalAmountFen: 5_100n + 5_200n + 5_300n, fileName: `wecard-topups-${tenantId}-${DAY}-v1.csv` });
    expect(partnerVerifies(key.publicKeyPem, file.csv, file.signature)).toBe(true);
    expect(partnerVerifies(key.publicKeyPem, file.csv.replace('5100', '5101'), file.signature)).toBe(false);

    const parsed: string[][] = parse(file.csv);
    expect(parsed[0]).toEqual([...EXPORT_COLUMNS]);
    expect(parsed.slice(1)).toEqual([
      ['tu_0001', '2026-03-02T09:01:00+08:00', '2026-03-02T09:01:05+08:00', '2026-03-02T09:01:06+08:00', '623091*********4321', 'bank_card', '5100', '50', '0', 'CNY', 'credited', 'wc1', '420000001'],
      ['tu_0002', '2026-03-02T09:02:00+08:00', '2026-03-02T09:02:05+08:00', '2026-03-02T09:02:06+08:00', '623091*********4321', 'wechat_balance', '5200', '0', '5200', 'CNY', 'refunded', 'wc2', '420000002'],
      ['tu_0003', '2026-03-02T09:03:00+08:00', '2026-03-02T09:03:05+08:00', '', '623091*********4321', 'bank_card', '5300', '50', '0', 'CNY', 'paid', 'wc3', ''],
    ]);
    expect(file.csv.endsWith('\n')).toBe(true);
    expect(await getDailyExport(t.ctx.db, other.tenantId, DAY)).toBeUndefined();
    // The next day's run is scheduled.
    const next = await t.ctx.db.selectFrom('outbox').select('run_after').where('topic', '=', DAILY_EXPORT_TOPIC).where('done_at', 'is', null).execute();
    expect(next.map((r) => r.run_after.toISOString())).toContain('2026-03-03T18:00:00.000Z');
  });

  it('keeps a day’s file as made when the job runs again, and writes a new version when an operator regenerates it', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    await enableDailyExport(t.ctx, tenantId);
    orders.set(`${tenantId}:${DAY}`, [order(1)]);
    const v1 = await generateDailyExport(t.ctx, source, tenantId, DAY);
    orders.set(`${tenantId}:${DAY}`, [order(1), order(2)]);
    expect(await generateDailyExport(t.ctx, source, tenantId, DAY)).toEqual(v1);
    const v2 = await generateDailyExport(t.ctx, source, tenantId, DAY, { replace: true });
    expect(v2).toMatchObject({ version: 2, rowCount: 2 });
    expect((await getDailyExport(t.ctx.db, tenantId, DAY))!.version).toBe(2);
    expect((await getDailyExport(t.ctx.db, tenantId, DAY, 1))!.csv).toBe(v1.csv);
    expect((await listDailyExports(t.ctx.db, tenantId)).map((e) => e.version)).toEqual([2, 1]);
  });

  it('verifies old files with the retired key after a rotation, signs new ones with the new key, and stops when disabled', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const first = await enableDailyExport(t.ctx, tenantId);
    orders.set(`${tenantId}:2026-03-01`, [order(4)]);
    const old = await generateDailyExport(t.ctx, source, tenantId, '2026-03-01');
    const second = await rotateExportKey(t.ctx, tenantId);
    const fresh = await generateDailyExport(t.ctx, source, tenantId, DAY);
    expect(fresh.kid).toBe(second.kid);
    const keys = await exportPublicKeys(t.ctx.db, tenantId);
    const byKid = (kid: string) => keys.find((k) => k.kid === kid)!;
    expect(byKid(first.kid).retiredAt).not.toBeNull();
    expect(partnerVerifies(byKid(old.kid).publicKeyPem, old.csv, old.signature)).toBe(true);
    expect(partnerVerifies(byKid(fresh.kid).publicKeyPem, fresh.csv, fresh.signature)).toBe(true);
    expect(partnerVerifies(byKid(first.kid).publicKeyPem, fresh.csv, fresh.signature)).toBe(false);

    await disableDailyExport(t.ctx, tenantId);
    await expect(generateDailyExport(t.ctx, source, tenantId, '2026-02-28')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('refuses a day that is not over, a malformed day, and a day with more rows than a file may hold', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    await enableDailyExport(t.ctx, tenantId);
    const today = new Date(clock.now().getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
    await expect(generateDailyExport(t.ctx, source, tenantId, today)).rejects.toMatchObject({ code: 'conflict' });
    await expect(generateDailyExport(t.ctx, source, tenantId, '2026-02-30')).rejects.toMatchObject({ code: 'validation_failed' });
    const flood: ListTopupsForDay = async (_db, _t, _d, limit) => Array.from({ length: limit + 1 }, (_, i) => order(i));
    await expect(generateDailyExport(t.ctx, flood, tenantId, '2026-02-27')).rejects.toThrow(/refused rather than cut short/);
    expect(await getDailyExport(t.ctx.db, tenantId, '2026-02-27')).toBeUndefined();
  });
});

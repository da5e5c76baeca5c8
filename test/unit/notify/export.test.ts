// The daily export's calendar (Asia/Shanghai days, the 02:00 run) and its file (CSV columns, quoting, signature).
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { dayBounds, isDay, nextExportRunAt, previousDay, shanghaiDay, shanghaiRfc3339 } from '../../../src/notify/export/policy.ts';
import { EXPORT_COLUMNS, exportCsv, sha256Hex, signExport, verifyExport } from '../../../src/notify/export/csv.ts';

describe('export calendar', () => {
  it('names the Shanghai day of an instant and its bounds', () => {
    expect(shanghaiDay(new Date('2026-03-01T15:59:59Z'))).toBe('2026-03-01');
    expect(shanghaiDay(new Date('2026-03-01T16:00:00Z'))).toBe('2026-03-02');
    expect(dayBounds('2026-03-02')).toEqual({ from: new Date('2026-03-01T16:00:00Z'), to: new Date('2026-03-02T16:00:00Z') });
    expect(previousDay('2026-03-01')).toBe('2026-02-28');
    expect(previousDay('2024-03-01')).toBe('2024-02-29');
    expect(shanghaiRfc3339(new Date('2026-03-01T16:30:05.250Z'))).toBe('2026-03-02T00:30:05+08:00');
  });

  it('runs at the next 02:00 Shanghai strictly after now', () => {
    expect(nextExportRunAt(new Date('2026-03-01T17:59:59Z'))).toEqual(new Date('2026-03-01T18:00:00Z'));
    expect(nextExportRunAt(new Date('2026-03-01T18:00:00Z'))).toEqual(new Date('2026-03-02T18:00:00Z'));
    expect(nextExportRunAt(new Date('2026-03-01T16:00:00Z'))).toEqual(new Date('2026-03-01T18:00:00Z'));
  });

  it('accepts only real calendar days', () => {
    expect(['2026-02-28', '2024-02-29'].every(isDay)).toBe(true);
    expect(['2026-02-29', '2026-13-01', '2026-3-1', '20260301', ''].some(isDay)).toBe(false);
    expect(() => dayBounds('2026-02-30')).toThrow(RangeError);
  });
});

describe('export file', () => {
  const row = {
    orderId: 'tu_1',
    createdAt: new Date('2026-03-02T01:00:00Z'),
    paidAt: new Date('2026-03-02T01:00:05Z'),
    creditedAt: null,
    maskedCardNumber: '623091*********0006',
    method: 'wechat_balance',
    amountFen: 9_007_199_254_740_993n,
    feeFen: 0n,
    refundedFen: 0n,
    currency: 'CNY',
    status: 'paid',
    outTradeNo: 'wc,1"x',
    transactionId: null,
  };

  it('writes a header and one line per order, quoting only where CSV needs it, with exact bigint amounts', () => {
    const { csv, totalAmountFen } = exportCsv([row, { ...row, orderId: 'tu_2', amountFen: 7n }]);
    expect(csv.split('\n')[0]).toBe(EXPORT_COLUMNS.join(','));
    expect(csv).toContain('"wc,1""x"');
    expect(csv).not.toContain('\r');
    const parsed = parse(csv) as string[][];
    expect(parsed[1]![EXPORT_COLUMNS.indexOf('amount_fen')]).toBe('9007199254740993');
    expect(parsed[1]![EXPORT_COLUMNS.indexOf('out_trade_no')]).toBe('wc,1"x');
    expect(parsed[1]![EXPORT_COLUMNS.indexOf('credited_at')]).toBe('');
    expect(totalAmountFen).toBe(9_007_199_254_741_000n);
    expect(exportCsv([]).csv).toBe(`${EXPORT_COLUMNS.join(',')}\n`);
  });

  it('signs the exact bytes with RSA SHA-256 so that any change fails verification', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const { csv } = exportCsv([row]);
    const sig = signExport(privateKey, csv);
    expect(Buffer.from(sig, 'base64')).toHaveLength(256);
    expect(verifyExport(publicKey, csv, sig)).toBe(true);
    expect(verifyExport(publicKey, `${csv}\n`, sig)).toBe(false);
    expect(sha256Hex(csv)).toMatch(/^[0-9a-f]{64}$/);
  });
});

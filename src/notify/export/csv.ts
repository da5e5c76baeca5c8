// The export file: CSV (UTF-8, LF, header row) of the day's top-ups, and its detached RSA-2048 SHA-256 signature.
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import { shanghaiRfc3339 } from './policy.ts';
import type { ExportTopup } from './source.ts';

/** The columns, in order (WEBHOOKS.md documents them); a new column is only ever appended. */
export const EXPORT_COLUMNS = [
  'order_id',
  'created_at',
  'paid_at',
  'credited_at',
  'masked_card_number',
  'method',
  'amount_fen',
  'fee_fen',
  'refunded_fen',
  'currency',
  'status',
  'out_trade_no',
  'transaction_id',
] as const;

const time = (d: Date | null) => (d ? shanghaiRfc3339(d) : '');

/** The CSV text and the sum of the amounts (fen). Values are ids, masks, integers and words: no formula can start a cell. */
export function exportCsv(rows: ExportTopup[]): { csv: string; totalAmountFen: bigint } {
  let total = 0n;
  const records = rows.map((r) => {
    total += r.amountFen;
    return [
      r.orderId,
      time(r.createdAt),
      time(r.paidAt),
      time(r.creditedAt),
      r.maskedCardNumber,
      r.method,
      r.amountFen.toString(),
      r.feeFen.toString(),
      r.refundedFen.toString(),
      r.currency,
      r.status,
      r.outTradeNo ?? '',
      r.transactionId ?? '',
    ];
  });
  const csv = stringify([[...EXPORT_COLUMNS], ...records], { record_delimiter: 'unix' });
  return { csv, totalAmountFen: total };
}

/** base64 RSASSA-PKCS1-v1_5 with SHA-256 over the file's UTF-8 bytes (openssl dgst -sha256 -verify checks it). */
export function signExport(privateKeyPem: string, csv: string): string {
  return sign('sha256', Buffer.from(csv, 'utf8'), createPrivateKey(privateKeyPem)).toString('base64');
}

export function verifyExport(publicKeyPem: string, csv: string, signatureB64: string): boolean {
  return verify('sha256', Buffer.from(csv, 'utf8'), createPublicKey(publicKeyPem), Buffer.from(signatureB64, 'base64'));
}

export function sha256Hex(csv: string): string {
  return createHash('sha256').update(csv, 'utf8').digest('hex');
}

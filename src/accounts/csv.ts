// The statement as an Excel-friendly CSV: UTF-8 with BOM, CRLF, zh-CN headers, amounts as decimals, formula-safe text, streamed.
import { Readable, pipeline } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { Logger } from 'pino';
import { formatMinor } from './conversion.ts';
import { shanghaiDay } from './policy.ts';
import { EXPORT_MAX_ROWS, type StatementExport, type StatementItem } from './statements.ts';

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

export const CSV_HEADER = ['交易时间', '收支', '金额', '币种', '交易后余额', '对方户名', '摘要', '状态', '交易编号'] as const;
export const CSV_CNY_HEADER = ['人民币折算金额', '折算汇率', '汇率日期'] as const;
export const CSV_TRUNCATED_NOTE = `（已达导出上限 ${EXPORT_MAX_ROWS} 条，更早的交易请缩小时间范围后再导出）`;

/** `2026-03-18 14:30:05`: Asia/Shanghai wall-clock time, which Excel reads as a date-time. */
export function shanghaiDateTime(at: Date): string {
  const iso = new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/**
 * Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first: OWASP's CSV
 * injection list) gets a leading apostrophe. Amounts are not passed through here: `-35.00` is a
 * number and must stay one.
 */
export function safeText(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** One CSV record of an entry (amounts as decimals in the account currency; the JSON API keeps integer fen). */
export function csvRecord(item: StatementItem, cny: boolean): string[] {
  const row = [
    shanghaiDateTime(item.bookedAt),
    item.direction === 'credit' ? '收入' : '支出',
    formatMinor(item.amountFen, item.currency),
    item.currency,
    item.balanceAfterFen === null ? '' : formatMinor(item.balanceAfterFen, item.currency),
    safeText(item.counterparty ?? ''),
    safeText(item.description),
    item.state === 'posted' ? '已入账' : '处理中',
    safeText(item.id),
  ];
  if (cny) {
    const c = item.cnyEquivalent;
    row.push(c ? formatMinor(c.amountFen, 'CNY') : '', c ? c.rate : '', c ? c.rateDate : '');
  }
  return row;
}

async function* records(exp: StatementExport, cny: boolean): AsyncGenerator<string[]> {
  yield cny ? [...CSV_HEADER, ...CSV_CNY_HEADER] : [...CSV_HEADER];
  for (;;) {
    const next = await exp.items.next();
    if (next.done) {
      if (next.value.truncated) yield [CSV_TRUNCATED_NOTE];
      return;
    }
    yield csvRecord(next.value, cny);
  }
}

/**
 * The export as a byte stream. A failure while reading later pages (the core dropping mid-file)
 * ends the stream with an error, which aborts the download rather than sending a silently short
 * file; it is logged here.
 */
export function csvStream(exp: StatementExport, cny: boolean, log: Logger): Readable {
  const out = stringify({ bom: true, record_delimiter: 'windows' });
  pipeline(Readable.from(records(exp, cny)), out, (err) => {
    if (err) log.warn({ err, cardId: exp.cardId }, 'statement export ended early');
  });
  return out;
}

/** `attachment` with an ASCII name and the zh-CN one (RFC 6266 / RFC 5987 `filename*`). */
export function csvDisposition(exp: Pick<StatementExport, 'maskedNumber' | 'range'>): string {
  const last4 = exp.maskedNumber.slice(-4);
  const from = shanghaiDay(exp.range.from).replaceAll('-', '');
  const to = shanghaiDay(exp.range.to).replaceAll('-', '');
  const ascii = `transactions-${last4}-${from}-${to}.csv`;
  const zh = `交易明细_尾号${last4}_${from}-${to}.csv`;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(zh)}`;
}

// The CSV export's format: Excel-friendly BOM and CRLF, zh-CN headers, decimal amounts, formula-safe text, file names.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { parse } from 'csv-parse/sync';
import { CSV_HEADER, CSV_TRUNCATED_NOTE, csvDisposition, csvRecord, csvStream, safeText, shanghaiDateTime } from '../../../src/accounts/csv.ts';
import type { StatementExport, StatementItem } from '../../../src/accounts/statements.ts';
import { statementRange } from '../../../src/accounts/policy.ts';

const item = (over: Partial<StatementItem> = {}): StatementItem => ({
  id: 'tr_1',
  bookedAt: new Date('2026-03-18T06:30:05Z'),
  amountFen: -3_550n,
  currency: 'CNY',
  direction: 'debit',
  counterparty: '永辉超市',
  description: '超市购物',
  balanceAfterFen: 1_234_567n,
  state: 'posted',
  ...over,
});

async function text(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

function exportOf(items: StatementItem[], truncated = false): StatementExport {
  async function* gen(): AsyncGenerator<StatementItem, { truncated: boolean }> {
    for (const i of items) yield i;
    return { truncated };
  }
  return { cardId: 'card_x', maskedNumber: '622848*********8903', range: statementRange({ maxMonths: 12, mode: 'paged' }, { month: '2026-03' }, new Date('2026-03-18T06:30:00Z')), stale: false, items: gen() };
}

describe('CSV records', () => {
  it('shows Shanghai wall-clock time, 收入/支出, amounts as decimals and an empty balance for a hold', () => {
    expect(shanghaiDateTime(new Date('2026-03-18T16:00:00Z'))).toBe('2026-03-19 00:00:00');
    expect(csvRecord(item(), false)).toEqual(['2026-03-18 14:30:05', '支出', '-35.50', 'CNY', '12345.67', '永辉超市', '超市购物', '已入账', 'tr_1']);
    const hold = csvRecord(item({ amountFen: 800n, direction: 'credit', balanceAfterFen: null, state: 'pending', counterparty: null }), false);
    expect(hold).toEqual(['2026-03-18 14:30:05', '收入', '8.00', 'CNY', '', '', '超市购物', '处理中', 'tr_1']);
    const usd = csvRecord(item({ currency: 'USD', amountFen: -1_999n, cnyEquivalent: { amountFen: -14_233n, rate: '7.12', rateDate: '2026-03-01' } }), true);
    expect(usd.slice(-3)).toEqual(['-142.33', '7.12', '2026-03-01']);
    expect(csvRecord(item({ cnyEquivalent: null }), true).slice(-3)).toEqual(['', '', '']);
  });

  it('defuses text a spreadsheet would run as a formula, and only text', () => {
    for (const bad of ['=HYPERLINK("http://x")', '+1', '-2+3', '@SUM(A1)', '\tcmd', '\rx']) expect(safeText(bad)).toBe(`'${bad}`);
    expect(safeText('京东商城')).toBe('京东商城');
    expect(csvRecord(item({ counterparty: '=1+1' }), false)[5]).toBe("'=1+1");
    expect(csvRecord(item(), false)[2]).toBe('-35.50');
  });
});

describe('CSV stream', () => {
  it('starts with the UTF-8 BOM, ends records with CRLF, and parses back to the header and rows', async () => {
    const bytes = await text(csvStream(exportOf([item(), item({ id: 'tr_2', description: 'a, "quoted"\nline' })]), false, pino({ level: 'silent' })));
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const s = bytes.toString('utf8');
    expect(s.slice(1).startsWith(`${CSV_HEADER.join(',')}\r\n`)).toBe(true);
    const rows = parse(s, { bom: true }) as string[][];
    expect(rows[0]).toEqual([...CSV_HEADER]);
    expect(rows).toHaveLength(3);
    expect(rows[2]![6]).toBe('a, "quoted"\nline');
  });

  it('ends a truncated export with a note row', async () => {
    const rows = parse((await text(csvStream(exportOf([item()], true), false, pino({ level: 'silent' })))).toString('utf8'), { bom: true, relax_column_count: true }) as string[][];
    expect(rows.at(-1)).toEqual([CSV_TRUNCATED_NOTE]);
  });

  it('names the file by the last 4 digits and the range, in ASCII and in Chinese', () => {
    const d = csvDisposition(exportOf([]));
    expect(d).toMatch(/^attachment; filename="transactions-8903-20260301-20260318\.csv"; filename\*=UTF-8''/);
    expect(decodeURIComponent(d.split("''")[1]!)).toBe('交易明细_尾号8903_20260301-20260318.csv');
  });
});

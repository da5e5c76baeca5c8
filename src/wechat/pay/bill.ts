// Parses a WeChat Pay trade bill (UTF-8 BOM, CRLF, backtick-prefixed fields, a summary block) into rows with exact fen amounts (WECHAT-VECTORS.md §4.10).
import { parse } from 'csv-parse/sync';
import { AppError } from '../../app/errors.ts';
import type { Fen } from '../../shared/money.ts';
import { billYuanToFen } from './policy.ts';

/** The first column of the summary header line, which ends the detail rows. */
export const SUMMARY_FIRST_COLUMN = '总交易单数';
/** Bills above this many detail rows are refused (a day of a very large merchant is far below). */
export const TRADE_BILL_MAX_ROWS = 2_000_000;
/** Columns of a bill line; the widest type (REFUND) has 29. */
export const TRADE_BILL_MAX_COLUMNS = 64;

/** Header names of the amount columns, by the key wecard gives them. */
const AMOUNT_COLUMNS = {
  settlementTotalFen: '应结订单金额',
  couponFen: '代金券金额',
  refundFen: '退款金额',
  couponRefundFen: '充值券退款金额',
  feeFen: '手续费',
  totalFen: '订单金额',
  requestedRefundFen: '申请退款金额',
} as const;

const TEXT_COLUMNS = {
  tradeTime: '交易时间',
  appId: '公众账号ID',
  mchId: '商户号',
  subMchId: '特约商户号',
  deviceInfo: '设备号',
  transactionId: '微信订单号',
  outTradeNo: '商户订单号',
  openid: '用户标识',
  tradeType: '交易类型',
  tradeState: '交易状态',
  bankType: '付款银行',
  currency: '货币种类',
  refundId: '微信退款单号',
  outRefundNo: '商户退款单号',
  refundType: '退款类型',
  refundStatus: '退款状态',
  body: '商品名称',
  attach: '商户数据包',
  rate: '费率',
  rateRemark: '费率备注',
  refundRequestedAt: '退款申请时间',
  refundSucceededAt: '退款成功时间',
} as const;

const SUMMARY_AMOUNTS = {
  settlementTotalFen: '应结订单总金额',
  refundFen: '退款总金额',
  couponRefundFen: '充值券退款总金额',
  feeFen: '手续费总金额',
  totalFen: '订单总金额',
  requestedRefundFen: '申请退款总金额',
} as const;

export type TradeBillRow = { [K in keyof typeof TEXT_COLUMNS]: string | undefined } & { [K in keyof typeof AMOUNT_COLUMNS]: Fen | undefined } & {
  /** Every field as written (backtick removed), keyed by the Chinese header. */
  fields: Record<string, string>;
};

export type TradeBillSummary = { tradeCount: number } & { [K in keyof typeof SUMMARY_AMOUNTS]: Fen | undefined } & { fields: Record<string, string> };

export interface TradeBill {
  headers: string[];
  rows: TradeBillRow[];
  summaryHeaders: string[];
  summary: TradeBillSummary;
}

function bad(message: string): AppError {
  return AppError.validation([{ field: 'bill', message }], `trade bill: ${message}`);
}

function decode(file: Buffer): string {
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(file);
    return text;
  } catch {
    throw bad('is not valid UTF-8');
  }
}

/** A header line: plain comma-separated names. */
function parseHeader(line: string): string[] {
  const [names] = parse(line, { delimiter: ',', quote: false, max_record_size: 16_384 }) as string[][];
  if (!names || names.length === 0 || names.length > TRADE_BILL_MAX_COLUMNS) throw bad('has a malformed header line');
  return names;
}

/**
 * Data lines: every field opens with a backtick, so the separator is ",`" and the line's first
 * character is a backtick. Quotes mean nothing in this format (a product name may contain one).
 */
function parseDataLines(lines: string[], width: number, what: string): string[][] {
  if (lines.length === 0) return [];
  for (const l of lines) if (!l.startsWith('`')) throw bad(`has a ${what} line without the backtick prefix`);
  let records: string[][];
  try {
    records = parse(lines.map((l) => l.slice(1)).join('\n'), { delimiter: ',`', quote: false, record_delimiter: '\n', relax_column_count: true, max_record_size: 65_536 }) as string[][];
  } catch {
    throw bad(`has malformed ${what} lines`);
  }
  records.forEach((r, i) => {
    if (r.length !== width) throw bad(`${what} line ${i + 1} has ${r.length} fields, the header ${width}`);
  });
  return records;
}

function keyed(headers: string[], values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((h, i) => (out[h] = values[i] ?? ''));
  return out;
}

function amount(fields: Record<string, string>, column: string): Fen | undefined {
  const v = fields[column];
  if (v === undefined || v === '') return undefined;
  return billYuanToFen(v, column);
}

/**
 * Parses the bill file (after gunzip). Every detail row must have as many fields as the header, the
 * summary must follow the rows, and every amount must be exact fen; otherwise `validation_failed`.
 */
export function parseTradeBill(file: Buffer): TradeBill {
  let text = decode(file);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 3) throw bad('is too short: a header, a summary header and a summary line are required');
  const headers = parseHeader(lines[0]!);
  const summaryAt = lines.findIndex((l, i) => i > 0 && l.startsWith(`${SUMMARY_FIRST_COLUMN},`));
  if (summaryAt < 0) throw bad('has no summary');
  if (summaryAt - 1 > TRADE_BILL_MAX_ROWS) throw bad(`has more than ${TRADE_BILL_MAX_ROWS} rows`);
  if (lines.length !== summaryAt + 2) throw bad('must end with one summary line');
  const summaryHeaders = parseHeader(lines[summaryAt]!);
  const detail = parseDataLines(lines.slice(1, summaryAt), headers.length, 'detail');
  const [summaryValues] = parseDataLines([lines[summaryAt + 1]!], summaryHeaders.length, 'summary');

  const rows = detail.map((values) => {
    const fields = keyed(headers, values);
    const row = { fields } as TradeBillRow;
    for (const [k, col] of Object.entries(TEXT_COLUMNS)) (row as Record<string, unknown>)[k] = col in fields ? fields[col] : undefined;
    for (const [k, col] of Object.entries(AMOUNT_COLUMNS)) (row as Record<string, unknown>)[k] = amount(fields, col);
    return row;
  });

  const sFields = keyed(summaryHeaders, summaryValues!);
  const count = /^(\d+)(?:\.0+)?$/.exec(sFields[SUMMARY_FIRST_COLUMN] ?? '');
  if (!count) throw bad('has a malformed trade count');
  const summary = { fields: sFields, tradeCount: Number(count[1]) } as TradeBillSummary;
  for (const [k, col] of Object.entries(SUMMARY_AMOUNTS)) (summary as Record<string, unknown>)[k] = amount(sFields, col);
  if (summary.tradeCount !== rows.length) throw bad(`counts ${summary.tradeCount} trades but lists ${rows.length}`);
  return { headers, rows, summaryHeaders, summary };
}

/** Header lines of each bill type, as the platform writes them (§4.10). */
export const TRADE_BILL_HEADERS = {
  ALL: ['交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类', '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称', '商户数据包', '手续费', '费率', '订单金额', '申请退款金额', '费率备注'],
  SUCCESS: ['交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类', '应结订单金额', '代金券金额', '商品名称', '商户数据包', '手续费', '费率', '订单金额', '费率备注'],
  REFUND: ['交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类', '应结订单金额', '代金券金额', '退款申请时间', '退款成功时间', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称', '商户数据包', '手续费', '费率', '订单金额', '申请退款金额', '费率备注'],
} as const;

export const TRADE_BILL_SUMMARY_HEADERS = {
  ALL: ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额'],
  SUCCESS: ['总交易单数', '应结订单总金额', '手续费总金额', '订单总金额'],
  REFUND: ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额'],
} as const;

export type TradeBillType = keyof typeof TRADE_BILL_HEADERS;

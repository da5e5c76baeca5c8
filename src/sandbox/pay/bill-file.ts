// Sandbox trade bills: the day's paid orders and refunds written as the platform writes bills (BOM, CRLF, backticks, summary), behind a short-lived signed download (§4.10).
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { AppContext } from '../../app/context.ts';
import { randomToken } from '../../shared/ids.ts';
import { TRADE_BILL_HEADERS, TRADE_BILL_SUMMARY_HEADERS, type TradeBillType } from '../../wechat/pay/bill.ts';
import { fenToBillYuan } from '../../wechat/pay/policy.ts';
import { PayFailure } from './errors.ts';
import type { SandboxMerchant } from './merchants.ts';
import { findBill, insertBill, orderByPrepayId, ordersPaidBetween, refundsSucceededBetween, type SandboxOrder, type SandboxRefund } from './store.ts';

/** Download links stay valid this long (the older doc's 30 s: WECHAT-VECTORS.md Appendix B). */
export const BILL_URL_TTL_MS = 30_000;
/** Rows of each kind one sandbox bill holds. */
export const SANDBOX_BILL_MAX_ROWS = 50_000;
/** Bills exist for the last 3 months only. */
const BILL_HISTORY_DAYS = 92;
/** The day's bill is ready from 10:00 Beijing time the next day (generated from 09:00). */
const BILL_READY_HOUR = 10;
/** The sandbox's fee: 0.6 % of the amount, rounded to the fen. */
const FEE_RATE_PER_MILLE = 6;
const BEIJING_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;

const beijingText = (d: Date) => new Date(d.getTime() + BEIJING_MS).toISOString().slice(0, 19).replace('T', ' ');
const feeOf = (fen: bigint) => (fen * BigInt(FEE_RATE_PER_MILLE) + 500n) / 1000n;

interface Line {
  fields: Record<string, string>;
  amounts: { settlement: bigint; refund: bigint; fee: bigint; total: bigint; requested: bigint };
}

function orderLine(o: SandboxOrder): Line {
  const total = BigInt(o.amount_total);
  const fee = feeOf(total);
  return {
    fields: {
      交易时间: beijingText(o.success_time!), 公众账号ID: o.appid, 商户号: o.mchid, 特约商户号: '0', 设备号: '', 微信订单号: o.transaction_id!, 商户订单号: o.out_trade_no,
      用户标识: o.payer_openid, 交易类型: 'JSAPI', 交易状态: 'SUCCESS', 付款银行: o.bank_type ?? 'OTHERS', 货币种类: 'CNY', 应结订单金额: fenToBillYuan(total), 代金券金额: '0.00',
      微信退款单号: '0', 商户退款单号: '0', 退款金额: '0.00', 充值券退款金额: '0.00', 退款类型: '', 退款状态: '', 商品名称: o.description, 商户数据包: o.attach ?? '',
      手续费: fenToBillYuan(fee, 5), 费率: '0.60%', 订单金额: fenToBillYuan(total), 申请退款金额: '0.00', 费率备注: '', 退款申请时间: '', 退款成功时间: '',
    },
    amounts: { settlement: total, refund: 0n, fee, total, requested: 0n },
  };
}

function refundLine(r: SandboxRefund, order: { appid: string; payer_openid: string; description: string; attach: string | null; bank_type: string | null }): Line {
  const refund = BigInt(r.amount_refund);
  const fee = -feeOf(refund);
  return {
    fields: {
      交易时间: beijingText(r.success_time!), 公众账号ID: order.appid, 商户号: r.mchid, 特约商户号: '0', 设备号: '', 微信订单号: r.transaction_id, 商户订单号: r.out_trade_no,
      用户标识: order.payer_openid, 交易类型: 'JSAPI', 交易状态: 'REFUND', 付款银行: order.bank_type ?? 'OTHERS', 货币种类: 'CNY', 应结订单金额: '0.00', 代金券金额: '0.00',
      微信退款单号: r.refund_id, 商户退款单号: r.out_refund_no, 退款金额: fenToBillYuan(refund), 充值券退款金额: '0.00', 退款类型: 'ORIGINAL', 退款状态: 'SUCCESS',
      商品名称: order.description, 商户数据包: order.attach ?? '', 手续费: fenToBillYuan(fee, 5), 费率: '0.60%', 订单金额: '0.00', 申请退款金额: fenToBillYuan(refund), 费率备注: '',
      退款申请时间: beijingText(r.created_at), 退款成功时间: beijingText(r.success_time!),
    },
    amounts: { settlement: 0n, refund, fee, total: 0n, requested: refund },
  };
}

/** Every field opens with a backtick; a field never contains ",`" or a line break (we strip them). */
const dataLine = (values: string[]) => values.map((v) => `\`${v.replace(/[\r\n]/g, ' ').replaceAll(',`', ', `')}`).join(',');

/** The bill file bytes of one Beijing day. */
export async function buildBill(ctx: AppContext, m: SandboxMerchant, billDate: string, type: TradeBillType): Promise<Buffer> {
  const from = new Date(Date.parse(`${billDate}T00:00:00+08:00`));
  const to = new Date(from.getTime() + DAY_MS);
  const lines: Line[] = [];
  const orders = type === 'REFUND' ? [] : await ordersPaidBetween(ctx.db, m.pay.mchId, from, to, SANDBOX_BILL_MAX_ROWS);
  lines.push(...orders.map(orderLine));
  if (type !== 'SUCCESS') {
    for (const r of await refundsSucceededBetween(ctx.db, m.pay.mchId, from, to, SANDBOX_BILL_MAX_ROWS)) {
      const o = await orderByPrepayId(ctx.db, r.prepay_id);
      if (o) lines.push(refundLine(r, o));
    }
  }
  if (lines.length === 0) throw new PayFailure(400, 'NO_STATEMENT_EXIST', '要下载的账单不存在');
  lines.sort((a, b) => a.fields['交易时间']!.localeCompare(b.fields['交易时间']!));
  const sum = (k: keyof Line['amounts']) => lines.reduce((s, l) => s + l.amounts[k], 0n);
  const header = TRADE_BILL_HEADERS[type];
  const summaryValues: Record<string, string> = {
    // Written as the platform's files do (a Java double: `45.0`).
    总交易单数: `${lines.length}.0`, 应结订单总金额: fenToBillYuan(sum('settlement')), 退款总金额: fenToBillYuan(sum('refund')), 充值券退款总金额: '0.00',
    手续费总金额: fenToBillYuan(sum('fee')), 订单总金额: fenToBillYuan(sum('total')), 申请退款总金额: fenToBillYuan(sum('requested')),
  };
  const summaryHeader = TRADE_BILL_SUMMARY_HEADERS[type];
  const text = [
    header.join(','),
    ...lines.map((l) => dataLine(header.map((h) => l.fields[h] ?? ''))),
    summaryHeader.join(','),
    dataLine(summaryHeader.map((h) => summaryValues[h] ?? '')),
  ].join('\r\n');
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${text}\r\n`, 'utf8')]);
}

/** `GET /v3/bill/tradebill?bill_date&bill_type&tar_type` → hash and a download URL. */
export async function tradeBill(ctx: AppContext, m: SandboxMerchant, query: Record<string, unknown>): Promise<Record<string, unknown>> {
  const billDate = query.bill_date;
  const type = (query.bill_type ?? 'ALL') as string;
  const tar = query.tar_type;
  if (typeof billDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(billDate) || Number.isNaN(Date.parse(`${billDate}T00:00:00+08:00`))) {
    throw new PayFailure(400, 'PARAM_ERROR', '参数错误：bill_date 格式不正确', { field: 'bill_date', location: 'query' });
  }
  if (!(type in TRADE_BILL_HEADERS)) throw new PayFailure(400, 'PARAM_ERROR', '参数错误：bill_type 取值不正确', { field: 'bill_type', location: 'query' });
  if (tar !== undefined && tar !== 'GZIP') throw new PayFailure(400, 'PARAM_ERROR', '参数错误：tar_type 取值不正确', { field: 'tar_type', location: 'query' });
  const now = ctx.clock.now();
  const dayStart = Date.parse(`${billDate}T00:00:00+08:00`);
  const readyAt = dayStart + DAY_MS + BILL_READY_HOUR * 3600_000;
  if (now.getTime() < dayStart + DAY_MS) throw new PayFailure(400, 'PARAM_ERROR', '参数错误：bill_date 只能是今天之前的日期', { field: 'bill_date', location: 'query' });
  if (now.getTime() < readyAt) throw new PayFailure(400, 'STATEMENT_CREATING', '账单生成中，请稍后再试');
  if (now.getTime() - dayStart > BILL_HISTORY_DAYS * DAY_MS) throw new PayFailure(400, 'PARAM_ERROR', '参数错误：只能下载三个月以内的账单', { field: 'bill_date', location: 'query' });
  const file = await buildBill(ctx, m, billDate, type as TradeBillType);
  const token = randomToken(20);
  await insertBill(ctx.db, { token, tenant_id: m.tenantId, content: tar === 'GZIP' ? gzipSync(file) : file, created_at: now, expires_at: new Date(now.getTime() + BILL_URL_TTL_MS) });
  return {
    hash_type: 'SHA1',
    hash_value: createHash('sha1').update(file).digest('hex'),
    download_url: `${ctx.config.publicUrl}/sandbox/pay/v3/billdownload/file?token=${token}`,
  };
}

/** `GET /v3/billdownload/file?token=`: the file bytes (the one unsigned answer of the platform). */
export async function billFile(ctx: AppContext, m: SandboxMerchant, query: Record<string, unknown>): Promise<Buffer> {
  const token = query.token;
  const bill = typeof token === 'string' && token.length <= 64 ? await findBill(ctx.db, token) : undefined;
  if (!bill || bill.tenant_id !== m.tenantId) throw new PayFailure(404, 'RESOURCE_NOT_EXISTS', '账单文件不存在');
  if (ctx.clock.now() > bill.expires_at) throw new PayFailure(400, 'INVALID_REQUEST', '下载链接已过期，请重新获取');
  return bill.content;
}

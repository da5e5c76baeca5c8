// WeChat Pay v3 calls a tenant makes: JSAPI/mini-program orders and their wx.requestPayment parameters, query, close, refunds, the trade bill (§4.6–§4.10).
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { parseTradeBill, type TradeBill, type TradeBillType } from './bill.ts';
import { jsonOf, payFetch, PayApiError } from './http.ts';
import { jsapiOrderProblems, refundProblems, OUT_NO_PATTERN, type JsapiOrderInput, type RefundInput } from './policy.ts';
import { parseRefund, parseTransaction, type PayRefund, type PayTransaction } from './resources.ts';
import { newNonce, requestPaymentParams, unixSeconds, type RequestPaymentParams } from './signing.ts';
import { loadPayTenant, type PayTenant } from './tenant.ts';

/** A bill file (after gunzip) larger than this is refused. */
export const TRADE_BILL_MAX_BYTES = 64 * 1024 * 1024;
const PREPAY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const BILL_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;

/** RFC 3339 in Beijing time, as the platform writes and expects times (`2018-06-08T10:34:56+08:00`). */
export function beijingRfc3339(at: Date): string {
  return `${new Date(at.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/** Where the platform sends this tenant's payment and refund notifications. */
export function notifyUrls(ctx: AppContext, tenantId: string): { payment: string; refund: string } {
  const base = `${ctx.config.publicUrl}/wechat/pay/${encodeURIComponent(tenantId)}`;
  return { payment: `${base}/notify`, refund: `${base}/refund-notify` };
}

function untrusted(path: string, what: string): PayApiError {
  return new PayApiError('platform', 200, 'INVALID_RESPONSE', `the answer of ${path.split('?')[0]} ${what}`);
}

export type NewJsapiOrder = Omit<JsapiOrderInput, 'notifyUrl'> & { notifyUrl?: string };

/**
 * Places a JSAPI / mini-program order (`appId` is the OA or mini-program the payer's openid belongs
 * to). On a 5xx or timeout, call again with the SAME outTradeNo: the platform treats it as one order.
 */
export async function createJsapiOrder(ctx: AppContext, tenantId: string, input: NewJsapiOrder): Promise<{ prepayId: string }> {
  const order: JsapiOrderInput = { ...input, notifyUrl: input.notifyUrl ?? notifyUrls(ctx, tenantId).payment };
  const problems = jsapiOrderProblems(order);
  if (problems.length > 0) throw AppError.validation(problems);
  const tenant = await loadPayTenant(ctx, tenantId);
  if (!tenant.appIds.includes(order.appId)) throw AppError.validation([{ field: 'appId', message: "is not one of the tenant's apps" }]);
  const path = '/v3/pay/transactions/jsapi';
  const res = await payFetch(ctx, tenant, {
    method: 'POST',
    path,
    body: {
      appid: order.appId,
      mchid: tenant.mchId,
      description: order.description,
      out_trade_no: order.outTradeNo,
      ...(order.timeExpire ? { time_expire: beijingRfc3339(order.timeExpire) } : {}),
      ...(order.attach !== undefined ? { attach: order.attach } : {}),
      notify_url: order.notifyUrl,
      amount: { total: order.amountFen, currency: 'CNY' },
      payer: { openid: order.payerOpenid },
    },
  });
  const prepayId = jsonOf<{ prepay_id?: unknown }>(res, path).prepay_id;
  if (typeof prepayId !== 'string' || !PREPAY_ID_PATTERN.test(prepayId)) throw untrusted(path, 'carries no prepay_id');
  ctx.log.info({ tenantId, outTradeNo: order.outTradeNo, amountFen: order.amountFen }, 'WeChat Pay order placed');
  return { prepayId };
}

/** The signed parameters the client passes to `wx.requestPayment` / `getBrandWCPayRequest` (§4.7). */
export async function paymentParams(ctx: AppContext, tenantId: string, input: { appId: string; prepayId: string }): Promise<RequestPaymentParams> {
  if (!PREPAY_ID_PATTERN.test(input.prepayId)) throw AppError.validation([{ field: 'prepayId', message: 'is malformed' }]);
  const tenant = await loadPayTenant(ctx, tenantId);
  if (!tenant.appIds.includes(input.appId)) throw AppError.validation([{ field: 'appId', message: "is not one of the tenant's apps" }]);
  return requestPaymentParams({ appId: input.appId, prepayId: input.prepayId, timeStamp: unixSeconds(ctx.clock.now()), nonceStr: newNonce(), merchantKey: tenant.merchantKey });
}

function assertOutNo(v: string, field: string): void {
  if (typeof v !== 'string' || !OUT_NO_PATTERN.test(v)) throw AppError.validation([{ field, message: 'is malformed' }]);
}

function checkTransaction(tenant: PayTenant, t: PayTransaction, outTradeNo: string, path: string): PayTransaction {
  if (t.mchId !== tenant.mchId || t.outTradeNo !== outTradeNo) throw untrusted(path, 'is about another order');
  return t;
}

/** The order as the platform holds it (`ORDER_NOT_EXIST` → PayApiError status 404). */
export async function queryOrder(ctx: AppContext, tenantId: string, outTradeNo: string): Promise<PayTransaction> {
  assertOutNo(outTradeNo, 'outTradeNo');
  const tenant = await loadPayTenant(ctx, tenantId);
  const path = `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${tenant.mchId}`;
  const res = await payFetch(ctx, tenant, { method: 'GET', path });
  let t: PayTransaction;
  try {
    t = parseTransaction(jsonOf<unknown>(res, path), '');
  } catch (err) {
    if (err instanceof AppError) throw untrusted(path, `is malformed (${err.message})`);
    throw err;
  }
  return checkTransaction(tenant, t, outTradeNo, path);
}

/** Closes an unpaid order (204). Close before re-ordering an abandoned out_trade_no. */
export async function closeOrder(ctx: AppContext, tenantId: string, outTradeNo: string): Promise<void> {
  assertOutNo(outTradeNo, 'outTradeNo');
  const tenant = await loadPayTenant(ctx, tenantId);
  await payFetch(ctx, tenant, { method: 'POST', path: `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`, body: { mchid: tenant.mchId } });
  ctx.log.info({ tenantId, outTradeNo }, 'WeChat Pay order closed');
}

function refundOf(res: Awaited<ReturnType<typeof payFetch>>, path: string, outRefundNo: string): PayRefund {
  let r: PayRefund;
  try {
    r = parseRefund(jsonOf<unknown>(res, path), '');
  } catch (err) {
    if (err instanceof AppError) throw untrusted(path, `is malformed (${err.message})`);
    throw err;
  }
  if (r.outRefundNo !== outRefundNo) throw untrusted(path, 'is about another refund');
  return r;
}

export type NewRefund = Omit<RefundInput, 'notifyUrl'> & { notifyUrl?: string };

/**
 * Asks for a refund (usually answered PROCESSING; the outcome comes by notification or query).
 * On SYSTEM_ERROR or a timeout, call again with the SAME outRefundNo.
 */
export async function createRefund(ctx: AppContext, tenantId: string, input: NewRefund): Promise<PayRefund> {
  const refund: RefundInput = { ...input, notifyUrl: input.notifyUrl ?? notifyUrls(ctx, tenantId).refund };
  const problems = refundProblems(refund);
  if (problems.length > 0) throw AppError.validation(problems);
  const tenant = await loadPayTenant(ctx, tenantId);
  const path = '/v3/refund/domestic/refunds';
  const res = await payFetch(ctx, tenant, {
    method: 'POST',
    path,
    body: {
      out_trade_no: refund.outTradeNo,
      out_refund_no: refund.outRefundNo,
      ...(refund.reason !== undefined ? { reason: refund.reason } : {}),
      notify_url: refund.notifyUrl,
      amount: { refund: refund.refundFen, total: refund.totalFen, currency: 'CNY' },
    },
  });
  const r = refundOf(res, path, refund.outRefundNo);
  ctx.log.info({ tenantId, outTradeNo: refund.outTradeNo, outRefundNo: refund.outRefundNo, refundFen: refund.refundFen, status: r.status }, 'WeChat Pay refund requested');
  return r;
}

export async function queryRefund(ctx: AppContext, tenantId: string, outRefundNo: string): Promise<PayRefund> {
  assertOutNo(outRefundNo, 'outRefundNo');
  const tenant = await loadPayTenant(ctx, tenantId);
  const path = `/v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}`;
  return refundOf(await payFetch(ctx, tenant, { method: 'GET', path }), path, outRefundNo);
}

export interface DownloadedBill {
  /** The bill file as the platform made it (gunzipped), whose SHA1 matched. */
  file: Buffer;
  bill: TradeBill;
  hashValue: string;
}

/**
 * Downloads and checks one day's trade bill: asks for the download URL, fetches the file (signed
 * request, unsigned answer), gunzips it, checks SHA1 against `hash_value`, then parses it.
 */
export async function downloadTradeBill(ctx: AppContext, tenantId: string, input: { billDate: string; billType?: TradeBillType; gzip?: boolean }): Promise<DownloadedBill> {
  if (!BILL_DATE_PATTERN.test(input.billDate) || Number.isNaN(Date.parse(`${input.billDate}T00:00:00Z`))) {
    throw AppError.validation([{ field: 'billDate', message: 'must be a date YYYY-MM-DD' }]);
  }
  const tenant = await loadPayTenant(ctx, tenantId);
  const query = new URLSearchParams({ bill_date: input.billDate, bill_type: input.billType ?? 'ALL' });
  if (input.gzip) query.set('tar_type', 'GZIP');
  const path = `/v3/bill/tradebill?${query.toString()}`;
  const info = jsonOf<{ hash_type?: unknown; hash_value?: unknown; download_url?: unknown }>(await payFetch(ctx, tenant, { method: 'GET', path }), path);
  if (info.hash_type !== 'SHA1' || typeof info.hash_value !== 'string' || !/^[0-9a-f]{40}$/i.test(info.hash_value) || typeof info.download_url !== 'string') {
    throw untrusted(path, 'lacks hash_type SHA1, hash_value or download_url');
  }
  // The signed download goes only to the API host we call: never to a URL an answer could redirect us to.
  const base = ctx.config.wechat.payBase;
  if (!info.download_url.startsWith(`${base}/`)) throw untrusted(path, 'names a download URL on another host');
  const res = await payFetch(ctx, tenant, { method: 'GET', path: info.download_url.slice(base.length), unsigned: true, maxBytes: TRADE_BILL_MAX_BYTES }, info.download_url);
  let file = res.body;
  if (input.gzip) {
    try {
      file = gunzipSync(file, { maxOutputLength: TRADE_BILL_MAX_BYTES });
    } catch {
      throw new PayApiError('platform', res.status, 'INVALID_RESPONSE', 'the bill file is not valid gzip or too large');
    }
  }
  const sha1 = createHash('sha1').update(file).digest('hex');
  if (sha1 !== info.hash_value.toLowerCase()) throw new PayApiError('signature', res.status, 'HASH_MISMATCH', 'the bill file does not match its SHA1 hash_value');
  const bill = parseTradeBill(file);
  ctx.log.info({ tenantId, billDate: input.billDate, rows: bill.rows.length }, 'WeChat Pay trade bill downloaded');
  return { file, bill, hashValue: sha1 };
}

// The sandbox's api.mch.weixin.qq.com under /sandbox/pay: merchant signatures verified, answers signed, errors in WeChat Pay's format, fault switches applied.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../app/context.ts';
import type { App } from '../../app/server.ts';
import { billFile, tradeBill } from './bill-file.ts';
import { FAULT_CODES, PayFailure } from './errors.ts';
import { API_DELAY_MAX_MS } from './faults.ts';
import type { MerchantDirectory, SandboxMerchant } from './merchants.ts';
import { closeOrder, createJsapiOrder, queryByOutTradeNo, queryByTransactionId, type Body } from './orders.ts';
import { createRefund, queryRefund } from './refunds.ts';
import { identifyMerchant, platformSignature, verifyMerchantSignature } from './signing.ts';
import { faultsOf, takeFault } from './store.ts';

export const PAY_PLATFORM_PREFIX = '/sandbox/pay';
/** A v3 request body is a few hundred bytes. */
export const PLATFORM_BODY_LIMIT_BYTES = 64 * 1024;

type Params = Record<string, string>;
type Query = Record<string, unknown>;
type Endpoint = (ctx: AppContext, m: SandboxMerchant, io: { body: Body; query: Query; params: Params }) => Promise<Body | Buffer | undefined>;

function parseBody(raw: Buffer): Body {
  if (raw.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new PayFailure(400, 'PARAM_ERROR', '参数错误：请求体不是合法的JSON', { location: 'body' });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new PayFailure(400, 'PARAM_ERROR', '参数错误：请求体必须是JSON对象', { location: 'body' });
  return v as Body;
}

/** Applies the tenant's API fault switches: a delay, then possibly a failure of the configured status. */
async function applyApiFaults(ctx: AppContext, m: SandboxMerchant): Promise<void> {
  const f = await faultsOf(ctx.db, m.tenantId);
  if (!f) return;
  if (f.api_delay_ms > 0) await new Promise((r) => setTimeout(r, Math.min(f.api_delay_ms, API_DELAY_MAX_MS)));
  if (f.api_fail_status && f.api_fail_remaining > 0 && (await takeFault(ctx.db, m.tenantId, 'api_fail_remaining'))) {
    const c = FAULT_CODES[f.api_fail_status] ?? FAULT_CODES[500]!;
    throw new PayFailure(f.api_fail_status, c.code, c.message);
  }
}

async function send(ctx: AppContext, reply: FastifyReply, m: SandboxMerchant | undefined, status: number, body: Body | undefined): Promise<FastifyReply> {
  const text = body === undefined ? '' : JSON.stringify(body);
  if (m) {
    try {
      reply.headers({ ...(await platformSignature(ctx, m, text)) } as Record<string, string>);
    } catch {
      // No platform key to sign with: the answer goes unsigned, which the client will refuse.
    }
  }
  reply.code(status);
  if (body === undefined) return reply.send();
  return reply.type('application/json; charset=utf-8').send(text);
}

async function handle(ctx: AppContext, directory: MerchantDirectory, request: FastifyRequest, reply: FastifyReply, endpoint: Endpoint): Promise<FastifyReply> {
  let merchant: SandboxMerchant | undefined;
  try {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const found = await identifyMerchant(directory, typeof request.headers.authorization === 'string' ? request.headers.authorization : undefined);
    merchant = found.merchant;
    // The path as sent, mount prefix included: what any client signs for a base URL with a path.
    verifyMerchantSignature(ctx, merchant, found.auth, { method: request.method, canonicalUrl: request.url, body: raw });
    await applyApiFaults(ctx, merchant);
    const result = await endpoint(ctx, merchant, { body: parseBody(raw), query: request.query as Query, params: request.params as Params });
    // The bill file: the one answer the platform does not sign (§4.10).
    if (Buffer.isBuffer(result)) return reply.code(200).type('application/octet-stream').send(result);
    return send(ctx, reply, merchant, result === undefined ? 204 : 200, result);
  } catch (err) {
    if (err instanceof PayFailure) return send(ctx, reply, merchant, err.status, err.toJSON());
    request.log.error({ err }, 'sandbox WeChat Pay endpoint failed');
    return send(ctx, reply, merchant, 500, { code: 'SYSTEM_ERROR', message: '系统繁忙，请稍后重试' });
  }
}

const ENDPOINTS: Array<[method: 'GET' | 'POST', path: string, summary: string, endpoint: Endpoint]> = [
  ['POST', '/v3/pay/transactions/jsapi', 'JSAPI / mini-program order', (ctx, m, io) => createJsapiOrder(ctx, m, io.body)],
  ['GET', '/v3/pay/transactions/out-trade-no/:outTradeNo', 'Query an order by out_trade_no', (ctx, m, io) => queryByOutTradeNo(ctx, m, io.params.outTradeNo!, io.query)],
  ['GET', '/v3/pay/transactions/id/:transactionId', 'Query an order by transaction_id', (ctx, m, io) => queryByTransactionId(ctx, m, io.params.transactionId!, io.query)],
  ['POST', '/v3/pay/transactions/out-trade-no/:outTradeNo/close', 'Close an unpaid order (204)', (ctx, m, io) => closeOrder(ctx, m, io.params.outTradeNo!, io.body)],
  ['POST', '/v3/refund/domestic/refunds', 'Request a refund', (ctx, m, io) => createRefund(ctx, m, io.body)],
  ['GET', '/v3/refund/domestic/refunds/:outRefundNo', 'Query a refund', (ctx, m, io) => queryRefund(ctx, m, io.params.outRefundNo!)],
  ['GET', '/v3/bill/tradebill', 'Trade bill: hash and download URL', (ctx, m, io) => tradeBill(ctx, m, io.query)],
  ['GET', '/v3/billdownload/file', 'Trade bill file (unsigned answer)', (ctx, m, io) => billFile(ctx, m, io.query)],
  [
    'GET',
    '/v3/certificates',
    'Platform certificates: none in public-key mode',
    async () => {
      throw new PayFailure(404, 'RESOURCE_NOT_EXISTS', '无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。');
    },
  ],
];

/** Registers the platform endpoints in an encapsulated scope with a raw-body parser. */
export async function registerPlatformRoutes(app: App, ctx: AppContext, directory: MerchantDirectory): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Raw bytes: the signature covers them, and malformed JSON must be answered as the platform does.
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PLATFORM_BODY_LIMIT_BYTES }, (_req, body, done) => done(null, body));
    // Failures before the handler (an oversized body) are answered in the platform's format too.
    scope.setErrorHandler((err, request, reply) => {
      const tooLarge = (err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE';
      if (!tooLarge) request.log.error({ err }, 'sandbox WeChat Pay request failed');
      const failure = tooLarge ? new PayFailure(413, 'PARAM_ERROR', '参数错误：请求体过大', { location: 'body' }) : new PayFailure(500, 'SYSTEM_ERROR', '系统繁忙，请稍后重试');
      return reply.code(failure.status).type('application/json; charset=utf-8').send(JSON.stringify(failure.toJSON()));
    });
    for (const [method, path, summary, endpoint] of ENDPOINTS) {
      scope.route({
        method,
        url: `${PAY_PLATFORM_PREFIX}${path}`,
        bodyLimit: PLATFORM_BODY_LIMIT_BYTES,
        schema: { tags: ['sandbox'], summary: `WeChat Pay v3 ${summary} (sandbox platform)` },
        handler: (request, reply) => handle(ctx, directory, request, reply, endpoint),
      });
    }
  });
}

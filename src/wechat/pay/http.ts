// Signed calls to the WeChat Pay v3 API: Authorization on the way out, the platform's signature and the replay window checked on the way back, bounded time and size.
import type { AppContext } from '../../app/context.ts';
import { timestampWithinWindow } from './policy.ts';
import { PUBLIC_KEY_ID_PREFIX, type PlatformKeySet } from './keys.ts';
import { authorizationHeader, newNonce, requestMessage, responseMessage, signMessage, unixSeconds, verifyMessage } from './signing.ts';
import type { PayTenant } from './tenant.ts';

/** Every call to the platform gives up after this. */
export const PAY_REQUEST_TIMEOUT_MS = 10_000;
/** A JSON answer larger than this is not from the platform. */
export const PAY_RESPONSE_MAX_BYTES = 1024 * 1024;
const USER_AGENT = 'wecard (WeChat Pay API v3)';
/** Error text from the platform kept on a PayApiError. */
const ERROR_MESSAGE_MAX_CHARS = 300;

export type PayFailureKind = 'platform' | 'network' | 'signature';

/**
 * A call that did not succeed: the platform answered an error (`platform`, with its HTTP status and
 * `code` such as ORDER_NOT_EXIST), the call did not complete (`network`), or the answer could not
 * be trusted (`signature`: unsigned 2xx, unknown serial, stale timestamp, bad or probe signature).
 */
export class PayApiError extends Error {
  constructor(
    readonly kind: PayFailureKind,
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message.slice(0, ERROR_MESSAGE_MAX_CHARS));
    this.name = 'PayApiError';
  }

  /** Worth retrying with the same out_trade_no / out_refund_no (§4.12): 5xx, 429, network failures. */
  get retryable(): boolean {
    return this.kind === 'network' || this.status >= 500 || this.status === 429;
  }
}

export interface PayResponse {
  status: number;
  body: Buffer;
  headers: Headers;
}

/** Reads at most `max` bytes of the body; more is an error (the stream is cancelled). */
async function readBounded(res: Response, max: number): Promise<Buffer> {
  const reader = res.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new PayApiError('network', res.status, 'RESPONSE_TOO_LARGE', `the answer is larger than ${max} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/**
 * Verifies a signed platform answer (or a notification's headers) over the raw body: the serial
 * must name a key we hold, the timestamp be within 5 minutes of our clock, the signature valid.
 * Returns a reason when it fails, undefined when it holds.
 */
export function platformSignatureProblem(keys: PlatformKeySet, headers: { timestamp?: string; nonce?: string; signature?: string; serial?: string }, body: Buffer, now: Date): string | undefined {
  const { timestamp, nonce, signature, serial } = headers;
  if (!timestamp || !nonce || !signature || !serial) return 'the Wechatpay-* signature headers are missing';
  if (nonce.length > 64) return 'Wechatpay-Nonce is malformed';
  if (!timestampWithinWindow(timestamp, now)) return 'Wechatpay-Timestamp is more than 5 minutes from now';
  const key = keys.get(serial, now);
  if (!key) return `no platform key for serial ${serial.slice(0, 64)}`;
  if (!verifyMessage(key, responseMessage(timestamp, nonce, body), signature)) return 'Wechatpay-Signature does not verify';
  return undefined;
}

function signatureHeaders(h: Headers) {
  return {
    timestamp: h.get('wechatpay-timestamp') ?? undefined,
    nonce: h.get('wechatpay-nonce') ?? undefined,
    signature: h.get('wechatpay-signature') ?? undefined,
    serial: h.get('wechatpay-serial') ?? undefined,
  };
}

export interface PayRequest {
  method: 'GET' | 'POST';
  /** Path and query relative to the API base, e.g. `/v3/pay/transactions/jsapi`. */
  path: string;
  body?: unknown;
  /** Only the bill file download is unsigned (§4.10). */
  unsigned?: boolean;
  maxBytes?: number;
}

/**
 * One signed call to `${payBase}${path}` (or `url`, for the bill download). The canonical URL
 * signed is the absolute path and query exactly as sent, host removed: with a base URL that has a
 * path (the sandbox's `/sandbox/pay`), that path is part of it, as every SDK signs it. A 2xx must
 * be signed (except the bill file); an error answer is verified when it carries a signature,
 * since the platform sometimes sends 4xx unsigned (§4.3). Non-2xx → PayApiError('platform').
 */
export async function payFetch(ctx: AppContext, tenant: PayTenant, req: PayRequest, url = `${ctx.config.wechat.payBase}${req.path}`): Promise<PayResponse> {
  const body = req.body === undefined ? '' : JSON.stringify(req.body);
  const target = new URL(url);
  const timestamp = unixSeconds(ctx.clock.now());
  const nonce = newNonce();
  const signature = signMessage(tenant.merchantKey, requestMessage(req.method, `${target.pathname}${target.search}`, timestamp, nonce, body));
  const headers: Record<string, string> = {
    authorization: authorizationHeader({ mchid: tenant.mchId, serial_no: tenant.merchantSerialNo, timestamp, nonce_str: nonce, signature }),
    accept: 'application/json',
    'user-agent': USER_AGENT,
  };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  // Answers are signed with the platform public key only when the request names it (§4.11).
  if (tenant.platformSerialNo.startsWith(PUBLIC_KEY_ID_PREFIX)) headers['wechatpay-serial'] = tenant.platformSerialNo;
  let res: Response;
  let raw: Buffer;
  try {
    res = await fetch(target, { method: req.method, headers, body: req.body === undefined ? undefined : body, signal: AbortSignal.timeout(PAY_REQUEST_TIMEOUT_MS), redirect: 'error' });
    raw = await readBounded(res, req.maxBytes ?? PAY_RESPONSE_MAX_BYTES);
  } catch (err) {
    if (err instanceof PayApiError) throw err;
    throw new PayApiError('network', 0, 'NETWORK_ERROR', `WeChat Pay did not answer: ${(err as Error).name}`);
  }
  const ok = res.status >= 200 && res.status < 300;
  const sig = signatureHeaders(res.headers);
  const signed = sig.signature !== undefined;
  if (!(ok && req.unsigned) && (ok || signed)) {
    const problem = platformSignatureProblem(tenant.platformKeys, sig, raw, ctx.clock.now());
    if (problem) {
      ctx.log.warn({ tenantId: tenant.tenantId, path: req.path.split('?')[0], status: res.status, serial: sig.serial, reason: problem }, 'WeChat Pay answer refused: signature not verified');
      throw new PayApiError('signature', res.status, 'INVALID_SIGNATURE', `the answer's signature is not trusted: ${problem}`);
    }
  }
  if (!ok) {
    let code = 'HTTP_ERROR';
    let message = `WeChat Pay answered HTTP ${res.status}`;
    let detail: unknown;
    try {
      const j = JSON.parse(raw.toString('utf8')) as { code?: unknown; message?: unknown; detail?: unknown };
      if (typeof j.code === 'string') code = j.code.slice(0, 64);
      if (typeof j.message === 'string') message = j.message;
      detail = j.detail;
    } catch {
      // Not JSON (a proxy's page): keep the status.
    }
    throw new PayApiError('platform', res.status, code, message, detail);
  }
  return { status: res.status, body: raw, headers: res.headers };
}

/** Parses a JSON answer body, or a PayApiError naming the path. */
export function jsonOf<T>(res: PayResponse, path: string): T {
  try {
    return JSON.parse(res.body.toString('utf8')) as T;
  } catch {
    throw new PayApiError('platform', res.status, 'INVALID_RESPONSE', `the answer of ${path.split('?')[0]} is not JSON`);
  }
}

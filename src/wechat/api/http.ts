// One HTTP exchange with the platform: bounded time and size, WeChat's {errcode, errmsg} envelope, big integer ids kept exact.
import { unavailable, WechatApiError } from './errors.ts';

/** One call to WeChat may take this long (connect, send, answer). */
export const WECHAT_API_TIMEOUT_MS = 10_000;
/** Largest answer read; WeChat's JSON answers are a few hundred bytes. */
export const WECHAT_RESPONSE_MAX_BYTES = 1024 * 1024;

export type Json = Record<string, unknown>;

export interface WechatAnswer {
  json: Json;
  /** The raw text: ids such as msgid exceed 2^53 and must be read from it, not from `json`. */
  text: string;
}

function describe(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: unknown } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  const code = typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  // Never the message: undici's may carry the URL, and ours carry access_token in the query.
  return code ?? e?.name ?? 'error';
}

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > WECHAT_RESPONSE_MAX_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw unavailable(`answer larger than ${WECHAT_RESPONSE_MAX_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * GET or POST (JSON) to a platform URL and parse the JSON answer. Network failures, timeouts,
 * non-2xx and non-JSON answers become errcode -1; a non-zero errcode in the answer is thrown as
 * it is. The URL is never put into an error: it may carry secret or access_token.
 */
export async function wechatRequest(url: string, req: { method: 'GET' | 'POST'; body?: unknown }): Promise<WechatAnswer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: req.method,
      headers: req.body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json; charset=utf-8' },
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: AbortSignal.timeout(WECHAT_API_TIMEOUT_MS),
      redirect: 'error',
    });
  } catch (err) {
    throw unavailable(`WeChat unreachable (${describe(err)})`);
  }
  let text: string;
  try {
    text = await readCapped(res);
  } catch (err) {
    if (err instanceof WechatApiError) throw err;
    throw unavailable(`WeChat answer cut off (${describe(err)})`);
  }
  if (!res.ok) throw unavailable(`WeChat answered HTTP ${res.status}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw unavailable('WeChat answered something other than JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw unavailable('WeChat answered something other than a JSON object');
  const errcode = errcodeOf(json as Json);
  if (errcode !== 0) throw new WechatApiError(errcode, typeof (json as Json).errmsg === 'string' ? ((json as Json).errmsg as string) : '');
  return { json: json as Json, text };
}

/** The answer's errcode; absent means success (jscode2session and token answers omit it). */
export function errcodeOf(json: Json): number {
  const v = json.errcode;
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,9}$/.test(v)) return Number(v);
  return -1;
}

/** A top-level integer field read from the raw text, digit for digit (msgid 1988810812324364291 does not fit a double). */
export function rawIntegerField(text: string, name: string): string | undefined {
  const m = new RegExp(`"${name}"\\s*:\\s*"?(-?\\d{1,24})"?`).exec(text);
  return m?.[1];
}

// callWechatApi: a JSON API call with ?access_token=, one compare-and-refresh and retry when WeChat says the token is stale.
import type { AppContext } from '../../app/context.ts';
import { baseUrlOf, type WechatApp } from './apps.ts';
import { WechatApiError } from './errors.ts';
import { wechatRequest, type WechatAnswer } from './http.ts';
import { TOKEN_INVALID_ERRCODES } from './policy.ts';
import { obtainToken } from './token.ts';

/** Paths are code constants (`/cgi-bin/message/template/send`); nothing from a request ends up here. */
const API_PATH = /^\/[A-Za-z0-9_/.-]{1,200}$/;
/** A refused token is replaced and the call retried this many times (once, as WxJava does). */
export const TOKEN_RETRIES = 1;

export interface WechatApiRequest {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
}

function urlOf(ctx: AppContext, app: WechatApp, req: WechatApiRequest, token: string): string {
  if (!API_PATH.test(req.path) || req.path.includes('..')) throw new Error(`bad WeChat API path ${req.path}`);
  const q = new URLSearchParams({ ...(req.query ?? {}), access_token: token });
  return `${baseUrlOf(ctx, app.kind)}${req.path}?${q}`;
}

/** The raw answer (text included, for integer ids beyond 2^53); callWechatApi is the usual entry. */
export async function callWechatApiRaw(ctx: AppContext, app: WechatApp, req: WechatApiRequest): Promise<WechatAnswer> {
  let held = await obtainToken(ctx, app);
  for (let attempt = 0; ; attempt++) {
    try {
      return await wechatRequest(urlOf(ctx, app, req, held.token), { method: req.method, body: req.body });
    } catch (err) {
      const stale = err instanceof WechatApiError && TOKEN_INVALID_ERRCODES.has(err.errcode);
      if (!stale || attempt >= TOKEN_RETRIES) {
        if (err instanceof WechatApiError) ctx.log.info({ tenantId: app.tenantId, kind: app.kind, path: req.path, errcode: err.errcode }, 'WeChat API call refused');
        throw err;
      }
      ctx.log.info({ tenantId: app.tenantId, kind: app.kind, path: req.path, errcode: (err as WechatApiError).errcode }, 'WeChat refused the access_token; refreshing it once');
      held = await obtainToken(ctx, app, held.generation);
    }
  }
}

/**
 * Calls a JSON API of the platform with ?access_token=…; base URL by kind (OA and mini-program:
 * config.wechat.apiBase, WeCom: config.wechat.wecomBase). On errcode 40001/40014/42001 forces one
 * refresh (only if that token is still the stored one) and retries once; any other non-zero
 * errcode is a WechatApiError; network failures, timeouts and 5xx are WechatApiError -1.
 */
export async function callWechatApi<T>(ctx: AppContext, app: WechatApp, req: WechatApiRequest): Promise<T> {
  return (await callWechatApiRaw(ctx, app, req)).json as T;
}

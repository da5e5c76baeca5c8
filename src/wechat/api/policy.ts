// Pure rules of the outbound WeChat API: when a stored token may be used or must be refreshed, and what each errcode means.
import { AppError } from '../../app/errors.ts';

/** Refresh when less than this is left (WECHAT-VECTORS.md §2.3: both tokens stay valid 5 minutes around a refresh). */
export const TOKEN_REFRESH_AHEAD_MS = 5 * 60_000;
/** A token's lifetime as WeChat states it in seconds; answers outside this range are refused as malformed. */
export const TOKEN_EXPIRES_IN_MIN_S = 60;
export const TOKEN_EXPIRES_IN_MAX_S = 7 * 24 * 3600;

/** "Invalid, not latest", "invalid access_token", "expired": the token is stale, refresh once and retry (WxJava ACCESS_TOKEN_ERROR_CODES). */
export const TOKEN_INVALID_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

export interface StoredToken {
  hasToken: boolean;
  expiresAt: Date | null;
  generation: number;
  /** When the stored token was fetched: the refresh-ahead window is a share of its life. */
  refreshedAt: Date | null;
}

/**
 * `fresh`: use it. `usable`: use it, but a refresh is due (it stays valid while another instance
 * fetches). `unusable`: none, expired, or the very token an API just refused (`staleGeneration`).
 */
export function tokenUse(t: StoredToken, now: Date, staleGeneration?: number): 'fresh' | 'usable' | 'unusable' {
  if (!t.hasToken || !t.expiresAt) return 'unusable';
  if (staleGeneration !== undefined && t.generation === staleGeneration) return 'unusable';
  const leftMs = t.expiresAt.getTime() - now.getTime();
  if (leftMs <= 0) return 'unusable';
  return leftMs > refreshAheadMs(t) ? 'fresh' : 'usable';
}

/** Five minutes, or half the token's life when WeChat granted a short one, so a short token is not refreshed on every call. */
export function refreshAheadMs(t: Pick<StoredToken, 'expiresAt' | 'refreshedAt'>): number {
  if (!t.expiresAt || !t.refreshedAt) return TOKEN_REFRESH_AHEAD_MS;
  const lifeMs = t.expiresAt.getTime() - t.refreshedAt.getTime();
  return Math.max(0, Math.min(TOKEN_REFRESH_AHEAD_MS, Math.floor(lifeMs / 2)));
}

export type ErrcodeClass =
  | 'ok'
  /** The token is stale: refresh and retry (done inside callWechatApi once). */
  | 'token_invalid'
  /** WeChat is busy or a quota is hit: the same call may succeed later. */
  | 'retry_later'
  /** A login, web-auth or phone code is wrong, used or expired: the client must get a new one. */
  | 'invalid_code'
  /** The user cannot receive this now (unsubscribed, outside the 48 h window, other account's openid). */
  | 'user_unreachable'
  /** The user declined, or has no remaining one-time subscription for the template. */
  | 'user_refused'
  /** WeChat's risk control blocked the user. */
  | 'user_blocked'
  /** Our credentials or permissions are wrong: an operator must fix the tenant's configuration. */
  | 'misconfigured'
  /** We sent something WeChat rejects: a bug on our side. */
  | 'bad_request'
  | 'unknown';

const CLASSES: Record<number, ErrcodeClass> = {
  0: 'ok',
  40001: 'token_invalid',
  40014: 'token_invalid',
  42001: 'token_invalid',
  [-1]: 'retry_later',
  45009: 'retry_later',
  45011: 'retry_later',
  45033: 'retry_later',
  40029: 'invalid_code',
  40163: 'invalid_code',
  41008: 'invalid_code',
  40003: 'user_unreachable',
  43004: 'user_unreachable',
  45015: 'user_unreachable',
  45047: 'user_unreachable',
  43101: 'user_refused',
  40226: 'user_blocked',
  40002: 'misconfigured',
  40013: 'misconfigured',
  40125: 'misconfigured',
  40164: 'misconfigured',
  41002: 'misconfigured',
  41004: 'misconfigured',
  48001: 'misconfigured',
  61024: 'misconfigured',
  40008: 'bad_request',
  40037: 'bad_request',
  41001: 'bad_request',
  44002: 'bad_request',
  47001: 'bad_request',
  47003: 'bad_request',
};

export function classifyErrcode(errcode: number): ErrcodeClass {
  return CLASSES[errcode] ?? 'unknown';
}

/** Whether a background job should try the call again later (the token was already refreshed and retried once). */
export function isRetryableErrcode(errcode: number): boolean {
  const c = classifyErrcode(errcode);
  return c === 'retry_later' || c === 'token_invalid' || c === 'unknown';
}

/**
 * The cardholder-facing error for a failed WeChat call (e.g. in POST /api/v1/sessions). The
 * detail never quotes WeChat's errmsg, which names our appid and WeChat's request id.
 */
export function appErrorForErrcode(errcode: number): AppError {
  switch (classifyErrcode(errcode)) {
    case 'invalid_code':
      return new AppError('unauthenticated', 'the WeChat code is invalid, used or expired: get a new one (wx.login) and try again', { errcode });
    case 'user_blocked':
      return new AppError('forbidden', 'WeChat refused this account', { errcode });
    case 'user_unreachable':
    case 'user_refused':
      return new AppError('conflict', 'WeChat cannot deliver to this user now', { errcode });
    case 'bad_request':
      return new AppError('internal', 'WeChat refused a request we built', { errcode });
    default:
      return new AppError('service_paused', 'WeChat is unavailable; try again in a moment', { errcode });
  }
}

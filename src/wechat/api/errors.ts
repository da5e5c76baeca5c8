// WechatApiError: a non-zero errcode from the platform, or -1 when it could not be reached or answered garbage.
import { appErrorForErrcode, classifyErrcode, type ErrcodeClass } from './policy.ts';
import type { AppError } from '../../app/errors.ts';

/** Longest errmsg kept: WeChat's are one line; anything longer is not WeChat talking. */
const ERRMSG_MAX_CHARS = 300;

export class WechatApiError extends Error {
  readonly errcode: number;
  readonly errmsg: string;

  constructor(errcode: number, errmsg: string) {
    const msg = String(errmsg ?? '').slice(0, ERRMSG_MAX_CHARS);
    super(`WeChat errcode ${errcode}: ${msg}`);
    this.name = 'WechatApiError';
    this.errcode = errcode;
    this.errmsg = msg;
  }

  get kind(): ErrcodeClass {
    return classifyErrcode(this.errcode);
  }

  /** The problem a cardholder-facing route answers with (see policy.appErrorForErrcode). */
  toAppError(): AppError {
    return appErrorForErrcode(this.errcode);
  }
}

/** errcode -1: unreachable, timed out, 5xx, or not WeChat's JSON. Retry later. */
export function unavailable(reason: string): WechatApiError {
  return new WechatApiError(-1, reason);
}

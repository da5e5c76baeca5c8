// The platform's own error answers for the sandbox: HTTP 200 with {errcode, errmsg}, codes and texts as api.weixin.qq.com gives them.
import { randomBytes } from 'node:crypto';

/** The codes the sandbox's api.weixin.qq.com endpoints answer with (WECHAT-VECTORS.md §2–§3; global return codes). */
export const WX_ERRORS = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40008: 'invalid message type',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  40029: 'invalid code',
  40037: 'invalid template_id',
  40125: 'invalid appsecret',
  40163: 'code been used',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  41009: 'missing openid',
  42001: 'access_token expired',
  43004: 'require subscribe',
  43101: 'user refuse to accept the msg',
  44002: 'empty post data',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit, mustslower retry next minute',
  45015: 'response out of time limit or subscription is canceled',
  47001: 'data format error',
  47003: 'argument invalid!',
  48001: 'api unauthorized',
} as const;

export type WxErrcode = keyof typeof WX_ERRORS;

/** Thrown by a sandbox platform endpoint; the route answers it as WeChat would. */
export class WxFailure extends Error {
  constructor(
    readonly errcode: WxErrcode,
    readonly detail?: string,
  ) {
    super(detail ? `${WX_ERRORS[errcode]} ${detail}` : WX_ERRORS[errcode]);
    this.name = 'WxFailure';
  }
}

/** WeChat's request id suffix (`rid: 6385c6c1-0fcadca1-22c1fc91`, WECHAT-VECTORS.md §2.4). */
export function rid(): string {
  const h = randomBytes(12).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 16)}-${h.slice(16, 24)}`;
}

export function wxErrorBody(f: WxFailure): { errcode: number; errmsg: string } {
  return { errcode: f.errcode, errmsg: `${f.message} rid: ${rid()}` };
}

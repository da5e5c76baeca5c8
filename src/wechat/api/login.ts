// Who the user is: mini-program jscode2session, OA web-auth code exchange, and the mini-program phone-number API (WECHAT.md §1, §3).
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { appSecretsOf } from './apps.ts';
import { callWechatApi } from './call.ts';
import { unavailable } from './errors.ts';
import { wechatRequest } from './http.ts';
import { OPENID_PATTERN } from './messages.ts';

/** wx.login, web-auth and getPhoneNumber codes are short opaque strings (32 characters today, 64 for phone codes). */
export const CODE_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;
/** session_key is base64 of 16 bytes. */
const SESSION_KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;
const SCOPES = new Set(['snsapi_base', 'snsapi_userinfo']);

function assertCode(code: unknown): asserts code is string {
  if (typeof code !== 'string' || !CODE_PATTERN.test(code)) throw AppError.validation([{ field: 'code', message: 'is not a WeChat code' }]);
}

function optionalUnionid(v: unknown): string | undefined {
  return typeof v === 'string' && OPENID_PATTERN.test(v) ? v : undefined;
}

/**
 * Exchanges a mini-program wx.login code. 40029: invalid or expired code; 40163: already used
 * (both `invalid_code`: the client logs in again). The session key stays on the server.
 */
export async function code2Session(ctx: AppContext, tenantId: string, jsCode: string): Promise<{ openid: string; unionid?: string; sessionKey: string }> {
  assertCode(jsCode);
  const app = await appSecretsOf(ctx, { tenantId, kind: 'miniProgram' });
  const q = new URLSearchParams({ appid: app.appId, secret: app.secret, js_code: jsCode, grant_type: 'authorization_code' });
  const { json } = await wechatRequest(`${app.base}/sns/jscode2session?${q}`, { method: 'GET' });
  if (typeof json.openid !== 'string' || !OPENID_PATTERN.test(json.openid)) throw unavailable('jscode2session answered without an openid');
  if (typeof json.session_key !== 'string' || !SESSION_KEY_PATTERN.test(json.session_key)) throw unavailable('jscode2session answered without a session_key');
  const unionid = optionalUnionid(json.unionid);
  return { openid: json.openid, ...(unionid ? { unionid } : {}), sessionKey: json.session_key };
}

/**
 * Exchanges an OA web-authorisation code (the H5 pages opened from the menu). The user-level
 * access_token it also gives is not kept: wecard needs the openid only. unionid comes with
 * scope snsapi_userinfo.
 */
export async function exchangeOAuthCode(ctx: AppContext, tenantId: string, code: string): Promise<{ openid: string; unionid?: string; scope: string }> {
  assertCode(code);
  const app = await appSecretsOf(ctx, { tenantId, kind: 'oa' });
  const q = new URLSearchParams({ appid: app.appId, secret: app.secret, code, grant_type: 'authorization_code' });
  const { json } = await wechatRequest(`${app.base}/sns/oauth2/access_token?${q}`, { method: 'GET' });
  if (typeof json.openid !== 'string' || !OPENID_PATTERN.test(json.openid)) throw unavailable('oauth2/access_token answered without an openid');
  const scope = typeof json.scope === 'string' && json.scope.split(',').every((s) => SCOPES.has(s)) ? json.scope : 'snsapi_base';
  const unionid = optionalUnionid(json.unionid);
  return { openid: json.openid, ...(unionid ? { unionid } : {}), scope };
}

/** The phone a user chose to share with the getPhoneNumber button (code-based: no session key involved). */
export async function getUserPhoneNumber(ctx: AppContext, tenantId: string, code: string): Promise<{ phoneNumber: string; purePhoneNumber: string; countryCode: string }> {
  assertCode(code);
  const answer = await callWechatApi<{ phone_info?: { phoneNumber?: unknown; purePhoneNumber?: unknown; countryCode?: unknown } }>(
    ctx,
    { tenantId, kind: 'miniProgram' },
    { method: 'POST', path: '/wxa/business/getuserphonenumber', body: { code } },
  );
  const info = answer.phone_info;
  const phoneNumber = info?.phoneNumber;
  const purePhoneNumber = info?.purePhoneNumber;
  // A number in WeChat's example, a string in its field table (WECHAT-VECTORS.md Appendix B): accept both.
  const countryCode = typeof info?.countryCode === 'number' ? String(info.countryCode) : info?.countryCode;
  if (typeof phoneNumber !== 'string' || !/^\+?[0-9]{5,20}$/.test(phoneNumber)) throw unavailable('getuserphonenumber answered without a phone number');
  if (typeof purePhoneNumber !== 'string' || !/^[0-9]{5,20}$/.test(purePhoneNumber)) throw unavailable('getuserphonenumber answered without a pure phone number');
  if (typeof countryCode !== 'string' || !/^[0-9]{1,4}$/.test(countryCode)) throw unavailable('getuserphonenumber answered without a country code');
  return { phoneNumber, purePhoneNumber, countryCode };
}

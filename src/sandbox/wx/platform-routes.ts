// The sandbox's api.weixin.qq.com (under /sandbox/wx) and qyapi gettoken (under /sandbox/wecom): WeChat's wire format and error answers.
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../app/context.ts';
import type { App } from '../../app/server.ts';
import { findSandboxApp, findSandboxCorp, secretMatches, type SandboxApp } from './apps.ts';
import { WxFailure, wxErrorBody } from './errors.ts';
import { sendCustom, sendSubscribe, sendTemplate, type Body, type Caller } from './messages.ts';
import { checkSandboxToken, issueClassicToken, issueStableToken, issueWecomToken } from './tokens.ts';
import { spendCode } from './users.ts';
import { findUserByOpenid as findUserByOpenidRow } from './store.ts';

/** Platform requests are a few hundred bytes; the platform refuses far smaller bodies than this. */
export const PLATFORM_BODY_LIMIT_BYTES = 64 * 1024;
const SNS_TOKEN_LIFETIME_S = 7200;

type Query = Record<string, unknown>;

/** A query parameter as one string; repeated or empty parameters count as missing. */
function param(q: Query, name: string): string | undefined {
  const v = q[name];
  return typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : undefined;
}

function jsonBody(raw: unknown): Body {
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw new WxFailure(44002);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new WxFailure(47001);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new WxFailure(47001);
  return parsed as Body;
}

/** WeChat's envelope: HTTP 200 always; `extra` fields beside errcode 0, or the failure's errcode. A bare-number msgid is spliced in as digits. */
async function answer(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, fn: () => Promise<Body>, envelope: 'wx' | 'wecom' = 'wx'): Promise<FastifyReply> {
  let out: Body;
  try {
    out = await fn();
  } catch (err) {
    if (err instanceof WxFailure) {
      out = envelope === 'wx' ? wxErrorBody(err) : { errcode: err.errcode, errmsg: err.detail ?? err.message };
    } else {
      request.log.error({ err }, 'sandbox WeChat endpoint failed');
      out = { errcode: -1, errmsg: 'system error' };
    }
  }
  const { msgid, ...rest } = out;
  let text = JSON.stringify(rest);
  if (typeof msgid === 'string' && /^\d{1,24}$/.test(msgid)) text = `${text.slice(0, -1)},"msgid":${msgid}}`;
  return reply.code(200).type('application/json; charset=utf-8').send(text);
}

async function appWithSecret(ctx: AppContext, q: { appid?: string; secret?: string }, want?: SandboxApp['kind']): Promise<SandboxApp> {
  if (!q.appid) throw new WxFailure(41002);
  if (!q.secret) throw new WxFailure(41004);
  const app = await findSandboxApp(ctx, q.appid);
  if (!app || (want && app.kind !== want)) throw new WxFailure(40013);
  if (!secretMatches(q.secret, app.secret)) throw new WxFailure(40125);
  return app;
}

/** The app behind `?access_token=`: 41001 missing, 40001 unknown or superseded, 42001 expired, 48001 the other app's API. */
async function callerOf(ctx: AppContext, request: FastifyRequest, kind: 'oa' | 'miniProgram'): Promise<Caller> {
  const token = param(request.query as Query, 'access_token');
  if (!token) throw new WxFailure(41001);
  const s = await checkSandboxToken(ctx, token);
  if (s.status === 'expired') throw new WxFailure(42001);
  if (s.status !== 'valid' || s.kind === 'wecom') throw new WxFailure(40001);
  if (s.kind !== kind) throw new WxFailure(48001);
  return { tenantId: s.tenantId, appId: s.appId };
}

const schema = (summary: string) => ({ schema: { tags: ['sandbox'], summary } });

export function registerPlatformRoutes(scope: App, ctx: AppContext): void {
  scope.get('/sandbox/wx/cgi-bin/token', schema('access_token, classic (sandbox platform): each fetch retires the previous token 5 minutes later'), (request, reply) =>
    answer(ctx, request, reply, async () => {
      const q = request.query as Query;
      if (param(q, 'grant_type') !== 'client_credential') throw new WxFailure(40002);
      const app = await appWithSecret(ctx, { appid: param(q, 'appid'), secret: param(q, 'secret') });
      return { ...(await issueClassicToken(ctx, app)) };
    }),
  );

  scope.post('/sandbox/wx/cgi-bin/stable_token', schema('stable access_token (sandbox platform): the same token until expiry unless force_refresh'), (request, reply) =>
    answer(ctx, request, reply, async () => {
      const body = jsonBody(request.body);
      if (body.grant_type !== 'client_credential') throw new WxFailure(40002);
      if (body.force_refresh !== undefined && typeof body.force_refresh !== 'boolean') throw new WxFailure(47001);
      const str = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : undefined);
      const app = await appWithSecret(ctx, { appid: str(body.appid), secret: str(body.secret) });
      return { ...(await issueStableToken(ctx, app, body.force_refresh === true)) };
    }),
  );

  scope.get('/sandbox/wx/sns/jscode2session', schema('mini-program code2Session (sandbox platform)'), (request, reply) =>
    answer(ctx, request, reply, async () => {
      const q = request.query as Query;
      const app = await appWithSecret(ctx, { appid: param(q, 'appid'), secret: param(q, 'secret') }, 'miniProgram');
      const code = param(q, 'js_code');
      if (!code) throw new WxFailure(41008);
      if (param(q, 'grant_type') !== 'authorization_code') throw new WxFailure(40002);
      const { user } = await spendCode(ctx, { code, kind: 'wx_login', appId: app.appId });
      if (!user.mini_session_key_enc) throw new WxFailure(40029);
      return { session_key: ctx.crypto.decrypt(user.mini_session_key_enc), openid: user.mini_openid, unionid: user.unionid };
    }),
  );

  scope.get('/sandbox/wx/sns/oauth2/access_token', schema('OA web authorisation: code → openid (sandbox platform)'), (request, reply) =>
    answer(ctx, request, reply, async () => {
      const q = request.query as Query;
      const app = await appWithSecret(ctx, { appid: param(q, 'appid'), secret: param(q, 'secret') }, 'oa');
      const code = param(q, 'code');
      if (!code) throw new WxFailure(41008);
      if (param(q, 'grant_type') !== 'authorization_code') throw new WxFailure(40002);
      const { code: row, user } = await spendCode(ctx, { code, kind: 'oauth', appId: app.appId });
      const scopeName = row.scope ?? 'snsapi_base';
      return {
        access_token: randomBytes(72).toString('base64url'),
        expires_in: SNS_TOKEN_LIFETIME_S,
        refresh_token: randomBytes(72).toString('base64url'),
        openid: user.oa_openid,
        scope: scopeName,
        // Only with snsapi_userinfo, as the platform documents.
        ...(scopeName === 'snsapi_userinfo' ? { unionid: user.unionid } : {}),
      };
    }),
  );

  scope.get('/sandbox/wx/cgi-bin/user/info', schema("OA user/info (sandbox platform): a follower's profile with the unionid; only subscribe 0 for others"), (request, reply) =>
    answer(ctx, request, reply, async () => {
      const caller = await callerOf(ctx, request, 'oa');
      const openid = param(request.query as Query, 'openid');
      if (!openid) throw new WxFailure(41009);
      const user = await findUserByOpenidRow(ctx.db, openid);
      // An openid of another app (or another OA) is invalid for this OA, as on the platform.
      if (!user || user.oa_openid !== openid || user.tenant_id !== caller.tenantId) throw new WxFailure(40003);
      if (!user.subscribed) return { subscribe: 0, openid };
      return {
        subscribe: 1,
        openid,
        language: 'zh_CN',
        subscribe_time: Math.floor(user.created_at.getTime() / 1000),
        unionid: user.unionid,
        remark: '',
        groupid: 0,
        tagid_list: [],
        subscribe_scene: 'ADD_SCENE_SEARCH',
        qr_scene: 0,
        qr_scene_str: '',
      };
    }),
  );

  scope.post('/sandbox/wx/cgi-bin/message/template/send', schema('OA template message (sandbox platform)'), (request, reply) =>
    answer(ctx, request, reply, async () => {
      const caller = await callerOf(ctx, request, 'oa');
      return { errcode: 0, errmsg: 'ok', ...(await sendTemplate(ctx, caller, jsonBody(request.body))) };
    }),
  );

  scope.post('/sandbox/wx/cgi-bin/message/subscribe/send', schema('mini-program subscribe message (sandbox platform)'), (request, reply) =>
    answer(ctx, request, reply, async () => {
      const caller = await callerOf(ctx, request, 'miniProgram');
      return { errcode: 0, errmsg: 'ok', ...(await sendSubscribe(ctx, caller, jsonBody(request.body))) };
    }),
  );

  scope.post('/sandbox/wx/cgi-bin/message/custom/send', schema('OA customer-service message (sandbox platform)'), (request, reply) =>
    answer(ctx, request, reply, async () => {
      const caller = await callerOf(ctx, request, 'oa');
      await sendCustom(ctx, caller, jsonBody(request.body));
      return { errcode: 0, errmsg: 'ok' };
    }),
  );

  scope.post('/sandbox/wx/wxa/business/getuserphonenumber', schema('mini-program phone number from a getPhoneNumber code (sandbox platform)'), (request, reply) =>
    answer(ctx, request, reply, async () => {
      const caller = await callerOf(ctx, request, 'miniProgram');
      const body = jsonBody(request.body);
      if (body.code === undefined || body.code === null || body.code === '') throw new WxFailure(41008);
      if (typeof body.code !== 'string' || body.code.length > 128) throw new WxFailure(40029);
      const { user } = await spendCode(ctx, { code: body.code, kind: 'phone', appId: caller.appId });
      if (!user.phone_enc) throw new WxFailure(40029);
      const phone = ctx.crypto.decrypt(user.phone_enc);
      return {
        errcode: 0,
        errmsg: 'ok',
        phone_info: { phoneNumber: phone, purePhoneNumber: phone, countryCode: '86', watermark: { timestamp: Math.floor(ctx.clock.now().getTime() / 1000), appid: caller.appId } },
      };
    }),
  );

  scope.get('/sandbox/wecom/cgi-bin/gettoken', schema('WeCom access_token (sandbox platform): the same token while it is valid'), (request, reply) =>
    answer(
      ctx,
      request,
      reply,
      async () => {
        const q = request.query as Query;
        const corpId = param(q, 'corpid');
        const secret = param(q, 'corpsecret');
        if (!corpId) throw new WxFailure(41002, 'corpid missing');
        if (!secret) throw new WxFailure(41004, 'corpsecret missing');
        const corp = await findSandboxCorp(ctx, corpId);
        if (!corp) throw new WxFailure(40013, 'invalid corpid');
        if (!secretMatches(secret, corp.secret)) throw new WxFailure(40001, 'invalid secret');
        return { errcode: 0, errmsg: 'ok', ...(await issueWecomToken(ctx, corp)) };
      },
      'wecom',
    ),
  );
}

// Sandbox WeChat HTTP: users and their codes, inboxes and outbox under /sandbox/api, plus the platform endpoints and the authorize page.
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import type { ModulePlugin } from '../../app/server.ts';
import { AppError } from '../../app/errors.ts';
import { TENANT_ID_PATTERN } from '../../tenants/index.ts';
import { encryptUserData } from '../../wechat/api/user-data.ts';
import { tenantAppIds } from './apps.ts';
import { registerAuthorizePage } from './authorize.ts';
import { inboxCustom, inboxTemplates } from './messages.ts';
import { PLATFORM_BODY_LIMIT_BYTES, registerPlatformRoutes } from './platform-routes.ts';
import { sandboxSmsFor } from './sms.ts';
import { addGrants, SUBSCRIBE_GRANTS_MAX } from './store.ts';
import { listTokenFetches, revokeSandboxTokens, TOKEN_LIST_MAX } from './tokens.ts';
import { createSandboxUser, issueLoginCode, issuePhoneCode, requireUserRecord, setSandboxSubscribed, toSandboxUser } from './users.ts';
import { inTx } from '../../db/tx.ts';

/** Most rows a sandbox list answers. */
export const SANDBOX_LIST_MAX = 100;
const SANDBOX_LIST_DEFAULT = 50;

const Openid = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
const OpenidParams = Type.Object({ openid: Openid });
const AppId = Type.String({ pattern: '^(wx|ww)[0-9a-f]{16}$', description: 'an appid, or a WeCom corpid' });
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: SANDBOX_LIST_MAX, default: SANDBOX_LIST_DEFAULT }));
const Phone = Type.String({ minLength: 11, maxLength: 20, description: 'a mainland mobile number' });
const TemplateId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' });
const Time = Type.String({ format: 'date-time' });
const NullableTime = Type.Union([Time, Type.Null()]);
const Data = Type.Record(Type.String(), Type.Object({ value: Type.String() }));

const UserAnswer = Type.Object({
  tenantId: Type.String(),
  openid: Type.String({ description: "the user's openid in the tenant's Official Account" }),
  unionid: Type.String(),
  miniProgramOpenid: Type.String({ description: "the same person's openid in the tenant's mini-program" }),
  subscribed: Type.Boolean(),
  maskedPhone: Type.Union([Type.String(), Type.Null()]),
});

const TemplateInboxItem = Type.Object({
  openid: Type.String(),
  templateId: Type.String(),
  data: Data,
  url: Type.Optional(Type.String()),
  miniprogram: Type.Optional(Type.Object({ appid: Type.String(), pagepath: Type.Optional(Type.String()) })),
  page: Type.Optional(Type.String()),
  msgid: Type.String(),
  sentAt: Time,
});

const iso = (d: Date) => d.toISOString();

/**
 * The sandbox WeChat platform: `/sandbox/api/…` for tests and the simulated phone (problem+json
 * on bad input), `/sandbox/wx/…` and `/sandbox/wecom/cgi-bin/gettoken` as the platform answers
 * ({errcode, errmsg} with HTTP 200), `/sandbox/open/…` the authorize page. Registers nothing
 * unless the sandbox is on.
 */
export const sandboxWxRoutes: ModulePlugin = async (app, ctx) => {
  if (!ctx.config.sandbox) return;

  // The platform's endpoints read raw bodies, so malformed JSON is answered as WeChat answers it (47001).
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PLATFORM_BODY_LIMIT_BYTES }, (_req, body, done) => done(null, body));
    registerPlatformRoutes(scope as unknown as typeof app, ctx);
  });

  registerAuthorizePage(app, ctx);

  app.post(
    '/sandbox/api/users',
    {
      schema: {
        tags: ['sandbox'],
        summary: "Create a simulated WeChat user of a tenant: an openid per app (OA, mini-program), one unionid",
        body: Type.Object({ tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, minLength: 2, maxLength: 40 }), phone: Type.Optional(Phone) }, { additionalProperties: false }),
        response: { 201: Type.Object({ openid: Type.String(), unionid: Type.String(), miniProgramOpenid: Type.String() }) },
      },
    },
    async (request, reply) => {
      const user = await createSandboxUser(ctx, request.body as { tenantId: string; phone?: string });
      return reply.code(201).send({ openid: user.oaOpenid, unionid: user.unionid, miniProgramOpenid: user.miniOpenid });
    },
  );

  app.get(
    '/sandbox/api/users/:openid',
    { schema: { tags: ['sandbox'], summary: 'A simulated user, by either openid', params: OpenidParams, response: { 200: UserAnswer } } },
    async (request) => {
      const u = await requireUserRecord(ctx, (request.params as { openid: string }).openid);
      const s = toSandboxUser(u);
      return { tenantId: s.tenantId, openid: s.oaOpenid, unionid: s.unionid, miniProgramOpenid: s.miniOpenid, subscribed: u.subscribed, maskedPhone: u.phone_masked };
    },
  );

  app.post(
    '/sandbox/api/users/:openid/login-code',
    {
      schema: {
        tags: ['sandbox'],
        summary: "A code as wx.login (the tenant's mini-program appId) or OA web auth (its OA appId) gives; single use, 5 minutes",
        params: OpenidParams,
        body: Type.Object({ appId: AppId, scope: Type.Optional(Type.Union([Type.Literal('snsapi_base'), Type.Literal('snsapi_userinfo')])) }, { additionalProperties: false }),
        response: { 200: Type.Object({ code: Type.String() }) },
      },
    },
    async (request) => {
      const body = request.body as { appId: string; scope?: 'snsapi_base' | 'snsapi_userinfo' };
      const { code } = await issueLoginCode(ctx, (request.params as { openid: string }).openid, body.appId, body.scope);
      return { code };
    },
  );

  app.post(
    '/sandbox/api/users/:openid/phone-code',
    {
      schema: {
        tags: ['sandbox'],
        summary: "A code as the mini-program's getPhoneNumber button gives (for /wxa/business/getuserphonenumber); `phone` sets the user's WeChat phone",
        params: OpenidParams,
        body: Type.Optional(Type.Object({ phone: Type.Optional(Phone) }, { additionalProperties: false })),
        response: { 200: Type.Object({ code: Type.String() }) },
      },
    },
    async (request) => issuePhoneCode(ctx, (request.params as { openid: string }).openid, (request.body as { phone?: string } | undefined)?.phone),
  );

  app.post(
    '/sandbox/api/users/:openid/encrypted-data',
    {
      schema: {
        tags: ['sandbox'],
        summary: "encryptedData + iv as the mini-program gives its client (user info or phone), under the user's current session key",
        params: OpenidParams,
        body: Type.Object({ kind: Type.Union([Type.Literal('userInfo'), Type.Literal('phone')]) }, { additionalProperties: false }),
        response: { 200: Type.Object({ encryptedData: Type.String(), iv: Type.String() }) },
      },
    },
    async (request) => {
      const u = await requireUserRecord(ctx, (request.params as { openid: string }).openid);
      const appid = (await tenantAppIds(ctx, u.tenant_id)).miniProgram;
      if (!appid || !u.mini_session_key_enc) throw new AppError('conflict', 'the user has no mini-program session: get a wx.login code and exchange it first');
      const watermark = { timestamp: Math.floor(ctx.clock.now().getTime() / 1000), appid };
      let payload: Record<string, unknown>;
      if ((request.body as { kind: string }).kind === 'phone') {
        if (!u.phone_enc) throw new AppError('conflict', 'the user has no phone in WeChat');
        const phone = ctx.crypto.decrypt(u.phone_enc);
        payload = { phoneNumber: phone, purePhoneNumber: phone, countryCode: '86', watermark };
      } else {
        payload = { openId: u.mini_openid, nickName: '微信用户', gender: 0, language: 'zh_CN', city: '', province: '', country: '', avatarUrl: '', unionId: u.unionid, watermark };
      }
      const iv = randomBytes(16);
      return { encryptedData: encryptUserData(ctx.crypto.decrypt(u.mini_session_key_enc), iv, payload), iv: iv.toString('base64') };
    },
  );

  app.post(
    '/sandbox/api/users/:openid/subscribe-grants',
    {
      schema: {
        tags: ['sandbox'],
        summary: 'The user accepts a mini-program subscribe message template (wx.requestSubscribeMessage): each acceptance allows one send',
        params: OpenidParams,
        body: Type.Object({ templateId: TemplateId, count: Type.Optional(Type.Integer({ minimum: 1, maximum: SUBSCRIBE_GRANTS_MAX, default: 1 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ templateId: Type.String(), remaining: Type.Integer() }) },
      },
    },
    async (request) => {
      const u = await requireUserRecord(ctx, (request.params as { openid: string }).openid);
      const body = request.body as { templateId: string; count: number };
      const remaining = await inTx(ctx.db, (tx) => addGrants(tx, { unionid: u.unionid, templateId: body.templateId, count: body.count, now: ctx.clock.now() }));
      return { templateId: body.templateId, remaining };
    },
  );

  app.post(
    '/sandbox/api/users/:openid/subscription',
    {
      schema: {
        tags: ['sandbox'],
        summary: 'The user follows or unfollows the Official Account (template and customer-service messages need a follower: 43004)',
        params: OpenidParams,
        body: Type.Object({ subscribed: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: Type.Object({ subscribed: Type.Boolean() }) },
      },
    },
    async (request) => {
      const { subscribed } = request.body as { subscribed: boolean };
      await setSandboxSubscribed(ctx, (request.params as { openid: string }).openid, subscribed);
      return { subscribed };
    },
  );

  app.get(
    '/sandbox/api/sms',
    {
      schema: {
        tags: ['sandbox'],
        summary: 'SMS outbox for a phone, newest first (`code` is the OTP it carried, if any)',
        querystring: Type.Object({ phone: Phone, limit: Limit }),
        response: { 200: Type.Array(Type.Object({ phone: Type.String(), text: Type.String(), code: Type.Union([Type.String(), Type.Null()]), sentAt: Time })) },
      },
    },
    async (request) => {
      const q = request.query as { phone: string; limit: number };
      return (await sandboxSmsFor(ctx, q.phone, q.limit)).map((s) => ({ ...s, sentAt: iso(s.sentAt) }));
    },
  );

  const inboxQuery = Type.Object({ openid: Openid, limit: Limit });

  app.get(
    '/sandbox/api/template-messages',
    { schema: { tags: ['sandbox'], summary: 'OA template messages the server sent to this openid, newest first', querystring: inboxQuery, response: { 200: Type.Array(TemplateInboxItem) } } },
    async (request) => {
      const q = request.query as { openid: string; limit: number };
      return (await inboxTemplates(ctx, 'template', q.openid, q.limit)).map((m) => ({ ...m, sentAt: iso(m.sentAt) }));
    },
  );

  app.get(
    '/sandbox/api/subscribe-messages',
    { schema: { tags: ['sandbox'], summary: 'Mini-program subscribe messages the server sent to this (mini-program) openid, newest first', querystring: inboxQuery, response: { 200: Type.Array(TemplateInboxItem) } } },
    async (request) => {
      const q = request.query as { openid: string; limit: number };
      return (await inboxTemplates(ctx, 'subscribe', q.openid, q.limit)).map((m) => ({ ...m, sentAt: iso(m.sentAt) }));
    },
  );

  app.get(
    '/sandbox/api/custom-messages',
    {
      schema: {
        tags: ['sandbox'],
        summary: 'OA customer-service messages the server sent to this openid, newest first',
        querystring: inboxQuery,
        response: { 200: Type.Array(Type.Object({ openid: Type.String(), msgtype: Type.String(), content: Type.String(), sentAt: Time })) },
      },
    },
    async (request) => {
      const q = request.query as { openid: string; limit: number };
      return (await inboxCustom(ctx, q.openid, q.limit)).map((m) => ({ ...m, sentAt: iso(m.sentAt) }));
    },
  );

  app.get(
    '/sandbox/api/tokens',
    {
      schema: {
        tags: ['sandbox'],
        summary: "The token endpoints' record for an app: how many fetches, which tokens (no values), newest first",
        querystring: Type.Object({ appId: AppId, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: TOKEN_LIST_MAX, default: TOKEN_LIST_MAX })) }),
        response: {
          200: Type.Object({
            appId: Type.String(),
            fetches: Type.Integer(),
            tokens: Type.Array(
              Type.Object({
                endpoint: Type.String(),
                forced: Type.Boolean(),
                issuedAt: Time,
                expiresAt: Time,
                invalidAfter: NullableTime,
                fetchCount: Type.Integer(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const q = request.query as { appId: string; limit: number };
      const r = await listTokenFetches(ctx, q.appId, q.limit);
      return { ...r, tokens: r.tokens.map((t) => ({ ...t, issuedAt: iso(t.issuedAt), expiresAt: iso(t.expiresAt), invalidAfter: t.invalidAfter ? iso(t.invalidAfter) : null })) };
    },
  );

  app.post(
    '/sandbox/api/tokens/revoke',
    {
      schema: {
        tags: ['sandbox'],
        summary: "Fault switch: every working access_token of the app stops working now (as another server's refresh or WeCom's early revocation would)",
        body: Type.Object({ appId: AppId }, { additionalProperties: false }),
        response: { 200: Type.Object({ revoked: Type.Integer() }) },
      },
    },
    async (request) => ({ revoked: await revokeSandboxTokens(ctx, (request.body as { appId: string }).appId) }),
  );
};

// Sandbox routes of the OA chat: a simulated user's text or menu click pushed to the server, and the demo menu.
import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import type { ModulePlugin } from '../../app/server.ts';
import { AppError } from '../../app/errors.ts';
import { getCredentials, TENANT_ID_PATTERN, type OaCredentials } from '../../tenants/index.ts';
import { MAX_TEXT_CHARS } from '../../wechat/oa/index.ts';
import { findSandboxUser, noteSandboxInteraction } from '../wx/index.ts';
import { DEMO_OA_MENU } from './menu.ts';
import { newMsgId, pushOaMessage, type PushFields } from './push.ts';
import type { AppContext } from '../../app/context.ts';

const TenantId = Type.String({ pattern: TENANT_ID_PATTERN.source, minLength: 2, maxLength: 40 });

const MenuButton = Type.Object({
  type: Type.Optional(Type.String()),
  name: Type.String(),
  key: Type.Optional(Type.String()),
  url: Type.Optional(Type.String()),
  sub_button: Type.Optional(Type.Array(Type.Object({ type: Type.Optional(Type.String()), name: Type.String(), key: Type.Optional(Type.String()), url: Type.Optional(Type.String()) }))),
});

const MessageBody = Type.Union([
  Type.Object({ tenantId: TenantId, text: Type.String({ minLength: 1, maxLength: MAX_TEXT_CHARS }) }, { additionalProperties: false }),
  // WeChat allows menu keys of up to 128 bytes.
  Type.Object({ tenantId: TenantId, menuKey: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,128}$' }) }, { additionalProperties: false }),
]);

const PushAnswer = Type.Object({
  reply: Type.Union([Type.String(), Type.Null()], { description: 'the reply as text (news as text); null when the server answered `success` — a later answer arrives as a customer-service message' }),
  attempts: Type.Integer({ description: 'requests WeChat made (retries after 5-second timeouts)' }),
  failure: Type.Optional(Type.String({ description: 'what the WeChat client would show instead of a reply' })),
});

async function oaOf(ctx: AppContext, tenantId: string): Promise<OaCredentials> {
  const oa = (await getCredentials(ctx.db, ctx.crypto, tenantId))?.oa;
  if (!oa) throw new AppError('not_found', `tenant ${tenantId} has no Official Account`);
  return oa;
}

/** The account's original id; a tenant configured without one gets a stable stand-in. */
function accountIdOf(oa: OaCredentials): string {
  return oa.originalId ?? `gh_${createHash('sha1').update(oa.appId).digest('hex').slice(0, 12)}`;
}

/** `POST /sandbox/api/users/{openid}/oa-messages` and `GET /sandbox/api/tenants/{tenantId}/oa-menu` (sandbox only). */
export const sandboxOaRoutes: ModulePlugin = (app, ctx) => {
  if (!ctx.config.sandbox) return;

  app.post(
    '/sandbox/api/users/:openid/oa-messages',
    {
      schema: {
        tags: ['sandbox'],
        summary: "A simulated user sends text or clicks a menu item in the tenant's Official Account; the sandbox pushes it to the server as WeChat does",
        params: Type.Object({ openid: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }),
        body: MessageBody,
        response: { 200: PushAnswer },
      },
    },
    async (req) => {
      const { openid } = req.params as { openid: string };
      const body = req.body as { tenantId: string; text?: string; menuKey?: string };
      const user = await findSandboxUser(ctx, openid);
      if (!user || user.tenantId !== body.tenantId) throw new AppError('not_found', `no sandbox user ${openid} in tenant ${body.tenantId}`);
      const oa = await oaOf(ctx, body.tenantId);
      // As on WeChat, talking to the account opens the 48-hour customer-service window.
      await noteSandboxInteraction(ctx, user.oaOpenid);
      const createTime = Math.floor(ctx.clock.now().getTime() / 1000);
      const head = { ToUserName: accountIdOf(oa), FromUserName: user.oaOpenid, CreateTime: createTime };
      const fields: PushFields =
        body.text !== undefined
          ? { ...head, MsgType: 'text', Content: body.text, MsgId: newMsgId() }
          : { ...head, MsgType: 'event', Event: 'CLICK', EventKey: body.menuKey! };
      return pushOaMessage(ctx, { tenantId: body.tenantId, oa, fields });
    },
  );

  app.get(
    '/sandbox/api/tenants/:tenantId/oa-menu',
    {
      schema: {
        tags: ['sandbox'],
        summary: "The tenant's Official Account menu as the phone draws it (WeChat's custom-menu JSON)",
        params: Type.Object({ tenantId: TenantId }),
        response: { 200: Type.Object({ button: Type.Array(MenuButton) }) },
      },
    },
    async (req) => {
      await oaOf(ctx, (req.params as { tenantId: string }).tenantId);
      return DEMO_OA_MENU;
    },
  );
};

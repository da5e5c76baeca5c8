// Sandbox WeCom HTTP: the qyapi customer-contact endpoints under /sandbox/wecom, the QR page, and /sandbox/api/wecom for tests and the phone.
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../app/context.ts';
import type { ModulePlugin } from '../../app/server.ts';
import { getTenant, TENANT_ID_PATTERN } from '../../tenants/index.ts';
import { checkSandboxToken } from '../wx/index.ts';
import { findSandboxAgent, SANDBOX_WECOM_AGENTS } from './agents.ts';
import { DELIVER_EVENT_TOPIC, DELIVERY_RETRIES, DELIVERY_RETRY_DELAY_MS, deliverEventJob } from './deliver.ts';
import { WecomFailure } from './errors.ts';
import * as platform from './platform.ts';
import { renderGonePage, renderQrPage } from './qr-page.ts';
import { scanContactWay, SCAN_REPEAT_MAX } from './scan.ts';
import { findContactWay, listContactWays, listExternalContacts, welcomeMessagesOf } from './store.ts';

/** A customer-contact request is a few hundred bytes; WeCom's own limit is far above what we accept. */
export const PLATFORM_BODY_LIMIT_BYTES = 64 * 1024;
/** Most rows a sandbox list answers. */
export const SANDBOX_LIST_MAX = 100;

type Endpoint = (ctx: AppContext, tenantId: string, body: platform.Body) => Promise<platform.Body>;
const ENDPOINTS: Record<string, Endpoint> = {
  add_contact_way: platform.addContactWay,
  get_contact_way: platform.getContactWay,
  del_contact_way: platform.deleteContactWay,
  remark: platform.remark,
  send_welcome_msg: platform.sendWelcomeMessage,
};

function jsonBody(raw: unknown): platform.Body {
  if (!Buffer.isBuffer(raw) || raw.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new WecomFailure(40058, 'wrong json format');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new WecomFailure(40058, 'wrong json format');
  return parsed as platform.Body;
}

/** WeCom's envelope: HTTP 200 always, `errcode` 0 with `errmsg: "ok"` or the failure's code. */
async function answerAsWecom(ctx: AppContext, request: FastifyRequest, endpoint: Endpoint): Promise<platform.Body> {
  try {
    const token = (request.query as Record<string, unknown>).access_token;
    if (typeof token !== 'string' || token.length === 0) throw new WecomFailure(41001);
    const app = await checkSandboxToken(ctx, token);
    if (app.status === 'expired') throw new WecomFailure(42001);
    // A valid Official Account or mini-program token is no WeCom token.
    if (app.status !== 'valid' || app.kind !== 'wecom') throw new WecomFailure(40014);
    return { errcode: 0, errmsg: 'ok', ...(await endpoint(ctx, app.tenantId, jsonBody(request.body))) };
  } catch (err) {
    if (err instanceof WecomFailure) return { errcode: err.errcode, errmsg: err.message };
    request.log.error({ err }, 'sandbox WeCom endpoint failed');
    return { errcode: -1, errmsg: 'system busy' };
  }
}

const TenantQuery = Type.Object({
  tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SANDBOX_LIST_MAX, default: 50 })),
});
const ConfigParams = Type.Object({ configId: Type.String({ pattern: '^[0-9a-f]{32}$' }) });
const Delivery = Type.Object({ delivered: Type.Boolean(), status: Type.Union([Type.Integer(), Type.Null()]) });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/**
 * The sandbox WeCom platform. Registers nothing unless the sandbox is on (the lead mounts it with
 * the sandbox in src/app/modules.ts).
 */
export const sandboxWecomRoutes: ModulePlugin = async (app, ctx) => {
  if (!ctx.config.sandbox) return;
  ctx.jobs.register(DELIVER_EVENT_TOPIC, deliverEventJob, { maxAttempts: DELIVERY_RETRIES, retryDelayMs: () => DELIVERY_RETRY_DELAY_MS });

  // qyapi.weixin.qq.com: raw bodies, so even malformed JSON is answered as WeCom answers it.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PLATFORM_BODY_LIMIT_BYTES }, (_req, body, done) => done(null, body));
    for (const [name, endpoint] of Object.entries(ENDPOINTS)) {
      scope.post(
        `/sandbox/wecom/cgi-bin/externalcontact/${name}`,
        { bodyLimit: PLATFORM_BODY_LIMIT_BYTES, schema: { tags: ['sandbox'], summary: `WeCom externalcontact/${name} (sandbox platform)` } },
        async (request) => answerAsWecom(ctx, request, endpoint),
      );
    }
  });

  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();

    scope.get(
      '/sandbox/wecom/qr/:configId',
      { schema: { tags: ['sandbox'], summary: "A contact way's QR page: the member and a button that scans it as a simulated customer", params: ConfigParams } },
      async (request, reply) => {
        const way = await findContactWay(ctx.db, request.params.configId);
        const agent = way ? findSandboxAgent(way.user_ids[0] ?? '') : undefined;
        if (!way || !agent || way.deleted_at) return reply.code(way ? 410 : 404).type('text/html; charset=utf-8').send(renderGonePage());
        const tenant = await getTenant(ctx.db, way.tenant_id);
        const nonce = randomBytes(16).toString('base64');
        reply.header('content-security-policy', `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'`);
        return reply.type('text/html; charset=utf-8').send(
          renderQrPage({
            configId: way.config_id,
            agent,
            tenantName: tenant?.name ?? '',
            // Relative, so the page works behind any public URL prefix.
            scanPath: `../../api/wecom/contact-ways/${way.config_id}/scan`,
            nonce,
          }),
        );
      },
    );

    scope.post(
      '/sandbox/api/wecom/contact-ways/:configId/scan',
      {
        schema: {
          tags: ['sandbox'],
          summary: 'A simulated WeChat user scans the QR code: becomes an external contact; the signed, encrypted add_external_contact event goes to the server',
          params: ConfigParams,
          body: Type.Optional(
            Type.Object(
              {
                externalUserName: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
                repeat: Type.Optional(Type.Integer({ minimum: 1, maximum: SCAN_REPEAT_MAX, description: 'fault switch: send this many copies of the event at once' })),
              },
              { additionalProperties: false },
            ),
          ),
          response: {
            200: Type.Object({ externalUserId: Type.String(), userId: Type.String(), state: Nullable(Type.String()), delivery: Delivery }),
          },
        },
      },
      async (request) => scanContactWay(ctx, request.params.configId, request.body ?? {}),
    );

    scope.get(
      '/sandbox/api/wecom/contacts',
      {
        schema: {
          tags: ['sandbox'],
          summary: "The tenant's simulated external contacts, newest first, with the remark, description and welcome messages the server set",
          querystring: TenantQuery,
          response: {
            200: Type.Object({
              items: Type.Array(
                Type.Object({
                  externalUserId: Type.String(),
                  name: Type.String(),
                  userId: Type.String(),
                  configId: Nullable(Type.String()),
                  state: Nullable(Type.String()),
                  addedAt: Type.String({ format: 'date-time' }),
                  remark: Nullable(Type.String()),
                  description: Nullable(Type.String()),
                  welcomeMessages: Type.Array(Type.Object({ content: Type.String(), sentAt: Type.String({ format: 'date-time' }) })),
                }),
              ),
            }),
          },
        },
      },
      async (request) => {
        const contacts = await listExternalContacts(ctx.db, request.query.tenantId, request.query.limit ?? 50);
        const welcomes = await welcomeMessagesOf(ctx.db, contacts.map((c) => c.external_user_id));
        return {
          items: contacts.map((c) => ({
            externalUserId: c.external_user_id,
            name: c.name,
            userId: c.user_id,
            configId: c.config_id,
            state: c.state,
            addedAt: c.added_at.toISOString(),
            remark: c.remark,
            description: c.description,
            welcomeMessages: welcomes
              .filter((w) => w.external_user_id === c.external_user_id)
              .map((w) => ({ content: w.content ?? '', sentAt: w.used_at!.toISOString() })),
          })),
        };
      },
    );

    scope.get(
      '/sandbox/api/wecom/contact-ways',
      {
        schema: {
          tags: ['sandbox'],
          summary: "The tenant's contact ways as the platform holds them, newest first",
          querystring: TenantQuery,
          response: {
            200: Type.Object({
              items: Type.Array(
                Type.Object({
                  configId: Type.String(),
                  userIds: Type.Array(Type.String()),
                  state: Nullable(Type.String()),
                  remark: Nullable(Type.String()),
                  qrCode: Nullable(Type.String()),
                  createdAt: Type.String({ format: 'date-time' }),
                  deleted: Type.Boolean(),
                }),
              ),
            }),
          },
        },
      },
      async (request) => {
        const ways = await listContactWays(ctx.db, request.query.tenantId, request.query.limit ?? 50);
        return {
          items: ways.map((w) => ({
            configId: w.config_id,
            userIds: w.user_ids,
            state: w.state,
            remark: w.remark,
            qrCode: w.scene === 2 ? platform.qrCodeUrl(ctx, w.config_id) : null,
            createdAt: w.created_at.toISOString(),
            deleted: w.deleted_at !== null,
          })),
        };
      },
    );

    scope.get(
      '/sandbox/api/wecom/agents',
      {
        schema: {
          tags: ['sandbox'],
          summary: "The sandbox corp's customer-service members (the same userids in every tenant)",
          response: { 200: Type.Object({ items: Type.Array(Type.Object({ userId: Type.String(), name: Type.String(), title: Type.String() })) }) },
        },
      },
      async () => ({ items: SANDBOX_WECOM_AGENTS.map((a) => ({ ...a })) }),
    );
  });
};

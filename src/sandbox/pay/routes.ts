// Sandbox Pay HTTP: the platform under /sandbox/pay, and /sandbox/api/pay for the simulated cashier, notifications, fault switches and key rotation.
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../../app/errors.ts';
import type { ModulePlugin } from '../../app/server.ts';
import { requireTenant, TENANT_ID_PATTERN } from '../../tenants/index.ts';
import { attemptDelivery, DELIVER_NOTIFICATION_TOPIC, DELIVERY_JOB_OPTIONS, deliverNotificationJob } from './deliver.ts';
import { FaultsSchema, getFaults, setFaults } from './faults.ts';
import { MerchantDirectory, rotatePlatformKey } from './merchants.ts';
import { payOrder } from './orders.ts';
import { registerPlatformRoutes } from './platform-routes.ts';
import { SETTLE_REFUND_TOPIC, settleRefundJob } from './refunds.ts';
import { deliveriesOf, findNotification, notificationsOf, orderByPrepayId } from './store.ts';
import { effectiveState } from './views.ts';

/** Most rows a sandbox list answers. */
export const SANDBOX_LIST_MAX = 100;
/** Delivery attempts listed per answer (15 retries × copies fit). */
const DELIVERIES_LIST_MAX = 1_000;

const PrepayParams = Type.Object({ prepayId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });
const TenantParams = Type.Object({ tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 }) });
const NotificationParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const Outcome = Type.Object({ delivered: Type.Boolean(), status: Type.Union([Type.Integer(), Type.Null()]) });
const OrderView = Type.Object({
  prepayId: Type.String(),
  appid: Type.String(),
  mchid: Type.String(),
  outTradeNo: Type.String(),
  description: Type.String(),
  amount: Type.Object({ total: Type.Integer(), currency: Type.String() }),
  payer: Type.Object({ openid: Type.String() }),
  state: Type.String(),
});

/**
 * The sandbox WeChat Pay platform. Registers nothing unless the sandbox is on (the lead mounts it
 * with the sandbox in src/app/modules.ts).
 */
export const sandboxPayRoutes: ModulePlugin = async (app, ctx) => {
  if (!ctx.config.sandbox) return;
  ctx.jobs.register(DELIVER_NOTIFICATION_TOPIC, deliverNotificationJob, DELIVERY_JOB_OPTIONS);
  ctx.jobs.register(SETTLE_REFUND_TOPIC, settleRefundJob, { maxAttempts: 5 });
  await registerPlatformRoutes(app, ctx, new MerchantDirectory(ctx));

  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();

    scope.get(
      '/sandbox/api/pay/orders/:prepayId',
      { schema: { tags: ['sandbox'], summary: 'The order as the platform holds it', params: PrepayParams, response: { 200: OrderView } } },
      async (request) => {
        const o = await orderByPrepayId(ctx.db, request.params.prepayId);
        if (!o) throw new AppError('not_found', 'no such prepay_id');
        return {
          prepayId: o.prepay_id,
          appid: o.appid,
          mchid: o.mchid,
          outTradeNo: o.out_trade_no,
          description: o.description,
          amount: { total: Number(o.amount_total), currency: o.currency },
          payer: { openid: o.payer_openid },
          state: effectiveState(o, ctx.clock.now()),
        };
      },
    );

    scope.post(
      '/sandbox/api/pay/orders/:prepayId/pay',
      {
        schema: {
          tags: ['sandbox'],
          summary: 'The user pays at the simulated cashier; the signed, encrypted TRANSACTION.SUCCESS notification goes to notify_url (retried as WeChat does)',
          params: PrepayParams,
          body: Type.Optional(Type.Object({ bankType: Type.Optional(Type.String({ pattern: '^[A-Z_]{2,32}$' })) }, { additionalProperties: false })),
          response: { 200: Type.Object({ prepayId: Type.String(), state: Type.String(), transactionId: Type.String(), notificationId: Type.String(), notification: Outcome }) },
        },
      },
      async (request) => {
        const paid = await payOrder(ctx, request.params.prepayId, { bankType: request.body?.bankType });
        return { prepayId: paid.order.prepay_id, state: paid.order.state, transactionId: paid.order.transaction_id!, notificationId: paid.notificationId, notification: paid.notification };
      },
    );

    scope.get(
      '/sandbox/api/pay/notifications',
      {
        schema: {
          tags: ['sandbox'],
          summary: "Notifications the platform sent a tenant, newest first, with every delivery attempt",
          querystring: Type.Object({
            tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 }),
            subject: Type.Optional(Type.String({ maxLength: 64, description: 'out_trade_no or out_refund_no' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SANDBOX_LIST_MAX, default: 20 })),
          }),
        },
      },
      async (request) => {
        const rows = await notificationsOf(ctx.db, request.query.tenantId, request.query.subject, request.query.limit ?? 20);
        const attempts = await deliveriesOf(ctx.db, rows.map((r) => r.id), DELIVERIES_LIST_MAX);
        return {
          items: rows.map((r) => ({
            id: r.id,
            kind: r.kind,
            eventType: r.event_type,
            subject: r.subject,
            notifyUrl: r.notify_url,
            createdAt: r.created_at.toISOString(),
            deliveredAt: r.delivered_at?.toISOString() ?? null,
            attempts: attempts.filter((a) => a.notification_id === r.id).map((a) => ({ at: a.attempted_at.toISOString(), status: a.status, duplicate: a.duplicate, error: a.error })),
          })),
        };
      },
    );

    scope.post(
      '/sandbox/api/pay/notifications/:id/resend',
      { schema: { tags: ['sandbox'], summary: 'Sends a notification once more (same envelope, fresh signature), delivered or not', params: NotificationParams, response: { 200: Outcome } } },
      async (request) => {
        if (!(await findNotification(ctx.db, request.params.id))) throw new AppError('not_found', 'no such notification');
        return attemptDelivery(ctx, request.params.id, { force: true });
      },
    );

    scope.get(
      '/sandbox/api/pay/tenants/:tenantId/faults',
      { schema: { tags: ['sandbox'], summary: "The tenant's Pay fault switches", params: TenantParams } },
      async (request) => {
        await requireTenant(ctx.db, request.params.tenantId);
        return getFaults(ctx, request.params.tenantId);
      },
    );

    scope.put(
      '/sandbox/api/pay/tenants/:tenantId/faults',
      { schema: { tags: ['sandbox'], summary: "Sets the tenant's Pay fault switches (those given; the rest stay)", params: TenantParams, body: FaultsSchema } },
      async (request) => {
        await requireTenant(ctx.db, request.params.tenantId);
        return setFaults(ctx, request.params.tenantId, request.body);
      },
    );

    scope.post(
      '/sandbox/api/pay/tenants/:tenantId/platform-keys',
      {
        schema: {
          tags: ['sandbox'],
          summary: "Rotates the tenant's platform key: a new PUB_KEY_ID_… signs from now on; answers its public key",
          params: TenantParams,
          response: { 200: Type.Object({ serialNo: Type.String(), publicKeyPem: Type.String() }) },
        },
      },
      async (request) => rotatePlatformKey(ctx, request.params.tenantId),
    );
  });
};

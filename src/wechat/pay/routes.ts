// HTTP face of WeChat Pay notifications: `POST /wechat/pay/{tenantId}/notify` and `/refund-notify` (API.md), raw bytes in, WeChat's answer format out.
import { Type } from 'typebox';
import type { FastifyError, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import type { ModulePlugin } from '../../app/server.ts';
import type { Tx } from '../../db/tx.ts';
import { TENANT_ID_PATTERN } from '../../tenants/index.ts';
import { PRUNE_NOTIFICATIONS_TOPIC, pruneNotificationsJob } from './jobs.ts';
import { receiveNotification, type NotificationHandlers, type RefundNotification, type TransactionNotification } from './notify.ts';

/** A notification is about 1–2 KB; anything far larger is not one. */
export const NOTIFY_BODY_LIMIT_BYTES = 64 * 1024;

export interface PayNotificationOptions {
  /**
   * A payment succeeded. Runs once per notification and order state, in the transaction that records
   * it; check amount, appid and out_trade_no against the stored order here. Throw to refuse (WeChat
   * retries). Default: nothing beyond the record.
   */
  onTransaction?: (ctx: AppContext, tx: Tx, n: TransactionNotification) => Promise<void>;
  /** Several payments recorded in one group-commit transaction; same guarantees per payment. Default: onTransaction for each. */
  onTransactions?: (ctx: AppContext, tx: Tx, ns: TransactionNotification[]) => Promise<void>;
  /** A refund reached SUCCESS, ABNORMAL or CLOSED; same guarantees. Default: the record only. */
  onRefund?: (ctx: AppContext, tx: Tx, n: RefundNotification) => Promise<void>;
}

const recordOnly = async (): Promise<void> => {};

const Params = Type.Object({ tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 }) });

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The status an error answers with; WeChat retries on anything but 2xx. */
function statusOf(err: unknown): number {
  if (err instanceof AppError) return err.status;
  const fe = err as FastifyError & { validation?: unknown };
  if (fe?.validation) return 400;
  if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 413;
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return fe.statusCode;
  return 500;
}

/**
 * The notification routes, with the business handlers injected. Success is 204 (WeChat accepts 200
 * or 204); failure is 4xx/5xx with `{"code":"FAIL","message":…}` so WeChat retries on its schedule.
 * Both URLs take both kinds: the resource's original_type decides, so a merchant console that points
 * refunds at the payment URL still works.
 */
export function payNotifications(opts: PayNotificationOptions = {}): ModulePlugin {
  const handlers: NotificationHandlers = {
    onTransaction: opts.onTransaction ?? recordOnly,
    ...(opts.onTransactions ? { onTransactions: opts.onTransactions } : {}),
    onRefund: opts.onRefund ?? recordOnly,
  };
  return async (app, ctx) => {
    ctx.jobs.register(PRUNE_NOTIFICATIONS_TOPIC, pruneNotificationsJob, { maxAttempts: 3 });
    // Encapsulated: the raw-body parser and WeChat's error format apply to these routes only.
    await app.register(async (plain) => {
      const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
      scope.removeAllContentTypeParsers();
      // The raw bytes, whatever the content type: the signature covers exactly them (§6 #3).
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: NOTIFY_BODY_LIMIT_BYTES }, (_req, body, done) => done(null, body));
      scope.setErrorHandler((err, request, reply) => {
        const status = statusOf(err);
        const message = status === 500 ? 'internal error; the request id identifies it' : status === 413 ? 'the body is too large' : err instanceof AppError ? err.message : 'the request is malformed';
        if (status >= 500) request.log.error({ err }, 'WeChat Pay notification failed');
        else request.log.info({ status, reason: message }, 'WeChat Pay notification refused');
        return reply.code(status).type('application/json; charset=utf-8').send({ code: 'FAIL', message });
      });

      for (const [suffix, summary] of [
        ['notify', 'WeChat Pay v3 payment notification (TRANSACTION.SUCCESS): signed, AES-GCM encrypted; 204 once processed'],
        ['refund-notify', 'WeChat Pay v3 refund notification (REFUND.SUCCESS/ABNORMAL/CLOSED): signed, AES-GCM encrypted; 204 once processed'],
      ] as const) {
        scope.post(
          `/wechat/pay/:tenantId/${suffix}`,
          { bodyLimit: NOTIFY_BODY_LIMIT_BYTES, schema: { tags: ['wechat'], summary, params: Params } },
          async (request, reply) => {
            const body = request.body;
            if (!Buffer.isBuffer(body) || body.length === 0) throw AppError.validation([{ field: 'body', message: 'is required' }]);
            await receiveNotification(
              ctx,
              request.params.tenantId,
              {
                timestamp: header(request, 'wechatpay-timestamp'),
                nonce: header(request, 'wechatpay-nonce'),
                signature: header(request, 'wechatpay-signature'),
                serial: header(request, 'wechatpay-serial'),
              },
              body,
              handlers,
            );
            return reply.code(204).send();
          },
        );
      }
    });
  };
}

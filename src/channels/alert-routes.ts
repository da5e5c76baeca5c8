// `GET, PUT /api/v1/alerts`: the cardholder's balance-change alert switch (the OA chat's 退订提醒 / 开启提醒 set the same).
import { Type } from 'typebox';
import type { App } from '../app/server.ts';
import type { AppContext } from '../app/context.ts';
import { cardholderOf, type Authenticate } from '../app/auth.ts';
import { recordAudit } from '../audit/index.ts';
import { inTx } from '../db/tx.ts';
import { alertsEnabled, setAlertsEnabled } from './store.ts';

const AlertsAnswer = Type.Object({ enabled: Type.Boolean({ description: 'balance-change alerts (OA template messages) on' }) });

export function alertRoutes(app: App, ctx: AppContext, authenticate: Authenticate): void {
  const security = [{ session: [] }];
  app.get(
    '/api/v1/alerts',
    { preHandler: authenticate, schema: { tags: ['cardholder'], summary: 'Whether balance-change alerts are on for the cardholder', security, response: { 200: AlertsAnswer } } },
    async (req) => {
      const p = cardholderOf(req);
      return { enabled: await alertsEnabled(ctx.db, p.tenantId, p.userId) };
    },
  );
  app.put(
    '/api/v1/alerts',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cardholder'],
        summary: 'Turn balance-change alerts on or off (opt-out); alerts already queued are dropped when sent',
        security,
        body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: AlertsAnswer },
      },
    },
    async (req) => {
      const p = cardholderOf(req);
      const { enabled } = req.body as { enabled: boolean };
      const now = ctx.clock.now();
      await inTx(ctx.db, async (tx) => {
        await setAlertsEnabled(tx, p.tenantId, p.userId, enabled, now);
        await recordAudit(tx, { tenantId: p.tenantId, actor: { kind: 'cardholder', id: p.userId }, action: enabled ? 'alerts.enabled' : 'alerts.disabled', outcome: 'ok', detail: { channel: 'api' }, deviceId: p.deviceId, ip: req.ip, requestId: req.id, at: now });
      });
      return { enabled };
    },
  );
}

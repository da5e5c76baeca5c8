// The sandbox as the SMS provider's inbound side: a simulated phone texts the bank's SMS banking number; the sandbox signs and posts it to the server's webhook as a provider would.
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import type { ModulePlugin } from '../../app/server.ts';
import { AppError } from '../../app/errors.ts';
import { TENANT_ID_PATTERN } from '../../tenants/index.ts';
import { smsSignature } from '../../channels/sms-banking.ts';

const Phone = Type.String({ pattern: '^(\\+?86)?1[3-9][0-9]{9}$' });

/** `POST /sandbox/api/sms/inbound` (sandbox only): `{ tenantId, from, text, messageId? }` → the server's answer to the signed webhook call. */
export const sandboxSmsInboundRoutes: ModulePlugin = (app, ctx) => {
  if (!ctx.config.sandbox) return;
  app.post(
    '/sandbox/api/sms/inbound',
    {
      schema: {
        tags: ['sandbox'],
        summary: "A simulated phone texts the tenant's SMS banking number (YE, YE#1234, MX, BZ); the sandbox posts it, signed with SMS_PROVIDER_TOKEN, to POST /sms/inbound/{tenantId}; the reply arrives in the SMS outbox",
        body: Type.Object(
          {
            tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, minLength: 2, maxLength: 40 }),
            from: Phone,
            text: Type.String({ minLength: 1, maxLength: 160 }),
            messageId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ status: Type.Integer(), messageId: Type.String(), body: Type.Unknown() }) },
      },
    },
    async (req) => {
      const b = req.body as { tenantId: string; from: string; text: string; messageId?: string };
      const token = ctx.config.sms.providerToken;
      if (!token) throw new AppError('service_paused', 'set SMS_PROVIDER_TOKEN to use SMS banking in the sandbox');
      const messageId = b.messageId ?? `sbx_${randomBytes(12).toString('hex')}`;
      const raw = JSON.stringify({ messageId, from: b.from, text: b.text, receivedAt: ctx.clock.now().toISOString() });
      const ts = String(Math.floor(ctx.clock.now().getTime() / 1000));
      const res = await fetch(`${ctx.config.sandboxServerUrl}/sms/inbound/${encodeURIComponent(b.tenantId)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sms-timestamp': ts, 'x-sms-signature': smsSignature(token, ts, raw) },
        body: raw,
        signal: AbortSignal.timeout(5_000),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, messageId, body };
    },
  );
};

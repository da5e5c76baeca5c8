// HTTP routes for the cardholder's consents: GET lists the decision in force per purpose, POST grants or withdraws one (API.md).
import { Type } from 'typebox';
import type { ModulePlugin } from '../app/server.ts';
import { cardholderOf, type Authenticate } from '../app/auth.ts';
import { inTx } from '../db/tx.ts';
import { listConsents, setConsent, type Consent } from './consents.ts';
import { CONSENT_PURPOSES, type ConsentPurpose } from './policy.ts';

const ConsentSchema = Type.Object({
  purpose: Type.Enum([...CONSENT_PURPOSES]),
  noticeVersion: Type.String({ description: 'the privacy notice version the decision was taken under' }),
  granted: Type.Boolean({ description: 'false once withdrawn' }),
  at: Type.String({ format: 'date-time' }),
});

const ConsentBody = Type.Object(
  {
    purpose: Type.Enum([...CONSENT_PURPOSES], { description: 'financial_info needs its own consent (PIPL art. 29)' }),
    noticeVersion: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$' }),
    granted: Type.Boolean({ description: 'true grants, false withdraws' }),
  },
  { additionalProperties: false },
);

function view(c: Consent) {
  return { purpose: c.purpose, noticeVersion: c.noticeVersion, granted: c.granted, at: c.at.toISOString() };
}

/** `GET, POST /api/v1/consents` behind the cardholder authentication the caller passes in. */
export function consentRoutes(opts: { authenticate: Authenticate }): ModulePlugin {
  return (app, ctx) => {
    const security = [{ session: [] }];

    app.get(
      '/api/v1/consents',
      {
        preHandler: opts.authenticate,
        schema: {
          tags: ['cardholder'],
          summary: "The user's consents: the decision in force for each purpose decided on",
          security,
          response: { 200: Type.Object({ items: Type.Array(ConsentSchema), nextCursor: Type.Null() }) },
        },
      },
      async (req) => {
        const p = cardholderOf(req);
        // At most one item per purpose (six): one page holds them all.
        const items = await listConsents(ctx.db, p.tenantId, p.userId);
        return { items: items.map(view), nextCursor: null };
      },
    );

    app.post(
      '/api/v1/consents',
      {
        preHandler: opts.authenticate,
        schema: {
          tags: ['cardholder'],
          summary: 'Grant or withdraw one purpose under a notice version; re-sending the decision in force changes nothing',
          security,
          body: ConsentBody,
          response: { 200: ConsentSchema },
        },
      },
      async (req) => {
        const p = cardholderOf(req);
        const body = req.body as { purpose: ConsentPurpose; noticeVersion: string; granted: boolean };
        const c = await inTx(ctx.db, (tx) =>
          setConsent(tx, {
            tenantId: p.tenantId,
            userId: p.userId,
            purpose: body.purpose,
            noticeVersion: body.noticeVersion,
            granted: body.granted,
            at: ctx.clock.now(),
            channel: 'api',
            audit: { ip: req.ip, deviceId: p.deviceId, requestId: req.id },
          }),
        );
        return view(c);
      },
    );
  };
}

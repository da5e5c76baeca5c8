// The agent API (`/api/v1/cs/…`, per-tenant agent token): a customer's bill contexts, marking the first message, resolving an emergency service id.
//
// Auth for now: `Authorization: Bearer csa_…`, one or more tokens per tenant issued with
// issueAgentToken (shown once, stored hashed, revocable). A token names its tenant, not an agent:
// the tenant's CS tooling (a WeCom sidebar, a desk app) holds it. Every read of a bill through it
// is audited with the token id as the actor. Per-agent credentials come with the operator console.
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../app/server.ts';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { fenToJsonNumber } from '../shared/money.ts';
import { agentOf, authenticateAgent } from './agents.ts';
import { verifyEmergency } from './emergency.ts';
import { markStep } from './funnel.ts';
import { getRequest, markFirstMessage, openContexts, snapshotFrom } from './store.ts';
import { summaryLines, type BillSnapshot } from './texts.ts';

const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
/** WeCom external userids (`wm…`/`wo…`): letters, digits, `_` and `-`. */
const ExternalParams = Type.Object({ externalUserId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', maxLength: 64 }) });

const BillSnapshotSchema = Type.Object({
  kind: Type.String(),
  orderNumber: Type.String(),
  amount: Type.Integer({ description: 'fen, never negative; see direction' }),
  currency: Type.String(),
  direction: Type.String(),
  occurredAt: DateTime,
  title: Type.String(),
  status: Type.String(),
  maskedCard: Nullable(Type.String()),
  summary: Type.Array(Type.String(), { description: 'the lines the welcome message carried' }),
});

function snapshotView(s: BillSnapshot) {
  return {
    kind: s.kind,
    orderNumber: s.orderNumber,
    amount: fenToJsonNumber(BigInt(s.amountFen)),
    currency: s.currency,
    direction: s.direction,
    occurredAt: s.occurredAt,
    title: s.title,
    status: s.status,
    maskedCard: s.maskedCard,
    summary: summaryLines(s),
  };
}

const metaOf = (req: FastifyRequest) => ({ ip: req.ip, requestId: req.id });

export function csRoutes(app: App, ctx: AppContext): void {
  const preHandler = authenticateAgent(ctx);
  // No `security` entry yet: the OpenAPI document declares only the session scheme (server.ts); an
  // `agentToken` bearer scheme is to be added there, then named on these routes.

  app.get(
    '/api/v1/cs/contexts/:externalUserId',
    {
      preHandler,
      schema: {
        tags: ['customer service'],
        summary: 'The bills a WeCom customer came from, for 72 hours after the add (agent token)',
        params: ExternalParams,
        response: {
          200: Type.Object({
            externalUserId: Type.String(),
            items: Type.Array(
              Type.Object({ contactId: Type.String(), agentUserId: Type.String(), openedAt: DateTime, expiresAt: DateTime, firstMessageAt: Nullable(DateTime), bill: BillSnapshotSchema }),
            ),
          }),
        },
      },
    },
    async (req) => {
      const caller = agentOf(req);
      const { externalUserId } = req.params as { externalUserId: string };
      const now = ctx.clock.now();
      const rows = await openContexts(ctx.db, caller.tenantId, externalUserId, now);
      if (rows.length === 0) throw new AppError('not_found', 'no open bill context for this customer');
      await recordAudit(ctx.db, {
        tenantId: caller.tenantId,
        actor: { kind: 'operator', id: caller.tokenId },
        action: 'cs.context.read',
        subject: { kind: 'contact', id: rows[0]!.request_id },
        outcome: 'ok',
        detail: { contexts: rows.length },
        ...metaOf(req),
        at: now,
      });
      return {
        externalUserId,
        items: rows.map((c) => ({
          contactId: c.request_id,
          agentUserId: c.agent_user_id,
          openedAt: c.opened_at.toISOString(),
          expiresAt: c.expires_at.toISOString(),
          firstMessageAt: c.first_message_at?.toISOString() ?? null,
          bill: snapshotView(snapshotFrom(c.snapshot)!),
        })),
      };
    },
  );

  app.post(
    '/api/v1/cs/contexts/:externalUserId/first-message',
    {
      preHandler,
      schema: {
        tags: ['customer service'],
        summary: "Marks the conversation's first message (the funnel's last step) on the customer's open contexts (agent token)",
        params: ExternalParams,
        response: { 200: Type.Object({ marked: Type.Integer({ description: 'contexts marked now; 0 when already marked' }) }) },
      },
    },
    async (req) => {
      const caller = agentOf(req);
      const { externalUserId } = req.params as { externalUserId: string };
      const now = ctx.clock.now();
      const out = await inTx(ctx.db, async (tx) => {
        const m = await markFirstMessage(tx, caller.tenantId, externalUserId, now);
        for (const requestId of m.changed) {
          const r = await getRequest(tx, requestId);
          if (r) await markStep(tx, { tenantId: r.tenant_id, userId: r.user_id, billKey: r.bill_key }, 'first_message', now);
        }
        return m;
      });
      if (out.open === 0) throw new AppError('not_found', 'no open bill context for this customer');
      return { marked: out.changed.length };
    },
  );

  app.post(
    '/api/v1/cs/emergencies/:serviceId/verify',
    {
      preHandler,
      schema: {
        tags: ['customer service'],
        summary: "Resolve an emergency service id after a second verification of the caller: the last 4 digits of the bill's card, or the code their app shows (agent token)",
        params: Type.Object({ serviceId: Type.String({ maxLength: 32 }) }),
        body: Type.Object(
          { method: Type.Union([Type.Literal('card_last4'), Type.Literal('user_code')]), answer: Type.String({ maxLength: 16 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ serviceId: Type.String(), expiresAt: DateTime, bill: BillSnapshotSchema }) },
      },
    },
    async (req) => {
      const { serviceId } = req.params as { serviceId: string };
      const body = req.body as { method: 'card_last4' | 'user_code'; answer: string };
      const r = await verifyEmergency(ctx, agentOf(req), serviceId, body, metaOf(req));
      return { serviceId: r.serviceId, expiresAt: r.expiresAt.toISOString(), bill: snapshotView(r.bill) };
    },
  );
}

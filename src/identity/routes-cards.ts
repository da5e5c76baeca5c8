// HTTP routes for card binding and bound-card management: bindings, cards, unbind, default, loss report, online reactivation.
import { Type } from 'typebox';
import type { App } from '../app/server.ts';
import type { AppContext } from '../app/context.ts';
import { cardholderOf, type Authenticate } from '../app/auth.ts';
import { requireTenant } from '../tenants/index.ts';
import { ID_TYPES } from '../shared/id-document.ts';
import { startBinding, confirmBinding, type BindingRequest } from './bindings.ts';
import { cardView, listBoundCards, reportCardLoss, setDefaultCard, unbindCard } from './cards.ts';
import { reactivateOnline } from './lifecycle.ts';
import { idempotencyKeyOf, withIdempotency } from './idempotency.ts';
import { metaOf } from './routes-session.ts';

export const CardSchema = Type.Object({
  cardId: Type.String({ description: 'opaque card token (never the card number)' }),
  institution: Type.String(),
  maskedNumber: Type.String({ description: 'first 6 and last 4 digits' }),
  kind: Type.String({ description: 'debit | credit | citizen' }),
  status: Type.String({ description: 'active | lost | frozen | dormant | cancelled' }),
  isDefault: Type.Boolean(),
  last4: Type.String(),
});

const CardIdParams = Type.Object({ cardId: Type.String({ maxLength: 64 }) });
// Lengths are generous bounds; the shared parsers decide validity and name the field.
const BindingBody = Type.Object(
  {
    cardNumber: Type.String({ maxLength: 40 }),
    holderName: Type.String({ maxLength: 128 }),
    idType: Type.String({ maxLength: 40, description: `one of ${ID_TYPES.join(', ')}` }),
    idNumber: Type.String({ maxLength: 40 }),
    phone: Type.String({ maxLength: 32 }),
  },
  { additionalProperties: false },
);

export function cardRoutes(app: App, ctx: AppContext, authenticate: Authenticate): void {
  const security = [{ session: [] }];

  app.post(
    '/api/v1/bindings',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cardholder'],
        summary: 'Start binding a card: four elements checked by the bank, then an SMS code to the reserved phone (accepts Idempotency-Key)',
        security,
        body: BindingBody,
        response: { 201: Type.Object({ bindingId: Type.String(), otpSentTo: Type.String(), expiresAt: Type.String({ format: 'date-time' }) }) },
      },
    },
    async (req, reply) => {
      const p = cardholderOf(req);
      const body = req.body as BindingRequest;
      const out = await withIdempotency(ctx, { scope: `${p.userId}:bindings`, key: idempotencyKeyOf(req), body }, async () => {
        const b = await startBinding(ctx, p, body, metaOf(req));
        return { status: 201, body: { bindingId: b.bindingId, otpSentTo: b.otpSentTo, expiresAt: b.expiresAt.toISOString() } };
      });
      reply.code(out.status as 201);
      return out.body;
    },
  );

  app.post(
    '/api/v1/bindings/:bindingId/confirm',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cardholder'],
        summary: "Confirm a binding with the SMS code (and the card's payment password on the first card or to set one)",
        security,
        params: Type.Object({ bindingId: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ otp: Type.String({ maxLength: 16 }), paymentPassword: Type.Optional(Type.String({ maxLength: 16 })) }, { additionalProperties: false }),
        response: { 201: CardSchema },
      },
    },
    async (req, reply) => {
      const { bindingId } = req.params as { bindingId: string };
      const body = req.body as { otp: string; paymentPassword?: string };
      const card = await confirmBinding(ctx, cardholderOf(req), bindingId, body, metaOf(req));
      reply.code(201);
      return card;
    },
  );

  app.get(
    '/api/v1/cards',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cardholder'],
        summary: 'The bound cards, default first',
        security,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), cursor: Type.Optional(Type.String({ maxLength: 200 })) }),
        response: { 200: Type.Object({ items: Type.Array(CardSchema), nextCursor: Type.Null() }) },
      },
    },
    async (req) => {
      const p = cardholderOf(req);
      const tenant = await requireTenant(ctx.db, p.tenantId);
      // A user has at most MAX_BOUND_CARDS_PER_USER (20) cards: one page holds them all.
      const cards = await listBoundCards(ctx.db, p.tenantId, p.userId);
      return { items: cards.map((c) => cardView(c, tenant.name)), nextCursor: null };
    },
  );

  app.delete(
    '/api/v1/cards/:cardId',
    { preHandler: authenticate, schema: { tags: ['cardholder'], summary: 'Unbind a card from WeChat (the card itself stays as it is)', security, params: CardIdParams } },
    async (req, reply) => {
      const { cardId } = req.params as { cardId: string };
      await unbindCard(ctx, cardholderOf(req), cardId, metaOf(req));
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/cards/:cardId/loss-report',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cardholder'],
        summary: 'Report the card lost (挂失): queries and top-ups stop at once',
        security,
        params: CardIdParams,
        response: { 200: Type.Object({ cardId: Type.String(), status: Type.Literal('lost'), reportedAt: Type.String({ format: 'date-time' }) }) },
      },
    },
    async (req) => {
      const { cardId } = req.params as { cardId: string };
      const r = await reportCardLoss(ctx, cardholderOf(req), cardId, metaOf(req));
      return { ...r, reportedAt: r.reportedAt.toISOString() };
    },
  );

  app.post(
    '/api/v1/cards/:cardId/default',
    { preHandler: authenticate, schema: { tags: ['cardholder'], summary: 'Make this the default card', security, params: CardIdParams, response: { 200: CardSchema } } },
    async (req) => {
      const { cardId } = req.params as { cardId: string };
      return setDefaultCard(ctx, cardholderOf(req), cardId, metaOf(req));
    },
  );

  app.post(
    '/api/v1/cards/:cardId/reactivation',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cardholder'],
        summary: "Wake a dormant account online (when the institution offers it), after a step-up",
        security,
        params: CardIdParams,
        response: { 200: Type.Object({ cardId: Type.String(), status: Type.String() }) },
      },
    },
    async (req) => {
      const { cardId } = req.params as { cardId: string };
      return reactivateOnline(ctx, cardholderOf(req), cardId, metaOf(req));
    },
  );
}

// HTTP routes of top-ups (API.md): orders, payment parameters again, on-card loads and 补登, and trusted contacts.
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../app/server.ts';
import type { AppContext } from '../app/context.ts';
import { cardholderOf, type Authenticate } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { TOPUP_METHODS, type TopupMethod } from '../tenants/index.ts';
import { renewPayment, type PayerApp } from './attempts.ts';
import { acceptTrustedContact, endTrustedContact, listTrustedContacts, requestTrustedContact, RELATIONS, type Relation, type TrustedContact } from './contacts.ts';
import { confirmLoad, LOAD_CHANNELS, type LoadChannel } from './loads.ts';
import { createTopup } from './orders.ts';
import { getTopupView, listTopups } from './reads.ts';
import { getOrder, historyOf } from './store.ts';
import { viewOf } from './views.ts';
import { HISTORY_MAX } from './reads.ts';

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;
const security = [{ session: [] }];
const tags = ['cardholder'];

function idempotencyKey(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !KEY_PATTERN.test(raw)) throw AppError.validation([{ field: 'headers.idempotency-key', message: 'must be 1–200 printable ASCII characters' }]);
  return raw;
}

const PayParams = Type.Object({ appId: Type.String(), timeStamp: Type.String(), nonceStr: Type.String(), package: Type.String(), signType: Type.String(), paySign: Type.String() });
const Status = Type.String({ description: 'created | paid | credited | settling | completed | refunding | refunded | failed | review' });
const Answer = Type.Object({
  orderId: Type.String(),
  status: Status,
  amount: Type.Integer({ description: 'fen credited to the card' }),
  fee: Type.Integer(),
  total: Type.Integer({ description: 'fen the payer pays: amount + fee' }),
  currency: Type.String(),
  method: Type.String(),
  payParams: Type.Union([PayParams, Type.Null()], { description: 'for wx.requestPayment' }),
  expectedArrival: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.String(),
});
const View = Type.Object({
  orderId: Type.String(),
  status: Status,
  amount: Type.Integer(),
  fee: Type.Integer(),
  total: Type.Integer(),
  currency: Type.String(),
  method: Type.String(),
  card: Type.Object({ maskedNumber: Type.String(), form: Type.String() }),
  onBehalfOf: Type.Boolean(),
  reason: Type.Union([Type.String(), Type.Null()]),
  paidAt: Type.Union([Type.String(), Type.Null()]),
  creditedAt: Type.Union([Type.String(), Type.Null()]),
  completedAt: Type.Union([Type.String(), Type.Null()]),
  expectedArrival: Type.Union([Type.String(), Type.Null()]),
  refunded: Type.Integer(),
  load: Type.Union([Type.Object({ state: Type.String(), deadline: Type.Union([Type.String(), Type.Null()]), loadedAt: Type.Union([Type.String(), Type.Null()]), channel: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  transactionId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  history: Type.Array(Type.Object({ status: Status, event: Type.String(), at: Type.String(), note: Type.Union([Type.String(), Type.Null()]) })),
});
const Contact = Type.Object({
  id: Type.String(),
  role: Type.String({ description: 'requester: you may top up this card once accepted; owner: a relative asks to top up your card' }),
  maskedCardNumber: Type.String(),
  relation: Type.String(),
  status: Type.String(),
  createdAt: Type.String(),
  acceptedAt: Type.Union([Type.String(), Type.Null()]),
});
const OrderParams = Type.Object({ orderId: Type.String({ maxLength: 64 }) });
const App_ = Type.Optional(Type.Union([Type.Literal('oa'), Type.Literal('miniProgram')], { description: 'the app the payer is in (default: the mini-program if the user has used it)' }));
const LoadBody = Type.Object({ channel: Type.Union(LOAD_CHANNELS.map((c) => Type.Literal(c))), terminalId: Type.Optional(Type.String({ maxLength: 32 })) }, { additionalProperties: false });

const contactJson = (c: TrustedContact) => ({ ...c, createdAt: c.createdAt.toISOString(), acceptedAt: c.acceptedAt?.toISOString() ?? null });

export function registerTopupRoutes(app: App, ctx: AppContext, authenticate: Authenticate): void {
  app.post(
    '/api/v1/topups',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'Order a citizen-card top-up and get the wx.requestPayment parameters (accepts Idempotency-Key)',
        body: Type.Object(
          {
            citizenCardNumber: Type.String({ minLength: 8, maxLength: 40 }),
            amount: Type.Integer({ minimum: 1, description: 'fen' }),
            method: Type.Union(TOPUP_METHODS.map((m) => Type.Literal(m))),
            onBehalfOf: Type.Optional(Type.String({ maxLength: 64, description: 'an accepted trusted contact id: top up a relative’s card' })),
            app: App_,
          },
          { additionalProperties: false },
        ),
        response: { 201: Answer },
      },
    },
    async (req, reply) => {
      const body = req.body as { citizenCardNumber: string; amount: number; method: TopupMethod; onBehalfOf?: string; app?: PayerApp };
      const answer = await createTopup(ctx, cardholderOf(req), body, idempotencyKey(req));
      reply.code(201);
      return answer;
    },
  );

  app.get(
    '/api/v1/topups',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'The caller’s top-up orders, newest first',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), cursor: Type.Optional(Type.String({ maxLength: 200 })) }),
        response: { 200: Type.Object({ items: Type.Array(View), nextCursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (req) => listTopups(ctx, cardholderOf(req), req.query as { limit?: number; cursor?: string }),
  );

  app.get(
    '/api/v1/topups/:orderId',
    { preHandler: authenticate, schema: { tags, security, summary: 'One top-up order with its history', params: OrderParams, response: { 200: View } } },
    async (req) => getTopupView(ctx, cardholderOf(req), (req.params as { orderId: string }).orderId),
  );

  app.post(
    '/api/v1/topups/:orderId/payment',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'The payment parameters again (e.g. the payer moved from the Official Account page to the mini-program)',
        params: OrderParams,
        body: Type.Optional(Type.Object({ app: App_ }, { additionalProperties: false })),
        response: { 200: Answer },
      },
    },
    async (req) => renewPayment(ctx, cardholderOf(req), (req.params as { orderId: string }).orderId, (req.body as { app?: PayerApp } | undefined)?.app),
  );

  app.post(
    '/api/v1/topups/:orderId/load',
    {
      preHandler: authenticate,
      schema: { tags, security, summary: 'Confirm the on-card load (圈存) of a physical card, written by NFC or at a terminal', params: OrderParams, body: LoadBody, response: { 200: View } },
    },
    async (req) => {
      const p = cardholderOf(req);
      const body = req.body as { channel: LoadChannel; terminalId?: string };
      const order = await confirmLoad(ctx, { tenantId: p.tenantId, orderId: (req.params as { orderId: string }).orderId, channel: body.channel, terminalId: body.terminalId }, p);
      return viewOf(order, await historyOf(ctx.db, order.id, HISTORY_MAX));
    },
  );

  app.post(
    '/api/v1/topups/supplements',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: '补登: complete an unclaimed load by the WeChat transaction number (within the window, 72 h by default)',
        body: Type.Object({ transactionId: Type.String({ pattern: '^[0-9]{16,32}$' }), channel: Type.Union(LOAD_CHANNELS.map((c) => Type.Literal(c))), terminalId: Type.Optional(Type.String({ maxLength: 32 })) }, { additionalProperties: false }),
        response: { 200: View },
      },
    },
    async (req) => {
      const p = cardholderOf(req);
      const body = req.body as { transactionId: string; channel: LoadChannel; terminalId?: string };
      const order = await confirmLoad(ctx, { tenantId: p.tenantId, transactionId: body.transactionId, channel: body.channel, terminalId: body.terminalId }, p);
      return viewOf((await getOrder(ctx.db, order.id))!, await historyOf(ctx.db, order.id, HISTORY_MAX));
    },
  );

  app.get(
    '/api/v1/trusted-contacts',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'Trusted contacts both ways: cards you may top up, relatives asking to top up yours (a short list; paged as every list is)',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), cursor: Type.Optional(Type.String({ maxLength: 20 })) }),
        response: { 200: Type.Object({ items: Type.Array(Contact), nextCursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (req) => {
      const q = req.query as { limit?: number; cursor?: string };
      const all = await listTrustedContacts(ctx.db, cardholderOf(req));
      // The list is at most a few entries (3 per requester, 3 per card): the cursor is the offset of the next page.
      const m = q.cursor === undefined ? undefined : /^o([0-9]{1,6})$/.exec(q.cursor);
      if (q.cursor !== undefined && !m) throw AppError.validation([{ field: 'cursor', message: 'is not a cursor this list gave' }]);
      const from = m ? Number(m[1]) : 0;
      const limit = q.limit ?? 100;
      const page = all.slice(from, from + limit);
      return { items: page.map(contactJson), nextCursor: from + limit < all.length ? `o${from + limit}` : null };
    },
  );

  app.post(
    '/api/v1/trusted-contacts',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'Ask to top up a relative’s citizen card (up to 3); the card’s owner accepts',
        body: Type.Object({ citizenCardNumber: Type.String({ minLength: 8, maxLength: 40 }), relation: Type.Union(RELATIONS.map((r) => Type.Literal(r))) }, { additionalProperties: false }),
        response: { 201: Contact },
      },
    },
    async (req, reply) => {
      const body = req.body as { citizenCardNumber: string; relation: Relation };
      const c = await requestTrustedContact(ctx, cardholderOf(req), body);
      reply.code(201);
      return contactJson(c);
    },
  );

  app.post(
    '/api/v1/trusted-contacts/:contactId/accept',
    { preHandler: authenticate, schema: { tags, security, summary: 'The card’s owner accepts a relative', params: Type.Object({ contactId: Type.String({ maxLength: 64 }) }), response: { 200: Contact } } },
    async (req) => contactJson(await acceptTrustedContact(ctx, cardholderOf(req), (req.params as { contactId: string }).contactId)),
  );

  app.delete(
    '/api/v1/trusted-contacts/:contactId',
    { preHandler: authenticate, schema: { tags, security, summary: 'Withdraw, decline or revoke a trusted contact (either side)', params: Type.Object({ contactId: Type.String({ maxLength: 64 }) }) } },
    async (req, reply) => {
      await endTrustedContact(ctx, cardholderOf(req), (req.params as { contactId: string }).contactId);
      return reply.code(204).send();
    },
  );
}

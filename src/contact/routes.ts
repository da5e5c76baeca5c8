// HTTP routes of the contact module for cardholders (bills, contact, status, emergency code) and the admin funnel; the agent API is in cs-routes.ts.
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ModulePlugin } from '../app/server.ts';
import { cardholderOf, type Authenticate } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { fenToJsonNumber } from '../shared/money.ts';
import { TENANT_ID_PATTERN } from '../tenants/index.ts';
import { transactionBills, type Bill, type BillSource } from './bills.ts';
import { topupBills } from './topup-source.ts';
import { contactStatus, startContact, viewBill, type ContactAnswer } from './contact.ts';
import { csRoutes } from './cs-routes.ts';
import { issueUserCode } from './emergency.ts';
import { funnelReport } from './funnel.ts';
import { registerContactJobs } from './jobs.ts';
import { SEGMENTS, type BillKind, type Segment } from './policy.ts';

/** The admin console's operator check (its real auth comes with the admin API); `canReadTenant` scopes the tenants one operator sees. */
export interface OperatorAuth {
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  canReadTenant?: (request: FastifyRequest, tenantId: string) => boolean;
}

export interface ContactRoutesOptions {
  /** The cardholder session hook (withCardholderAuth passes it). */
  authenticate: Authenticate;
  /** Bill sources replacing the defaults (card transactions, top-up orders) of the same kind. */
  sources?: BillSource[];
  /** Without it the admin funnel route is not mounted. */
  operatorAuth?: OperatorAuth;
}

/** Longest span one funnel query covers. */
export const FUNNEL_MAX_SPAN_MS = 366 * 86_400_000;

const BillRefParams = Type.Object({ billRef: Type.String({ maxLength: 64, description: 'opaque (bill_…); statement items and top-up answers carry it' }) });
const ContactIdParams = Type.Object({ contactId: Type.String({ maxLength: 64 }) });
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const BillSchema = Type.Object({
  billRef: Type.String(),
  kind: Type.String({ description: 'transaction | topup' }),
  orderNumber: Type.String({ description: 'the serial or order number to quote' }),
  amount: Type.Integer({ description: 'fen, never negative; see direction' }),
  currency: Type.String(),
  direction: Type.String({ description: 'debit (money out) | credit (money in)' }),
  status: Type.String(),
  occurredAt: DateTime,
  title: Type.String(),
  counterparty: Nullable(Type.String()),
  card: Nullable(Type.Object({ cardId: Nullable(Type.String({ description: 'the bound card token, when the bill names one' })), maskedNumber: Type.String(), last4: Type.String(), kind: Type.String() })),
});

const ContactSchema = Type.Object({
  contactId: Type.String(),
  status: Type.String({ description: 'ready | preparing | queued | emergency | added | expired' }),
  qrCodeUrl: Nullable(Type.String({ description: "the agent's WeCom QR code (status ready)" })),
  maskedAgent: Nullable(Type.Object({ name: Type.String(), id: Type.String(), title: Type.String() })),
  watermark: Nullable(Type.String({ description: "lay over the bill while it is shared: the user's masked id and the time" })),
  expiresAt: DateTime,
  queue: Nullable(Type.Object({ position: Type.Integer(), expectedWaitMinutes: Type.Integer(), opensAt: Nullable(DateTime) })),
  emergency: Nullable(Type.Object({ serviceId: Type.String({ description: 'quote it to customer service (phone or counter)' }), verification: Type.Array(Type.String()) })),
});

function billView(ref: string, b: Bill) {
  return {
    billRef: ref,
    kind: b.kind,
    orderNumber: b.orderNumber,
    amount: fenToJsonNumber(b.amountFen),
    currency: b.currency,
    direction: b.direction,
    status: b.status,
    occurredAt: b.occurredAt.toISOString(),
    title: b.title,
    counterparty: b.counterparty,
    card: b.card,
  };
}

function contactView(a: ContactAnswer) {
  return {
    ...a,
    expiresAt: a.expiresAt.toISOString(),
    queue: a.queue ? { ...a.queue, opensAt: a.queue.opensAt?.toISOString() ?? null } : null,
  };
}

const metaOf = (req: FastifyRequest) => ({ ip: req.ip, requestId: req.id });

/**
 * The contact module's routes: cardholder bills and contact, the agent API (per-tenant token,
 * see cs-routes.ts), the admin funnel when an operator hook is given; and its background jobs.
 */
export function contactRoutes(opts: ContactRoutesOptions): ModulePlugin {
  const sources = new Map<BillKind, BillSource>([
    ['transaction', transactionBills],
    ['topup', topupBills],
  ]);
  for (const s of opts.sources ?? []) sources.set(s.kind, s);
  return async (app, ctx) => {
    registerContactJobs(ctx);
    const security = [{ session: [] }];
    const preHandler = opts.authenticate;

    app.get(
      '/api/v1/bills/:billRef',
      { preHandler, schema: { tags: ['cardholder'], summary: 'One bill (a card transaction or a top-up order) the user owns, by its ref, or a top-up by its order or transaction number', security, params: BillRefParams, response: { 200: BillSchema } } },
      async (req) => {
        const { billRef } = req.params as { billRef: string };
        const r = await viewBill(ctx, sources, cardholderOf(req), billRef, metaOf(req));
        return billView(r.ref, r.bill);
      },
    );

    app.post(
      '/api/v1/bills/:billRef/contact',
      {
        preHandler,
        schema: {
          tags: ['cardholder'],
          summary: 'Contact customer service about the bill: records the bill-sharing consent, answers a WeCom QR code, a queue place or an emergency service id',
          security,
          params: BillRefParams,
          body: Type.Object(
            {
              consent: Type.Boolean({ description: 'must be true: the bill summary goes to customer service' }),
              noticeVersion: Type.Optional(Type.String({ maxLength: 32, description: 'the privacy notice shown; default the current one' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: ContactSchema, 201: ContactSchema },
        },
      },
      async (req, reply) => {
        const { billRef } = req.params as { billRef: string };
        const body = req.body as { consent: boolean; noticeVersion?: string };
        if (body.consent !== true) throw AppError.validation([{ field: 'consent', message: 'must be true: the bill is shared with customer service only with your consent' }]);
        const out = await startContact(ctx, sources, cardholderOf(req), billRef, { consent: true, noticeVersion: body.noticeVersion }, metaOf(req));
        reply.code(out.created ? 201 : 200);
        return contactView(out.answer);
      },
    );

    app.get(
      '/api/v1/contacts/:contactId',
      { preHandler, schema: { tags: ['cardholder'], summary: 'A contact request: its QR code, queue place or emergency id; a queue entry whose turn came gets its QR code', security, params: ContactIdParams, response: { 200: ContactSchema } } },
      async (req) => contactView(await contactStatus(ctx, cardholderOf(req), (req.params as { contactId: string }).contactId)),
    );

    app.post(
      '/api/v1/contacts/:contactId/verification-code',
      {
        preHandler,
        schema: {
          tags: ['cardholder'],
          summary: 'A one-time code to read to customer service with the emergency service id (10 minutes)',
          security,
          params: ContactIdParams,
          response: { 201: Type.Object({ serviceId: Type.String(), code: Type.String(), expiresAt: DateTime }) },
        },
      },
      async (req, reply) => {
        const c = await issueUserCode(ctx, cardholderOf(req), (req.params as { contactId: string }).contactId);
        reply.code(201);
        return { serviceId: c.serviceId, code: c.code, expiresAt: c.expiresAt.toISOString() };
      },
    );

    csRoutes(app, ctx);

    const op = opts.operatorAuth;
    if (op) {
      app.get(
        '/admin/api/v1/funnel',
        {
          preHandler: op.authenticate,
          schema: {
            tags: ['admin'],
            summary: 'Bill → customer service funnel of one tenant: per step the journeys that reached it, conversions, and median / p90 time between steps',
            querystring: Type.Object({
              tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 }),
              from: DateTime,
              to: DateTime,
              segment: Type.Optional(Type.Enum([...SEGMENTS], { default: 'all' })),
            }),
          },
        },
        async (req) => {
          const q = req.query as { tenantId: string; from: string; to: string; segment?: Segment };
          if (op.canReadTenant && !op.canReadTenant(req, q.tenantId)) throw new AppError('forbidden', 'not your tenant');
          const from = new Date(q.from);
          const to = new Date(q.to);
          if (!(from.getTime() < to.getTime()) || to.getTime() - from.getTime() > FUNNEL_MAX_SPAN_MS) {
            throw AppError.validation([{ field: 'from', message: 'from must be before to, at most 366 days apart' }]);
          }
          const r = await funnelReport(ctx.db, { tenantId: q.tenantId, from, to, segment: q.segment ?? 'all' });
          return { ...r, from: r.from.toISOString(), to: r.to.toISOString() };
        },
      );
    }
  };
}

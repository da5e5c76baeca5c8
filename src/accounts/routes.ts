// HTTP routes of the accounts module: balance, transactions (JSON and CSV), trends, overview, quick balance.
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../app/server.ts';
import type { AppContext } from '../app/context.ts';
import { cardholderOf, type Authenticate } from '../app/auth.ts';
import type { RequestMeta } from '../identity/index.ts';
// identity's Idempotency-Key helper (API.md: POSTs that send an SMS accept one); not yet on identity's index.
import { idempotencyKeyOf, withIdempotency } from '../identity/idempotency.ts';
import { CAPTCHA_ANSWER_HEADER } from '../risk/index.ts';
import { balanceForUser, type ReadOptions } from './balance.ts';
import { csvDisposition, csvStream } from './csv.ts';
import { overviewForUser } from './overview.ts';
import { MAX_TREND_MONTHS } from './policy.ts';
import { confirmQuickBalance, startQuickBalance, type QuickBalanceRequest } from './quick-balance.ts';
import { exportTransactions, transactionsForUser } from './statements.ts';
import { trendsForUser } from './trends.ts';
import {
  BalanceSchema,
  OverviewSchema,
  QuickAnswerSchema,
  QuickStartSchema,
  TransactionsSchema,
  TrendsSchema,
  balanceView,
  overviewView,
  quickAnswerView,
  transactionsView,
  trendsView,
} from './views.ts';

const security = [{ session: [] }];
const tags = ['cardholder'];
const CardParams = Type.Object({ cardId: Type.String({ maxLength: 64 }) });
const Cny = Type.Optional(
  Type.Union([Type.Literal('1'), Type.Literal('0'), Type.Literal('true'), Type.Literal('false')], {
    description: '1 adds CNY equivalents (today’s rate for balances, the booking day’s for entries)',
  }),
);
// Dates stay strings here: the tenant's policy names each problem (statementRange).
const RangeQuery = {
  from: Type.Optional(Type.String({ maxLength: 40, description: 'YYYY-MM-DD (Asia/Shanghai) or RFC 3339; custom-range institutions only' })),
  to: Type.Optional(Type.String({ maxLength: 40, description: 'YYYY-MM-DD (Asia/Shanghai) or RFC 3339; custom-range institutions only' })),
  month: Type.Optional(Type.String({ maxLength: 7, description: 'YYYY-MM: one calendar month' })),
  direction: Type.Optional(Type.Union([Type.Literal('credit'), Type.Literal('debit')])),
  cny: Cny,
};

type CardRequest = { cardId: string };
type RangeParams = { from?: string; to?: string; month?: string; direction?: 'credit' | 'debit'; cny?: string };

function metaOf(request: FastifyRequest): RequestMeta {
  return { ip: request.ip, requestId: request.id, deviceId: request.cardholder?.deviceId };
}

function readOptions(request: FastifyRequest, cny: string | undefined): ReadOptions {
  return { meta: metaOf(request), captchaAnswer: request.headers[CAPTCHA_ANSWER_HEADER], cny: cny === '1' || cny === 'true' };
}

export function accountRoutes(app: App, ctx: AppContext, authenticate: Authenticate): void {
  app.get(
    '/api/v1/cards/:cardId/balance',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'Available and ledger balance under the institution’s freshness; may answer step_up_required, captcha_required, quota_exceeded',
        params: CardParams,
        querystring: Type.Object({ cny: Cny }),
        response: { 200: BalanceSchema },
      },
    },
    async (req) => {
      const { cardId } = req.params as CardRequest;
      const { cny } = req.query as { cny?: string };
      return balanceView(await balanceForUser(ctx, cardholderOf(req), cardId, readOptions(req, cny)));
    },
  );

  app.get(
    '/api/v1/cards/:cardId/transactions',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'One page of the statement, newest first, inside the institution’s window (cursor-paginated)',
        params: CardParams,
        querystring: Type.Object({
          ...RangeQuery,
          cursor: Type.Optional(Type.String({ maxLength: 800 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
        }),
        response: { 200: TransactionsSchema },
      },
    },
    async (req) => {
      const { cardId } = req.params as CardRequest;
      const q = req.query as RangeParams & { cursor?: string; limit?: number };
      const page = await transactionsForUser(ctx, cardholderOf(req), cardId, q, readOptions(req, q.cny));
      return transactionsView(page);
    },
  );

  app.get(
    '/api/v1/cards/:cardId/transactions.csv',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'The statement range as a CSV download (UTF-8 with BOM, zh-CN headers, amounts in yuan with 2 decimals)',
        params: CardParams,
        querystring: Type.Object(RangeQuery),
        produces: ['text/csv'],
      },
    },
    async (req, reply) => {
      const { cardId } = req.params as CardRequest;
      const q = req.query as RangeParams;
      const opts = readOptions(req, q.cny);
      const exp = await exportTransactions(ctx, cardholderOf(req), cardId, q, opts);
      reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', csvDisposition(exp))
        .header('cache-control', 'no-store');
      return reply.send(csvStream(exp, opts.cny === true, req.log));
    },
  );

  app.get(
    '/api/v1/cards/:cardId/trends',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: `Monthly income and expense, oldest month first, up to ${MAX_TREND_MONTHS} months`,
        params: CardParams,
        querystring: Type.Object({ months: Type.Optional(Type.Integer({ description: `1–${MAX_TREND_MONTHS}, default 12` })) }),
        response: { 200: TrendsSchema },
      },
    },
    async (req) => {
      const { cardId } = req.params as CardRequest;
      const { months } = req.query as { months?: number };
      return trendsView(await trendsForUser(ctx, cardholderOf(req), cardId, months, readOptions(req, undefined)));
    },
  );

  app.get(
    '/api/v1/overview',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'All the user’s bound cards with balances and totals per currency',
        querystring: Type.Object({ cny: Cny }),
        response: { 200: OverviewSchema },
      },
    },
    async (req) => {
      const { cny } = req.query as { cny?: string };
      return overviewView(await overviewForUser(ctx, cardholderOf(req), readOptions(req, cny)));
    },
  );

  app.post(
    '/api/v1/quick-balance',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'No-bind query: card number and reserved phone → an SMS code (accepts Idempotency-Key)',
        body: Type.Object(
          { tenantId: Type.String({ maxLength: 64 }), cardNumber: Type.String({ maxLength: 40 }), phone: Type.String({ maxLength: 32 }) },
          { additionalProperties: false },
        ),
        response: { 201: QuickStartSchema },
      },
    },
    async (req, reply) => {
      const p = cardholderOf(req);
      const body = req.body as QuickBalanceRequest;
      const out = await withIdempotency(ctx, { scope: `${p.userId}:quick-balance`, key: idempotencyKeyOf(req), body }, async () => {
        const s = await startQuickBalance(ctx, p, body, metaOf(req));
        return { status: 201, body: { challengeId: s.challengeId, otpSentTo: s.otpSentTo, expiresAt: s.expiresAt.toISOString() } };
      });
      reply.code(out.status as 201);
      return out.body;
    },
  );

  app.post(
    '/api/v1/quick-balance/:challengeId/confirm',
    {
      preHandler: authenticate,
      schema: {
        tags,
        security,
        summary: 'Answer the quick-balance code: the T+1 balance and the last 3 transactions',
        params: Type.Object({ challengeId: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ otp: Type.String({ maxLength: 16 }) }, { additionalProperties: false }),
        response: { 200: QuickAnswerSchema },
      },
    },
    async (req) => {
      const { challengeId } = req.params as { challengeId: string };
      const { otp } = req.body as { otp: string };
      return quickAnswerView(await confirmQuickBalance(ctx, cardholderOf(req), challengeId, otp, metaOf(req)));
    },
  );
}


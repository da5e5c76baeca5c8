// The sandbox's simulated external core: the CONTRACT.md API under /sandbox/core backed by the built-in core, with fault switches.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ModulePlugin } from '../../app/server.ts';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import {
  BoundedMemo,
  CoreError,
  MAX_CORE_CURSOR_CHARS,
  MAX_CORE_ID_CHARS,
  MAX_TRANSACTIONS_PAGE,
  WireBalance,
  WireCard,
  WireElementCheck,
  WireElementCheckRequest,
  WireTransactionPage,
  balanceToWire,
  cardToWire,
  createBuiltinCore,
  transactionToWire,
  type CoreErrorCode,
} from '../../core/port-exports.ts';
import { CORE_FAULT_MODES, CoreFaultSwitch, MAX_FAULT_DELAY_MS, MAX_FLAKY_EVERY } from './faults.ts';

export const SANDBOX_CORE_PREFIX = '/sandbox/core';
/** Element-check answers remembered by Idempotency-Key (the contract's replay rule). */
const IDEMPOTENCY_MEMO_ENTRIES = 1_000;

const CardParams = Type.Object({
  tenantId: Type.String({ minLength: 1, maxLength: 64 }),
  cardId: Type.String({ minLength: 1, maxLength: MAX_CORE_ID_CHARS }),
});
type CardParams = { tenantId: string; cardId: string };
const Instant = Type.String({ format: 'date-time', maxLength: 40 });
const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() });

function sendError(reply: FastifyReply, status: number, code: CoreErrorCode, message: string): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').send({ code, message });
}

/** Waits `ms`, or less when the client gives up (its timeout closes the connection). */
function sleepUnlessClosed(ms: number, req: FastifyRequest): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      req.raw.off('close', done);
      resolve();
    }
    req.raw.once('close', done);
  });
}

function contractRoutes(ctx: AppContext, faults: CoreFaultSwitch) {
  const core = createBuiltinCore(ctx);
  const replays = new BoundedMemo<{ bodyHash: string; answer: WireElementCheck }>(IDEMPOTENCY_MEMO_ENTRIES);

  return async (sub: FastifyInstance) => {
    sub.addHook('onRequest', async (req, reply) => {
      const action = faults.next();
      if (action.kind === 'reset') {
        // Down: the connection drops without an answer, as when the core's host is gone.
        reply.hijack();
        req.raw.socket.destroy();
        return reply;
      }
      if (action.kind === 'status') return sendError(reply, action.status, action.status === 503 ? 'unavailable' : 'internal', 'simulated fault');
      if (action.kind === 'delay') await sleepUnlessClosed(action.ms, req);
      const token = ctx.config.core.token;
      if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) return sendError(reply, 401, 'unauthorized', 'bad or missing bearer token');
      faults.served++;
    });

    sub.setErrorHandler((err, req, reply) => {
      if (err instanceof CoreError && err.kind === 'not_found') return sendError(reply, 404, 'card_not_found', 'no such card at this institution');
      if (err instanceof CoreError && err.kind === 'rejected') return sendError(reply, 400, 'bad_request', err.message);
      const e = err as { validation?: unknown; statusCode?: number };
      // Every client error raised before the handler (validation, bad JSON, a body too large, a content
      // type it cannot parse, a body parser's own refusal) is the caller's: the contract's 400, not a 500
      // (415 was, found by fuzzing).
      const status = err instanceof AppError ? err.status : e.statusCode;
      if (e.validation || (typeof status === 'number' && status >= 400 && status < 500)) return sendError(reply, 400, 'bad_request', 'the request does not follow the contract');
      req.log.error({ err }, 'sandbox core failed');
      return sendError(reply, 500, 'internal', 'the sandbox core failed');
    });
    sub.setNotFoundHandler((_req, reply) => sendError(reply, 404, 'bad_request', 'no such contract path'));

    const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 500: ErrorBody, 503: ErrorBody };
    const tags = ['sandbox core'];

    sub.get('/v1/health', { schema: { tags, summary: 'Health of the simulated core', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

    sub.get(
      '/v1/tenants/:tenantId/cards/:cardId',
      { schema: { tags, summary: "A card's status", params: CardParams, response: { 200: WireCard, ...errors } } },
      async (req) => {
        const p = req.params as CardParams;
        return cardToWire(await core.cardStatus({ id: p.cardId, tenantId: p.tenantId }));
      },
    );

    sub.get(
      '/v1/tenants/:tenantId/cards/:cardId/balance',
      {
        schema: {
          tags,
          summary: "A card's balance, now or as of an instant",
          params: CardParams,
          querystring: Type.Object({ asOf: Type.Optional(Instant) }, { additionalProperties: false }),
          response: { 200: WireBalance, ...errors },
        },
      },
      async (req) => {
        const p = req.params as CardParams;
        const q = req.query as { asOf?: string };
        const b = await core.balance({ id: p.cardId, tenantId: p.tenantId }, { asOf: q.asOf ? new Date(q.asOf) : undefined });
        return balanceToWire(p.cardId, b);
      },
    );

    sub.get(
      '/v1/tenants/:tenantId/cards/:cardId/transactions',
      {
        schema: {
          tags,
          summary: "A page of a card's transactions, newest first",
          params: CardParams,
          querystring: Type.Object(
            {
              from: Type.Optional(Instant),
              to: Type.Optional(Instant),
              cursor: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CORE_CURSOR_CHARS })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TRANSACTIONS_PAGE })),
              direction: Type.Optional(Type.Enum(['credit', 'debit'])),
            },
            { additionalProperties: false },
          ),
          response: { 200: WireTransactionPage, ...errors },
        },
      },
      async (req) => {
        const p = req.params as CardParams;
        const q = req.query as { from?: string; to?: string; cursor?: string; limit?: number; direction?: 'credit' | 'debit' };
        const page = await core.transactions(
          { id: p.cardId, tenantId: p.tenantId },
          { from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined, cursor: q.cursor, limit: q.limit, direction: q.direction },
        );
        return { items: page.items.map(transactionToWire), nextCursor: page.nextCursor };
      },
    );

    sub.post(
      '/v1/tenants/:tenantId/element-checks',
      {
        schema: {
          tags,
          summary: 'The four-element check (card number, holder name, document, reserved phone)',
          params: Type.Object({ tenantId: Type.String({ minLength: 1, maxLength: 64 }) }),
          headers: Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 128 }) }),
          body: WireElementCheckRequest,
          response: { 200: WireElementCheck, ...errors },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.params as { tenantId: string };
        const body = req.body as WireElementCheckRequest;
        const key = `${tenantId}\u0000${req.headers['idempotency-key'] as string}`;
        const bodyHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
        const seen = replays.get(key);
        if (seen) {
          if (seen.bodyHash !== bodyHash) return sendError(reply, 400, 'bad_request', 'the Idempotency-Key was used for another request');
          return seen.answer;
        }
        const r = await core.verifyElements(tenantId, body);
        const answer: WireElementCheck = r.match ? { match: true, card: cardToWire(r.card) } : { match: false };
        replays.set(key, { bodyHash, answer });
        return answer;
      },
    );
  };
}

const FaultsBody = Type.Object(
  {
    mode: Type.Enum([...CORE_FAULT_MODES]),
    downAs: Type.Optional(Type.Enum(['reset', '503'])),
    delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_FAULT_DELAY_MS })),
    every: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_FLAKY_EVERY })),
  },
  { additionalProperties: false },
);
const FaultsAnswer = Type.Object({
  mode: Type.Enum([...CORE_FAULT_MODES]),
  downAs: Type.Enum(['reset', '503']),
  delayMs: Type.Integer(),
  every: Type.Integer(),
  requests: Type.Integer({ description: 'contract requests received since the sandbox started' }),
  served: Type.Integer({ description: 'contract requests served normally' }),
});

/**
 * The simulated external core (`/sandbox/core/v1/…`, CONTRACT.md) and its fault switches
 * (`GET|POST /sandbox/api/core/faults`). Backed by the built-in core's records and ledger on the
 * sandbox's database, so postings booked there are what the external core "has". Mounted only
 * with the sandbox on; CORE_BANKING_TOKEN, when the sandbox has one, is the bearer it demands.
 */
export const sandboxCoreRoutes: ModulePlugin = async (app, ctx) => {
  if (!ctx.config.sandbox) return;
  const faults = new CoreFaultSwitch();
  // Encapsulated: the contract's error shape and the fault hook apply to these routes only.
  await app.register(contractRoutes(ctx, faults), { prefix: SANDBOX_CORE_PREFIX });

  const state = () => ({ ...faults.faults, requests: faults.requests, served: faults.served });
  app.get('/sandbox/api/core/faults', { schema: { tags: ['sandbox'], summary: "The simulated core's fault switches", response: { 200: FaultsAnswer } } }, async () => state());
  app.post(
    '/sandbox/api/core/faults',
    { schema: { tags: ['sandbox'], summary: 'Sets a fault of the simulated core: none, down (reset or 503), slow (delayMs), flaky (every n-th fails)', body: FaultsBody, response: { 200: FaultsAnswer } } },
    async (req) => {
      const b = req.body as { mode: (typeof CORE_FAULT_MODES)[number]; downAs?: 'reset' | '503'; delayMs?: number; every?: number };
      faults.set(b);
      ctx.log.info({ faults: faults.faults }, 'sandbox core faults set');
      return state();
    },
  );
};

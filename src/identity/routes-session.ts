// HTTP routes for sessions, the user (/me), device activation and step-up answers.
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../app/server.ts';
import type { AppContext } from '../app/context.ts';
import { cardholderOf, type Authenticate } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { inTx } from '../db/tx.ts';
import { requireTenant, TENANT_ID_PATTERN } from '../tenants/index.ts';
import type { RequestMeta } from './events.ts';
import { DEVICE_ID_PATTERN } from './policy.ts';
import { createSession, deviceTrusted, revokeSession, userView } from './sessions.ts';
import { confirmDeviceActivation, requestDeviceActivation } from './devices.ts';
import { answerStepUp } from './step-up.ts';
import { countBoundCards } from './cards.ts';
import { getUser, setPreferences } from './store.ts';
import { idempotencyKeyOf, withIdempotency } from './idempotency.ts';

export const UserSchema = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  maskedPhone: Type.Union([Type.String(), Type.Null()]),
  elderlyMode: Type.Boolean(),
  voice: Type.Boolean(),
  deviceActivationRequired: Type.Boolean(),
});

const MeSchema = Type.Object({
  user: UserSchema,
  tenant: Type.Object({ id: Type.String(), name: Type.String(), kind: Type.String() }),
  boundCards: Type.Integer({ description: 'how many cards the user has bound' }),
  elderlyMode: Type.Boolean(),
  voice: Type.Boolean(),
});

const ProblemRef = Type.Object({ code: Type.String() }, { additionalProperties: true, description: 'problem+json (see API.md error codes)' });

export function metaOf(request: FastifyRequest): RequestMeta {
  return { ip: request.ip, requestId: request.id, deviceId: request.cardholder?.deviceId };
}

export function sessionRoutes(app: App, ctx: AppContext, auth: { authenticate: Authenticate; authenticateAnyDevice: Authenticate }): void {
  app.post(
    '/api/v1/sessions',
    {
      schema: {
        tags: ['cardholder'],
        summary: 'Sign in with a mini-program wx.login code, or an OA web-auth code with kind "oauth"',
        headers: Type.Object({ 'x-device-id': Type.String({ pattern: DEVICE_ID_PATTERN.source, description: "the client's device id (16–64 of A–Z a–z 0–9 _ -)" }) }),
        body: Type.Object(
          {
            tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 }),
            code: Type.String({ minLength: 1, maxLength: 256 }),
            kind: Type.Optional(Type.Literal('oauth')),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ token: Type.String(), expiresAt: Type.String({ format: 'date-time' }), user: UserSchema }), 401: ProblemRef },
      },
    },
    async (req, reply) => {
      const body = req.body as { tenantId: string; code: string; kind?: 'oauth' };
      const deviceId = req.headers['x-device-id'] as string;
      const s = await createSession(ctx, { tenantId: body.tenantId, code: body.code, kind: body.kind, deviceId, meta: { ip: req.ip, requestId: req.id, deviceId } });
      reply.code(201);
      return { token: s.token, expiresAt: s.expiresAt.toISOString(), user: s.user };
    },
  );

  const revoke = async (req: FastifyRequest, reply: { code(n: number): { send(): unknown } }) => {
    await revokeSession(ctx, cardholderOf(req).sessionId, metaOf(req));
    return reply.code(204).send();
  };
  const revokeSchema = { tags: ['cardholder'], summary: 'Sign out: the session token stops working at once', security: [{ session: [] }] };
  app.delete('/api/v1/sessions/current', { preHandler: auth.authenticateAnyDevice, schema: revokeSchema }, revoke);
  app.post('/api/v1/sessions/current/revoke', { preHandler: auth.authenticateAnyDevice, schema: revokeSchema }, revoke);

  const me = async (req: FastifyRequest) => {
    const p = cardholderOf(req);
    const [user, tenant] = await Promise.all([getUser(ctx.db, p.userId), requireTenant(ctx.db, p.tenantId)]);
    if (!user) throw new AppError('unauthenticated');
    const trusted = await deviceTrusted(ctx, user, p.deviceId, tenant.policy);
    return {
      user: userView(user, trusted),
      tenant: { id: tenant.id, name: tenant.name, kind: tenant.kind },
      boundCards: await countBoundCards(ctx.db, user.id),
      elderlyMode: user.elderlyMode,
      voice: user.voice,
    };
  };
  app.get(
    '/api/v1/me',
    {
      preHandler: auth.authenticateAnyDevice,
      schema: { tags: ['cardholder'], summary: 'The user, the institution, bound cards count, elderly-mode and voice preferences', security: [{ session: [] }], response: { 200: MeSchema } },
    },
    me,
  );
  app.patch(
    '/api/v1/me',
    {
      preHandler: auth.authenticate,
      schema: {
        tags: ['cardholder'],
        summary: 'Change the elderly-mode (larger type, simpler pages) and voice (read balances aloud) preferences',
        security: [{ session: [] }],
        body: Type.Object({ elderlyMode: Type.Optional(Type.Boolean()), voice: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: MeSchema },
      },
    },
    async (req) => {
      const p = cardholderOf(req);
      const body = req.body as { elderlyMode?: boolean; voice?: boolean };
      await inTx(ctx.db, (tx) => setPreferences(tx, p.userId, body, ctx.clock.now()));
      return me(req);
    },
  );

  app.post(
    '/api/v1/devices/:deviceId/activation',
    {
      preHandler: auth.authenticateAnyDevice,
      schema: {
        tags: ['cardholder'],
        summary: 'New-device activation: `{}` sends a code to the phone on file (202), `{ otp }` confirms it (200)',
        security: [{ session: [] }],
        params: Type.Object({ deviceId: Type.String({ maxLength: 64 }) }),
        body: Type.Object(
          { otp: Type.Optional(Type.String({ maxLength: 16 })), challengeId: Type.Optional(Type.String({ maxLength: 64 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ activated: Type.Literal(true) }),
          202: Type.Object({ activated: Type.Literal(false), challengeId: Type.String(), otpSentTo: Type.String(), expiresAt: Type.String({ format: 'date-time' }) }),
        },
      },
    },
    async (req, reply) => {
      const p = cardholderOf(req);
      const { deviceId } = req.params as { deviceId: string };
      const body = (req.body ?? {}) as { otp?: string; challengeId?: string };
      if (body.otp !== undefined) {
        await confirmDeviceActivation(ctx, p, deviceId, { otp: body.otp, challengeId: body.challengeId }, metaOf(req));
        return { activated: true as const };
      }
      type Answer = { activated: true } | { activated: false; challengeId: string; otpSentTo: string; expiresAt: string };
      const out = await withIdempotency<Answer>(ctx, { scope: `${p.userId}:device-activation:${deviceId}`, key: idempotencyKeyOf(req), body }, async () => {
        const a = await requestDeviceActivation(ctx, p, deviceId, metaOf(req));
        return a.activated
          ? { status: 200, body: { activated: true } }
          : { status: 202, body: { activated: false, challengeId: a.challengeId, otpSentTo: a.otpSentTo, expiresAt: a.expiresAt.toISOString() } };
      });
      reply.code(out.status as 200 | 202);
      return out.body;
    },
  );

  app.post(
    '/api/v1/step-ups/:challengeId',
    {
      preHandler: auth.authenticate,
      schema: {
        tags: ['cardholder'],
        summary: 'Answer a step-up challenge: last 4 digits of the payment password, the SMS code, or a face token',
        security: [{ session: [] }],
        params: Type.Object({ challengeId: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ answer: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ challengeId: Type.String(), passed: Type.Literal(true), method: Type.String(), validUntil: Type.String({ format: 'date-time' }) }),
        },
      },
    },
    async (req) => {
      const { challengeId } = req.params as { challengeId: string };
      const { answer } = req.body as { answer: string };
      const r = await answerStepUp(ctx, cardholderOf(req), challengeId, answer, metaOf(req));
      return { ...r, validUntil: r.validUntil.toISOString() };
    },
  );
}

// City services entry (城市服务): an authorisation, then face verification (FaceVerifier port) plus the card-element check, then the bank balance beside the social-security / housing-fund accounts a provider tenant holds.
import { Type } from 'typebox';
import type { App } from '../app/server.ts';
import type { AppContext } from '../app/context.ts';
import { cardholderOf, type Authenticate, type CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { recordAudit } from '../audit/index.ts';
import { verifyElementsAtCore } from '../core/index.ts';
import { inTx } from '../db/tx.ts';
import { identityPorts, listBoundCards, parseElements, type BindingRequest, type ParsedElements } from '../identity/index.ts';
import { newId } from '../shared/ids.ts';
import { getTenant } from '../tenants/index.ts';
import { balanceForUser } from './accounts-port.ts';
import type { SocialSecurityProvider } from './social-security.ts';
import { cdb, getChannelSettings } from './store.ts';

/** An authorisation must be verified within this long, and a verified one shows the view this long. */
export const CITY_AUTH_TTL_MS = 10 * 60_000;
export const CITY_VERIFIED_TTL_MS = 30 * 60_000;
/** Failed verifications (face or elements) before the authorisation is spent. */
export const CITY_MAX_ATTEMPTS = 3;

const security = [{ session: [] }];
const AuthId = Type.Object({ authorisationId: Type.String({ pattern: '^city_[0-9a-z]{26}$' }) });

const Money = (d: string) => Type.Integer({ description: d });
const OverviewAnswer = Type.Object({
  authorisationId: Type.String(),
  bank: Type.Object({
    cardId: Type.String(),
    maskedNumber: Type.String(),
    available: Money('minor units'),
    ledger: Money('minor units'),
    currency: Type.String(),
    asOf: Type.String({ format: 'date-time' }),
    freshness: Type.String(),
    stale: Type.Boolean(),
  }),
  socialSecurity: Type.Union([
    Type.Object({
      providerTenantId: Type.String(),
      providerName: Type.String(),
      accounts: Type.Array(
        Type.Object({ kind: Type.String({ description: 'pension (社保养老), medical (医保), housing_fund (公积金)' }), accountMasked: Type.String(), balance: Money('fen'), monthly: Money('fen, monthly contribution'), paidThrough: Type.String(), status: Type.String() }),
      ),
    }),
    Type.Null(),
  ]),
  socialSecurityError: Type.Optional(Type.String({ description: 'set when the provider could not be reached: the bank part is still answered' })),
});

function parseVerify(b: Record<string, string>, now: Date): ParsedElements & { faceToken: string } {
  // The four elements as binding parses them: every malformed field named at once.
  return { faceToken: b.faceToken!, ...parseElements(b as unknown as BindingRequest, now) };
}

async function ownSession(ctx: AppContext, p: CardholderPrincipal, id: string) {
  const row = await cdb(ctx.db).selectFrom('channels_city_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || row.tenant_id !== p.tenantId || row.user_id !== p.userId) throw new AppError('not_found', 'no such authorisation');
  return row;
}

function audit(ctx: AppContext, p: CardholderPrincipal, action: string, outcome: 'ok' | 'refused', id: string, detail: Record<string, unknown>, now: Date) {
  return recordAudit(ctx.db, { tenantId: p.tenantId, actor: { kind: 'cardholder', id: p.userId }, action, subject: { kind: 'city_authorisation', id }, outcome, detail: { channel: 'city', ...detail }, deviceId: p.deviceId, at: now });
}

/**
 * `POST /api/v1/city/authorisations`, `POST /api/v1/city/authorisations/{id}/verify`,
 * `GET /api/v1/city/authorisations/{id}/overview` behind the cardholder hook.
 */
export function cityRoutes(app: App, ctx: AppContext, authenticate: Authenticate, provider: SocialSecurityProvider | undefined): void {
  app.post(
    '/api/v1/city/authorisations',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cardholder'],
        summary: 'City services: the cardholder authorises showing their bank balance beside their social-security accounts (step 1 of 3)',
        security,
        body: Type.Object({ consent: Type.Literal(true, { description: 'the user agreed to share their verified identity with the city-services view' }) }, { additionalProperties: false }),
        response: { 201: Type.Object({ authorisationId: Type.String(), status: Type.Literal('authorised'), expiresAt: Type.String({ format: 'date-time' }), next: Type.Literal('verify') }) },
      },
    },
    async (req, reply) => {
      const p = cardholderOf(req);
      const now = ctx.clock.now();
      const id = newId('city');
      const expiresAt = new Date(now.getTime() + CITY_AUTH_TTL_MS);
      await inTx(ctx.db, async (tx) => {
        await cdb(tx).insertInto('channels_city_sessions').values({ id, tenant_id: p.tenantId, user_id: p.userId, status: 'authorised', card_id: null, id_type: null, id_number_enc: null, attempts: 0, created_at: now, expires_at: expiresAt, verified_at: null }).execute();
        await recordAudit(tx, { tenantId: p.tenantId, actor: { kind: 'cardholder', id: p.userId }, action: 'city.authorised', subject: { kind: 'city_authorisation', id }, outcome: 'ok', detail: { channel: 'city' }, deviceId: p.deviceId, ip: req.ip, at: now });
      });
      return reply.code(201).send({ authorisationId: id, status: 'authorised' as const, expiresAt: expiresAt.toISOString(), next: 'verify' as const });
    },
  );

  app.post(
    '/api/v1/city/authorisations/:authorisationId/verify',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cardholder'],
        summary: 'City services step 2: a face-verification token plus the four card elements of one of the user’s bound cards',
        security,
        params: AuthId,
        body: Type.Object(
          {
            faceToken: Type.String({ minLength: 1, maxLength: 200, description: 'the face check’s result token (sandbox: POST /sandbox/api/face/{userId})' }),
            cardNumber: Type.String({ maxLength: 32 }),
            holderName: Type.String({ maxLength: 64 }),
            idType: Type.String({ maxLength: 40 }),
            idNumber: Type.String({ maxLength: 32 }),
            phone: Type.String({ maxLength: 20 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ authorisationId: Type.String(), status: Type.Literal('verified'), cardId: Type.String(), expiresAt: Type.String({ format: 'date-time' }) }) },
      },
    },
    async (req) => {
      const p = cardholderOf(req);
      const { authorisationId } = req.params as { authorisationId: string };
      const now = ctx.clock.now();
      const e = parseVerify(req.body as Record<string, string>, now);
      const row = await ownSession(ctx, p, authorisationId);
      if (row.status !== 'authorised' || row.expires_at.getTime() <= now.getTime()) throw new AppError('conflict', 'this authorisation is spent or expired: start again');
      const fail = async (reason: string, err: AppError): Promise<never> => {
        const attempts = row.attempts + 1;
        await cdb(ctx.db).updateTable('channels_city_sessions').set({ attempts, ...(attempts >= CITY_MAX_ATTEMPTS ? { status: 'failed' as const } : {}) }).where('id', '=', row.id).execute();
        await audit(ctx, p, 'city.verify', 'refused', row.id, { reason, attempts }, now);
        throw err;
      };
      const face = identityPorts(ctx).face;
      if (!face) throw new AppError('service_paused', 'face verification is not available');
      if (!(await face.verify(ctx.db, { tenantId: p.tenantId, userId: p.userId, faceToken: e.faceToken, now }))) return fail('face', new AppError('forbidden', 'face verification failed'));
      const check = await verifyElementsAtCore(ctx, p.tenantId, { cardNumber: e.cardNumber, holderName: e.holderName, idType: e.idType, idNumber: e.idNumber, phone: e.phone });
      if (!check.match) return fail('elements', new AppError('card_not_bindable', "the card elements do not match the bank's records"));
      const card = (await listBoundCards(ctx.db, p.tenantId, p.userId)).find((c) => c.coreCardId === check.card.id);
      if (!card) return fail('not_bound', new AppError('forbidden', 'bind this card first'));
      const expiresAt = new Date(now.getTime() + CITY_VERIFIED_TTL_MS);
      await cdb(ctx.db)
        .updateTable('channels_city_sessions')
        .set({ status: 'verified', card_id: card.cardId, id_type: e.idType, id_number_enc: ctx.crypto.encrypt(e.idNumber.reveal()), verified_at: now, expires_at: expiresAt })
        .where('id', '=', row.id)
        .where('status', '=', 'authorised')
        .execute();
      await audit(ctx, p, 'city.verify', 'ok', row.id, { maskedNumber: card.maskedNumber }, now);
      return { authorisationId: row.id, status: 'verified' as const, cardId: card.cardId, expiresAt: expiresAt.toISOString() };
    },
  );

  app.get(
    '/api/v1/city/authorisations/:authorisationId/overview',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cardholder'],
        summary: 'City services step 3: the verified card’s balance (real time, as the balance API) beside the social-security / housing-fund accounts of the provider tenant',
        security,
        params: AuthId,
        response: { 200: OverviewAnswer },
      },
    },
    async (req) => {
      const p = cardholderOf(req);
      const { authorisationId } = req.params as { authorisationId: string };
      const now = ctx.clock.now();
      const row = await ownSession(ctx, p, authorisationId);
      if (row.status !== 'verified' || row.expires_at.getTime() <= now.getTime() || !row.card_id || !row.id_number_enc || !row.id_type) {
        throw new AppError('conflict', 'verify this authorisation first (or start again: it expired)');
      }
      const b = await balanceForUser(ctx, { tenantId: p.tenantId, userId: p.userId, sessionId: p.sessionId, deviceId: p.deviceId }, row.card_id, { channel: 'city', meta: { ip: req.ip, requestId: req.id, deviceId: p.deviceId } });
      const settings = await getChannelSettings(ctx.db, p.tenantId);
      let socialSecurity: { providerTenantId: string; providerName: string; accounts: { kind: string; accountMasked: string; balance: number; monthly: number; paidThrough: string; status: string }[] } | null = null;
      let socialSecurityError: string | undefined;
      if (settings.socialSecurityTenantId && provider) {
        const providerTenant = await getTenant(ctx.db, settings.socialSecurityTenantId);
        try {
          const accounts = await provider.accountsOf(ctx, { providerTenantId: settings.socialSecurityTenantId, idType: row.id_type, idNumber: ctx.crypto.decrypt(row.id_number_enc) });
          socialSecurity = {
            providerTenantId: settings.socialSecurityTenantId,
            providerName: providerTenant?.name ?? settings.socialSecurityTenantId,
            accounts: accounts.map((a) => ({ kind: a.kind, accountMasked: a.accountMasked, balance: Number(a.balanceFen), monthly: Number(a.monthlyFen), paidThrough: a.paidThrough, status: a.status })),
          };
        } catch (err) {
          ctx.log.warn({ err: { name: (err as Error).name }, tenantId: p.tenantId }, 'social-security provider unreachable; answering the bank part');
          socialSecurityError = 'provider_unavailable';
        }
      }
      await audit(ctx, p, 'city.overview', 'ok', row.id, { maskedNumber: b.maskedNumber, socialSecurity: socialSecurity ? socialSecurity.accounts.length : null }, now);
      return {
        authorisationId: row.id,
        bank: { cardId: b.cardId, maskedNumber: b.maskedNumber, available: Number(b.available), ledger: Number(b.ledger), currency: b.currency, asOf: b.asOf.toISOString(), freshness: b.freshness, stale: b.stale },
        socialSecurity,
        ...(socialSecurityError ? { socialSecurityError } : {}),
      };
    },
  );
}

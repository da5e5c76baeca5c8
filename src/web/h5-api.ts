// The H5 app's own small API: public per-tenant page settings (OA web-auth entry, notice version) and spoken amounts for voice broadcast.
import { Type } from 'typebox';
import type { ModulePlugin } from '../app/server.ts';
import { AppError } from '../app/errors.ts';
import { getTenant, listTenants, TENANT_ID_PATTERN, TOPUP_METHODS, type Tenant } from '../tenants/index.ts';
import { ID_TYPES } from '../shared/id-document.ts';
import { fenToChineseUpper, MAX_JSON_FEN } from '../shared/money.ts';
import { CURRENCY_PATTERN, spokenAmount } from './speech.ts';

/**
 * The privacy notice the H5 consent page shows and records decisions under (PIPL art. 17: the
 * notice names purposes; a new version asks again). Bump it when the notice text changes.
 */
export const PRIVACY_NOTICE_VERSION = '2026-01';
/** Tenants the sandbox's sign-in page offers (a demo install has a handful). */
export const SANDBOX_TENANT_LIST_MAX = 50;
/** Longest amount text the speech route reads: 16 digits and a sign (within JSON's exact range). */
const AMOUNT_PATTERN = '^-?\\d{1,16}$';

const TenantSummary = Type.Object({ id: Type.String(), name: Type.String(), kind: Type.String() });

const FeeRule = Type.Union([
  Type.Object({ kind: Type.Literal('free') }),
  Type.Object({ kind: Type.Literal('rate'), basisPoints: Type.Integer(), minFen: Type.Integer(), maxFen: Type.Union([Type.Integer(), Type.Null()]) }),
]);
const TopupMethod = Type.Object({
  method: Type.String({ description: 'wechat_balance | bank_card | credit_card' }),
  minFen: Type.Integer(),
  maxFen: Type.Integer(),
  fee: FeeRule,
});

const ConfigAnswer = Type.Object({
  sandbox: Type.Boolean({ description: 'the server runs the WeChat sandbox (demo helpers may be shown)' }),
  privacyNoticeVersion: Type.String(),
  idTypes: Type.Array(Type.String(), { description: 'identity documents accepted for binding' }),
  tenant: Type.Union([
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      kind: Type.String(),
      oaAppId: Type.Union([Type.String(), Type.Null()]),
      statements: Type.Object({ maxMonths: Type.Integer(), mode: Type.String() }),
      noBind: Type.Object({ enabled: Type.Boolean() }),
      topup: Type.Object(
        { methods: Type.Array(TopupMethod, { description: 'the enabled top-up methods with their amount limits (fen) and fee rules; empty: no top-up here' }) },
        { description: 'what the top-up page offers (citizen-card institutions)' },
      ),
    }),
    Type.Null(),
  ]),
  oauthAuthorizeUrl: Type.String({ description: 'the OA web-authorisation page (open.weixin.qq.com or the sandbox)' }),
  tenants: Type.Array(TenantSummary, { description: 'sandbox only: the tenants to pick from; empty otherwise' }),
});

/** The top-up methods the tenant has on, with the limits the server's order check applies (POST /api/v1/topups answers amount_out_of_range outside them). */
function topupMethods(t: Tenant) {
  if (t.kind !== 'citizen_card') return [];
  return TOPUP_METHODS.flatMap((method) => {
    const rule = t.policy.topup.methods[method];
    return rule.enabled ? [{ method, minFen: Number(rule.minFen), maxFen: Number(rule.maxFen), fee: rule.fee }] : [];
  });
}

/** `GET /api/v1/h5/config` and `GET /api/v1/speech/money`; both public (no cardholder data). */
export const h5Api: ModulePlugin = (app, ctx) => {
  app.get(
    '/api/v1/h5/config',
    {
      schema: {
        tags: ['cardholder'],
        summary: "The H5 pages' settings for a tenant: its name, OA appId and web-auth page, statement range, no-bind switch",
        querystring: Type.Object({ tenantId: Type.Optional(Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 })) }),
        response: { 200: ConfigAnswer },
      },
    },
    async (req, reply) => {
      const { tenantId } = req.query as { tenantId?: string };
      const t = tenantId ? await getTenant(ctx.db, tenantId) : undefined;
      if (tenantId && !t) throw new AppError('not_found', 'no such institution');
      const tenants = ctx.config.sandbox && !t ? (await listTenants(ctx.db)).slice(0, SANDBOX_TENANT_LIST_MAX) : [];
      // Settings change rarely; a minute of caching saves a round trip on every page open.
      reply.header('cache-control', 'private, max-age=60');
      return {
        sandbox: ctx.config.sandbox,
        privacyNoticeVersion: PRIVACY_NOTICE_VERSION,
        idTypes: [...ID_TYPES],
        tenant: t
          ? {
              id: t.id,
              name: t.name,
              kind: t.kind,
              oaAppId: t.oaAppId,
              statements: { maxMonths: t.policy.statements.maxMonths, mode: t.policy.statements.mode },
              noBind: { enabled: t.policy.noBind.enabled },
              topup: { methods: topupMethods(t) },
            }
          : null,
        oauthAuthorizeUrl: `${ctx.config.wechat.openBase}/connect/oauth2/authorize`,
        tenants: tenants.map((x) => ({ id: x.id, name: x.name, kind: x.kind })),
      };
    },
  );

  app.get(
    '/api/v1/speech/money',
    {
      schema: {
        tags: ['cardholder'],
        summary: 'An amount in minor units as Chinese words: `spoken` for reading aloud (一千二百三十四元五角六分), `upper` in 大写 for CNY',
        querystring: Type.Object({
          amount: Type.String({ pattern: AMOUNT_PATTERN, description: 'minor units (fen), e.g. 123456' }),
          currency: Type.Optional(Type.String({ pattern: CURRENCY_PATTERN.source, default: 'CNY' })),
        }),
        response: {
          200: Type.Object({ amount: Type.String(), currency: Type.String(), text: Type.String(), upper: Type.Union([Type.String(), Type.Null()]) }),
        },
      },
    },
    async (req, reply) => {
      const q = req.query as { amount: string; currency?: string };
      const currency = q.currency ?? 'CNY';
      const minor = BigInt(q.amount);
      if (minor > MAX_JSON_FEN || minor < -MAX_JSON_FEN) throw AppError.validation([{ field: 'amount', message: 'is too large' }]);
      // The words for an amount never change: let the browser keep them.
      reply.header('cache-control', 'public, max-age=86400');
      return { amount: minor.toString(), currency, text: spokenAmount(minor, currency), upper: currency === 'CNY' ? fenToChineseUpper(minor) : null };
    },
  );
};

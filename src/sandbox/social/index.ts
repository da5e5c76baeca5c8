// The sandbox's social-security provider: a provider tenant (kind social_security) holding 社保 / 公积金 accounts by ID number, its SocialSecurityProvider adapter and the route that opens accounts.
import { randomInt } from 'node:crypto';
import { Type } from 'typebox';
import type { AppContext } from '../../app/context.ts';
import type { ModulePlugin } from '../../app/server.ts';
import { AppError } from '../../app/errors.ts';
import { inTx } from '../../db/tx.ts';
import { createTenant, getTenant, TENANT_ID_PATTERN } from '../../tenants/index.ts';
import { cdb } from '../../channels/store.ts';
import type { SocialAccountKind, SocialSecurityAccount, SocialSecurityProvider } from '../../channels/social-security.ts';

const ID_BIDX_DOMAIN = 'sandbox.social.id';

/** The sandbox adapter: reads the provider tenant's accounts of the person from the sandbox table. */
export const sandboxSocialSecurity: SocialSecurityProvider = {
  async accountsOf(ctx, q) {
    const rows = await cdb(ctx.db)
      .selectFrom('sandbox_social_accounts')
      .selectAll()
      .where('provider_tenant_id', '=', q.providerTenantId)
      .where('id_number_bidx', '=', ctx.crypto.blindIndex(ID_BIDX_DOMAIN, q.idNumber.toUpperCase()))
      .orderBy('kind')
      .execute();
    return rows.map((r) => ({ kind: r.kind, accountMasked: r.account_masked, balanceFen: BigInt(r.balance_fen), monthlyFen: BigInt(r.monthly_fen), paidThrough: r.paid_through, status: r.status }));
  },
};

/** Creates the provider tenant (kind social_security) if it does not exist. */
export async function ensureSocialProvider(ctx: AppContext, id: string, name: string): Promise<void> {
  if (await getTenant(ctx.db, id)) return;
  await inTx(ctx.db, (tx) => createTenant(tx, ctx.crypto, { id, name, kind: 'social_security', preset: 'unlimited-realtime', now: ctx.clock.now() }));
}

/** Opens or updates an account of the person at the provider. */
export async function putSocialAccount(ctx: AppContext, a: { providerTenantId: string; idNumber: string; kind: SocialAccountKind; balanceFen: bigint; monthlyFen: bigint; paidThrough: string; status?: SocialSecurityAccount['status'] }): Promise<SocialSecurityAccount> {
  const now = ctx.clock.now();
  const accountMasked = `${a.kind === 'housing_fund' ? 'GJJ' : 'SB'}****${String(randomInt(0, 10_000)).padStart(4, '0')}`;
  const row = {
    provider_tenant_id: a.providerTenantId,
    id_number_bidx: ctx.crypto.blindIndex(ID_BIDX_DOMAIN, a.idNumber.toUpperCase()),
    kind: a.kind,
    account_masked: accountMasked,
    balance_fen: a.balanceFen,
    monthly_fen: a.monthlyFen,
    paid_through: a.paidThrough,
    status: a.status ?? 'active',
    updated_at: now,
  };
  const saved = await cdb(ctx.db)
    .insertInto('sandbox_social_accounts')
    .values(row)
    .onConflict((oc) => oc.columns(['provider_tenant_id', 'id_number_bidx', 'kind']).doUpdateSet({ balance_fen: row.balance_fen, monthly_fen: row.monthly_fen, paid_through: row.paid_through, status: row.status, updated_at: now }))
    .returning('account_masked')
    .executeTakeFirstOrThrow();
  return { kind: a.kind, accountMasked: saved.account_masked, balanceFen: a.balanceFen, monthlyFen: a.monthlyFen, paidThrough: a.paidThrough, status: row.status };
}

/** `POST /sandbox/api/social-security/accounts` (sandbox only): a provider tenant opens a 社保 / 公积金 account for a person. */
export const sandboxSocialRoutes: ModulePlugin = (app, ctx) => {
  if (!ctx.config.sandbox) return;
  app.post(
    '/sandbox/api/social-security/accounts',
    {
      schema: {
        tags: ['sandbox'],
        summary: 'A social-security provider tenant (created if missing, kind social_security) opens or updates an account of a person, by ID number',
        body: Type.Object(
          {
            providerTenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, minLength: 2, maxLength: 40 }),
            // No NUL: PostgreSQL text cannot hold it (it was a 500, found by fuzzing).
            providerName: Type.Optional(Type.String({ minLength: 1, maxLength: 40, pattern: '^[^\\u0000]+$' })),
            idNumber: Type.String({ pattern: '^[0-9A-Za-z()（）]{6,20}$' }),
            kind: Type.Union([Type.Literal('pension'), Type.Literal('medical'), Type.Literal('housing_fund')]),
            balance: Type.Integer({ minimum: 0, maximum: 1e13, description: 'fen' }),
            monthly: Type.Integer({ minimum: 0, maximum: 1e10, description: 'fen' }),
            paidThrough: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}$' }),
            status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')])),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ kind: Type.String(), accountMasked: Type.String(), balance: Type.Integer(), monthly: Type.Integer(), paidThrough: Type.String(), status: Type.String() }) },
      },
    },
    async (req, reply) => {
      const b = req.body as { providerTenantId: string; providerName?: string; idNumber: string; kind: SocialAccountKind; balance: number; monthly: number; paidThrough: string; status?: SocialSecurityAccount['status'] };
      const existing = await getTenant(ctx.db, b.providerTenantId);
      if (existing && existing.kind !== 'social_security') throw new AppError('conflict', `tenant ${b.providerTenantId} is not a social-security provider`);
      await ensureSocialProvider(ctx, b.providerTenantId, b.providerName ?? '社保中心（演示）');
      const a = await putSocialAccount(ctx, { providerTenantId: b.providerTenantId, idNumber: b.idNumber, kind: b.kind, balanceFen: BigInt(b.balance), monthlyFen: BigInt(b.monthly), paidThrough: b.paidThrough, ...(b.status ? { status: b.status } : {}) });
      return reply.code(201).send({ kind: a.kind, accountMasked: a.accountMasked, balance: Number(a.balanceFen), monthly: Number(a.monthlyFen), paidThrough: a.paidThrough, status: a.status });
    },
  );
};

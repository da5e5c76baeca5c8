// The risk gates of a query, in their order: freeze, cross-border lock, captcha, signal, quota — for bound and no-bind queries.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx } from '../db/tx.ts';
import type { Policy } from '../tenants/policy-schema.ts';
import { requireCaptcha } from './captcha.ts';
import { checkCrossBorder } from './geo.ts';
import { consumeQuota, type QuotaUse } from './quota.ts';
import { activeFreeze, recordRiskSignal, type ActiveFreeze } from './signals.ts';

function frozenError(f: ActiveFreeze): AppError {
  return new AppError('card_frozen', 'temporarily frozen by risk control', { until: f.until.toISOString(), scope: f.scope });
}

async function refuseIfFrozen(ctx: AppContext, q: { tenantId: string; userId?: string; cardId?: string; now: Date }): Promise<void> {
  const f = await activeFreeze(ctx.db, q);
  if (f) throw frozenError(f);
}

/**
 * Records the signal in its own committed transaction (a refusal later in the request must not
 * erase the evidence of the attempt) and refuses when it tipped the subject into a freeze.
 */
async function signalOrRefuse(
  ctx: AppContext,
  s: Parameters<typeof recordRiskSignal>[2],
): Promise<void> {
  const r = await inTx(ctx.db, (tx) => recordRiskSignal(ctx, tx, s));
  if (r.action === 'none') return;
  const f = await activeFreeze(ctx.db, { tenantId: s.tenantId, userId: s.userId, cardId: s.cardId, now: s.now });
  if (f) throw frozenError(f);
}

export interface NoBindQuery {
  tenantId: string;
  policy: Policy;
  /** The WeChat account asking (its user id or openid key): quota and risk subject. */
  accountKey: string;
  /** The probed card's blind index (never the number). */
  cardKey: string;
  ip?: string;
  now: Date;
}

/**
 * Gates one no-bind query (quick balance) before its OTP is sent: refused while the account or
 * the card is frozen; every try counts as a `nobind_card_probe` of the account, so enumerating
 * card numbers freezes it (risk) even where quotas are generous; then the per-account and
 * per-card daily quotas (both or neither are used).
 */
export async function guardNoBindQuery(ctx: AppContext, q: NoBindQuery): Promise<{ account: QuotaUse; card: QuotaUse }> {
  if (!q.policy.noBind.enabled) throw new AppError('forbidden', 'this institution does not offer queries without binding');
  await refuseIfFrozen(ctx, { tenantId: q.tenantId, userId: q.accountKey, cardId: q.cardKey, now: q.now });
  await signalOrRefuse(ctx, {
    tenantId: q.tenantId,
    userId: q.accountKey,
    cardId: q.cardKey,
    kind: 'nobind_card_probe',
    now: q.now,
    ...(q.ip ? { ip: q.ip } : {}),
  });
  return inTx(ctx.db, async (tx) => ({
    account: await consumeQuota(tx, {
      tenantId: q.tenantId,
      kind: 'nobind_account',
      key: q.accountKey,
      limit: q.policy.quotas.noBindPerWechatAccountPerDay,
      now: q.now,
    }),
    card: await consumeQuota(tx, { tenantId: q.tenantId, kind: 'nobind_card', key: q.cardKey, limit: q.policy.quotas.noBindPerCardPerDay, now: q.now }),
  }));
}

export interface BoundQuery {
  tenantId: string;
  policy: Policy;
  userId: string;
  /** The bound card's token. */
  cardId: string;
  ip?: string;
  /** Whether the card's cross-border lock applies (crossBorderLockOn of the policy and the card). */
  crossBorderLockOn: boolean;
  /** The X-Captcha header, when the client sent one. */
  captchaAnswer?: string | string[] | undefined;
  now: Date;
}

/**
 * Gates one bound-card query: freeze, cross-border lock, the policy's captcha, the query signal
 * (frequency, new location), then the per-user daily quota.
 */
export async function guardBoundQuery(ctx: AppContext, q: BoundQuery): Promise<QuotaUse> {
  await refuseIfFrozen(ctx, { tenantId: q.tenantId, userId: q.userId, cardId: q.cardId, now: q.now });
  if (q.ip) checkCrossBorder({ ip: q.ip, lockOn: q.crossBorderLockOn });
  await requireCaptcha(ctx, { policy: q.policy, use: 'bound_query', tenantId: q.tenantId, subject: q.userId, answer: q.captchaAnswer, now: q.now });
  await signalOrRefuse(ctx, { tenantId: q.tenantId, userId: q.userId, cardId: q.cardId, kind: 'query', now: q.now, ...(q.ip ? { ip: q.ip } : {}) });
  return consumeQuota(ctx.db, { tenantId: q.tenantId, kind: 'bound_query', key: q.userId, limit: q.policy.quotas.boundPerUserPerDay, now: q.now });
}

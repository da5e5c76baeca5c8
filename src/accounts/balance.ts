// The balance of a bound card: usable card, risk gates, the core's answer under the tenant's freshness, step-up by amount, quota and audit.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { readBalance, type BalanceAnswer } from '../core/index.ts';
import { requireStepUp, type BoundCard, type RequestMeta } from '../identity/index.ts';
import { needsStepUp, type Policy } from '../tenants/index.ts';
import { cachedTenant, principalOf, usableCard, type Reader } from './hot-state.ts';
import { stepUpAmount } from './policy.ts';
import { gateBeforeRead, recordRead } from './query-gate.ts';
import { loadRateBook, type CnyEquivalent } from './rates.ts';

export interface ReadOptions {
  meta?: RequestMeta;
  /** The X-Captcha answer, for tenants that put bound queries behind a slider check. */
  captchaAnswer?: string | string[] | undefined;
  /** Add CNY equivalents (multi-currency accounts). */
  cny?: boolean;
  /** The channel asking, for the audit entry: `oa`, `sms`, `city`; the H5/mini-program API leaves it out. */
  channel?: string;
}

export interface BalanceView extends BalanceAnswer {
  cardId: string;
  maskedNumber: string;
  /** With `cny`: the CNY equivalents at today's rate; null when the account is not in CNY and no rate is known. */
  cnyEquivalent?: { available: CnyEquivalent; ledger: CnyEquivalent } | null;
}

/**
 * Throws step_up_required when the balance is at or above the tenant's threshold ("balances ≥
 * ¥500,000 need the last 4 digits of the trade password each time", DOMAIN.md). A session answers
 * identity's challenge; a channel without one (OA chat, SMS) cannot, and is told the method.
 */
export async function stepUpIfNeeded(ctx: AppContext, who: Reader, policy: Policy, card: BoundCard, balance: { available: bigint; ledger: bigint }, meta: RequestMeta | undefined, now: Date): Promise<void> {
  const amountFen = stepUpAmount(balance);
  if (!needsStepUp(policy, amountFen)) return;
  if (!who.sessionId || !who.deviceId) {
    throw new AppError('step_up_required', 'this balance needs further verification: check it in the app', { method: policy.verification.stepUpMethod });
  }
  await requireStepUp(ctx, principalOf(who), { purpose: 'balance.read', card, amountFen, now, meta });
}

/**
 * `GET /api/v1/cards/{cardId}/balance`, and the OA chat's 余额 / SMS banking's YE: the card's
 * available and ledger balance under the tenant's freshness (real time, 30 s, 60 s), or the last
 * known value with its true `asOf` and `stale: true` while the core is down (core_unavailable
 * with nothing kept). Refusals: not_found / forbidden (not the reader's card), card_lost,
 * card_frozen, card_cancelled, account_dormant, cross_border_locked, captcha_required,
 * step_up_required, quota_exceeded. Each answer is one bound query (risk signal, daily quota)
 * and one audit entry, committed before the balance is returned.
 */
export async function balanceForUser(ctx: AppContext, who: Reader, cardId: string, opts: ReadOptions = {}): Promise<BalanceView> {
  const now = ctx.clock.now();
  const meta = opts.meta ?? {};
  const tenant = await cachedTenant(ctx, who.tenantId);
  const policy = tenant.policy;
  const { card, core } = await usableCard(ctx, who, cardId, 'balance');
  await gateBeforeRead(ctx, { tenantId: who.tenantId, policy, userId: who.userId, core, captchaAnswer: opts.captchaAnswer, ip: meta.ip, now });
  const balance = await readBalance(ctx, { tenantId: who.tenantId, card: core, freshness: policy.balance.freshness, now });
  await stepUpIfNeeded(ctx, who, policy, card, balance, meta, now);
  await recordRead(ctx, {
    tenantId: who.tenantId,
    policy,
    userId: who.userId,
    cardId: card.cardId,
    action: 'balance.read',
    counts: true,
    detail: { maskedNumber: card.maskedNumber, freshness: balance.freshness, stale: balance.stale, ...(opts.channel ? { channel: opts.channel } : {}) },
    meta,
    now,
  });
  const view: BalanceView = { ...balance, cardId: card.cardId, maskedNumber: card.maskedNumber };
  if (opts.cny) view.cnyEquivalent = await cnyOfBalance(ctx, balance, now);
  return view;
}

/** Today's CNY equivalents of a balance (CNY converts to itself), or null without a rate. */
export async function cnyOfBalance(ctx: AppContext, b: { available: bigint; ledger: bigint; currency: string }, now: Date): Promise<BalanceView['cnyEquivalent']> {
  const book = await loadRateBook(ctx.db, [b.currency], now, now);
  const available = book.cny(b.available, b.currency, now);
  const ledger = book.cny(b.ledger, b.currency, now);
  return available && ledger ? { available, ledger } : null;
}

// All of a cardholder's bound cards with their balances, and totals per currency (never summed across currencies).
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { readBalance, type BalanceAnswer } from '../core/index.ts';
import { assertCardUsable, listBoundCards, type BoundCard } from '../identity/index.ts';
import { checkCrossBorder } from '../risk/index.ts';
import { needsStepUp } from '../tenants/index.ts';
import type { ReadOptions } from './balance.ts';
import { cachedTenant, type Reader } from './hot-state.ts';
import { stepUpAmount, totalsPerCurrency, type CurrencyTotal } from './policy.ts';
import { cardLockOn, gateBeforeRead, recordRead, refuseIfUserFrozen } from './query-gate.ts';
import { loadRateBook, type CnyEquivalent } from './rates.ts';

export interface OverviewAccount {
  card: BoundCard;
  institution: string;
  currency: string;
  /** Null when it is not shown: see `unavailable`. */
  balance: BalanceAnswer | null;
  /**
   * Why the balance is not shown: `step_up_required` (at or above the step-up threshold: open the
   * card's balance to verify), or the card's refusal (`card_lost`, `account_dormant`,
   * `cross_border_locked`, `core_unavailable`, …).
   */
  unavailable: string | null;
  cnyEquivalent?: { available: CnyEquivalent; ledger: CnyEquivalent } | null;
}

export interface Overview {
  accounts: OverviewAccount[];
  totals: CurrencyTotal[];
  /** With `cny`: the shown balances in CNY at today's rates; `complete` false when one could not be converted or shown. */
  cnyTotal?: { availableFen: bigint; ledgerFen: bigint; complete: boolean };
}

/**
 * `GET /api/v1/overview`: every bound card, default first, with its balance under the tenant's
 * freshness. A card that cannot be read (lost, dormant, …) or whose balance needs a step-up is
 * listed without a balance and left out of the totals (counted as `omitted`). One bound query
 * for the whole overview (captcha, risk signal, quota) and one audit entry.
 */
export async function overviewForUser(ctx: AppContext, who: Reader, opts: ReadOptions = {}): Promise<Overview> {
  const now = ctx.clock.now();
  const meta = opts.meta ?? {};
  const tenant = await cachedTenant(ctx, who.tenantId);
  const policy = tenant.policy;
  await refuseIfUserFrozen(ctx, { tenantId: who.tenantId, userId: who.userId, now });
  await gateBeforeRead(ctx, { tenantId: who.tenantId, policy, userId: who.userId, captchaAnswer: opts.captchaAnswer, now });
  const cards = await listBoundCards(ctx.db, who.tenantId, who.userId);

  const accounts = await Promise.all(
    cards.map(async (card): Promise<OverviewAccount> => {
      const base = { card, institution: tenant.name };
      let currency = 'CNY';
      try {
        const core = await assertCardUsable(ctx, card, { purpose: 'balance', now });
        currency = core.currency;
        if (meta.ip) checkCrossBorder({ ip: meta.ip, lockOn: cardLockOn(policy, core) });
        const balance = await readBalance(ctx, { tenantId: who.tenantId, card: core, freshness: policy.balance.freshness, now });
        if (needsStepUp(policy, stepUpAmount(balance))) return { ...base, currency, balance: null, unavailable: 'step_up_required' };
        return { ...base, currency, balance, unavailable: null };
      } catch (err) {
        if (!(err instanceof AppError) || (err.status >= 500 && err.code !== 'core_unavailable')) throw err;
        return { ...base, currency, balance: null, unavailable: err.code };
      }
    }),
  );

  await recordRead(ctx, {
    tenantId: who.tenantId,
    policy,
    userId: who.userId,
    action: 'overview.read',
    counts: true,
    detail: { cards: cards.length, shown: accounts.filter((a) => a.balance).length, ...(opts.channel ? { channel: opts.channel } : {}) },
    meta,
    now,
  });

  const totals = totalsPerCurrency(accounts.map((a) => ({ currency: a.currency, balance: a.balance ? { availableFen: a.balance.available, ledgerFen: a.balance.ledger } : null })));
  const out: Overview = { accounts, totals };
  if (opts.cny) {
    const book = await loadRateBook(ctx.db, totals.map((t) => t.currency), now, now);
    const cnyTotal = { availableFen: 0n, ledgerFen: 0n, complete: true };
    for (const a of accounts) {
      if (!a.balance) {
        cnyTotal.complete = false;
        continue;
      }
      const available = book.cny(a.balance.available, a.currency, now);
      const ledger = book.cny(a.balance.ledger, a.currency, now);
      a.cnyEquivalent = available && ledger ? { available, ledger } : null;
      if (available && ledger) {
        cnyTotal.availableFen += available.amountFen;
        cnyTotal.ledgerFen += ledger.amountFen;
      } else {
        cnyTotal.complete = false;
      }
    }
    out.cnyTotal = cnyTotal;
  }
  return out;
}

// The accounts module's public face: the cardholder routes and the read use cases channels (OA chat, SMS banking, city services) reuse.
//
// Channels call the same use cases as the H5/mini-program API (one rule, one place), with a
// `Reader` ({ tenantId, userId } and, from a session, sessionId/deviceId) and `opts.channel` for
// the audit entry. Without a session a balance at or above the step-up threshold answers
// step_up_required { method } with no challenge: the channel tells the user to check in the app.
//   balanceForUser(ctx, reader, cardId, opts?)            余额 / YE / YE#1234
//   recentTransactions(ctx, reader, cardId, count, opts?)  明细 (last 5) / MX (last 3)
//   overviewForUser(ctx, reader, opts?)                    every bound card with totals per currency
//   trendsForUser(ctx, reader, cardId, months, opts?)
// Each is one bound query (risk signal + daily quota) and one audit entry, group-committed.
// Statement items of a bound card carry `billRef` (contact's ref: GET /api/v1/bills/{billRef},
// contact customer service about the entry); quick-balance entries carry none (not the caller's card).
import type { ModulePlugin } from '../app/server.ts';
import type { Authenticate } from '../app/auth.ts';
import { cachedCardholderAuth } from './hot-state.ts';
import { registerAccountsJobs, scheduleAccountsPrune } from './jobs.ts';
import { seedDemoRates } from './rates.ts';
import { accountRoutes } from './routes.ts';

export { balanceForUser, cnyOfBalance, type BalanceView, type ReadOptions } from './balance.ts';
export { transactionsForUser, recentTransactions, exportTransactions, RECENT_MAX, EXPORT_MAX_ROWS, type StatementItem, type StatementPage, type StatementQuery } from './statements.ts';
export { trendsForUser, TREND_MAX_PAGES, type Trends, type TrendMonth } from './trends.ts';
export { overviewForUser, type Overview, type OverviewAccount } from './overview.ts';
export { startQuickBalance, confirmQuickBalance, type QuickBalanceAnswer, type QuickBalanceRequest, type QuickBalanceStarted } from './quick-balance.ts';
export { loadRateBook, setExchangeRate, seedDemoRates, RateBook, type CnyEquivalent } from './rates.ts';
export { toCnyFen, divideHalfEven, parseRate, formatRate, formatMinor, currencyExponent, RATE_SCALE, RATE_DECIMALS } from './conversion.ts';
export { statementRange, monthBuckets, MAX_TREND_MONTHS, DEFAULT_TREND_MONTHS, type StatementRange } from './policy.ts';
export { cachedCardholderAuth, HOT_STATE_TTL_MS, type Reader } from './hot-state.ts';
export { pruneAccountsData, ACCOUNTS_PRUNE_TOPIC, QUICK_QUERY_RETENTION_DAYS } from './jobs.ts';
export { GROUP_COMMIT_MAX_ITEMS, GROUP_COMMIT_MAX_INFLIGHT, GROUP_COMMIT_MAX_QUEUED } from '../db/group-commit.ts';

export interface AccountsRoutesOptions {
  /** The cardholder hook; default: identity's behind a short per-instance cache (cachedCardholderAuth). */
  authenticate?: Authenticate;
}

/**
 * The accounts API (balance, transactions and their CSV, trends, overview, quick balance), the
 * daily prune of quick-balance queries, and with the sandbox on, the demo exchange rates.
 */
export function accountsRoutes(opts: AccountsRoutesOptions = {}): ModulePlugin {
  return async (app, ctx) => {
    accountRoutes(app, ctx, opts.authenticate ?? cachedCardholderAuth(ctx));
    registerAccountsJobs(ctx);
    const now = ctx.clock.now();
    await scheduleAccountsPrune(ctx.db, now);
    if (ctx.config.sandbox) await seedDemoRates(ctx.db, now);
  };
}

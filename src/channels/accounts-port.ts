// The accounts use cases the channels call (one rule, one place: src/accounts), re-exported under the names channels use.
export { balanceForUser, recentTransactions, overviewForUser, type Reader, type BalanceView, type StatementPage } from '../accounts/index.ts';
export type { RequestMeta as RequestMetaLike } from '../identity/index.ts';

// The CoreBanking port's public face (index.ts re-exports it): the port, its adapters, the freshness-aware reads and catch-up.
export {
  CoreError,
  isCoreDown,
  MAX_TRANSACTIONS_PAGE,
  DEFAULT_TRANSACTIONS_PAGE,
  type CardKey,
  type CoreBalance,
  type CoreBanking,
  type CoreCardStatus,
  type CoreErrorKind,
  type CoreTransaction,
  type Direction,
  type ElementCheck,
  type TransactionPage,
  type TransactionQuery,
} from './port.ts';
export { createCoreBanking, corePort, type CoreBankingOptions } from './setup.ts';
export { coreOf, type CoreContext } from './runtime.ts';
export { readBalance, readCardStatus, verifyElementsAtCore, type BalanceAnswer, type ReadBalanceInput } from './service.ts';
export { readTransactions, type ReadTransactionsInput, type TransactionsAnswer } from './transactions.ts';
export { type Freshness, type FreshnessLabel } from './freshness.ts';
export { t1Point, previousBusinessDay, shanghaiDate, chinaCalendar, type T1Point, type WorkdayCalendar } from './business-day.ts';
export { catchUp, CATCH_UP_TOPIC, type CatchUpReport } from './catch-up.ts';
export { catchUpBacklog } from './mirror.ts';
export { BuiltinCore, createBuiltinCore } from './builtin-adapter.ts';
export { HttpCore } from './http-adapter.ts';
export { CircuitBreaker, type BreakerSnapshot, type BreakerState } from './breaker.ts';
export { BoundedMemo } from './runtime.ts';
// The wire contract (CONTRACT.md), for whoever serves it (the sandbox's simulated core).
export {
  MAX_CORE_CURSOR_CHARS,
  MAX_CORE_ID_CHARS,
  WireBalance,
  WireCard,
  WireElementCheck,
  WireElementCheckRequest,
  WireTransactionPage,
  balanceToWire,
  cardToWire,
  transactionToWire,
  type CoreErrorCode,
} from './contract.ts';

// Row types of the tables of migration 0017_accounts: exchange rates to CNY and no-bind (quick balance) queries.
import type { ColumnType } from 'kysely';

/**
 * CNY per one unit of `currency`, effective from a business day until the next row of the same
 * currency. The rate is an integer scaled by 10^8 (conversion.ts RATE_SCALE): never a float.
 */
export interface ExchangeRateRow {
  currency: string;
  /** `YYYY-MM-DD` (Asia/Shanghai); text, so both drivers hand back the same string. */
  effective_on: string;
  rate_scaled: ColumnType<bigint, bigint | string, bigint | string>;
  /** Where the figure came from: `pboc` (central parity), `operator`, `demo`. */
  source: string;
  recorded_at: Date;
}

/**
 * One quick-balance query (no binding): the probed card (by core id and blind index, never its
 * number), the OTP challenge sent to its reserved phone, and when it was answered. Kept
 * QUICK_QUERY_RETENTION_DAYS for support look-ups, then pruned.
 */
export interface QuickQueryRow {
  id: string;
  tenant_id: string;
  /** The WeChat account asking (identity's user id). */
  user_id: string;
  core_card_id: string;
  /** HMAC blind index of the card number: the risk and quota subject of the probe. */
  card_key: string;
  masked_number: string;
  otp_challenge_id: string;
  created_at: Date;
  expires_at: Date;
  answered_at: Date | null;
}

export interface AccountsTables {
  accounts_exchange_rates: ExchangeRateRow;
  accounts_quick_queries: QuickQueryRow;
}

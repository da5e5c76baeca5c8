// Row types of the wechat module's tables (migration 0004_wechat): the shared access_token of each app, under a lease.
import type { ColumnType } from 'kysely';

export interface WechatAccessTokenRow {
  tenant_id: string;
  /** `oa`, `miniProgram` or `wecom` (src/wechat/api WechatAppKind). */
  kind: string;
  /** The appid (OA, mini-program) or corpid (WeCom) the token was fetched for: new credentials start afresh. */
  app_id: string;
  /** FieldCrypto envelope of the token; null until the first fetch. */
  token_enc: string | null;
  expires_at: Date | null;
  /** Tokens stored so far for this app: the refresh count, and the version a compare-and-refresh checks. */
  generation: ColumnType<number, number | undefined, number>;
  /** Forced refreshes among them (after 40001/40014/42001 from an API). */
  forced_refreshes: ColumnType<number, number | undefined, number>;
  /** The instance fetching a new token now, and until when its claim holds. */
  lease_holder: string | null;
  lease_until: Date | null;
  /** The last failed fetch: WeChat's errcode (-1 for network), so waiting instances fail fast instead of each retrying. */
  last_errcode: number | null;
  last_error_at: Date | null;
  refreshed_at: Date | null;
  created_at: ColumnType<Date, Date, never>;
}

export interface WechatTables {
  wechat_access_tokens: WechatAccessTokenRow;
}

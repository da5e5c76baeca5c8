// Row types of the tables of migration 0009_sandbox_wx (sandbox platform: users, codes, access tokens, message inbox, subscribe grants, SMS outbox).
import type { ColumnType, Generated } from 'kysely';

/** A simulated WeChat user of one tenant: one person, an openid per app, one unionid. */
export interface SandboxWxUserRow {
  unionid: string;
  tenant_id: string;
  oa_openid: string;
  mini_openid: string;
  /** Follows the Official Account (template and customer-service messages need it: 43004). */
  subscribed: boolean;
  /** The phone the user's WeChat account holds (getPhoneNumber), encrypted with a blind index. */
  phone_enc: string | null;
  phone_bidx: string | null;
  phone_masked: string | null;
  /** The mini-program session key, encrypted; each wx.login rotates it, as WeChat may. */
  mini_session_key_enc: string | null;
  /** The user's last interaction with the OA: customer-service messages are allowed for 48 h after it. */
  last_interaction_at: Date;
  created_at: ColumnType<Date, Date, never>;
}

export type SandboxCodeKind = 'wx_login' | 'oauth' | 'phone';

/** wx.login codes, OA web-auth codes and getPhoneNumber codes: single use, 5-minute life. */
export interface SandboxWxCodeRow {
  code: string;
  kind: SandboxCodeKind;
  tenant_id: string;
  app_id: string;
  unionid: string;
  /** OA web auth: `snsapi_base` or `snsapi_userinfo`. */
  scope: string | null;
  issued_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

export type SandboxTokenEndpoint = 'classic' | 'stable' | 'wecom';

/** Every access_token the sandbox issued, with the platform's validity rules. */
export interface SandboxWxTokenRow {
  /** sha256 hex of the token: the look-up key of an API call. */
  token_hash: string;
  /** FieldCrypto envelope: stable_token and WeCom answer the same token again. */
  token_enc: string;
  tenant_id: string;
  app_id: string;
  kind: 'oa' | 'miniProgram' | 'wecom';
  endpoint: SandboxTokenEndpoint;
  forced: boolean;
  issued_at: Date;
  expires_at: Date;
  /** Set when a newer classic fetch (or a revoke) supersedes it: valid until then, never after. */
  invalid_after: Date | null;
  /** Token-endpoint calls that answered this token (stable_token and WeCom answer one token many times). */
  fetch_count: ColumnType<number, number | undefined, number>;
}

export type SandboxMessageKind = 'template' | 'subscribe' | 'custom';

/** Messages the server sent through the platform's message APIs. */
export interface SandboxWxMessageRow {
  id: string;
  seq: Generated<bigint>;
  tenant_id: string;
  app_id: string;
  kind: SandboxMessageKind;
  openid: string;
  template_id: string | null;
  msgid: string;
  /** The message body as sent (data, url, miniprogram, page, or the text). */
  content: ColumnType<unknown, string, string>;
  client_msg_id: string | null;
  sent_at: Date;
}

/** One-time subscribe-message acceptances (wx.requestSubscribeMessage): each allows one send. */
export interface SandboxWxSubscribeGrantRow {
  unionid: string;
  template_id: string;
  remaining: number;
  updated_at: Date;
}

/** The SMS outbox: phone, text and code encrypted; the phone found by its blind index. */
export interface SandboxWxSmsRow {
  id: string;
  seq: Generated<bigint>;
  phone_enc: string;
  phone_bidx: string;
  phone_masked: string;
  text_enc: string;
  code_enc: string | null;
  sent_at: Date;
}

export interface SandboxWxTables {
  sandbox_wx_users: SandboxWxUserRow;
  sandbox_wx_codes: SandboxWxCodeRow;
  sandbox_wx_tokens: SandboxWxTokenRow;
  sandbox_wx_messages: SandboxWxMessageRow;
  sandbox_wx_subscribe_grants: SandboxWxSubscribeGrantRow;
  sandbox_wx_sms: SandboxWxSmsRow;
}

// Row types of the tables of migration 0015_identity: WeChat users, sessions, devices, OTP challenges, bindings, bound cards, step-ups.
import type { ColumnType, Generated } from 'kysely';

/**
 * A person at one tenant: the tenant's per-app openids are linked by unionid (`link_key` =
 * `u:<unionid>`); an app that gives no unionid links by its openid (`o:<kind>:<openid>`) until a
 * later sign-in brings the unionid, which then replaces it.
 */
export interface IdentityUserRow {
  id: string;
  tenant_id: string;
  link_key: string;
  /** The phone verified by the latest binding's OTP (C2: encrypted, blind index, masked); null before the first binding. */
  phone_enc: string | null;
  phone_bidx: string | null;
  phone_masked: string | null;
  /** Bumped when the phone on file changes: devices activated under an older version need SMS activation again. */
  phone_version: number;
  /** The core card whose reserved phone the phone on file came from (a change there is a SIM/phone change). */
  phone_core_card_id: string | null;
  elderly_mode: boolean;
  voice: boolean;
  created_at: ColumnType<Date, Date, never>;
  updated_at: ColumnType<Date, Date, Date>;
}

export interface IdentityWechatIdRow {
  tenant_id: string;
  app_kind: 'oa' | 'miniProgram';
  openid: string;
  user_id: string;
  unionid: string | null;
  created_at: ColumnType<Date, Date, never>;
  last_seen_at: Date;
}

export interface IdentityDeviceRow {
  user_id: string;
  device_id: string;
  first_seen_at: ColumnType<Date, Date, never>;
  last_seen_at: Date;
  activated_at: Date | null;
  /** The user's phone_version when this device was activated; another version means activation again. */
  activated_phone_version: number | null;
  /** Last passed face check on this device (remembered for the policy's faceRememberDays). */
  face_verified_at: Date | null;
}

export interface IdentitySessionRow {
  id: string;
  /** SHA-256 (hex) of the bearer token: the token itself is never stored. */
  token_hash: string;
  tenant_id: string;
  user_id: string;
  device_id: string;
  app_kind: 'oa' | 'miniProgram';
  created_at: ColumnType<Date, Date, never>;
  last_seen_at: Date;
  /** Sliding expiry (idle timeout), never past absolute_expires_at. */
  expires_at: Date;
  absolute_expires_at: Date;
  revoked_at: Date | null;
}

export interface IdentityOtpChallengeRow {
  id: string;
  tenant_id: string;
  purpose: string;
  /** What the code unlocks (a binding id, `user:device`, a quick-balance request…): verify checks it. */
  subject: string;
  phone_bidx: string;
  phone_masked: string;
  /** HMAC-SHA256 of `challengeId:code` under a key derived from the pepper (C3: never in clear). */
  code_hash: string;
  attempts: number;
  max_attempts: number;
  created_at: ColumnType<Date, Date, never>;
  expires_at: Date;
  consumed_at: Date | null;
  locked_at: Date | null;
  /** Set when the SMS could not be delivered: the challenge never existed for the user. */
  cancelled_at: Date | null;
}

export interface IdentityOtpFailureRow {
  id: Generated<string>;
  tenant_id: string;
  phone_bidx: string;
  challenge_id: string;
  at: Date;
}

export interface IdentityBindingRow {
  id: string;
  tenant_id: string;
  user_id: string;
  core_card_id: string;
  challenge_id: string;
  status: 'pending' | 'confirmed' | 'failed';
  created_at: ColumnType<Date, Date, never>;
  expires_at: Date;
  completed_at: Date | null;
  /** The bound card created on confirmation. */
  card_id: string | null;
}

export interface IdentityCardRow {
  /** The opaque card token channels hold (`card_…`); the card number never leaves the core. */
  id: string;
  tenant_id: string;
  user_id: string;
  core_card_id: string;
  kind: 'debit' | 'credit' | 'citizen';
  masked_number: string;
  last4: string;
  is_default: boolean;
  bound_at: ColumnType<Date, Date, never>;
  unbound_at: Date | null;
  /** unbound (by the cardholder), card_cancelled (core), cancel_sweep (daily sweep). */
  unbound_reason: string | null;
  updated_at: Date;
}

export interface IdentityStepUpRow {
  id: string;
  tenant_id: string;
  user_id: string;
  session_id: string;
  device_id: string;
  purpose: string;
  /** Bound card token the step-up is for (null for card-less purposes). */
  card_id: string | null;
  method: 'payment_password_last4' | 'sms_otp' | 'face';
  otp_challenge_id: string | null;
  attempts: number;
  max_attempts: number;
  status: 'pending' | 'passed' | 'locked' | 'used';
  created_at: ColumnType<Date, Date, never>;
  expires_at: Date;
  passed_at: Date | null;
  used_at: Date | null;
}

/** Sandbox only: face tokens the simulated face check hands out (src/sandbox/face). */
export interface SandboxFaceTokenRow {
  token_hash: string;
  tenant_id: string;
  user_id: string;
  created_at: ColumnType<Date, Date, never>;
  expires_at: Date;
  used_at: Date | null;
}

export interface IdentityTables {
  identity_users: IdentityUserRow;
  identity_wechat_ids: IdentityWechatIdRow;
  identity_devices: IdentityDeviceRow;
  identity_sessions: IdentitySessionRow;
  identity_otp_challenges: IdentityOtpChallengeRow;
  identity_otp_failures: IdentityOtpFailureRow;
  identity_bindings: IdentityBindingRow;
  identity_cards: IdentityCardRow;
  identity_step_ups: IdentityStepUpRow;
  sandbox_face_tokens: SandboxFaceTokenRow;
}

// Row types of the built-in core banking's tables (migration 0005_core): customers and their cards.
import type { ColumnType } from 'kysely';

/**
 * C2 fields (JR/T 0171-2020) are stored three ways: `*_enc` (FieldCrypto envelope, the only clear
 * source), `*_bidx` (HMAC-SM3 blind index for equality look-ups) and `*_masked` (display form).
 */
export interface CoreCustomerRow {
  id: string;
  tenant_id: string;
  name_enc: string;
  name_bidx: string;
  name_masked: string;
  id_type: string;
  id_number_enc: string;
  id_number_bidx: string;
  id_number_masked: string;
  phone_enc: string;
  phone_bidx: string;
  phone_masked: string;
  created_at: ColumnType<Date, Date, never>;
  updated_at: ColumnType<Date, Date, Date>;
}

export interface CoreCardRow {
  id: string;
  tenant_id: string;
  customer_id: string;
  number_enc: string;
  number_bidx: string;
  number_masked: string;
  last4: string;
  kind: 'debit' | 'credit' | 'citizen';
  currency: string;
  status: 'active' | 'lost' | 'frozen' | 'cancelled' | 'dormant';
  ledger_account_id: string;
  /** `scrypt$…` of the 6-digit payment password (C3: never stored in clear); null until set. */
  payment_password_hash: string | null;
  /** The same scheme over the last 4 digits, for the ≥ threshold step-up (DOMAIN.md). */
  payment_password_last4_hash: string | null;
  reserved_phone_enc: string;
  reserved_phone_bidx: string;
  reserved_phone_masked: string;
  /** Citizen cards: `{ form: 'electronic' | 'physical', realName, tUnion }`; null for bank cards. */
  citizen: ColumnType<unknown | null, string | null, string | null>;
  opened_at: Date;
  last_activity_at: Date;
  cross_border_lock: boolean;
  status_changed_at: Date;
  created_at: ColumnType<Date, Date, never>;
  updated_at: ColumnType<Date, Date, Date>;
}

export interface CoreTables {
  core_customers: CoreCustomerRow;
  core_cards: CoreCardRow;
}

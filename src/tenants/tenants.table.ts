// Row types of the tenants module's tables (migration 0003_tenants): institutions, policies, encrypted app credentials.
import type { ColumnType } from 'kysely';

export interface TenantRow {
  /** Slug: lower-case letters, digits and single hyphens, 2–40 characters (e.g. `abc-demo`). */
  id: string;
  name: string;
  kind: 'bank' | 'citizen_card' | 'social_security';
  /** The preset the policy started from (presets.ts). */
  preset: string;
  /** The full, validated policy profile (policy-schema.ts), as jsonb. */
  policy: ColumnType<unknown, string, string>;
  /** FieldCrypto envelope of the credentials JSON; null until the tenant's apps are configured. */
  credentials_enc: string | null;
  /** Not secret: kept in clear so an incoming appid finds its tenant. */
  oa_app_id: string | null;
  mini_program_app_id: string | null;
  created_at: ColumnType<Date, Date, never>;
  updated_at: ColumnType<Date, Date, Date>;
}

export interface TenantTables {
  tenants: TenantRow;
}

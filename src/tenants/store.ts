// The tenants module's SQL: institutions, their policy profiles and their encrypted app credentials.
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import type { FieldCrypto } from '../shared/crypto.ts';
import { applyPolicyPatch, completeStoredPolicy, resolvePolicy, TENANT_KINDS, type Policy, type PolicyPatch, type TenantKind } from './policy.ts';
import { isPresetId, PRESET_IDS, type PresetId } from './presets.ts';
import { assertCredentials, type TenantCredentials } from './credentials.ts';
import { sql, type Selectable } from 'kysely';
import type { TenantRow as TenantTableRow } from './tenants.table.ts';

type TenantRow = Selectable<TenantTableRow>;

export const TENANT_ID_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
export const TENANT_ID_MAX_CHARS = 40;
export const TENANT_NAME_MAX_CHARS = 100;

export interface Tenant {
  id: string;
  name: string;
  kind: TenantKind;
  preset: PresetId;
  policy: Policy;
  oaAppId: string | null;
  miniProgramAppId: string | null;
  hasCredentials: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewTenant {
  id: string;
  name: string;
  kind: TenantKind;
  preset: PresetId;
  /** Tenant-specific changes over the preset. */
  policy?: PolicyPatch;
  credentials?: TenantCredentials;
  now: Date;
}

function parseJson(v: unknown): unknown {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

/** A tenant as reads select it: without the credentials envelope (several KB), only whether there is one. */
type TenantReadRow = Omit<TenantRow, 'credentials_enc'> & { has_credentials: boolean };

const TENANT_READ_COLUMNS = ['id', 'name', 'kind', 'preset', 'policy', 'oa_app_id', 'mini_program_app_id', 'created_at', 'updated_at'] as const;
const hasCredentials = sql<boolean>`credentials_enc is not null`.as('has_credentials');

function toTenant(row: TenantRow | TenantReadRow): Tenant {
  // Rows were validated on write; a preset renamed since then falls back to the strictest reading.
  const preset = isPresetId(row.preset) ? row.preset : 'agricultural';
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    preset,
    policy: completeStoredPolicy(preset, parseJson(row.policy)),
    oaAppId: row.oa_app_id,
    miniProgramAppId: row.mini_program_app_id,
    hasCredentials: 'has_credentials' in row ? row.has_credentials : row.credentials_enc !== null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function assertIdentity(input: { id?: string; name?: string; kind?: string; preset?: string }): void {
  const errors = [];
  if (input.id !== undefined && (input.id.length < 2 || input.id.length > TENANT_ID_MAX_CHARS || !TENANT_ID_PATTERN.test(input.id))) {
    errors.push({ field: 'id', message: `must be 2–${TENANT_ID_MAX_CHARS} lower-case letters, digits and single hyphens` });
  }
  if (input.name !== undefined && (input.name.trim().length === 0 || input.name.length > TENANT_NAME_MAX_CHARS)) {
    errors.push({ field: 'name', message: `must be 1–${TENANT_NAME_MAX_CHARS} characters` });
  }
  if (input.kind !== undefined && !(TENANT_KINDS as readonly string[]).includes(input.kind)) {
    errors.push({ field: 'kind', message: `must be one of ${TENANT_KINDS.join(', ')}` });
  }
  if (input.preset !== undefined && !isPresetId(input.preset)) {
    errors.push({ field: 'preset', message: `must be one of ${PRESET_IDS.join(', ')}` });
  }
  if (errors.length > 0) throw AppError.validation(errors);
}

/** Fails with `conflict` when another tenant already answers to one of these app ids. */
async function assertAppIdsFree(tx: Tx, tenantId: string, creds: TenantCredentials | undefined): Promise<void> {
  const ids = [creds?.oa?.appId, creds?.miniProgram?.appId].filter((v): v is string => !!v);
  if (ids.length === 0) return;
  const taken = await tx
    .selectFrom('tenants')
    .select('id')
    .where('id', '!=', tenantId)
    .where((eb) => eb.or([eb('oa_app_id', 'in', ids), eb('mini_program_app_id', 'in', ids)]))
    .executeTakeFirst();
  if (taken) throw new AppError('conflict', `an app id is already configured for tenant ${taken.id}`);
}

function credentialColumns(crypto: FieldCrypto, creds: TenantCredentials | undefined) {
  return {
    credentials_enc: creds ? crypto.encrypt(JSON.stringify(creds)) : null,
    oa_app_id: creds?.oa?.appId ?? null,
    mini_program_app_id: creds?.miniProgram?.appId ?? null,
  };
}

export async function createTenant(tx: Tx, crypto: FieldCrypto, input: NewTenant): Promise<Tenant> {
  assertIdentity(input);
  const policy = resolvePolicy(input.preset, input.policy);
  const creds = input.credentials === undefined ? undefined : assertCredentials(input.credentials);
  const existing = await tx.selectFrom('tenants').select('id').where('id', '=', input.id).executeTakeFirst();
  if (existing) throw new AppError('conflict', `tenant ${input.id} already exists`);
  await assertAppIdsFree(tx, input.id, creds);
  const row = await tx
    .insertInto('tenants')
    .values({
      id: input.id,
      name: input.name.trim(),
      kind: input.kind,
      preset: input.preset,
      policy: JSON.stringify(policy),
      ...credentialColumns(crypto, creds),
      created_at: input.now,
      updated_at: input.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toTenant(row);
}

export async function getTenant(db: Db | Tx, id: string): Promise<Tenant | undefined> {
  const row = await db.selectFrom('tenants').select(TENANT_READ_COLUMNS).select(hasCredentials).where('id', '=', id).executeTakeFirst();
  return row ? toTenant(row) : undefined;
}

/** The tenant, or `not_found`. */
export async function requireTenant(db: Db | Tx, id: string): Promise<Tenant> {
  const t = await getTenant(db, id);
  if (!t) throw new AppError('not_found', `no tenant ${id}`);
  return t;
}

export async function listTenants(db: Db | Tx): Promise<Tenant[]> {
  const rows = await db.selectFrom('tenants').select(TENANT_READ_COLUMNS).select(hasCredentials).orderBy('id').execute();
  return rows.map(toTenant);
}

async function lockRow(tx: Tx, id: string): Promise<TenantRow> {
  const row = await tx.selectFrom('tenants').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!row) throw new AppError('not_found', `no tenant ${id}`);
  return row;
}

/** Merges `patch` into the tenant's policy; a bad value fails with `validation_failed` naming the field. */
export async function updatePolicy(tx: Tx, id: string, patch: PolicyPatch, now: Date): Promise<Tenant> {
  const row = await lockRow(tx, id);
  const current = toTenant(row).policy;
  const next = applyPolicyPatch(current, patch);
  const updated = await tx
    .updateTable('tenants')
    .set({ policy: JSON.stringify(next), updated_at: now })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toTenant(updated);
}

/** Restarts the tenant's policy from a preset (with optional overrides); name and kind may change too. */
export async function resetProfile(
  tx: Tx,
  id: string,
  input: { preset: PresetId; policy?: PolicyPatch; name?: string; kind?: TenantKind; now: Date },
): Promise<Tenant> {
  assertIdentity(input);
  await lockRow(tx, id);
  const policy = resolvePolicy(input.preset, input.policy);
  const updated = await tx
    .updateTable('tenants')
    .set({
      preset: input.preset,
      policy: JSON.stringify(policy),
      ...(input.name !== undefined ? { name: input.name.trim() } : {}),
      ...(input.kind !== undefined ? { kind: input.kind } : {}),
      updated_at: input.now,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toTenant(updated);
}

/** Replaces the tenant's app credentials (validated, then encrypted as one blob). */
export async function setCredentials(tx: Tx, crypto: FieldCrypto, id: string, credentials: TenantCredentials, now: Date): Promise<Tenant> {
  const creds = assertCredentials(credentials);
  await lockRow(tx, id);
  await assertAppIdsFree(tx, id, creds);
  const updated = await tx
    .updateTable('tenants')
    .set({ ...credentialColumns(crypto, creds), updated_at: now })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toTenant(updated);
}

/** The tenant's decrypted credentials; undefined when the tenant is unknown or has none. */
export async function getCredentials(db: Db | Tx, crypto: FieldCrypto, id: string): Promise<TenantCredentials | undefined> {
  const row = await db.selectFrom('tenants').select('credentials_enc').where('id', '=', id).executeTakeFirst();
  if (!row?.credentials_enc) return undefined;
  return JSON.parse(crypto.decrypt(row.credentials_enc)) as TenantCredentials;
}

export type AppKind = 'oa' | 'miniProgram';

/** The tenant an incoming appid belongs to, and which of its apps it is. */
export async function findTenantByAppId(db: Db | Tx, appId: string): Promise<{ tenant: Tenant; app: AppKind } | undefined> {
  const row = await db
    .selectFrom('tenants')
    .select(TENANT_READ_COLUMNS)
    .select(hasCredentials)
    .where((eb) => eb.or([eb('oa_app_id', '=', appId), eb('mini_program_app_id', '=', appId)]))
    .executeTakeFirst();
  if (!row) return undefined;
  return { tenant: toTenant(row), app: row.oa_app_id === appId ? 'oa' : 'miniProgram' };
}

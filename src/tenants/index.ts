// The tenants module's public face: institutions, policy profiles and presets, app credentials.
export {
  createTenant,
  getTenant,
  requireTenant,
  listTenants,
  updatePolicy,
  resetProfile,
  setCredentials,
  getCredentials,
  findTenantByAppId,
  TENANT_ID_PATTERN,
  type Tenant,
  type NewTenant,
  type AppKind,
} from './store.ts';
export * from './policy.ts';
export { PRESET_IDS, BASE_POLICY, PRESET_PATCHES, isPresetId, type PresetId } from './presets.ts';
export {
  assertCredentials,
  TenantCredentialsSchema,
  type TenantCredentials,
  type OaCredentials,
  type MiniProgramCredentials,
  type PayCredentials,
  type WecomCredentials,
} from './credentials.ts';

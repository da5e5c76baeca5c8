// Row types of the tenants module's tables (see src/db/migrations). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TenantTables {}

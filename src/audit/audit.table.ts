// Row types of the tables of migration 0013_audit (consent records and the hash-chained audit log (owned by src/audit)). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuditTables {}

// Row types of the tables of migration 0016_core_port (cached balances and synced transactions from an external core). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface CorePortTables {}

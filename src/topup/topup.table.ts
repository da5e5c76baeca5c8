// Row types of the tables of migration 0018_topup (top-up orders, settlement, reconciliation, review queue). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TopupTables {}

// Row types of the tables of migration 0020_contact (bills, contact ways, CS contexts, funnel events). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ContactTables {}

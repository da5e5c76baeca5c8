// Row types of the tables of migration 0017_accounts (exchange rates and the accounts module's state). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AccountsTables {}

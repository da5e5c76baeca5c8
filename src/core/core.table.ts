// Row types of the built-in core banking's tables (customers and card accounts). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface CoreTables {}

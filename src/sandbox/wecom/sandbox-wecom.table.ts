// Row types of the tables of migration 0011_sandbox_wecom (sandbox platform: WeCom contact ways and external contacts). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SandboxWecomTables {}

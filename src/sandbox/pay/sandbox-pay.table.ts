// Row types of the tables of migration 0010_sandbox_pay (sandbox platform: Pay v3 orders, refunds, notification deliveries). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SandboxPayTables {}

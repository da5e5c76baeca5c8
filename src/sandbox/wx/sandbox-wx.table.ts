// Row types of the tables of migration 0009_sandbox_wx (sandbox platform: users, login codes, access tokens, template inbox, SMS outbox). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SandboxWxTables {}

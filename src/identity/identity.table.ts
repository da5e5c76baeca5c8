// Row types of the tables of migration 0015_identity (WeChat users, sessions, devices, bindings, OTP challenges, step-ups (owned by src/identity)). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface IdentityTables {}

// Row types of the tables of migration 0014_risk (daily quotas, rate-limit fallbacks, risk events, freezes (owned by src/risk)). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RiskTables {}

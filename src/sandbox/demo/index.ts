// The demo data's public face: seeding (bootstrap and `npm run seed`), the demo sheet, and its sandbox routes.
export { seedDemo, seedDemoIfEmpty, internalAccountCode, SEED_TRANSFER_BATCH, type SeedOptions, type SeedResult } from './seed.ts';
export { generateSandboxCredentials } from './credentials.ts';
export { demoSummary, type DemoSummary } from './summary.ts';
export { demoRoutes } from './routes.ts';
export { DEMO_TENANTS, demoCardholders, type DemoCardholder, type DemoTenantSpec } from './spec.ts';

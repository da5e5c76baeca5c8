// The demo tenants' sandbox credentials generated once per test run (the global setup writes them), so a world's seed skips the RSA key generation that is most of its CPU.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEMO_TENANTS, generateSandboxCredentials } from '../../src/sandbox/demo/index.ts';
import type { OaCredentials, TenantCredentials } from '../../src/tenants/index.ts';

const FILE = () => path.resolve(process.env.WECARD_TEST_RESULTS ?? 'test-results', 'demo-credentials.json');

/** Global setup: one credential set per demo tenant for the whole run. */
export async function writeDemoCredentials(): Promise<void> {
  const sets = Object.fromEntries(await Promise.all(DEMO_TENANTS.map(async (t) => [t.id, await generateSandboxCredentials(t.oaMode)] as const)));
  const file = FILE();
  writeFileSync(`${file}.tmp`, JSON.stringify(sets), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

let loaded: Record<string, TenantCredentials> | undefined;

/** seedDemo's `credentials` for tests: the run's set for the tenant, or freshly generated ones when there is none (a run without the global setup). */
export async function testDemoCredentials(tenantId: string, oaMode: OaCredentials['mode']): Promise<TenantCredentials> {
  if (!loaded && existsSync(FILE())) loaded = JSON.parse(readFileSync(FILE(), 'utf8')) as Record<string, TenantCredentials>;
  const set = loaded?.[tenantId];
  return set && set.oa?.mode === oaMode ? structuredClone(set) : generateSandboxCredentials(oaMode);
}

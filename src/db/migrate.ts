// Runs the numbered migrations (one set for PostgreSQL and PGlite), on start and by `npm run migrate`.
import { Migrator, sql, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Db } from './tx.ts';
import * as m0001 from './migrations/0001_platform.ts';
import * as m0002 from './migrations/0002_ledger.ts';
import * as m0003 from './migrations/0003_tenants.ts';
import * as m0004 from './migrations/0004_wechat.ts';
import * as m0005 from './migrations/0005_core.ts';
import * as m0006 from './migrations/0006_oa.ts';
import * as m0007 from './migrations/0007_pay.ts';
import * as m0008 from './migrations/0008_wecom.ts';
import * as m0009 from './migrations/0009_sandbox_wx.ts';
import * as m0010 from './migrations/0010_sandbox_pay.ts';
import * as m0011 from './migrations/0011_sandbox_wecom.ts';
import * as m0012 from './migrations/0012_jobs.ts';
import * as m0013 from './migrations/0013_audit.ts';
import * as m0014 from './migrations/0014_risk.ts';
import * as m0015 from './migrations/0015_identity.ts';
import * as m0016 from './migrations/0016_core_port.ts';
import * as m0017 from './migrations/0017_accounts.ts';
import * as m0018 from './migrations/0018_topup.ts';
import * as m0019 from './migrations/0019_interchange.ts';
import * as m0020 from './migrations/0020_contact.ts';
import * as m0021 from './migrations/0021_channels.ts';
import * as m0022 from './migrations/0022_admin.ts';

/** Every migration in order. Names are permanent: a released migration is never edited or renamed. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001_platform': m0001,
  '0002_ledger': m0002,
  '0003_tenants': m0003,
  '0004_wechat': m0004,
  '0005_core': m0005,
  '0006_oa': m0006,
  '0007_pay': m0007,
  '0008_wecom': m0008,
  '0009_sandbox_wx': m0009,
  '0010_sandbox_pay': m0010,
  '0011_sandbox_wecom': m0011,
  '0012_jobs': m0012,
  '0013_audit': m0013,
  '0014_risk': m0014,
  '0015_identity': m0015,
  '0016_core_port': m0016,
  '0017_accounts': m0017,
  '0018_topup': m0018,
  '0019_interchange': m0019,
  '0020_contact': m0020,
  '0021_channels': m0021,
  '0022_admin': m0022,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export class MigrationError extends Error {
  constructor(
    readonly migration: string | undefined,
    cause: unknown,
  ) {
    super(`migration ${migration ?? '(unknown)'} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'MigrationError';
  }
}

/**
 * Brings the schema up to date. Concurrent instances are safe: Kysely's migrator takes a lock
 * table row (and on PostgreSQL an advisory lock) so only one applies each migration.
 */
export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  // Kysely looks for its bookkeeping tables in every schema unless told which one: another schema's
  // `kysely_migration` (a second install, a test schema) would make it skip creating ours.
  const schema = (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s;
  if (!schema) throw new MigrationError(undefined, new Error('no current schema: check search_path'));
  const migrator = new Migrator({ db, provider, migrationTableSchema: schema });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new MigrationError(failed?.migrationName, result.error);
  }
  return result;
}

// Runs the numbered migrations (one set for PostgreSQL and PGlite), on start and by `npm run migrate`.
import { Migrator, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Db } from './tx.ts';
import * as m0001 from './migrations/0001_platform.ts';
import * as m0002 from './migrations/0002_ledger.ts';
import * as m0003 from './migrations/0003_tenants.ts';
import * as m0004 from './migrations/0004_wechat.ts';
import * as m0005 from './migrations/0005_core.ts';

/** Every migration in order. Names are permanent: a released migration is never edited or renamed. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001_platform': m0001,
  '0002_ledger': m0002,
  '0003_tenants': m0003,
  '0004_wechat': m0004,
  '0005_core': m0005,
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
  const migrator = new Migrator({ db, provider });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new MigrationError(failed?.migrationName, result.error);
  }
  return result;
}

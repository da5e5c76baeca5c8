// Test databases: a fresh schema on the real PostgreSQL (TEST_DATABASE_URL) or a fresh in-memory PGlite.
import pg from 'pg';
import { openPGlite, openPostgres, type DbHandle } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { randomToken } from '../../src/shared/ids.ts';
import { pgliteSnapshot, restorePostgresSnapshot } from './db-snapshot.ts';

export type TestDbKind = 'postgres' | 'pglite';

export function testDbKind(): TestDbKind {
  const want = process.env.WECARD_TEST_DB;
  if (want === 'pglite') return 'pglite';
  if (want === 'postgres' || process.env.TEST_DATABASE_URL) {
    if (!process.env.TEST_DATABASE_URL) throw new Error('WECARD_TEST_DB=postgres needs TEST_DATABASE_URL');
    return 'postgres';
  }
  return 'pglite';
}

export interface TestDb extends DbHandle {
  /** The schema this test owns on PostgreSQL (undefined on PGlite). */
  schema: string | undefined;
  /** A second handle on the same schema, as another server instance would have. */
  openAnother(poolMax?: number): DbHandle;
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A migrated, empty database of the configured kind, private to the caller. */
export async function openTestDb(opts: { poolMax?: number; migrate?: boolean; kind?: TestDbKind } = {}): Promise<TestDb> {
  const kind = opts.kind ?? testDbKind();
  if (kind === 'pglite') {
    // A migrated snapshot from the global setup when there is one (see db-snapshot.ts).
    const snapshot = opts.migrate !== false ? pgliteSnapshot() : undefined;
    const handle = await openPGlite(undefined, snapshot ? { loadDataDir: snapshot } : {});
    if (opts.migrate !== false && !snapshot) await migrateToLatest(handle.db);
    return {
      ...handle,
      schema: undefined,
      openAnother: () => {
        throw new Error('PGlite is single-process: a second instance needs PostgreSQL');
      },
    };
  }
  const url = process.env.TEST_DATABASE_URL!;
  const schema = `t_${randomToken(8)}`;
  const restored = opts.migrate !== false && (await restorePostgresSnapshot(schema));
  if (!restored) await adminQuery(`create schema ${schema}`);
  const handle = openPostgres({ url, poolMax: opts.poolMax ?? 10, schema, applicationName: `wecard-test-${schema}` });
  if (opts.migrate !== false && !restored) await migrateToLatest(handle.db);
  const others: DbHandle[] = [];
  return {
    ...handle,
    schema,
    openAnother: (poolMax = 10) => {
      const h = openPostgres({ url, poolMax, schema, applicationName: `wecard-test-${schema}-b` });
      others.push(h);
      return h;
    },
    close: async () => {
      for (const o of others) await o.close();
      await handle.close();
      await adminQuery(`drop schema if exists ${schema} cascade`);
    },
  };
}

// Migrated-database snapshots for tests. Running the twenty-odd migrations costs seconds per test
// file (a lot more on PGlite, whose WASM engine runs every DDL statement slowly), and every file
// wants a fresh database. The global setup migrates once per run and keeps the result:
//   - PGlite: the data directory as a tar (PGlite's dumpDataDir), loaded by each new instance;
//   - PostgreSQL: a `pg_dump` of the migrated template schema with the schema name as a
//     placeholder, replayed into each test's own schema in one round trip.
// Both are made from the real migration set at the start of every run, so they cannot go stale;
// the migration tests themselves still migrate from nothing (openTestDb({ migrate: false })).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { openPGlite, openPostgres } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { randomToken } from '../../src/shared/ids.ts';

const PLACEHOLDER = '__wecard_test_schema__';

function snapshotDir(): string {
  return path.resolve(process.env.WECARD_TEST_RESULTS ?? 'test-results', 'db-snapshot');
}
const pgliteFile = () => path.join(snapshotDir(), 'pglite.tar');
const postgresFile = () => path.join(snapshotDir(), 'postgres.sql');

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Builds both snapshots (PostgreSQL only when TEST_DATABASE_URL is set). Called by the global setup. */
export async function buildDbSnapshots(): Promise<void> {
  rmSync(snapshotDir(), { recursive: true, force: true });
  mkdirSync(snapshotDir(), { recursive: true });

  const lite = await openPGlite(undefined);
  try {
    await migrateToLatest(lite.db);
    await lite.pglite.exec('checkpoint');
    const tar = await lite.pglite.dumpDataDir('none');
    writeFileSync(pgliteFile(), Buffer.from(await tar.arrayBuffer()));
  } finally {
    await lite.close();
  }

  const url = process.env.TEST_DATABASE_URL;
  if (!url) return;
  const schema = `wecard_tpl_${randomToken(8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  await adminQuery(`create schema ${schema}`);
  try {
    const handle = openPostgres({ url, poolMax: 2, schema, applicationName: 'wecard-test-snapshot' });
    try {
      await migrateToLatest(handle.db);
    } finally {
      await handle.close();
    }
    const dump = execFileSync('pg_dump', ['--dbname', url, '--schema', schema, '--inserts', '--no-owner', '--no-privileges', '--no-comments'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const sqlText = dump
      .split('\n')
      // psql meta-commands (\restrict and \unrestrict in current pg_dump) are not SQL.
      .filter((line) => !line.startsWith('\\') && !line.startsWith('--'))
      .join('\n')
      .replaceAll(schema, PLACEHOLDER);
    if (!sqlText.includes(`CREATE SCHEMA ${PLACEHOLDER};`)) throw new Error('pg_dump output lacks the schema');
    writeFileSync(postgresFile(), sqlText);
  } finally {
    await adminQuery(`drop schema if exists ${schema} cascade`);
  }
}

/** The PGlite snapshot, if this run made one. */
export function pgliteSnapshot(): Blob | undefined {
  return existsSync(pgliteFile()) ? new Blob([readFileSync(pgliteFile())]) : undefined;
}

let postgresSql: string | undefined;
/** Creates `schema` as a migrated copy of the template; false when this run has no snapshot. */
export async function restorePostgresSnapshot(schema: string): Promise<boolean> {
  if (postgresSql === undefined) {
    if (!existsSync(postgresFile())) return false;
    postgresSql = readFileSync(postgresFile(), 'utf8');
  }
  // A dedicated connection: the dump clears search_path for its session.
  await adminQuery(postgresSql.replaceAll(PLACEHOLDER, schema));
  return true;
}

// Opens the database: PostgreSQL through `pg` when a URL is given, otherwise PGlite on disk or in memory.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from './pglite-dialect.ts';
import type { Database } from './schema.ts';

const PG_INT8_OID = 20;

export interface DbHandle {
  db: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export interface PostgresOptions {
  url: string;
  poolMax: number;
  /** Sets `search_path` on every connection (tests isolate themselves in a schema). */
  schema?: string;
  applicationName?: string;
}

/** int8 (money in fen, sequence ids) arrives as bigint on both back ends. */
const int8ToBigInt = (value: string) => BigInt(value);

export function openPostgres(opts: PostgresOptions): DbHandle {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax,
    application_name: opts.applicationName ?? 'wecard',
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID ? int8ToBigInt : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client that loses its server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', close: () => db.destroy() };
}

/** PGlite persisted under `dataDir/pg`, or in memory when `dataDir` is undefined. */
export async function openPGlite(dataDir: string | undefined): Promise<DbHandle> {
  let dir: string | undefined;
  if (dataDir) {
    dir = path.join(dataDir, 'pg');
    mkdirSync(dir, { recursive: true });
  }
  const pglite = new PGlite(dir, { parsers: { [PG_INT8_OID]: int8ToBigInt } });
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    close: async () => {
      await db.destroy();
      await pglite.close();
    },
  };
}

// Opens the database: PostgreSQL through `pg` when a URL is given, otherwise PGlite on disk or in memory.
import { createHash } from 'node:crypto';
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
  /** Prepare parameterised statements once per connection (default on; off behind a pooler that cannot keep them). */
  preparedStatements?: boolean;
}

/** Statements one connection keeps prepared; later new ones run unnamed, so memory stays bounded on both sides. */
export const PREPARED_PER_CONNECTION = 256;
/** Longer statements (bulk inserts with many rows) are rarely repeated and are not worth a slot. */
const PREPARED_MAX_SQL_CHARS = 4_000;
/** Text → statement name memo, shared by all connections; cleared when full. */
const NAME_MEMO_MAX = 4_096;
const PREPARABLE = /^\s*(?:select|insert|update|delete|with)\b/i;
const nameMemo = new Map<string, string>();

function statementName(text: string): string {
  let name = nameMemo.get(text);
  if (name === undefined) {
    if (nameMemo.size >= NAME_MEMO_MAX) nameMemo.clear();
    // A digest of the text: pg refuses one name for two texts, and the same text must find its statement.
    name = `w${createHash('sha1').update(text).digest('base64url').slice(0, 22)}`;
    nameMemo.set(text, name);
  }
  return name;
}

/**
 * Makes a connection run repeated parameterised queries as named prepared statements: PostgreSQL
 * parses and plans each once per connection instead of on every call, which is most of the cost
 * of the short primary-key reads that dominate traffic (bench/RESULTS.md). Only DML with
 * parameters qualifies; DDL and one-off statements keep the unnamed path.
 */
function usePreparedStatements(client: pg.PoolClient): void {
  const plain = client.query.bind(client) as (...args: unknown[]) => unknown;
  const prepared = new Set<string>();
  client.query = ((text: unknown, values?: unknown, callback?: unknown) => {
    if (
      typeof text === 'string' &&
      Array.isArray(values) &&
      values.length > 0 &&
      callback === undefined &&
      text.length <= PREPARED_MAX_SQL_CHARS &&
      PREPARABLE.test(text)
    ) {
      const name = statementName(text);
      if (prepared.has(name) || prepared.size < PREPARED_PER_CONNECTION) {
        prepared.add(name);
        return plain({ name, text, values });
      }
    }
    return plain(text, values, callback);
  }) as typeof client.query;
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
  // A client that loses its server must not crash the process: an idle one is the pool's 'error'; a
  // checked-out one emits on itself (its query in flight fails with the error). The next query reconnects.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  if (opts.preparedStatements !== false) pool.on('connect', usePreparedStatements);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', close: () => db.destroy() };
}

/** PGlite persisted under `dataDir/pg`, or in memory when `dataDir` is undefined. */
export async function openPGlite(dataDir: string | undefined, opts: { loadDataDir?: Blob } = {}): Promise<DbHandle & { pglite: PGlite }> {
  let dir: string | undefined;
  if (dataDir) {
    dir = path.join(dataDir, 'pg');
    mkdirSync(dir, { recursive: true });
  }
  const pglite = new PGlite({ dataDir: dir, parsers: { [PG_INT8_OID]: int8ToBigInt }, ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}) });
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    pglite,
    close: async () => {
      await db.destroy();
      await pglite.close();
    },
  };
}

// The one transaction helper every use case goes through, with bounded retry of serialisation failures.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

/** Retries of a transaction that PostgreSQL aborted for a deadlock or a serialisation failure. */
export const TX_RETRY_LIMIT = 5;
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_SQLSTATES.has(code);
}

/** The SQLSTATE of a database error, if it is one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Runs `fn` in one transaction. Deadlocks and serialisation failures are retried up to
 * TX_RETRY_LIMIT times with a short jittered backoff; any other error rolls back and rethrows.
 * `fn` must therefore be free of side effects outside the database.
 */
export async function inTx<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (err) {
      if (!isRetryable(err) || attempt >= TX_RETRY_LIMIT) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * 2 ** attempt));
    }
  }
}

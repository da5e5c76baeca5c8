// What every bench shares: the database it runs on (a schema of its own per run), one-off admin statements, and free ports.
import pg from 'pg';

export { freePort } from '../test/helpers/net.ts';

export const DB_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Runs one statement on its own connection; answers the first column of the first row as text ('' when none). */
export async function admin(text: string): Promise<string> {
  const c = new pg.Client({ connectionString: DB_URL });
  await c.connect();
  try {
    const r = await c.query(text);
    return r.rows[0] ? String(Object.values(r.rows[0])[0]) : '';
  } finally {
    await c.end();
  }
}

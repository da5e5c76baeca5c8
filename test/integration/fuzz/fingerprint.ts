// What a refused fuzz case may not leave behind: rows (a cheap fingerprint: row counts of every table in the schema) and error-level log lines.
import { sql } from 'kysely';
import type { Db } from '../../../src/db/tx.ts';

export type Fingerprint = Record<string, number>;

/** Every base table of the connection's schema (the test's own schema on PostgreSQL, public on PGlite). */
export async function tablesOf(db: Db): Promise<string[]> {
  const r = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  return r.rows.map((x) => x.name);
}

/**
 * Row counts of `tables` in one statement. Counts, not contents: an insert or delete shows, an
 * update (a session's sliding expiry, a rate-limit counter) does not, which is what a refused
 * request may legitimately do.
 */
export async function fingerprint(db: Db, tables: readonly string[]): Promise<Fingerprint> {
  const union = tables.map((t) => `select '${t}' as t, count(*)::int as n from "${t.replaceAll('"', '""')}"`).join(' union all ');
  const r = await sql<{ t: string; n: number }>`${sql.raw(union)}`.execute(db);
  return Object.fromEntries(r.rows.map((x) => [x.t, Number(x.n)]));
}

/** The tables whose row counts differ, as `table: before → after`. */
export function differences(before: Fingerprint, after: Fingerprint): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((t) => before[t] !== after[t]).map((t) => `${t}: ${before[t]} → ${after[t]}`);
}

/** Error-level log lines among `logs` from index `from` on: a refusal (or a handler's `success`) must not hide a crash behind it. */
export function errorLogsSince(logs: readonly string[], from: number): string[] {
  return logs.slice(from).filter((line) => {
    try {
      return (JSON.parse(line) as { level?: number }).level! >= 50;
    } catch {
      return false;
    }
  });
}

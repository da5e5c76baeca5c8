// Background jobs on the outbox: a dead-letter mark for jobs that failed their last attempt.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('dead_at', 'timestamptz').execute();
  await sql`drop index outbox_due`.execute(db);
  await sql`create index outbox_due on outbox (run_after, id) where done_at is null and dead_at is null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index outbox_due`.execute(db);
  await db.schema.alterTable('outbox').dropColumn('dead_at').execute();
  await sql`create index outbox_due on outbox (topic, run_after) where done_at is null`.execute(db);
}

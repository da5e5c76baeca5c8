// Official Account message de-duplication and the passive reply kept for WeChat's retries (owned by src/wechat/oa).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // UNLOGGED: the claims only matter while WeChat may still retry (about 15 s, WECHAT.md §1), so
  // they are not worth a WAL record per push. A database crash empties the table (and a promoted
  // replica starts with it empty); the cost is that a retry arriving across the crash may be
  // handled twice, as if it had come before the claim. Late answers are not kept here: they go
  // through the (logged) outbox.
  // No foreign key to tenants: every insert would take a KEY SHARE lock on the tenant's row, and
  // thousands of concurrent pushes to one account would queue on it (MultiXact). The route only
  // inserts for a tenant it has just resolved, and rows live minutes (purged by oa.purge).
  await db.schema
    .createTable('oa_messages')
    .modifyFront(sql`unlogged`)
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('dedup_key', 'text', (c) => c.notNull().check(sql`length(dedup_key) between 3 and 200`))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('processing', 'replied', 'deferred', 'failed')`))
    .addColumn('reply', 'text')
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .addPrimaryKeyConstraint('oa_messages_pk', ['tenant_id', 'dedup_key'])
    // Every row is updated once, right after its insert (the outcome); room on the page keeps that
    // update HOT (no index entries rewritten).
    .modifyEnd(sql`with (fillfactor = 70)`)
    .execute();
  // Rows arrive in received_at order, so a BRIN index finds the old ones for the purge at almost no cost per insert.
  await sql`create index oa_messages_received_at on oa_messages using brin (received_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oa_messages').execute();
}

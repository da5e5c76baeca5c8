// admin tables: operators (per tenant, or platform-wide), their console sessions, policy versions, instance heartbeats (owned by src/admin).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // tenant_id null: a platform operator (sees every tenant). Usernames are unique platform-wide.
  await db.schema
    .createTable('admin_operators')
    .addColumn('id', 'text', (c) => c.primaryKey().check(sql`id ~ '^op_[0-9a-z]{26}$'`))
    .addColumn('tenant_id', 'text', (c) => c.references('tenants.id'))
    .addColumn('username', 'text', (c) => c.notNull().unique().check(sql`username ~ '^[a-z0-9][a-z0-9._-]{2,39}$'`))
    .addColumn('display_name', 'text', (c) => c.notNull().check(sql`length(display_name) between 1 and 64`))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('operator', 'reviewer', 'auditor', 'admin')`))
    .addColumn('password_hash', 'text', (c) => c.notNull().check(sql`password_hash like '$argon2id$%'`))
    // FieldCrypto envelope of the base32 TOTP secret.
    .addColumn('totp_secret_enc', 'text', (c) => c.notNull())
    // The last accepted TOTP time step: a code is accepted once (replay protection).
    .addColumn('totp_last_step', 'bigint')
    .addColumn('disabled_at', 'timestamptz')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_login_at', 'timestamptz')
    .execute();
  await sql`create index admin_operators_tenant on admin_operators (tenant_id)`.execute(db);

  // The cookie carries the token; only its SHA-256 is kept. The CSRF token (double-submit) is bound to the session by its hash.
  await db.schema
    .createTable('admin_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique().check(sql`token_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn('csrf_hash', 'text', (c) => c.notNull().check(sql`csrf_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn('operator_id', 'text', (c) => c.notNull().references('admin_operators.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await sql`create index admin_sessions_operator on admin_sessions (operator_id)`.execute(db);
  await sql`create index admin_sessions_expiry on admin_sessions (expires_at)`.execute(db);

  // Every policy a tenant had through the console: the version is the optimistic-concurrency token (PK refuses a second writer).
  await db.schema
    .createTable('admin_policy_versions')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('policy', 'jsonb', (c) => c.notNull())
    .addColumn('patch', 'jsonb')
    .addColumn('diff', 'jsonb', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.check(sql`length(note) <= 500`))
    .addColumn('author_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('admin_policy_versions_pk', ['tenant_id', 'version'])
    .execute();

  // Each running instance's heartbeat, for the ops view (no other coordination rides on it).
  await db.schema
    .createTable('admin_instances')
    .addColumn('instance_id', 'text', (c) => c.primaryKey().check(sql`length(instance_id) <= 200`))
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('db_kind', 'text', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['admin_instances', 'admin_policy_versions', 'admin_sessions', 'admin_operators']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}

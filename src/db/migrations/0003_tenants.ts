// Tenants (owned by src/tenants): institutions, their policy profiles, encrypted WeChat app credentials.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('tenants')
    .addColumn('id', 'text', (c) => c.primaryKey().check(sql`id ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(id) between 2 and 40`))
    .addColumn('name', 'text', (c) => c.notNull().check(sql`length(name) between 1 and 100`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('bank', 'citizen_card', 'social_security')`))
    .addColumn('preset', 'text', (c) => c.notNull())
    .addColumn('policy', 'jsonb', (c) => c.notNull())
    .addColumn('credentials_enc', 'text')
    .addColumn('oa_app_id', 'text')
    .addColumn('mini_program_app_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  // An incoming appid (OA message, mini-program login) names exactly one tenant.
  await sql`create unique index tenants_oa_app_id on tenants (oa_app_id) where oa_app_id is not null`.execute(db);
  await sql`create unique index tenants_mini_program_app_id on tenants (mini_program_app_id) where mini_program_app_id is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('tenants').execute();
}

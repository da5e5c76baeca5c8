// wechat tables (owned by src/wechat/api): one access_token per (tenant, app), encrypted at rest, refreshed under a lease.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('wechat_access_tokens')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('oa', 'miniProgram', 'wecom')`))
    .addColumn('app_id', 'text', (c) => c.notNull().check(sql`length(app_id) between 1 and 64`))
    .addColumn('token_enc', 'text')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(0).check(sql`generation >= 0`))
    .addColumn('forced_refreshes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_holder', 'text')
    .addColumn('lease_until', 'timestamptz')
    .addColumn('last_errcode', 'integer')
    .addColumn('last_error_at', 'timestamptz')
    .addColumn('refreshed_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('wechat_access_tokens_pk', ['tenant_id', 'kind', 'app_id'])
    .addCheckConstraint('wechat_access_tokens_token_expiry', sql`(token_enc is null) = (expires_at is null)`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('wechat_access_tokens').execute();
}

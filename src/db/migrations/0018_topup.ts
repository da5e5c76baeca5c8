// topup tables: citizen-card top-up orders, their history, settlement, reconciliation runs and the review queue (owned by src/topup). Placeholder: the module's owner fills it in.
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<any>): Promise<void> {}

export async function down(_db: Kysely<any>): Promise<void> {}

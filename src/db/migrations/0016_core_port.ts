// core port tables: cached balances and synced transactions from an external core, catch-up cursors (owned by src/core port). Placeholder: the module's owner fills it in.
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<any>): Promise<void> {}

export async function down(_db: Kysely<any>): Promise<void> {}

// accounts tables (exchange rates and whatever the accounts module keeps; owned by src/accounts). Placeholder: the module's owner fills it in.
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<any>): Promise<void> {}

export async function down(_db: Kysely<any>): Promise<void> {}

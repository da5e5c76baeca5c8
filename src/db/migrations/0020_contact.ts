// contact tables: bill references, contact ways and their states, CS contexts, agents and routing, emergency service ids, funnel events (owned by src/contact). Placeholder: the module's owner fills it in.
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<any>): Promise<void> {}

export async function down(_db: Kysely<any>): Promise<void> {}

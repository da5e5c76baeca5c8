// risk tables: daily quotas, rate-limit fallbacks, risk events, freezes (owned by src/risk). Placeholder: the module's owner fills it in.
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<any>): Promise<void> {}

export async function down(_db: Kysely<any>): Promise<void> {}

// interchange tables: card-system MQTT feed state, partner webhooks and deliveries, batch exports (owned by src/notify). Placeholder: the module's owner fills it in.
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<any>): Promise<void> {}

export async function down(_db: Kysely<any>): Promise<void> {}

// WeChat Pay v3 client state: notifications received, platform keys (owned by src/wechat Pay). Placeholder: the module's owner fills it in.
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<any>): Promise<void> {}

export async function down(_db: Kysely<any>): Promise<void> {}

// identity tables: WeChat users, sessions, devices, bindings, OTP challenges, step-ups (owned by src/identity). Placeholder: the module's owner fills it in.
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<any>): Promise<void> {}

export async function down(_db: Kysely<any>): Promise<void> {}

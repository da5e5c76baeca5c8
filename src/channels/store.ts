// The channels module's rows: alert preferences and channel settings (tables of migration 0021_channels).
import type { Kysely } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import type { Database } from '../db/schema.ts';
import type { ChannelsTables } from './channels.table.ts';

export type ChannelsDb = Kysely<Database & ChannelsTables>;

/** The database with the channels tables typed (works whether or not schema.ts lists them yet). */
export function cdb(db: Db | Tx): ChannelsDb {
  return db.withTables<ChannelsTables>() as unknown as ChannelsDb;
}

/** The OA template balance-change alerts use when the tenant has not set one. */
export const DEFAULT_ALERT_TEMPLATE_ID = 'balance_change';

export interface ChannelSettings {
  tenantId: string;
  alertTemplateId: string;
  socialSecurityTenantId: string | null;
}

export async function getChannelSettings(db: Db | Tx, tenantId: string): Promise<ChannelSettings> {
  const r = await cdb(db).selectFrom('channels_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  return { tenantId, alertTemplateId: r?.alert_template_id ?? DEFAULT_ALERT_TEMPLATE_ID, socialSecurityTenantId: r?.social_security_tenant_id ?? null };
}

export async function setChannelSettings(db: Db | Tx, tenantId: string, patch: { alertTemplateId?: string | null; socialSecurityTenantId?: string | null }, now: Date): Promise<void> {
  const cur = await getChannelSettings(db, tenantId);
  const row = {
    tenant_id: tenantId,
    alert_template_id: patch.alertTemplateId !== undefined ? patch.alertTemplateId : cur.alertTemplateId === DEFAULT_ALERT_TEMPLATE_ID ? null : cur.alertTemplateId,
    social_security_tenant_id: patch.socialSecurityTenantId !== undefined ? patch.socialSecurityTenantId : cur.socialSecurityTenantId,
    updated_at: now,
  };
  await cdb(db)
    .insertInto('channels_settings')
    .values(row)
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ alert_template_id: row.alert_template_id, social_security_tenant_id: row.social_security_tenant_id, updated_at: now }))
    .execute();
}

/** Whether the user gets balance-change alerts (on unless they turned them off). */
export async function alertsEnabled(db: Db | Tx, tenantId: string, userId: string): Promise<boolean> {
  const r = await cdb(db).selectFrom('channels_alert_prefs').select('alerts_enabled').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
  return r?.alerts_enabled ?? true;
}

export async function setAlertsEnabled(db: Db | Tx, tenantId: string, userId: string, enabled: boolean, now: Date): Promise<void> {
  await cdb(db)
    .insertInto('channels_alert_prefs')
    .values({ tenant_id: tenantId, user_id: userId, alerts_enabled: enabled, updated_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'user_id']).doUpdateSet({ alerts_enabled: enabled, updated_at: now }))
    .execute();
}

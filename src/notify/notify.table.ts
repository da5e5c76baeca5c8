// Row types of the tables of migration 0019_interchange (MQTT feed state, partner webhooks, batch exports). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface NotifyTables {}

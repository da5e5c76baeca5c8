// Row types of the tables of migration 0008_wecom (WeCom client state (owned by src/wechat WeCom)). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface WecomTables {}

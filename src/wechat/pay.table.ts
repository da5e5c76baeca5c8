// Row types of the tables of migration 0007_pay (WeChat Pay v3 client state: notifications received, platform keys (owned by src/wechat Pay)). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PayTables {}

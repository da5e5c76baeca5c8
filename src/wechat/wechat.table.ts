// Row types of the wechat module's tables (see src/db/migrations). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface WechatTables {}

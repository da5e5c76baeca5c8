// Row types of the tables of migration 0006_oa (Official Account message de-duplication and async replies (owned by src/wechat OA)). Placeholder until the module lands.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface OaTables {}

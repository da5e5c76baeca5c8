// The database as one TypeScript type: each module's tables, kept beside its migrations.
import type { PlatformTables } from './platform.table.ts';
import type { LedgerTables } from '../ledger/ledger.table.ts';
import type { TenantTables } from '../tenants/tenants.table.ts';
import type { WechatTables } from '../wechat/wechat.table.ts';
import type { CoreTables } from '../core/core.table.ts';

export interface Database extends PlatformTables, LedgerTables, TenantTables, WechatTables, CoreTables {}

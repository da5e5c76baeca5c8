// The database as one TypeScript type: each module's tables, kept beside its migrations.
import type { PlatformTables } from './platform.table.ts';
import type { LedgerTables } from '../ledger/ledger.table.ts';
import type { TenantTables } from '../tenants/tenants.table.ts';
import type { WechatTables } from '../wechat/wechat.table.ts';
import type { CoreTables } from '../core/core.table.ts';
import type { OaTables } from '../wechat/oa.table.ts';
import type { PayTables } from '../wechat/pay.table.ts';
import type { WecomTables } from '../wechat/wecom.table.ts';
import type { SandboxWxTables } from '../sandbox/wx/sandbox-wx.table.ts';
import type { SandboxPayTables } from '../sandbox/pay/sandbox-pay.table.ts';
import type { SandboxWecomTables } from '../sandbox/wecom/sandbox-wecom.table.ts';
import type { AuditTables } from '../audit/audit.table.ts';
import type { RiskTables } from '../risk/risk.table.ts';
import type { IdentityTables } from '../identity/identity.table.ts';
import type { CorePortTables } from '../core/port.table.ts';
import type { AccountsTables } from '../accounts/accounts.table.ts';
import type { TopupTables } from '../topup/topup.table.ts';
import type { NotifyTables } from '../notify/notify.table.ts';
import type { ContactTables } from '../contact/contact.table.ts';
import type { ChannelsTables } from '../channels/channels.table.ts';
import type { AdminTables } from '../admin/admin.table.ts';

export interface Database extends PlatformTables, LedgerTables, TenantTables, WechatTables, CoreTables, OaTables, PayTables, WecomTables, SandboxWxTables, SandboxPayTables, SandboxWecomTables, AuditTables, RiskTables, IdentityTables, CorePortTables, AccountsTables, TopupTables, NotifyTables, ContactTables, ChannelsTables, AdminTables {}

// The channels module's public face: the OA chat handler, balance-change alerts, SMS banking and the city-services entry.
//
// Composition (src/app/modules.ts):
//   oaServer({ onMessage: channelsOaHandler() })   the OA chat (余额, 明细, 帮助, 绑卡, 退订提醒, subscribe, menu clicks)
//   channelsModule()                               alert jobs, the SMS banking webhook, city services, the opt-out endpoint
// Every answer goes through the accounts use cases (src/accounts): the same quotas, risk gates and audit as the API.
import type { ModulePlugin } from '../app/server.ts';
import type { Authenticate } from '../app/auth.ts';
import { authenticateCardholder } from '../identity/index.ts';
import { initAlertCursor, registerAlertJobs, scheduleAlertScan } from './alerts.ts';
import { alertRoutes } from './alert-routes.ts';
import { registerSmsJobs, smsInboundRoute } from './sms-banking.ts';
import { cityRoutes } from './city.ts';
import type { SocialSecurityProvider } from './social-security.ts';
import { sandboxSocialSecurity } from '../sandbox/social/index.ts';

export { channelsOaHandler, parseChatText, bindUrl, CHAT_HELP_TEXT, CHAT_MENU_KEYS, WELCOME_TEXT, ALERTS_OFF_TEXT, ALERTS_ON_TEXT, type ChatCommand } from './oa-chat.ts';
export { OA_STATEMENT_COUNT, SMS_STATEMENT_COUNT } from './commands.ts';
export { shanghaiShort, money, signedMoney } from './format.ts';
export { getChannelSettings, setChannelSettings, alertsEnabled, setAlertsEnabled, DEFAULT_ALERT_TEMPLATE_ID, type ChannelSettings } from './store.ts';
export type { ChannelsTables } from './channels.table.ts';

export { scanPostings, sendAlert, alertData, initAlertCursor, scheduleAlertScan, ALERT_SCAN_TOPIC, ALERT_SEND_TOPIC, ALERT_SCAN_INTERVAL_MS, ALERT_SCAN_OVERLAP, ALERT_JOB_OPTIONS } from './alerts.ts';

export { parseSmsText, smsSignature, runSmsCommand, SMS_COMMAND_TOPIC, SMS_REPLY_TOPIC, SMS_SIGNATURE_HEADER, SMS_TIMESTAMP_HEADER, SMS_SIGNATURE_WINDOW_MS, SMS_COMMANDS_PER_HOUR, SMS_HELP_TEXT, SMS_NOT_REGISTERED_TEXT, type SmsCommand } from './sms-banking.ts';

export { CITY_AUTH_TTL_MS, CITY_VERIFIED_TTL_MS, CITY_MAX_ATTEMPTS } from './city.ts';
export type { SocialSecurityProvider, SocialSecurityAccount, SocialAccountKind } from './social-security.ts';

export interface ChannelsModuleOptions {
  /** The cardholder hook for /api/v1/alerts and the city-services routes; default: identity's. */
  authenticate?: Authenticate;
  /** The social-security provider of the city-services view; default: the sandbox's when the sandbox is on, else none (the view shows the bank part only). */
  socialSecurity?: SocialSecurityProvider;
}

/**
 * The channels module's routes and jobs: `GET, PUT /api/v1/alerts`, `POST /sms/inbound/{tenantId}`
 * and the SMS command job, the balance-change alert
 * scanner and sender. Mount beside `oaServer({ onMessage: channelsOaHandler() })`.
 */
export function channelsModule(opts: ChannelsModuleOptions = {}): ModulePlugin {
  return async (app, ctx) => {
    const authenticate = opts.authenticate ?? authenticateCardholder(ctx);
    alertRoutes(app, ctx, authenticate);
    smsInboundRoute(app, ctx);
    cityRoutes(app, ctx, authenticate, 'socialSecurity' in opts ? opts.socialSecurity : ctx.config.sandbox ? sandboxSocialSecurity : undefined);
    registerAlertJobs(ctx);
    registerSmsJobs(ctx);
    const now = ctx.clock.now();
    await initAlertCursor(ctx.db, now);
    await scheduleAlertScan(ctx.db, now);
  };
}

// The list of module plugins mounted on the server, in order. Each module owns its routes.
import type { Config } from './config.ts';
import type { ModulePlugin } from './server.ts';
import { demoRoutes } from '../sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../sandbox/wx/index.ts';
import { riskModule } from '../risk/index.ts';
import { wecomCallbacks } from '../wechat/wecom/index.ts';
import { sandboxWecomRoutes } from '../sandbox/wecom/index.ts';
import { identityRoutes, withCardholderAuth } from '../identity/index.ts';
import { consentRoutes, auditJobs } from '../audit/index.ts';
import { sandboxFaceRoutes } from '../sandbox/face/index.ts';
import { corePort } from '../core/index.ts';
import { sandboxCoreRoutes } from '../sandbox/core/index.ts';
import { payNotifications } from '../wechat/pay/index.ts';
import { sandboxPayRoutes } from '../sandbox/pay/index.ts';
import { interchange } from '../notify/index.ts';
import { sandboxCardsysRoutes } from '../sandbox/cardsys/index.ts';
import { contactRoutes, contactWecomHandlers } from '../contact/index.ts';
import { oaServer } from '../wechat/oa/index.ts';
import { sandboxOaRoutes } from '../sandbox/oa/index.ts';
import { phoneRoutes } from '../sandbox/phone/index.ts';
import { channelsModule, channelsOaHandler } from '../channels/index.ts';
import { sandboxSmsInboundRoutes } from '../sandbox/sms/index.ts';
import { sandboxSocialRoutes } from '../sandbox/social/index.ts';
import { accountsRoutes } from '../accounts/index.ts';
import { adminRoutes } from '../admin/index.ts';
import { topupPaymentHandlers, topupRoutes } from '../topup/index.ts';
import { webModule } from '../web/index.ts';

export function modulesFor(config: Config): ModulePlugin[] {
  const modules: ModulePlugin[] = [
    corePort(), auditJobs, riskModule, identityRoutes(), accountsRoutes(), withCardholderAuth(consentRoutes), wecomCallbacks(contactWecomHandlers()), payNotifications(topupPaymentHandlers()), topupRoutes(), interchange(), oaServer({ onMessage: channelsOaHandler() }),
    withCardholderAuth(({ authenticate }) => contactRoutes({ authenticate })),
    withCardholderAuth(({ authenticate }) => channelsModule({ authenticate })),
    adminRoutes,
    webModule(),
  ];
  // The sandbox's routes exist only with the sandbox on; config refuses SANDBOX in production.
  if (config.sandbox) modules.push(demoRoutes, sandboxWxRoutes, sandboxOaRoutes, phoneRoutes, sandboxWecomRoutes, sandboxFaceRoutes, sandboxCoreRoutes, sandboxPayRoutes, sandboxCardsysRoutes, sandboxSmsInboundRoutes, sandboxSocialRoutes);
  return modules;
}

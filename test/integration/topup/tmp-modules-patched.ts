// The list of module plugins mounted on the server, in order. Each module owns its routes.
import type { Config } from '../../../src/app/config.ts';
import type { ModulePlugin } from '../../../src/app/server.ts';
import { demoRoutes } from '../../../src/sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../../../src/sandbox/wx/index.ts';
import { riskModule } from '../../../src/risk/index.ts';
import { wecomCallbacks } from '../../../src/wechat/wecom/index.ts';
import { sandboxWecomRoutes } from '../../../src/sandbox/wecom/index.ts';
import { identityRoutes, withCardholderAuth } from '../../../src/identity/index.ts';
import { consentRoutes, auditJobs } from '../../../src/audit/index.ts';
import { sandboxFaceRoutes } from '../../../src/sandbox/face/index.ts';
import { corePort } from '../../../src/core/index.ts';
import { sandboxCoreRoutes } from '../../../src/sandbox/core/index.ts';
import { payNotifications } from '../../../src/wechat/pay/index.ts';
import { sandboxPayRoutes } from '../../../src/sandbox/pay/index.ts';
import { interchange } from '../../../src/notify/index.ts';
import { sandboxCardsysRoutes } from '../../../src/sandbox/cardsys/index.ts';
import { contactRoutes, contactWecomHandlers } from '../../../src/contact/index.ts';
import { oaServer } from '../../../src/wechat/oa/index.ts';
import { sandboxOaRoutes } from '../../../src/sandbox/oa/index.ts';
import { phoneRoutes } from '../../../src/sandbox/phone/index.ts';
import { topupPaymentHandlers, topupRoutes } from '../../../src/topup/index.ts';

export function modulesFor(config: Config): ModulePlugin[] {
  const modules: ModulePlugin[] = [
    corePort(), auditJobs, riskModule, identityRoutes(), withCardholderAuth(consentRoutes), wecomCallbacks(contactWecomHandlers()), payNotifications(topupPaymentHandlers()), interchange(), oaServer(),
    withCardholderAuth(({ authenticate }) => contactRoutes({ authenticate })),
    withCardholderAuth(({ authenticate }) => topupRoutes({ authenticate })),
  ];
  // The sandbox's routes exist only with the sandbox on; config refuses SANDBOX in production.
  if (config.sandbox) modules.push(demoRoutes, sandboxWxRoutes, sandboxOaRoutes, phoneRoutes, sandboxWecomRoutes, sandboxFaceRoutes, sandboxCoreRoutes, sandboxPayRoutes, sandboxCardsysRoutes);
  return modules;
}

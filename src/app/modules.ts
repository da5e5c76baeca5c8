// The list of module plugins mounted on the server, in order. Each module owns its routes.
import type { Config } from './config.ts';
import type { ModulePlugin } from './server.ts';
import { demoRoutes } from '../sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../sandbox/wx/index.ts';
import { riskModule } from '../risk/index.ts';
import { wecomCallbacks } from '../wechat/wecom/index.ts';
import { sandboxWecomRoutes } from '../sandbox/wecom/index.ts';

export function modulesFor(config: Config): ModulePlugin[] {
  const modules: ModulePlugin[] = [riskModule, wecomCallbacks()];
  // The sandbox's routes exist only with the sandbox on; config refuses SANDBOX in production.
  if (config.sandbox) modules.push(demoRoutes, sandboxWxRoutes, sandboxWecomRoutes);
  return modules;
}

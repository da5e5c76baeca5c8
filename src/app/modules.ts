// The list of module plugins mounted on the server, in order. Each module owns its routes.
import type { Config } from './config.ts';
import type { ModulePlugin } from './server.ts';

export function modulesFor(_config: Config): ModulePlugin[] {
  const modules: ModulePlugin[] = [];
  return modules;
}

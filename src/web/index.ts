// The web module's public face: the H5 app's static pages and its small API, and the build step that produces the pages.
import type { ModulePlugin } from '../app/server.ts';
import { h5Api } from './h5-api.ts';
import { h5Routes, type H5RoutesOptions } from './h5-routes.ts';

export { h5Csp, h5Routes, H5_DIST_DIR, H5_PREFIX, IMMUTABLE_CACHE, REVALIDATE_CACHE, type H5RoutesOptions } from './h5-routes.ts';
export { h5Api, PRIVACY_NOTICE_VERSION } from './h5-api.ts';
export { spokenAmount } from './speech.ts';

/** Marks the plugin webModule() returns, so a list of modules can tell whether it is already mounted. */
export const WEB_MODULE = Symbol.for('wecard.web-module');

/** True when `modules` already holds the web module (tests add it only when src/app/modules.ts does not). */
export function hasWebModule(modules: readonly ModulePlugin[]): boolean {
  return modules.some((m) => (m as ModulePlugin & { [WEB_MODULE]?: true })[WEB_MODULE] === true);
}

/** The cardholder H5 app: `/h5/…` pages and `/api/v1/h5/config`, `/api/v1/speech/money` (mount in src/app/modules.ts). */
export function webModule(opts: H5RoutesOptions = {}): ModulePlugin {
  const plugin: ModulePlugin = async (app, ctx) => {
    await h5Api(app, ctx);
    await h5Routes(opts)(app, ctx);
  };
  return Object.assign(plugin, { [WEB_MODULE]: true as const });
}

// The web module's public face: the H5 app's static pages and its small API, and the build step that produces the pages.
import type { ModulePlugin } from '../app/server.ts';
import { h5Api } from './h5-api.ts';
import { h5Routes, type H5RoutesOptions } from './h5-routes.ts';

export { h5Routes, H5_DIST_DIR, H5_PREFIX, H5_CSP, IMMUTABLE_CACHE, REVALIDATE_CACHE, type H5RoutesOptions } from './h5-routes.ts';
export { h5Api, PRIVACY_NOTICE_VERSION } from './h5-api.ts';
export { spokenAmount } from './speech.ts';

/** The cardholder H5 app: `/h5/…` pages and `/api/v1/h5/config`, `/api/v1/speech/money` (mount in src/app/modules.ts). */
export function webModule(opts: H5RoutesOptions = {}): ModulePlugin {
  return async (app, ctx) => {
    await h5Api(app, ctx);
    await h5Routes(opts)(app, ctx);
  };
}

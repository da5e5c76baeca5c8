// The admin module's public face: the operator console API plugin, operator bootstrap (CLI, demo seed), and the pieces tests and the console share.
//
// Wiring (src/app/modules.ts): add `adminRoutes` to the modules list (production and embedded).
// Seed (src/sandbox/demo): `await seedDemoOperators(ctx)` at the end of seedDemo.
import type { ModulePlugin } from '../app/server.ts';
import { registerAdminRoutes } from './routes.ts';
import { registerConsolePages } from './console-routes.ts';
import { heartbeat, INSTANCE_HEARTBEAT_MS, WECARD_VERSION } from './reads.ts';

export { ADMIN_PREFIX, ADMIN_ROUTES } from './routes.ts';
export { ADMIN_DIST_DIR, ADMIN_CSP } from './console-routes.ts';
export { PERMISSIONS, OPERATOR_ROLES, isAllowed, canActOnTenant, type Permission } from './rbac.ts';
export { createOperator, listOperators, disableOperator, hasPlatformAdmin, PLATFORM_AUDIT_TENANT, PASSWORD_MIN_CHARS, type Operator, type NewOperator, type CreatedOperator } from './operators.ts';
export { signIn, resolveSession, SESSION_COOKIE, CSRF_COOKIE, CSRF_HEADER, SESSION_IDLE_MS, SESSION_ABSOLUTE_MS, LOGIN_LIMIT_PER_USER, LOGIN_WINDOW_MS } from './sessions.ts';
export { policyView, previewPolicy, changePolicy, policyVersions, previewPatch } from './policies.ts';
export { policyDiff, type PolicyChange } from './policy-diff.ts';
export { moneyTotals, searchAudit, chainStatus, listReconRuns, reconRun, queueDepth, instances } from './reads.ts';
export { seedDemoOperators, demoOperators, demoTotpSecret, DEMO_OPERATOR_PASSWORD, DEMO_PLATFORM_ADMIN } from './demo.ts';
export type { AdminTables, OperatorRole } from './admin.table.ts';


/**
 * The console API under /admin/api/v1, the console's pages under /admin/, and this instance's heartbeat for the ops view (every
 * INSTANCE_HEARTBEAT_MS, unref'd, stopped on close; a failed beat is logged, never fatal).
 */
export const adminRoutes: ModulePlugin = async (app, ctx) => {
  await registerAdminRoutes(app, ctx);
  await registerConsolePages(app);
  const startedAt = ctx.clock.now();
  const beat = () => heartbeat(ctx, WECARD_VERSION, startedAt).catch((err: unknown) => ctx.log.warn({ err: { message: (err as Error).message } }, 'admin heartbeat failed'));
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    await beat();
    timer = setInterval(beat, INSTANCE_HEARTBEAT_MS);
    timer.unref();
  });
  app.addHook('onClose', async () => {
    if (timer) clearInterval(timer);
  });
};

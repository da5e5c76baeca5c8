// Which tenant app an incoming appid or corpid names, with its secret, for the sandbox platform's checks.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { findTenantByAppId, getCredentials, listTenants } from '../../tenants/index.ts';

export interface SandboxApp {
  tenantId: string;
  kind: 'oa' | 'miniProgram' | 'wecom';
  /** appid, or corpid for WeCom. */
  appId: string;
  secret: string;
}

/** WeCom corp ids are not indexed by the tenants module; the sandbox scans at most this many tenants. */
export const SANDBOX_TENANT_SCAN_MAX = 1000;

export async function findSandboxApp(ctx: AppContext, appId: string): Promise<SandboxApp | undefined> {
  if (!/^wx[0-9a-f]{16}$/.test(appId)) return undefined;
  const found = await findTenantByAppId(ctx.db, appId);
  if (!found) return undefined;
  const creds = await getCredentials(ctx.db, ctx.crypto, found.tenant.id);
  const app = found.app === 'oa' ? creds?.oa : creds?.miniProgram;
  if (!app) return undefined;
  return { tenantId: found.tenant.id, kind: found.app, appId, secret: app.appSecret };
}

export async function findSandboxCorp(ctx: AppContext, corpId: string): Promise<SandboxApp | undefined> {
  if (!/^ww[0-9a-f]{16}$/.test(corpId)) return undefined;
  const tenants = (await listTenants(ctx.db)).filter((t) => t.hasCredentials).slice(0, SANDBOX_TENANT_SCAN_MAX);
  for (const t of tenants) {
    const wecom = (await getCredentials(ctx.db, ctx.crypto, t.id))?.wecom;
    if (wecom?.corpId === corpId) return { tenantId: t.id, kind: 'wecom', appId: corpId, secret: wecom.secret };
  }
  return undefined;
}

/** The tenant's OA and mini-program app ids (the apps a user of that tenant signs in to). */
export async function tenantAppIds(ctx: AppContext, tenantId: string): Promise<{ oa?: string; miniProgram?: string }> {
  const creds = await getCredentials(ctx.db, ctx.crypto, tenantId);
  return { oa: creds?.oa?.appId, miniProgram: creds?.miniProgram?.appId };
}

/** Constant-time comparison of a presented secret with the stored one. */
export function secretMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

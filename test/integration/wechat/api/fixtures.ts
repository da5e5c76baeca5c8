// Test helpers for the outbound API and the sandbox platform: tenants with random app credentials, JSON over real HTTP.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../../../../src/app/context.ts';
import { inTx } from '../../../../src/db/tx.ts';
import { createTenant, type TenantCredentials } from '../../../../src/tenants/index.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const alnum = (n: number) => Array.from(randomBytes(n), (b) => ALNUM[b % ALNUM.length]).join('');
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** OA, mini-program and WeCom credentials of the shapes tenants accept (no Pay: these tests need no RSA keys). */
export function appCredentials(): Required<Pick<TenantCredentials, 'oa' | 'miniProgram' | 'wecom'>> {
  const creds = {
    oa: { appId: `wx${hex(8)}`, appSecret: hex(16), token: alnum(32), encodingAESKey: alnum(43), mode: 'safe' as const, originalId: `gh_${hex(6)}` },
    miniProgram: { appId: `wx${hex(8)}`, appSecret: hex(16) },
    wecom: { corpId: `ww${hex(8)}`, token: alnum(32), encodingAESKey: alnum(43), secret: alnum(43) },
  };
  registerSensitive(creds.oa.appSecret, creds.oa.token, creds.oa.encodingAESKey, creds.miniProgram.appSecret, creds.wecom.secret, creds.wecom.token, creds.wecom.encodingAESKey);
  return creds;
}

export type AppCredentials = ReturnType<typeof appCredentials>;

export async function wxTenant<C extends TenantCredentials = AppCredentials>(ctx: AppContext, creds: C = appCredentials() as unknown as C): Promise<{ tenantId: string; creds: C }> {
  const tenantId = `wx-${randomToken(6)}`;
  await inTx(ctx.db, (tx) => createTenant(tx, ctx.crypto, { id: tenantId, name: '微信测试银行', kind: 'bank', preset: 'agricultural', credentials: creds, now: ctx.clock.now() }));
  return { tenantId, creds };
}

export interface JsonAnswer<T = any> {
  status: number;
  contentType: string;
  body: T;
}

export async function http<T = any>(method: 'GET' | 'POST', url: string, body?: unknown, raw?: string): Promise<JsonAnswer<T>> {
  const res = await fetch(url, {
    method,
    headers: body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {},
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    redirect: 'manual',
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // HTML and empty answers stay text.
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: parsed as T };
}

/** A simulated user of the tenant, created through the sandbox API. */
export async function sandboxUser(sandboxUrl: string, tenantId: string, phone?: string): Promise<{ openid: string; unionid: string; miniProgramOpenid: string }> {
  const r = await http('POST', `${sandboxUrl}/sandbox/api/users`, { tenantId, ...(phone ? { phone } : {}) });
  if (r.status !== 201) throw new Error(`could not create a sandbox user: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function loginCode(sandboxUrl: string, openid: string, appId: string, scope?: string): Promise<string> {
  const r = await http('POST', `${sandboxUrl}/sandbox/api/users/${openid}/login-code`, { appId, ...(scope ? { scope } : {}) });
  if (r.status !== 200) throw new Error(`no login code: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.code;
}

export async function tokenFetches(sandboxUrl: string, appId: string): Promise<number> {
  const r = await http('GET', `${sandboxUrl}/sandbox/api/tokens?appId=${appId}`);
  if (r.status !== 200) throw new Error(`no token record: ${r.status}`);
  return r.body.fetches;
}

export const MINUTE_MS = 60_000;

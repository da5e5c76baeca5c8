// Helpers for the sandbox WeCom tests: a sandbox tenant, and raw calls to the platform's endpoints.
import type { AppContext } from '../../../../src/app/context.ts';
import { inTx } from '../../../../src/db/tx.ts';
import { generateSandboxCredentials } from '../../../../src/sandbox/demo/credentials.ts';
import { createTenant, type TenantCredentials } from '../../../../src/tenants/index.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';

/** A tenant with a full set of generated sandbox credentials (safe-mode OA, Pay, WeCom). */
export async function sandboxTenant(ctx: AppContext): Promise<{ tenantId: string; credentials: TenantCredentials }> {
  const tenantId = `sbw-${randomToken(6)}`;
  const credentials = await generateSandboxCredentials('safe');
  const w = credentials.wecom!;
  registerSensitive(w.token, w.encodingAESKey, w.secret);
  await inTx(ctx.db, (tx) => createTenant(tx, ctx.crypto, { id: tenantId, name: '沙箱企微银行', kind: 'bank', preset: 'agricultural', credentials, now: ctx.clock.now() }));
  return { tenantId, credentials };
}

/** POSTs to a sandbox qyapi endpoint as any client would and returns WeCom's JSON answer. */
export async function wecomApi(sandboxUrl: string, name: string, token: string | undefined, body: unknown): Promise<{ httpStatus: number; json: Record<string, any> }> {
  const q = token === undefined ? '' : `?access_token=${encodeURIComponent(token)}`;
  const res = await fetch(`${sandboxUrl}/sandbox/wecom/cgi-bin/externalcontact/${name}${q}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { httpStatus: res.status, json: (await res.json()) as Record<string, any> };
}

/** The sandbox API's scan: a simulated customer adds the member through the contact way. */
export async function scan(sandboxUrl: string, configId: string, body: Record<string, unknown> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${sandboxUrl}/sandbox/api/wecom/contact-ways/${configId}/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

export async function contacts(sandboxUrl: string, tenantId: string): Promise<any[]> {
  const res = await fetch(`${sandboxUrl}/sandbox/api/wecom/contacts?tenantId=${tenantId}`);
  return ((await res.json()) as { items: any[] }).items;
}

// Which credentials and base URL a tenant's app uses: OA and mini-program on api.weixin.qq.com, WeCom on qyapi.weixin.qq.com.
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { getCredentials } from '../../tenants/index.ts';

export type WechatAppKind = 'oa' | 'miniProgram' | 'wecom';

export interface WechatApp {
  tenantId: string;
  kind: WechatAppKind;
}

export interface AppSecrets {
  /** appid, or corpid for WeCom. */
  appId: string;
  /** appSecret, or the WeCom app's secret. */
  secret: string;
  base: string;
}

const KIND_NAMES: Record<WechatAppKind, string> = { oa: 'Official Account', miniProgram: 'mini-program', wecom: 'WeCom app' };

export function baseUrlOf(ctx: AppContext, kind: WechatAppKind): string {
  return kind === 'wecom' ? ctx.config.wechat.wecomBase : ctx.config.wechat.apiBase;
}

/** The app's id and secret; `not_found` when the tenant has not configured this app. */
export async function appSecretsOf(ctx: AppContext, app: WechatApp): Promise<AppSecrets> {
  const creds = await getCredentials(ctx.db, ctx.crypto, app.tenantId);
  const base = baseUrlOf(ctx, app.kind);
  if (app.kind === 'oa' && creds?.oa) return { appId: creds.oa.appId, secret: creds.oa.appSecret, base };
  if (app.kind === 'miniProgram' && creds?.miniProgram) return { appId: creds.miniProgram.appId, secret: creds.miniProgram.appSecret, base };
  if (app.kind === 'wecom' && creds?.wecom) return { appId: creds.wecom.corpId, secret: creds.wecom.secret, base };
  throw new AppError('not_found', `tenant ${app.tenantId} has no ${KIND_NAMES[app.kind] ?? 'such app'} configured`);
}

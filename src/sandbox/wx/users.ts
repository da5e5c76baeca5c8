// Simulated WeChat users: one person per tenant with an openid per app and one unionid; their login, web-auth and phone codes.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { inTx } from '../../db/tx.ts';
import { maskPhone } from '../../shared/mask.ts';
import { normaliseChinaMobile } from '../../shared/sensitive.ts';
import { getTenant } from '../../tenants/index.ts';
import { tenantAppIds } from './apps.ts';
import type { SandboxCodeKind } from './sandbox-wx.table.ts';
import { findCode, findUserByOpenid, findUserByUnionid, insertCode, insertUser, updateUser, useCode, type CodeRecord, type UserRecord } from './store.ts';
import { WxFailure } from './errors.ts';

/** wx.login, web-auth and phone codes live 5 minutes and are single use (WECHAT.md §3). */
export const CODE_TTL_MS = 5 * 60_000;
/** Customer-service messages are allowed within 48 hours of the user's last interaction (WECHAT.md §1). */
export const CUSTOM_MESSAGE_WINDOW_MS = 48 * 3600_000;
export const PHONE_BLIND_INDEX_DOMAIN = 'sandbox.phone';
export const OAUTH_SCOPES = ['snsapi_base', 'snsapi_userinfo'] as const;
export type OAuthScope = (typeof OAUTH_SCOPES)[number];

export interface SandboxUser {
  tenantId: string;
  unionid: string;
  oaOpenid: string;
  miniOpenid: string;
}

/** 28 characters starting with `o`, like WeChat's openids and unionids. */
const wechatId = () => `o${randomBytes(20).toString('base64url')}`;

export function toSandboxUser(r: UserRecord): SandboxUser {
  return { tenantId: r.tenant_id, unionid: r.unionid, oaOpenid: r.oa_openid, miniOpenid: r.mini_openid };
}

function phoneOf(raw: string): string {
  const p = normaliseChinaMobile(raw);
  if (!p) throw AppError.validation([{ field: 'phone', message: 'a mainland mobile number has 11 digits and starts with 13–19' }]);
  return p;
}

function phoneColumns(ctx: AppContext, phone: string) {
  return { phone_enc: ctx.crypto.encrypt(phone), phone_bidx: ctx.crypto.blindIndex(PHONE_BLIND_INDEX_DOMAIN, phone), phone_masked: maskPhone(phone) };
}

export async function createSandboxUser(ctx: AppContext, input: { tenantId: string; phone?: string }): Promise<SandboxUser> {
  const phone = input.phone === undefined ? undefined : phoneOf(input.phone);
  if (!(await getTenant(ctx.db, input.tenantId))) throw new AppError('not_found', `no tenant ${input.tenantId}`);
  const now = ctx.clock.now();
  const user = { unionid: wechatId(), oa_openid: wechatId(), mini_openid: wechatId() };
  await inTx(ctx.db, (tx) =>
    insertUser(tx, {
      ...user,
      tenant_id: input.tenantId,
      subscribed: true,
      ...(phone ? phoneColumns(ctx, phone) : { phone_enc: null, phone_bidx: null, phone_masked: null }),
      mini_session_key_enc: null,
      last_interaction_at: now,
      created_at: now,
    }),
  );
  return { tenantId: input.tenantId, unionid: user.unionid, oaOpenid: user.oa_openid, miniOpenid: user.mini_openid };
}

/** The user by either openid. */
export async function findSandboxUser(ctx: AppContext, openid: string): Promise<SandboxUser | undefined> {
  if (typeof openid !== 'string' || openid.length > 64) return undefined;
  const row = await findUserByOpenid(ctx.db, openid);
  return row ? toSandboxUser(row) : undefined;
}

export async function requireUserRecord(ctx: AppContext, openid: string): Promise<UserRecord> {
  const row = await findUserByOpenid(ctx.db, openid);
  if (!row) throw new AppError('not_found', `no sandbox user ${openid}`);
  return row;
}

/** The user talked to the OA (a message, a menu click): opens the 48-hour customer-service window. */
export async function noteSandboxInteraction(ctx: AppContext, openid: string): Promise<void> {
  const row = await findUserByOpenid(ctx.db, openid);
  if (row) await inTx(ctx.db, (tx) => updateUser(tx, row.unionid, { last_interaction_at: ctx.clock.now() }));
}

export async function setSandboxSubscribed(ctx: AppContext, openid: string, subscribed: boolean): Promise<void> {
  const row = await requireUserRecord(ctx, openid);
  await inTx(ctx.db, (tx) => updateUser(tx, row.unionid, { subscribed, ...(subscribed ? { last_interaction_at: ctx.clock.now() } : {}) }));
}

/**
 * What wx.login (mini-program appid) or OA web auth (OA appid) gives the user's client. wx.login
 * rotates the session key, as WeChat may: data encrypted under the old key no longer opens.
 */
export async function issueLoginCode(ctx: AppContext, openid: string, appId: string, scope: OAuthScope = 'snsapi_base'): Promise<{ code: string; kind: SandboxCodeKind }> {
  const user = await requireUserRecord(ctx, openid);
  const apps = await tenantAppIds(ctx, user.tenant_id);
  const kind: SandboxCodeKind | undefined = appId === apps.miniProgram ? 'wx_login' : appId === apps.oa ? 'oauth' : undefined;
  if (!kind) throw AppError.validation([{ field: 'appId', message: "is not an app of the user's tenant" }]);
  const now = ctx.clock.now();
  const code = randomBytes(24).toString('base64url');
  await inTx(ctx.db, async (tx) => {
    if (kind === 'wx_login') await updateUser(tx, user.unionid, { mini_session_key_enc: ctx.crypto.encrypt(randomBytes(16).toString('base64')) });
    await insertCode(tx, {
      code,
      kind,
      tenant_id: user.tenant_id,
      app_id: appId,
      unionid: user.unionid,
      scope: kind === 'oauth' ? scope : null,
      issued_at: now,
      expires_at: new Date(now.getTime() + CODE_TTL_MS),
      used_at: null,
    });
  });
  return { code, kind };
}

/** What the getPhoneNumber button gives: a code for the user's phone (set or changed by `phone`). */
export async function issuePhoneCode(ctx: AppContext, openid: string, phone?: string): Promise<{ code: string }> {
  const user = await requireUserRecord(ctx, openid);
  const clear = phone === undefined ? undefined : phoneOf(phone);
  if (!clear && !user.phone_enc) throw new AppError('conflict', 'the user has no phone in WeChat: pass phone');
  const appId = (await tenantAppIds(ctx, user.tenant_id)).miniProgram;
  if (!appId) throw new AppError('conflict', "the user's tenant has no mini-program");
  const now = ctx.clock.now();
  const code = randomBytes(32).toString('hex');
  await inTx(ctx.db, async (tx) => {
    if (clear) await updateUser(tx, user.unionid, phoneColumns(ctx, clear));
    await insertCode(tx, { code, kind: 'phone', tenant_id: user.tenant_id, app_id: appId, unionid: user.unionid, scope: null, issued_at: now, expires_at: new Date(now.getTime() + CODE_TTL_MS), used_at: null });
  });
  return { code };
}

/** Spends a code for the app, as the platform's exchange endpoints do: 40163 when used before, 40029 otherwise. */
export async function spendCode(ctx: AppContext, c: { code: string; kind: SandboxCodeKind; appId: string }): Promise<{ code: CodeRecord; user: UserRecord }> {
  if (c.code.length === 0 || c.code.length > 128) throw new WxFailure(40029);
  const now = ctx.clock.now();
  const used = await inTx(ctx.db, (tx) => useCode(tx, { ...c, now }));
  if (!used) {
    const row = await findCode(ctx.db, c.code);
    if (row && row.kind === c.kind && row.app_id === c.appId && row.used_at) throw new WxFailure(40163);
    throw new WxFailure(40029);
  }
  const user = await findUserByUnionid(ctx.db, used.unionid);
  if (!user) throw new WxFailure(40029);
  return { code: used, user };
}

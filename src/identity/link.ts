// Linking an Official Account openid to the person: the OA's user/info gives the unionid when web auth (snsapi_base) does not.
import type { AppContext } from '../app/context.ts';
import { inTx } from '../db/tx.ts';
import { callWechatApi } from '../wechat/api/index.ts';
import { findUserByOpenid } from './store.ts';

const UNIONID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * The unionid of an OA follower (`cgi-bin/user/info`): snsapi_base web auth and OA messages carry
 * only the OA openid, and WeChat gives the unionid there only with snsapi_userinfo. undefined when
 * the user does not follow the OA, the OA is not bound to the tenant's Open Platform account, or
 * WeChat cannot be reached: the caller then links by openid alone.
 */
export async function oaUnionidOf(ctx: AppContext, tenantId: string, openid: string): Promise<string | undefined> {
  try {
    const info = await callWechatApi<{ subscribe?: number; unionid?: unknown }>(ctx, { tenantId, kind: 'oa' }, { method: 'GET', path: '/cgi-bin/user/info', query: { openid, lang: 'zh_CN' } });
    return typeof info.unionid === 'string' && UNIONID_PATTERN.test(info.unionid) ? info.unionid : undefined;
  } catch (err) {
    // errmsg is not logged: WeChat quotes request ids and openids in it.
    ctx.log.debug({ tenantId, errcode: (err as { errcode?: number }).errcode, errName: (err as Error).name }, 'OA user/info gave no unionid');
    return undefined;
  }
}

/**
 * The person behind an OA openid (the OA chat: 余额 from a user who bound a card in the
 * mini-program). Known openids answer at once; an unknown one is linked through its unionid to a
 * person who signed in elsewhere. Nobody is created here: without a sign-in there is no card.
 */
export async function resolveOaUser(ctx: AppContext, tenantId: string, openid: string): Promise<{ userId: string } | undefined> {
  const known = await findUserByOpenid(ctx.db, tenantId, openid);
  if (known) return known;
  const unionid = await oaUnionidOf(ctx, tenantId, openid);
  if (!unionid) return undefined;
  return inTx(ctx.db, async (tx) => {
    const user = await tx.selectFrom('identity_users').select('id').where('tenant_id', '=', tenantId).where('link_key', '=', `u:${unionid}`).executeTakeFirst();
    if (!user) return undefined;
    const now = ctx.clock.now();
    await tx
      .insertInto('identity_wechat_ids')
      .values({ tenant_id: tenantId, app_kind: 'oa', openid, user_id: user.id, unionid, created_at: now, last_seen_at: now })
      .onConflict((oc) => oc.columns(['tenant_id', 'app_kind', 'openid']).doNothing())
      .execute();
    return { userId: user.id };
  });
}

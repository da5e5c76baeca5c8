// The sandbox's open.weixin.qq.com web-authorisation page: pick a simulated user, get redirected back with code and state.
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import type { App } from '../../app/server.ts';
import { getTenant } from '../../tenants/index.ts';
import { findSandboxApp } from './apps.ts';
import { listUsersOfTenant } from './store.ts';
import { issueLoginCode, requireUserRecord, type OAuthScope } from './users.ts';

/** Users the chooser page lists. */
export const AUTHORIZE_PAGE_USERS_MAX = 50;

const AuthorizeQuery = Type.Object({
  appid: Type.String({ pattern: '^wx[0-9a-f]{16}$' }),
  redirect_uri: Type.String({ minLength: 8, maxLength: 1024 }),
  response_type: Type.Literal('code'),
  scope: Type.Union([Type.Literal('snsapi_base'), Type.Literal('snsapi_userinfo')]),
  // WeChat: a-zA-Z0-9, at most 128 bytes.
  state: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.~-]{0,128}$' })),
  sandbox_openid: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
});
type AuthorizeQueryT = { appid: string; redirect_uri: string; response_type: 'code'; scope: OAuthScope; state?: string; sandbox_openid?: string };

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** WeChat only redirects to the account's configured web-auth domain (10003 otherwise); here that is the server's host. */
function checkedRedirect(ctx: AppContext, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw AppError.validation([{ field: 'redirect_uri', message: 'is not a URL' }]);
  }
  const allowed = new Set([new URL(ctx.config.sandboxServerUrl).hostname, new URL(ctx.config.publicUrl).hostname]);
  if (!['http:', 'https:'].includes(url.protocol) || !allowed.has(url.hostname)) {
    throw AppError.validation([{ field: 'redirect_uri', message: '10003 redirect_uri 域名与后台配置不一致 (the host must be the server’s)' }]);
  }
  return url;
}

function chooserPage(q: AuthorizeQueryT, tenantName: string, users: { oaOpenid: string; label: string }[], nonce: string): string {
  const link = (openid: string) => {
    const p = new URLSearchParams({ appid: q.appid, redirect_uri: q.redirect_uri, response_type: q.response_type, scope: q.scope, ...(q.state !== undefined ? { state: q.state } : {}), sandbox_openid: openid });
    return `?${p}`;
  };
  const items = users.map((u) => `<li><a href="${escapeHtml(link(u.oaOpenid))}">${escapeHtml(u.label)}</a></li>`).join('');
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>微信授权</title>
<style nonce="${nonce}">body{font-family:system-ui,sans-serif;margin:2rem;max-width:30rem}li{margin:.5rem 0}code{font-size:.85em}</style></head>
<body><h1>${escapeHtml(tenantName)}</h1><p>申请获取你的身份信息 (${escapeHtml(q.scope)})。选择一个模拟微信用户：</p>
${items ? `<ul>${items}</ul>` : '<p>这个租户还没有模拟用户：先 <code>POST /sandbox/api/users</code>。</p>'}</body></html>`;
}

export function registerAuthorizePage(app: App, ctx: AppContext): void {
  app.get(
    '/sandbox/open/connect/oauth2/authorize',
    {
      schema: {
        tags: ['sandbox'],
        summary: 'OA web authorisation (sandbox open.weixin.qq.com): with sandbox_openid, redirects to redirect_uri with code and state; without, a page to pick the user',
        querystring: AuthorizeQuery,
      },
    },
    async (request, reply) => {
      const q = request.query as AuthorizeQueryT;
      const target = checkedRedirect(ctx, q.redirect_uri);
      const oa = await findSandboxApp(ctx, q.appid);
      if (!oa || oa.kind !== 'oa') throw AppError.validation([{ field: 'appid', message: 'is not an Official Account of any tenant' }]);
      if (q.sandbox_openid !== undefined) {
        const user = await requireUserRecord(ctx, q.sandbox_openid);
        if (user.tenant_id !== oa.tenantId || user.oa_openid !== q.sandbox_openid) throw new AppError('not_found', `no sandbox user ${q.sandbox_openid} in this Official Account`);
        const { code } = await issueLoginCode(ctx, q.sandbox_openid, q.appid, q.scope);
        target.searchParams.set('code', code);
        target.searchParams.set('state', q.state ?? '');
        return reply.redirect(target.toString(), 302);
      }
      const tenant = await getTenant(ctx.db, oa.tenantId);
      const users = (await listUsersOfTenant(ctx.db, oa.tenantId, AUTHORIZE_PAGE_USERS_MAX)).map((u) => ({
        oaOpenid: u.oa_openid,
        label: `${u.oa_openid}${u.phone_masked ? ` · ${u.phone_masked}` : ''}`,
      }));
      const nonce = randomBytes(16).toString('base64');
      reply.header('content-security-policy', `default-src 'none'; style-src 'nonce-${nonce}'; form-action 'none'; frame-ancestors 'self'`);
      reply.header('cache-control', 'no-store');
      return reply.type('text/html; charset=utf-8').send(chooserPage(q, tenant?.name ?? '', users, nonce));
    },
  );
}

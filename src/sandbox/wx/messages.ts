// The sandbox's message APIs (template, subscribe, customer-service) with WeChat's checks and error codes, and the inbox they fill.
import { randomInt } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { inTx } from '../../db/tx.ts';
import { newId } from '../../shared/ids.ts';
import { WxFailure } from './errors.ts';
import type { SandboxMessageKind } from './sandbox-wx.table.ts';
import { findMessageByClientId, findUserByOpenid, insertMessage, listMessages, takeGrant, type UserRecord } from './store.ts';
import { CUSTOM_MESSAGE_WINDOW_MS } from './users.ts';

export type Body = Record<string, unknown>;
/** The app a valid token belongs to. */
export interface Caller {
  tenantId: string;
  appId: string;
}

/** client_msg_id: one message per openid + id within 10 minutes (WECHAT-VECTORS.md §2.4). */
export const CLIENT_MSG_ID_WINDOW_MS = 10 * 60_000;
const TEMPLATE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const DATA_KEYS_MAX = 50;
const DATA_VALUE_MAX_CHARS = 1000;
export const CUSTOM_TEXT_MAX_BYTES = 2048;

/** A 19-digit id like the msgid WeChat answers (beyond 2^53: clients must not read it as a double). */
function newMsgid(): string {
  return `${randomInt(1, 9)}${Array.from({ length: 18 }, () => randomInt(10)).join('')}`;
}

async function recipient(ctx: AppContext, caller: Caller, touser: unknown, app: 'oa' | 'mini'): Promise<UserRecord> {
  if (typeof touser !== 'string' || touser.length === 0 || touser.length > 64) throw new WxFailure(40003);
  const user = await findUserByOpenid(ctx.db, touser);
  const own = user && user.tenant_id === caller.tenantId && (app === 'oa' ? user.oa_openid : user.mini_openid) === touser;
  if (!own) throw new WxFailure(40003);
  return user;
}

function templateId(v: unknown): string {
  if (typeof v !== 'string' || !TEMPLATE_ID.test(v)) throw new WxFailure(40037);
  return v;
}

/** `data: {key: {value}}`; 47003 names the first bad field, as WeChat does. */
function messageData(v: unknown): Record<string, { value: string }> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new WxFailure(47003, 'data is empty');
  const entries = Object.entries(v as Body);
  if (entries.length === 0) throw new WxFailure(47003, 'data is empty');
  if (entries.length > DATA_KEYS_MAX) throw new WxFailure(47003, 'data has too many keys');
  const out: Record<string, { value: string }> = {};
  for (const [k, entry] of entries) {
    const value = (entry as { value?: unknown } | null)?.value;
    if (typeof value !== 'string' || value.length === 0) throw new WxFailure(47003, `data.${k.slice(0, 32)}.value is empty`);
    if ([...value].length > DATA_VALUE_MAX_CHARS) throw new WxFailure(47003, `data.${k.slice(0, 32)}.value is too long`);
    out[k] = { value };
  }
  return out;
}

function optionalString(body: Body, name: string, max: number): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw new WxFailure(47001, `${name} is malformed`);
  return v;
}

/** POST /cgi-bin/message/template/send with an OA token → `{ msgid }` (digits, answered as a bare number). */
export async function sendTemplate(ctx: AppContext, caller: Caller, body: Body): Promise<{ msgid: string }> {
  const user = await recipient(ctx, caller, body.touser, 'oa');
  const tid = templateId(body.template_id);
  const data = messageData(body.data);
  const url = optionalString(body, 'url', 1024);
  const clientMsgId = optionalString(body, 'client_msg_id', 64);
  let miniprogram: { appid: string; pagepath?: string } | undefined;
  if (body.miniprogram !== undefined && body.miniprogram !== null) {
    const mp = body.miniprogram as Body;
    if (typeof mp !== 'object' || typeof mp.appid !== 'string' || (mp.pagepath !== undefined && typeof mp.pagepath !== 'string')) throw new WxFailure(47001, 'miniprogram is malformed');
    miniprogram = { appid: mp.appid, ...(typeof mp.pagepath === 'string' ? { pagepath: mp.pagepath } : {}) };
  }
  if (!user.subscribed) throw new WxFailure(43004);
  const now = ctx.clock.now();
  if (clientMsgId) {
    const earlier = await findMessageByClientId(ctx.db, { openid: user.oa_openid, clientMsgId, since: new Date(now.getTime() - CLIENT_MSG_ID_WINDOW_MS) });
    if (earlier) return { msgid: earlier.msgid };
  }
  const msgid = newMsgid();
  await inTx(ctx.db, (tx) =>
    insertMessage(tx, {
      id: newId('sbm'),
      tenant_id: caller.tenantId,
      app_id: caller.appId,
      kind: 'template',
      openid: user.oa_openid,
      template_id: tid,
      msgid,
      content: JSON.stringify({ data, ...(url !== undefined ? { url } : {}), ...(miniprogram ? { miniprogram } : {}) }),
      client_msg_id: clientMsgId ?? null,
      sent_at: now,
    }),
  );
  return { msgid };
}

/** POST /cgi-bin/message/subscribe/send with a mini-program token: spends one of the user's acceptances (43101 when none). */
export async function sendSubscribe(ctx: AppContext, caller: Caller, body: Body): Promise<{ msgid: string }> {
  const user = await recipient(ctx, caller, body.touser, 'mini');
  const tid = templateId(body.template_id);
  const data = messageData(body.data);
  const page = optionalString(body, 'page', 256);
  const now = ctx.clock.now();
  const msgid = newMsgid();
  await inTx(ctx.db, async (tx) => {
    if (!(await takeGrant(tx, { unionid: user.unionid, templateId: tid, now }))) throw new WxFailure(43101);
    await insertMessage(tx, {
      id: newId('sbm'),
      tenant_id: caller.tenantId,
      app_id: caller.appId,
      kind: 'subscribe',
      openid: user.mini_openid,
      template_id: tid,
      msgid,
      content: JSON.stringify({ data, ...(page !== undefined ? { page } : {}) }),
      client_msg_id: null,
      sent_at: now,
    });
  });
  return { msgid };
}

/** POST /cgi-bin/message/custom/send with an OA token: text only, to a follower, within 48 h of their last interaction. */
export async function sendCustom(ctx: AppContext, caller: Caller, body: Body): Promise<void> {
  const user = await recipient(ctx, caller, body.touser, 'oa');
  if (body.msgtype !== 'text') throw new WxFailure(40008);
  const content = (body.text as Body | undefined)?.content;
  if (typeof content !== 'string' || content.length === 0) throw new WxFailure(47001, 'text.content is empty');
  if (Buffer.byteLength(content) > CUSTOM_TEXT_MAX_BYTES) throw new WxFailure(47001, 'text.content is too long');
  if (!user.subscribed) throw new WxFailure(43004);
  const now = ctx.clock.now();
  if (now.getTime() - user.last_interaction_at.getTime() > CUSTOM_MESSAGE_WINDOW_MS) throw new WxFailure(45015);
  await inTx(ctx.db, (tx) =>
    insertMessage(tx, {
      id: newId('sbm'),
      tenant_id: caller.tenantId,
      app_id: caller.appId,
      kind: 'custom',
      openid: user.oa_openid,
      template_id: null,
      msgid: newMsgid(),
      content: JSON.stringify({ msgtype: 'text', text: { content } }),
      client_msg_id: null,
      sent_at: now,
    }),
  );
}

const parse = (v: unknown): Body => (typeof v === 'string' ? JSON.parse(v) : (v as Body)) ?? {};

export interface InboxTemplate {
  openid: string;
  templateId: string;
  data: Record<string, { value: string }>;
  url?: string;
  miniprogram?: { appid: string; pagepath?: string };
  page?: string;
  msgid: string;
  sentAt: Date;
}

/** Template or subscribe messages sent to this openid, newest first. */
export async function inboxTemplates(ctx: AppContext, kind: Extract<SandboxMessageKind, 'template' | 'subscribe'>, openid: string, limit: number): Promise<InboxTemplate[]> {
  const rows = await listMessages(ctx.db, { openid, kind, limit });
  return rows.map((r) => {
    const c = parse(r.content) as { data: Record<string, { value: string }>; url?: string; miniprogram?: { appid: string; pagepath?: string }; page?: string };
    return {
      openid: r.openid,
      templateId: r.template_id ?? '',
      data: c.data,
      ...(c.url !== undefined ? { url: c.url } : {}),
      ...(c.miniprogram ? { miniprogram: c.miniprogram } : {}),
      ...(c.page !== undefined ? { page: c.page } : {}),
      msgid: r.msgid,
      sentAt: r.sent_at,
    };
  });
}

/** Customer-service messages sent to this openid, newest first. */
export async function inboxCustom(ctx: AppContext, openid: string, limit: number): Promise<{ openid: string; msgtype: string; content: string; sentAt: Date }[]> {
  const rows = await listMessages(ctx.db, { openid, kind: 'custom', limit });
  return rows.map((r) => {
    const c = parse(r.content) as { msgtype: string; text?: { content?: string } };
    return { openid: r.openid, msgtype: c.msgtype, content: c.text?.content ?? '', sentAt: r.sent_at };
  });
}

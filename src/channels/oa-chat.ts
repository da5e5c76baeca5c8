// The Official Account chat: 余额 / 余额 1234, 明细, 帮助, 绑卡, 退订提醒 / 开启提醒, the subscribe welcome and the menu's CLICK keys; every answer masked.
import type { AppContext } from '../app/context.ts';
import { recordAudit } from '../audit/index.ts';
import { resolveOaUser } from '../identity/index.ts';
import { defaultOnMessage, type OaInbound, type OaMessageHandler, type OaReply } from '../wechat/oa/index.ts';
import type { Reader } from './accounts-port.ts';
import { balanceText, chooseCard, noSuchCardText, OA_STATEMENT_COUNT, refusalText, statementText, unboundText, type ChannelLinks } from './commands.ts';
import { setAlertsEnabled } from './store.ts';

/** The OA menu's CLICK keys the chat answers (src/sandbox/oa/menu.ts pushes the first three). */
export const CHAT_MENU_KEYS = { balance: 'BALANCE', statement: 'STATEMENT', help: 'HELP', bind: 'BIND' } as const;

export const CHAT_HELP_TEXT = [
  '您好！可以发送以下指令：',
  '余额 — 查询默认卡余额（余额 1234：查询尾号1234的卡）',
  '明细 — 最近5笔交易（明细 1234：尾号1234的卡）',
  '绑卡 — 绑定银行卡',
  '退订提醒 / 开启提醒 — 关闭或开启余额变动提醒',
  '帮助 — 显示本帮助',
].join('\n');

export const WELCOME_TEXT = '感谢关注！';
export const ALERTS_OFF_TEXT = '已关闭余额变动提醒。发送「开启提醒」可重新开启。';
export const ALERTS_ON_TEXT = '已开启余额变动提醒。发送「退订提醒」可关闭。';

export type ChatCommand =
  | { kind: 'balance'; last4?: string }
  | { kind: 'statement'; last4?: string }
  | { kind: 'help' }
  | { kind: 'bind' }
  | { kind: 'alerts'; on: boolean }
  | { kind: 'unknown' };

const BALANCE = /^(?:余额|查余额|查询余额|ye|balance)(?:\s*#?\s*(\d{4}))?$/;
const STATEMENT = /^(?:明细|交易明细|查明细|mx)(?:\s*#?\s*(\d{4}))?$/;
const HELP = new Set(['帮助', 'help', '?', 'bz', '菜单']);
const BIND = new Set(['绑卡', '绑定', '绑定银行卡', 'bind']);
const ALERTS_OFF = new Set(['退订提醒', '关闭提醒', 'td']);
const ALERTS_ON = new Set(['开启提醒', '订阅提醒']);

/** A chat text as a command: full-width characters folded (ＹＥ, １２３４, ？), case and spaces ignored. */
export function parseChatText(text: string): ChatCommand {
  const t = text.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
  const b = BALANCE.exec(t);
  if (b) return b[1] ? { kind: 'balance', last4: b[1] } : { kind: 'balance' };
  const s = STATEMENT.exec(t);
  if (s) return s[1] ? { kind: 'statement', last4: s[1] } : { kind: 'statement' };
  if (HELP.has(t)) return { kind: 'help' };
  if (BIND.has(t)) return { kind: 'bind' };
  if (ALERTS_OFF.has(t)) return { kind: 'alerts', on: false };
  if (ALERTS_ON.has(t)) return { kind: 'alerts', on: true };
  return { kind: 'unknown' };
}

/** The H5 binding page: the H5 app signs the user in through OA web auth (snsapi_base) first, then binds. */
export function bindUrl(ctx: AppContext, tenantId: string): string {
  return `${ctx.config.publicUrl}/h5/bind?tenant=${encodeURIComponent(tenantId)}`;
}

export function oaLinks(ctx: AppContext, tenantId: string): ChannelLinks {
  return {
    bind: bindUrl(ctx, tenantId),
    cardPage: (cardId) => `${ctx.config.publicUrl}/h5/cards/${encodeURIComponent(cardId)}/balance?tenant=${encodeURIComponent(tenantId)}`,
  };
}

const text = (content: string): OaReply => ({ type: 'text', content });

async function readerOf(ctx: AppContext, msg: OaInbound): Promise<Reader | undefined> {
  const user = await resolveOaUser(ctx, msg.tenantId, msg.openid);
  return user ? { tenantId: msg.tenantId, userId: user.userId } : undefined;
}

async function cardCommand(ctx: AppContext, msg: OaInbound, cmd: { kind: 'balance' | 'statement'; last4?: string }): Promise<OaReply> {
  const links = oaLinks(ctx, msg.tenantId);
  const who = await readerOf(ctx, msg);
  if (!who) return text(unboundText(links));
  const { card, cards } = await chooseCard(ctx, who, cmd.last4);
  if (cards.length === 0) return text(unboundText(links));
  if (!card) return text(noSuchCardText(cmd.last4!, cards));
  try {
    return text(cmd.kind === 'balance' ? await balanceText(ctx, who, card, 'oa') : await statementText(ctx, who, card, OA_STATEMENT_COUNT, 'oa'));
  } catch (err) {
    return text(refusalText(err, card, links));
  }
}

async function alertsCommand(ctx: AppContext, msg: OaInbound, on: boolean): Promise<OaReply> {
  const who = await readerOf(ctx, msg);
  if (!who) return text(unboundText(oaLinks(ctx, msg.tenantId)));
  const now = ctx.clock.now();
  await setAlertsEnabled(ctx.db, who.tenantId, who.userId, on, now);
  await recordAudit(ctx.db, { tenantId: who.tenantId, actor: { kind: 'cardholder', id: who.userId }, action: on ? 'alerts.enabled' : 'alerts.disabled', outcome: 'ok', detail: { channel: 'oa' }, at: now });
  return text(on ? ALERTS_ON_TEXT : ALERTS_OFF_TEXT);
}

function bindReply(ctx: AppContext, tenantId: string): OaReply {
  return { type: 'news', articles: [{ title: '绑定银行卡', description: '验证卡号、姓名、证件号和预留手机号后即可查询余额和明细', url: bindUrl(ctx, tenantId) }] };
}

async function welcome(ctx: AppContext, msg: OaInbound): Promise<OaReply> {
  const who = await readerOf(ctx, msg);
  const bound = who ? (await chooseCard(ctx, who, undefined)).cards.length > 0 : false;
  if (bound) return text(`${WELCOME_TEXT}${CHAT_HELP_TEXT}`);
  return text(`${WELCOME_TEXT}<a href="${bindUrl(ctx, msg.tenantId)}">绑定银行卡</a>后即可查询余额和明细。\n${CHAT_HELP_TEXT}`);
}

/**
 * The OA handler: pass it to `oaServer({ onMessage })`. Commands it does not own (other menu keys
 * such as CONTACT, images, VIEW…) go to `fallback` (default: the OA server's default handler).
 * It answers within the passive-reply window in the usual case (a few indexed reads); when the
 * core is slow, the OA server's 5-second machinery sends the answer as a customer-service message.
 */
export function channelsOaHandler(opts: { fallback?: OaMessageHandler } = {}): OaMessageHandler {
  const fallback = opts.fallback ?? defaultOnMessage;
  return async (ctx, msg, deadline) => {
    if (msg.msgType === 'text') {
      const cmd = parseChatText(msg.content);
      switch (cmd.kind) {
        case 'balance':
        case 'statement':
          return cardCommand(ctx, msg, cmd);
        case 'help':
          return text(CHAT_HELP_TEXT);
        case 'bind':
          return bindReply(ctx, msg.tenantId);
        case 'alerts':
          return alertsCommand(ctx, msg, cmd.on);
        case 'unknown':
          return fallback(ctx, msg, deadline);
      }
    }
    if (msg.msgType === 'event') {
      if (msg.event === 'subscribe') return welcome(ctx, msg);
      if (msg.event === 'CLICK') {
        switch (msg.eventKey) {
          case CHAT_MENU_KEYS.balance:
            return cardCommand(ctx, msg, { kind: 'balance' });
          case CHAT_MENU_KEYS.statement:
            return cardCommand(ctx, msg, { kind: 'statement' });
          case CHAT_MENU_KEYS.help:
            return text(CHAT_HELP_TEXT);
          case CHAT_MENU_KEYS.bind:
            return bindReply(ctx, msg.tenantId);
        }
      }
    }
    return fallback(ctx, msg, deadline);
  };
}

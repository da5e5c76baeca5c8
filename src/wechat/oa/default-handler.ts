// The OA's answers until the chat commands land (issue 5): help for 帮助 / help / subscribe, a hint otherwise, menu clicks named.
import type { OaInbound, OaMessageHandler, OaReply } from './types.ts';

/** The commands wecard's OA chat supports (issue 5 implements 余额 and 明细). */
export const HELP_TEXT = ['您好！可以发送以下指令：', '余额 — 查询已绑定卡片的余额', '明细 — 查看最近的交易明细', '帮助 — 显示本帮助'].join('\n');

export const NOT_UNDERSTOOD_TEXT = '抱歉，没有看懂您的消息。发送「帮助」查看可用的指令。';

/** Menu key of the demo menu's help entry (src/sandbox/oa/menu.ts uses the same). */
export const HELP_MENU_KEY = 'HELP';

const HELP_WORDS = new Set(['帮助', 'help', '?', '？']);

/** Answers without I/O, so it always fits the passive-reply window. */
export function defaultReply(msg: OaInbound): OaReply | undefined {
  if (msg.msgType === 'text') {
    const word = msg.content.trim().toLowerCase();
    return { type: 'text', content: HELP_WORDS.has(word) ? HELP_TEXT : NOT_UNDERSTOOD_TEXT };
  }
  if (msg.msgType === 'event') {
    if (msg.event === 'subscribe') return { type: 'text', content: `感谢关注！${HELP_TEXT}` };
    if (msg.event === 'CLICK') {
      if (msg.eventKey === HELP_MENU_KEY) return { type: 'text', content: HELP_TEXT };
      return { type: 'text', content: `您点击了菜单「${msg.eventKey}」，该功能即将开放。` };
    }
  }
  // Other messages and events (VIEW, LOCATION, delivery reports…) need no answer.
  return undefined;
}

export const defaultOnMessage: OaMessageHandler = async (_ctx, msg) => defaultReply(msg);

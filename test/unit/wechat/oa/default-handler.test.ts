// The default OA answers: help for 帮助 / help / subscribe and the help menu item, a hint for other text, menu clicks named, silence otherwise.
import { describe, expect, it } from 'vitest';
import { defaultReply, HELP_TEXT, NOT_UNDERSTOOD_TEXT } from '../../../../src/wechat/oa/default-handler.ts';
import type { OaInbound } from '../../../../src/wechat/oa/types.ts';

const base = { tenantId: 't', openid: 'o', accountId: 'gh_1', createTime: 1 };
const text = (content: string): OaInbound => ({ ...base, msgType: 'text', msgId: '1', content });

describe('default OA answers', () => {
  it('answers 帮助, help (any case, with spaces) and ? with the command list naming 余额, 明细 and 帮助', () => {
    for (const word of ['帮助', 'help', ' HELP ', '?', '？']) expect(defaultReply(text(word))).toEqual({ type: 'text', content: HELP_TEXT });
    for (const command of ['余额', '明细', '帮助']) expect(HELP_TEXT).toContain(command);
  });

  it('welcomes a new follower with the command list', () => {
    const r = defaultReply({ ...base, msgType: 'event', event: 'subscribe' });
    expect(r?.type === 'text' && r.content).toContain(HELP_TEXT);
  });

  it('tells the user to send 帮助 when it does not understand', () => {
    expect(defaultReply(text('你好'))).toEqual({ type: 'text', content: NOT_UNDERSTOOD_TEXT });
    expect(NOT_UNDERSTOOD_TEXT).toContain('帮助');
  });

  it('names the menu key of a click, and answers the help item with help', () => {
    const r = defaultReply({ ...base, msgType: 'event', event: 'CLICK', eventKey: 'BALANCE' });
    expect(r?.type === 'text' && r.content).toContain('BALANCE');
    expect(defaultReply({ ...base, msgType: 'event', event: 'CLICK', eventKey: 'HELP' })).toEqual({ type: 'text', content: HELP_TEXT });
  });

  it('stays silent (success) for VIEW, unsubscribe, images and unknown kinds', () => {
    expect(defaultReply({ ...base, msgType: 'event', event: 'VIEW', url: 'https://x' })).toBeUndefined();
    expect(defaultReply({ ...base, msgType: 'event', event: 'unsubscribe' })).toBeUndefined();
    expect(defaultReply({ ...base, msgType: 'image', msgId: '2' })).toBeUndefined();
    expect(defaultReply({ ...base, msgType: 'other', rawMsgType: 'event', rawEvent: 'debug_demo' })).toBeUndefined();
  });
});

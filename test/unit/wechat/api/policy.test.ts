// Pure rules of the outbound API: token freshness, the refresh-ahead window, errcode classes and the problems they become, message checks.
import { describe, expect, it } from 'vitest';
import {
  appErrorForErrcode,
  classifyErrcode,
  isRetryableErrcode,
  refreshAheadMs,
  tokenUse,
  TOKEN_INVALID_ERRCODES,
  TOKEN_REFRESH_AHEAD_MS,
} from '../../../../src/wechat/api/policy.ts';
import { errcodeOf, rawIntegerField } from '../../../../src/wechat/api/http.ts';
import { subscribeMessageProblems, templateMessageProblems } from '../../../../src/wechat/api/messages.ts';
import { WechatApiError } from '../../../../src/wechat/api/errors.ts';

const T0 = new Date('2026-01-05T02:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const token = (expiresInMs: number, generation = 3, lifeMs = 7_200_000) => ({
  hasToken: true,
  expiresAt: at(expiresInMs),
  generation,
  refreshedAt: at(expiresInMs - lifeMs),
});

describe('tokenUse', () => {
  it('calls a token with more than 5 minutes left fresh', () => {
    expect(tokenUse(token(TOKEN_REFRESH_AHEAD_MS + 1), T0)).toBe('fresh');
  });

  it('calls a token in its last 5 minutes usable: still sent, but a refresh is due', () => {
    expect(tokenUse(token(TOKEN_REFRESH_AHEAD_MS), T0)).toBe('usable');
    expect(tokenUse(token(1), T0)).toBe('usable');
  });

  it('calls an expired token, no token, and the token an API just refused unusable', () => {
    expect(tokenUse(token(0), T0)).toBe('unusable');
    expect(tokenUse({ hasToken: false, expiresAt: null, generation: 0, refreshedAt: null }, T0)).toBe('unusable');
    expect(tokenUse(token(3_600_000, 7), T0, 7)).toBe('unusable');
  });

  it('uses a newer token than the one that was refused', () => {
    expect(tokenUse(token(3_600_000, 8), T0, 7)).toBe('fresh');
  });

  it('refreshes a short-lived token in the second half of its life, not on every call', () => {
    expect(refreshAheadMs(token(120_000, 1, 120_000))).toBe(60_000);
    expect(tokenUse(token(61_000, 1, 120_000), T0)).toBe('fresh');
    expect(tokenUse(token(59_000, 1, 120_000), T0)).toBe('usable');
    expect(refreshAheadMs(token(7_200_000))).toBe(TOKEN_REFRESH_AHEAD_MS);
  });
});

describe('errcodes', () => {
  it('treats 40001, 40014 and 42001 (and only those) as a stale token', () => {
    expect([...TOKEN_INVALID_ERRCODES].sort()).toEqual([40001, 40014, 42001]);
    for (const c of [40001, 40014, 42001]) expect(classifyErrcode(c)).toBe('token_invalid');
  });

  it.each([
    [0, 'ok'],
    [-1, 'retry_later'],
    [45009, 'retry_later'],
    [45011, 'retry_later'],
    [40029, 'invalid_code'],
    [40163, 'invalid_code'],
    [43004, 'user_unreachable'],
    [45015, 'user_unreachable'],
    [40003, 'user_unreachable'],
    [43101, 'user_refused'],
    [40226, 'user_blocked'],
    [40013, 'misconfigured'],
    [40125, 'misconfigured'],
    [48001, 'misconfigured'],
    [47001, 'bad_request'],
    [47003, 'bad_request'],
    [40037, 'bad_request'],
    [99999, 'unknown'],
  ])('classifies errcode %i as %s', (errcode, cls) => {
    expect(classifyErrcode(errcode)).toBe(cls);
  });

  it('retries busy, stale-token and unknown failures later, never a refusal by the user or our own bad request', () => {
    expect([-1, 45009, 40001, 99999].map(isRetryableErrcode)).toEqual([true, true, true, true]);
    expect([43004, 43101, 45015, 47003, 40029, 40125].map(isRetryableErrcode)).toEqual([false, false, false, false, false, false]);
  });

  it.each([
    [40029, 'unauthenticated', 401],
    [40163, 'unauthenticated', 401],
    [40226, 'forbidden', 403],
    [43004, 'conflict', 409],
    [43101, 'conflict', 409],
    [47001, 'internal', 500],
    [-1, 'service_paused', 503],
    [40125, 'service_paused', 503],
    [42001, 'service_paused', 503],
  ])('turns errcode %i into the %s problem (%i) without quoting WeChat', (errcode, code, status) => {
    const e = new WechatApiError(errcode, 'invalid code rid: 1234-5678 appid wx0123456789abcdef').toAppError();
    expect(e.code).toBe(code);
    expect(e.status).toBe(status);
    expect(e.message).not.toMatch(/rid|wx0123/);
    expect(e.extra.errcode).toBe(errcode);
    expect(appErrorForErrcode(errcode).code).toBe(code);
  });
});

describe('answers', () => {
  it('reads errcode as absent (0), a number, or a numeric string; anything else is -1', () => {
    expect(errcodeOf({ access_token: 'x' })).toBe(0);
    expect(errcodeOf({ errcode: 40001 })).toBe(40001);
    expect(errcodeOf({ errcode: '42001' })).toBe(42001);
    expect(errcodeOf({ errcode: 'nope' })).toBe(-1);
    expect(errcodeOf({ errcode: 1.5 })).toBe(-1);
  });

  it('reads a msgid beyond 2^53 digit for digit from the raw answer', () => {
    const text = '{"errcode":0,"errmsg":"ok","msgid":1988810812324364291}';
    expect(String(JSON.parse(text).msgid)).not.toBe('1988810812324364291');
    expect(rawIntegerField(text, 'msgid')).toBe('1988810812324364291');
    expect(rawIntegerField('{"msgid":"200228332"}', 'msgid')).toBe('200228332');
    expect(rawIntegerField('{"errcode":0}', 'msgid')).toBeUndefined();
  });
});

describe('message checks', () => {
  const ok = { touser: 'oGZUI0egBJY1zhBYw2KhdUfwVJJE', templateId: 'ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY', data: { keyword1: { value: '巧克力' } } };

  it('accepts the WECHAT-VECTORS.md §2.4 template message', () => {
    expect(templateMessageProblems({ ...ok, url: 'http://weixin.qq.com/download', miniprogram: { appid: 'wx4f4bc4dec97d474b', pagepath: 'index?foo=bar' }, clientMsgId: 'MSG_000001' })).toEqual([]);
  });

  it('names each bad field of a template message', () => {
    const fields = templateMessageProblems({
      touser: 'bad openid!',
      templateId: '',
      data: { keyword1: { value: '' }, 'bad key': { value: 'x' } },
      url: 'javascript:alert(1)',
      miniprogram: { appid: 'nope', pagepath: 'x'.repeat(300) },
    }).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['touser', 'templateId', 'data.keyword1.value', 'data', 'url', 'miniprogram.appid', 'miniprogram.pagepath']));
  });

  it('refuses an empty or oversized data object and an unknown miniprogram_state', () => {
    expect(subscribeMessageProblems({ ...ok, data: {} }).map((e) => e.field)).toContain('data');
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`thing${i}`, { value: 'x' }]));
    expect(subscribeMessageProblems({ ...ok, data: many }).map((e) => e.field)).toContain('data');
    expect(subscribeMessageProblems({ ...ok, miniprogramState: 'beta' as never }).map((e) => e.field)).toEqual(['miniprogramState']);
    expect(subscribeMessageProblems({ ...ok, page: 'pages/index/index' })).toEqual([]);
  });
});

// Messages to users: OA customer-service text, OA template messages, mini-program subscribe messages (WECHAT.md §1, §2).
import type { AppContext } from '../../app/context.ts';
import { AppError, type FieldError } from '../../app/errors.ts';
import { callWechatApiRaw } from './call.ts';
import { unavailable } from './errors.ts';
import { rawIntegerField } from './http.ts';

/** Limits we hold ourselves to before WeChat would refuse (47003 and friends). */
export const OPENID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const TEMPLATE_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const DATA_KEYS_MAX = 20;
const DATA_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
export const DATA_VALUE_MAX_CHARS = 200;
export const URL_MAX_CHARS = 1024;
export const PAGE_MAX_CHARS = 256;
/** Customer-service text: WeChat takes up to 2048 bytes. */
export const CUSTOM_TEXT_MAX_BYTES = 2048;
/** client_msg_id: WeChat sends one message per openid + id within 10 minutes. */
const CLIENT_MSG_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export type MessageData = Record<string, { value: string }>;

export interface TemplateMessage {
  touser: string;
  templateId: string;
  url?: string;
  miniprogram?: { appid: string; pagepath: string };
  data: MessageData;
  /** Idempotency key: the platform sends once per openid + key within 10 minutes. */
  clientMsgId?: string;
}

export interface SubscribeMessage {
  touser: string;
  templateId: string;
  page?: string;
  data: MessageData;
  miniprogramState?: 'developer' | 'trial' | 'formal';
}

function dataProblems(data: unknown, errors: FieldError[]): void {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    errors.push({ field: 'data', message: 'must be an object of { value } entries' });
    return;
  }
  const entries = Object.entries(data as Record<string, unknown>);
  if (entries.length === 0 || entries.length > DATA_KEYS_MAX) errors.push({ field: 'data', message: `must have 1–${DATA_KEYS_MAX} entries` });
  for (const [k, v] of entries.slice(0, DATA_KEYS_MAX + 1)) {
    if (!DATA_KEY_PATTERN.test(k)) errors.push({ field: 'data', message: 'keys are letters, digits and _ (e.g. keyword1, thing2)' });
    const value = (v as { value?: unknown } | null)?.value;
    if (typeof value !== 'string' || value.length === 0 || [...value].length > DATA_VALUE_MAX_CHARS) {
      errors.push({ field: `data.${DATA_KEY_PATTERN.test(k) ? k : '?'}.value`, message: `must be 1–${DATA_VALUE_MAX_CHARS} characters` });
    }
  }
}

function commonProblems(m: { touser: unknown; templateId: unknown; data: unknown }): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof m.touser !== 'string' || !OPENID_PATTERN.test(m.touser)) errors.push({ field: 'touser', message: 'must be an openid' });
  if (typeof m.templateId !== 'string' || !TEMPLATE_ID_PATTERN.test(m.templateId)) errors.push({ field: 'templateId', message: 'must be a template id' });
  dataProblems(m.data, errors);
  return errors;
}

/** Problems of a template message, by field (empty when it may be sent). Pure. */
export function templateMessageProblems(m: TemplateMessage): FieldError[] {
  const errors = commonProblems(m);
  if (m.url !== undefined && (typeof m.url !== 'string' || m.url.length > URL_MAX_CHARS || !/^https?:\/\/[^\s]+$/.test(m.url))) {
    errors.push({ field: 'url', message: `must be an http(s) URL of at most ${URL_MAX_CHARS} characters` });
  }
  if (m.miniprogram !== undefined) {
    if (typeof m.miniprogram?.appid !== 'string' || !/^wx[0-9a-f]{16}$/.test(m.miniprogram.appid)) errors.push({ field: 'miniprogram.appid', message: 'must be a mini-program appid' });
    if (typeof m.miniprogram?.pagepath !== 'string' || m.miniprogram.pagepath.length > PAGE_MAX_CHARS) errors.push({ field: 'miniprogram.pagepath', message: `must be at most ${PAGE_MAX_CHARS} characters` });
  }
  if (m.clientMsgId !== undefined && (typeof m.clientMsgId !== 'string' || !CLIENT_MSG_ID_PATTERN.test(m.clientMsgId))) {
    errors.push({ field: 'clientMsgId', message: 'must be 1–64 letters, digits, _ or -' });
  }
  return errors;
}

/** Problems of a subscribe message, by field. Pure. */
export function subscribeMessageProblems(m: SubscribeMessage): FieldError[] {
  const errors = commonProblems(m);
  if (m.page !== undefined && (typeof m.page !== 'string' || m.page.length > PAGE_MAX_CHARS)) errors.push({ field: 'page', message: `must be at most ${PAGE_MAX_CHARS} characters` });
  if (m.miniprogramState !== undefined && !['developer', 'trial', 'formal'].includes(m.miniprogramState)) errors.push({ field: 'miniprogramState', message: 'must be developer, trial or formal' });
  return errors;
}

function assertNone(errors: FieldError[]): void {
  if (errors.length > 0) throw AppError.validation(errors);
}

const cleanData = (data: MessageData): MessageData => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, { value: v.value }]));

/**
 * An OA template message. Answers WeChat's msgid, digit for digit. 43004: the user does not
 * follow the account. Never call inside a database transaction.
 */
export async function sendTemplateMessage(ctx: AppContext, tenantId: string, msg: TemplateMessage): Promise<{ msgid: string }> {
  assertNone(templateMessageProblems(msg));
  const answer = await callWechatApiRaw(ctx, { tenantId, kind: 'oa' }, {
    method: 'POST',
    path: '/cgi-bin/message/template/send',
    body: {
      touser: msg.touser,
      template_id: msg.templateId,
      ...(msg.url !== undefined ? { url: msg.url } : {}),
      ...(msg.miniprogram !== undefined ? { miniprogram: { appid: msg.miniprogram.appid, pagepath: msg.miniprogram.pagepath } } : {}),
      ...(msg.clientMsgId !== undefined ? { client_msg_id: msg.clientMsgId } : {}),
      data: cleanData(msg.data),
    },
  });
  const msgid = rawIntegerField(answer.text, 'msgid');
  if (!msgid) throw unavailable('the template answer has no msgid');
  return { msgid };
}

/** A mini-program subscribe message: each acceptance by the user allows one send; 43101 when none is left. */
export async function sendSubscribeMessage(ctx: AppContext, tenantId: string, msg: SubscribeMessage): Promise<void> {
  assertNone(subscribeMessageProblems(msg));
  await callWechatApiRaw(ctx, { tenantId, kind: 'miniProgram' }, {
    method: 'POST',
    path: '/cgi-bin/message/subscribe/send',
    body: {
      touser: msg.touser,
      template_id: msg.templateId,
      ...(msg.page !== undefined ? { page: msg.page } : {}),
      ...(msg.miniprogramState !== undefined ? { miniprogram_state: msg.miniprogramState } : {}),
      lang: 'zh_CN',
      data: cleanData(msg.data),
    },
  });
}

/**
 * An OA customer-service text (the late answer to a message, WECHAT.md §1): allowed within 48 h
 * of the user's last interaction (45015 after), to followers only (43004).
 */
export async function sendCustomText(ctx: AppContext, tenantId: string, openid: string, content: string): Promise<void> {
  const errors: FieldError[] = [];
  if (typeof openid !== 'string' || !OPENID_PATTERN.test(openid)) errors.push({ field: 'openid', message: 'must be an openid' });
  if (typeof content !== 'string' || content.length === 0 || Buffer.byteLength(content) > CUSTOM_TEXT_MAX_BYTES) {
    errors.push({ field: 'content', message: `must be 1–${CUSTOM_TEXT_MAX_BYTES} bytes` });
  }
  assertNone(errors);
  await callWechatApiRaw(ctx, { tenantId, kind: 'oa' }, {
    method: 'POST',
    path: '/cgi-bin/message/custom/send',
    body: { touser: openid, msgtype: 'text', text: { content } },
  });
}

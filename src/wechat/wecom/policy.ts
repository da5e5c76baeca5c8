// Pure WeCom rules: field limits of the customer-contact APIs, the callback timestamp window, the de-duplication key.
import { createHash } from 'node:crypto';
import type { FieldError } from '../../app/errors.ts';

/** add_contact_way `state`: "不超过30个字符" (WECHAT-VECTORS.md §5.2). */
export const STATE_MAX_CHARS = 30;
/** add_contact_way `remark` (a memo on the contact way). */
export const CONTACT_WAY_REMARK_MAX_CHARS = 30;
/** remark API: remark ≤ 20, description ≤ 150 characters (WECHAT-VECTORS.md §5.4). */
export const REMARK_MAX_CHARS = 20;
export const DESCRIPTION_MAX_CHARS = 150;
/** send_welcome_msg text.content: at most 4000 bytes. */
export const WELCOME_TEXT_MAX_BYTES = 4000;
/** A callback whose timestamp is further than this from our clock is refused as a replay. */
export const CALLBACK_TIMESTAMP_WINDOW_S = 300;

/** WeCom member userids: letters, digits and `_.@-`, 1–64 characters. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;
/** External userids: `wm…`/`wo…`, letters, digits, `_` and `-`. */
export const EXTERNAL_USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** An opaque token: the state is shown to the operator and echoed in callbacks, so it is never free text. */
export const STATE_PATTERN = /^[A-Za-z0-9_-]{1,30}$/;
/**
 * Six digits in a row look like part of a card, phone or ID number. A state must not carry personal
 * data (it is a random token mapped to context server-side), so such a state is refused outright.
 */
const DIGIT_RUN = /[0-9]{6,}/;

const chars = (s: string) => [...s].length;

/** Problems with a contact-way state token (empty when it is acceptable). */
export function stateProblems(state: string): FieldError[] {
  if (typeof state !== 'string' || !STATE_PATTERN.test(state)) {
    return [{ field: 'state', message: `must be 1–${STATE_MAX_CHARS} letters, digits, "_" or "-"` }];
  }
  if (DIGIT_RUN.test(state)) return [{ field: 'state', message: 'must be an opaque token, not a number that could identify a person' }];
  return [];
}

export function contactWayProblems(input: { agentUserId: string; state: string; remark?: string }): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof input.agentUserId !== 'string' || !USER_ID_PATTERN.test(input.agentUserId)) errors.push({ field: 'agentUserId', message: 'is not a WeCom userid' });
  errors.push(...stateProblems(input.state));
  if (input.remark !== undefined && chars(input.remark) > CONTACT_WAY_REMARK_MAX_CHARS) {
    errors.push({ field: 'remark', message: `is longer than ${CONTACT_WAY_REMARK_MAX_CHARS} characters` });
  }
  return errors;
}

export function remarkProblems(input: { userId: string; externalUserId: string; remark?: string; description?: string }): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof input.userId !== 'string' || !USER_ID_PATTERN.test(input.userId)) errors.push({ field: 'userId', message: 'is not a WeCom userid' });
  if (typeof input.externalUserId !== 'string' || !EXTERNAL_USER_ID_PATTERN.test(input.externalUserId)) {
    errors.push({ field: 'externalUserId', message: 'is not an external userid' });
  }
  if (input.remark !== undefined && chars(input.remark) > REMARK_MAX_CHARS) errors.push({ field: 'remark', message: `is longer than ${REMARK_MAX_CHARS} characters` });
  if (input.description !== undefined && chars(input.description) > DESCRIPTION_MAX_CHARS) {
    errors.push({ field: 'description', message: `is longer than ${DESCRIPTION_MAX_CHARS} characters` });
  }
  if (!input.remark && !input.description) errors.push({ field: 'remark', message: 'remark or description is required' });
  return errors;
}

export function welcomeProblems(input: { welcomeCode: string; text: string }): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof input.welcomeCode !== 'string' || !/^[A-Za-z0-9_=+/-]{1,256}$/.test(input.welcomeCode)) {
    errors.push({ field: 'welcomeCode', message: 'is not a welcome code' });
  }
  if (typeof input.text !== 'string' || input.text.length === 0) errors.push({ field: 'text', message: 'is required' });
  else if (Buffer.byteLength(input.text) > WELCOME_TEXT_MAX_BYTES) errors.push({ field: 'text', message: `is longer than ${WELCOME_TEXT_MAX_BYTES} bytes` });
  return errors;
}

/** True when the callback's unix-seconds timestamp is within the window around `now`. */
export function timestampWithinWindow(timestamp: string, now: Date): boolean {
  if (!/^[0-9]{1,12}$/.test(timestamp)) return false;
  return Math.abs(Number(timestamp) - Math.floor(now.getTime() / 1000)) <= CALLBACK_TIMESTAMP_WINDOW_S;
}

/**
 * The key one message or event is recorded under. Messages carry MsgId (WeChat's advice: de-duplicate
 * by it). Events have none, and "FromUserName + CreateTime" would merge two customers added in the same
 * second (FromUserName is always `sys`), so an event is keyed by all its fields: a WeCom retry repeats
 * them exactly, a different event differs in at least one.
 */
export function dedupeKey(fields: Readonly<Record<string, string>>): string {
  const msgId = fields.MsgId;
  if (msgId && /^[0-9A-Za-z_-]{1,64}$/.test(msgId)) return `msgid:${msgId}`;
  const hash = createHash('sha256');
  for (const name of Object.keys(fields).sort()) hash.update(`${name.length}:${name}=${fields[name]!.length}:${fields[name]}\n`);
  return `sha256:${hash.digest('hex')}`;
}

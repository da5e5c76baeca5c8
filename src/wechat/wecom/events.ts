// The decrypted WeCom callback XML as typed events: add_external_contact, and every other message or event.
import { AppError } from '../../app/errors.ts';
import { optionalField, requireField, type XmlObject } from '../xml.ts';
import { EXTERNAL_USER_ID_PATTERN, USER_ID_PATTERN } from './policy.ts';

/** Any decrypted callback other than add_external_contact (text messages, other change types…). */
export interface WecomEvent {
  tenantId: string;
  corpId: string;
  /** `event`, or a message type (`text`, …). */
  msgType: string;
  event: string | undefined;
  changeType: string | undefined;
  createTime: Date;
  /** Every top-level text field as WeCom sent it (nested elements are left out). */
  fields: Readonly<Record<string, string>>;
}

/** A customer added a member (change_external_contact / add_external_contact, WECHAT.md §5). */
export interface AddExternalContactEvent {
  tenantId: string;
  corpId: string;
  /** The member (agent) who was added. */
  userId: string;
  /** The customer. */
  externalUserId: string;
  /** The contact way's state, when the customer came through one. */
  state: string | undefined;
  /** Present only when no console welcome message is configured; single use, valid 20 s. */
  welcomeCode: string | undefined;
  createTime: Date;
}

export type ParsedCallback = { kind: 'add_external_contact'; event: AddExternalContactEvent; base: WecomEvent } | { kind: 'other'; event: WecomEvent };

const FIELD_MAX_CHARS = 2_048;

/** Top-level text fields only: a WeCom event is flat; nested parts (if any) are not part of what we act on. */
function textFields(xml: XmlObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(xml)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Validates the decrypted XML and types it; a missing or malformed field is validation_failed naming it. */
export function parseCallback(tenantId: string, corpId: string, xml: XmlObject): ParsedCallback {
  const msgType = requireField(xml, 'MsgType', { maxLength: 32, pattern: /^[a-z_]+$/ });
  const createTimeText = requireField(xml, 'CreateTime', { pattern: /^[0-9]{1,12}$/ });
  const fields = textFields(xml);
  for (const [k, v] of Object.entries(fields)) {
    if (v.length > FIELD_MAX_CHARS) throw AppError.validation([{ field: k, message: `is longer than ${FIELD_MAX_CHARS}` }]);
  }
  const createTime = new Date(Number(createTimeText) * 1000);
  const event = msgType === 'event' ? requireField(xml, 'Event', { maxLength: 64 }) : undefined;
  const changeType = optionalField(xml, 'ChangeType');
  const base: WecomEvent = { tenantId, corpId, msgType, event, changeType, createTime, fields };
  if (event === 'change_external_contact' && changeType === 'add_external_contact') {
    return {
      kind: 'add_external_contact',
      base,
      event: {
        tenantId,
        corpId,
        userId: requireField(xml, 'UserID', { pattern: USER_ID_PATTERN }),
        externalUserId: requireField(xml, 'ExternalUserID', { pattern: EXTERNAL_USER_ID_PATTERN }),
        state: optionalField(xml, 'State'),
        welcomeCode: optionalField(xml, 'WelcomeCode'),
        createTime,
      },
    };
  }
  return { kind: 'other', event: base };
}

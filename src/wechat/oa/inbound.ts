// Turns the fields of a decoded push into a typed OaInbound (validating each field) and its de-duplication key.
import { createHash } from 'node:crypto';
import { AppError } from '../../app/errors.ts';
import { optionalField, requireField, type XmlObject } from '../xml.ts';
import type { OaEvent, OaInbound } from './types.ts';

/** Openids are 28 base64url characters today; allow room without accepting junk. */
const OPENID = { maxLength: 64, pattern: /^[A-Za-z0-9_-]+$/ };
const ACCOUNT_ID = { maxLength: 64, pattern: /^[A-Za-z0-9_-]+$/ };
const UNIX_SECONDS = { maxLength: 10, pattern: /^\d+$/ };
const MSG_TYPE = { maxLength: 32, pattern: /^[a-z_]+$/ };
/** MsgId is an unsigned 64-bit integer (at most 20 digits). */
const MSG_ID = { maxLength: 20, pattern: /^\d+$/ };
const EVENT = { maxLength: 64, pattern: /^[A-Za-z_]+$/ };
/** A text message is at most 2048 bytes in WeChat; characters are counted here, generously. */
export const MAX_TEXT_CHARS = 4_096;
/** EventKey of a VIEW event is the menu's URL (WeChat allows 1024 bytes). */
const MAX_EVENT_KEY_CHARS = 1_024;
const MAX_ATTR_CHARS = 1_024;

function numberField(xml: XmlObject, name: string): number {
  const v = requireField(xml, name, { maxLength: 32, pattern: /^-?\d+(\.\d+)?$/ });
  return Number(v);
}

function optionalNumber(xml: XmlObject, name: string): number | undefined {
  const v = optionalField(xml, name);
  if (v === undefined) return undefined;
  if (v.length > 32 || !/^-?\d+(\.\d+)?$/.test(v)) throw AppError.validation([{ field: name, message: 'is not a number' }]);
  return Number(v);
}

function attr(xml: XmlObject, name: string, maxLength = MAX_ATTR_CHARS): string | undefined {
  const v = optionalField(xml, name);
  if (v !== undefined && v.length > maxLength) throw AppError.validation([{ field: name, message: `is longer than ${maxLength}` }]);
  return v;
}

function parseEvent(xml: XmlObject, base: Omit<OaEvent, 'event'> & { msgType: 'event' }, event: string): OaInbound {
  switch (event) {
    case 'subscribe': {
      const eventKey = attr(xml, 'EventKey', MAX_EVENT_KEY_CHARS);
      const ticket = attr(xml, 'Ticket');
      return { ...base, event, ...(eventKey ? { eventKey } : {}), ...(ticket ? { ticket } : {}) };
    }
    case 'unsubscribe':
      return { ...base, event };
    case 'CLICK':
      return { ...base, event, eventKey: requireField(xml, 'EventKey', { maxLength: MAX_EVENT_KEY_CHARS }) };
    case 'VIEW': {
      const menuId = attr(xml, 'MenuId', 32);
      return { ...base, event, url: requireField(xml, 'EventKey', { maxLength: MAX_EVENT_KEY_CHARS }), ...(menuId ? { menuId } : {}) };
    }
    case 'SCAN': {
      const ticket = attr(xml, 'Ticket');
      return { ...base, event, eventKey: requireField(xml, 'EventKey', { maxLength: MAX_EVENT_KEY_CHARS }), ...(ticket ? { ticket } : {}) };
    }
    case 'LOCATION': {
      const precision = optionalNumber(xml, 'Precision');
      return { ...base, event, latitude: numberField(xml, 'Latitude'), longitude: numberField(xml, 'Longitude'), ...(precision !== undefined ? { precision } : {}) };
    }
    case 'TEMPLATESENDJOBFINISH':
      // The delivery report spells it MsgID.
      return { ...base, event, msgId: requireField(xml, 'MsgID', MSG_ID), status: requireField(xml, 'Status', { maxLength: 64 }) };
    default:
      return { ...base, msgType: 'other', rawMsgType: 'event', rawEvent: event };
  }
}

/** Validates the fields of one push and types it; a missing or malformed field is `validation_failed` naming it. */
export function parseInbound(xml: XmlObject, tenantId: string): OaInbound {
  const base = {
    tenantId,
    openid: requireField(xml, 'FromUserName', OPENID),
    accountId: requireField(xml, 'ToUserName', ACCOUNT_ID),
    createTime: Number(requireField(xml, 'CreateTime', UNIX_SECONDS)),
  };
  const msgType = requireField(xml, 'MsgType', MSG_TYPE);
  switch (msgType) {
    case 'text':
      return { ...base, msgType, msgId: requireField(xml, 'MsgId', MSG_ID), content: requireField(xml, 'Content', { maxLength: MAX_TEXT_CHARS }) };
    case 'image': {
      const picUrl = attr(xml, 'PicUrl');
      const mediaId = attr(xml, 'MediaId');
      return { ...base, msgType, msgId: requireField(xml, 'MsgId', MSG_ID), ...(picUrl ? { picUrl } : {}), ...(mediaId ? { mediaId } : {}) };
    }
    case 'voice': {
      const mediaId = attr(xml, 'MediaId');
      const format = attr(xml, 'Format', 16);
      const recognition = attr(xml, 'Recognition', MAX_TEXT_CHARS);
      return {
        ...base,
        msgType,
        msgId: requireField(xml, 'MsgId', MSG_ID),
        ...(mediaId ? { mediaId } : {}),
        ...(format ? { format } : {}),
        ...(recognition ? { recognition } : {}),
      };
    }
    case 'location': {
      const scale = optionalNumber(xml, 'Scale');
      const label = attr(xml, 'Label');
      return {
        ...base,
        msgType,
        msgId: requireField(xml, 'MsgId', MSG_ID),
        latitude: numberField(xml, 'Location_X'),
        longitude: numberField(xml, 'Location_Y'),
        ...(scale !== undefined ? { scale } : {}),
        ...(label ? { label } : {}),
      };
    }
    case 'link': {
      const title = attr(xml, 'Title');
      const description = attr(xml, 'Description');
      const url = attr(xml, 'Url');
      return { ...base, msgType, msgId: requireField(xml, 'MsgId', MSG_ID), ...(title ? { title } : {}), ...(description ? { description } : {}), ...(url ? { url } : {}) };
    }
    case 'event':
      return parseEvent(xml, { ...base, msgType: 'event' } as Omit<OaEvent, 'event'> & { msgType: 'event' }, requireField(xml, 'Event', EVENT));
    default: {
      const msgId = optionalField(xml, 'MsgId');
      // The same bounds as a known type's MsgId: unbounded, it became an unbounded de-duplication key (found by fuzzing).
      if (msgId !== undefined && (msgId.length > MSG_ID.maxLength || !MSG_ID.pattern.test(msgId))) throw AppError.validation([{ field: 'MsgId', message: 'is malformed' }]);
      return { ...base, msgType: 'other', rawMsgType: msgType, ...(msgId ? { msgId } : {}) };
    }
  }
}

/**
 * The key WeChat's retries share (WECHAT.md §1.6): MsgId for messages; for events, which have none,
 * FromUserName + CreateTime, with Event and EventKey added so two menu clicks in one second stay apart.
 */
export function dedupKeyOf(msg: OaInbound, xml: XmlObject): string {
  let event: string;
  if (msg.msgType === 'event') event = msg.event;
  else if (msg.msgType === 'other') {
    if (msg.msgId !== undefined) return `m:${msg.msgId}`;
    event = msg.rawEvent ?? msg.rawMsgType;
  } else return `m:${msg.msgId}`;
  const eventKey = optionalField(xml, 'EventKey');
  const keyHash = eventKey === undefined ? '' : createHash('sha1').update(eventKey).digest('hex').slice(0, 16);
  return `e:${msg.openid}:${msg.createTime}:${event}:${keyHash}`;
}

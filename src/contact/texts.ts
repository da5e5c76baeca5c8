// Pure texts of a bill shared with customer service: the masked bill snapshot, watermark, masked agent, WeCom remark, description and welcome message.
import { maskName, scrubText } from '../shared/mask.ts';
import { formatFen } from '../shared/money.ts';
import { REMARK_MAX_CHARS, DESCRIPTION_MAX_CHARS, WELCOME_TEXT_MAX_BYTES } from '../wechat/wecom/index.ts';
import type { BillKind } from './policy.ts';

/**
 * What customer service learns of a bill: the order number, amount, time, a scrubbed title and the
 * card's last 4 digits at most. No counterparty (a third person's name), no full card number.
 * This is the "temporary data" purged with an unused state and kept 72 hours in a context.
 */
export interface BillSnapshot {
  kind: BillKind;
  orderNumber: string;
  /** Fen, as a decimal string (JSON has no bigint). */
  amountFen: string;
  currency: string;
  direction: 'debit' | 'credit';
  occurredAt: string;
  title: string;
  status: string;
  /** Masked card number (first 6 + last 4) of the card the bill is on, if any. */
  maskedCard: string | null;
  cardLast4: string | null;
}

/** Longest title kept in a snapshot. */
const TITLE_MAX_CHARS = 40;

export function safeTitle(text: string): string {
  const t = scrubText(text.replace(/\s+/g, ' ').trim());
  return [...t].length > TITLE_MAX_CHARS ? `${[...t].slice(0, TITLE_MAX_CHARS - 1).join('')}…` : t;
}

const chars = (s: string) => [...s].length;

function cut(s: string, max: number): string {
  return chars(s) <= max ? s : `${[...s].slice(0, max - 1).join('')}…`;
}

/** "2026-03-18 14:30" in Asia/Shanghai. */
export function shanghaiMinute(at: Date): string {
  return new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
}

function shanghaiSecond(at: Date): string {
  return new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** An internal id shown on a screen: the kind prefix and the last 4 characters (`usr_…k9x2`). */
export function maskOpaqueId(id: string): string {
  const i = id.indexOf('_');
  const prefix = i > 0 && i <= 8 ? id.slice(0, i + 1) : '';
  const rest = id.slice(prefix.length);
  return rest.length <= 4 ? `${prefix}****` : `${prefix}****${rest.slice(-4)}`;
}

/** A WeCom userid shown to a cardholder: first 2 and last 2 characters (`Zh****in`); short ids all `*` but the first. */
export function maskAgentId(userId: string): string {
  if (userId.length >= 6) return `${userId.slice(0, 2)}${'*'.repeat(userId.length - 4)}${userId.slice(-2)}`;
  return `${userId.slice(0, 1)}${'*'.repeat(Math.max(0, userId.length - 1))}`;
}

export interface MaskedAgent {
  name: string;
  id: string;
  title: string;
}

export function maskedAgent(a: { userId: string; displayName: string; title: string }): MaskedAgent {
  return { name: maskName(a.displayName), id: maskAgentId(a.userId), title: a.title };
}

/**
 * The watermark the client lays over the bill while it is shared: the user's masked id and the
 * time (Asia/Shanghai), so a screenshot passed on shows whose bill it was and when.
 */
export function watermark(userId: string, at: Date): string {
  return `${maskOpaqueId(userId)} ${shanghaiSecond(at)} 仅限客服核对`;
}

/** The amount as the agent reads it, signed by direction: "-¥123.45" for money out. */
export function amountText(s: Pick<BillSnapshot, 'amountFen' | 'direction' | 'currency'>): string {
  const fen = BigInt(s.amountFen);
  const base = formatFen(fen < 0n ? -fen : fen);
  const text = s.currency === 'CNY' ? base : `${base.replace('¥', '')} ${s.currency}`;
  return s.direction === 'debit' ? `-${text}` : text;
}

const KIND_LABEL: Record<BillKind, string> = { transaction: '交易', topup: '充值' };

/**
 * WeCom remark (≤ 20 characters): the amount and as much of the order number as fits, its end kept
 * (the distinguishing part of a serial number); the description holds the whole number.
 */
export function remarkFor(s: BillSnapshot): string {
  const amount = amountText(s);
  const room = REMARK_MAX_CHARS - chars(amount) - 1;
  if (room <= 1) return cut(amount, REMARK_MAX_CHARS);
  const order = chars(s.orderNumber) <= room ? s.orderNumber : `…${[...s.orderNumber].slice(-(room - 1)).join('')}`;
  return `${order} ${amount}`;
}

/** WeCom description (≤ 150 characters): order number, amount, kind, time and card tail. */
export function descriptionFor(s: BillSnapshot): string {
  const parts = [`订单号 ${s.orderNumber}`, `金额 ${amountText(s)}`, `${KIND_LABEL[s.kind]} ${shanghaiMinute(new Date(s.occurredAt))}`];
  if (s.cardLast4) parts.push(`尾号${s.cardLast4}`);
  return cut(parts.join(' · '), DESCRIPTION_MAX_CHARS);
}

/** The lines of the bill summary (welcome message and agent view). */
export function summaryLines(s: BillSnapshot): string[] {
  return [
    `订单号：${s.orderNumber}`,
    `金额：${amountText(s)}`,
    `时间：${shanghaiMinute(new Date(s.occurredAt))}`,
    `摘要：${s.title || KIND_LABEL[s.kind]}`,
    ...(s.cardLast4 ? [`卡号：尾号${s.cardLast4}`] : []),
  ];
}

/** The welcome message: a greeting, the bill summary, and the warning every bank gives. */
export function welcomeText(s: BillSnapshot, agentTitle: string): string {
  const text = [
    `您好，我是${agentTitle || '客服'}，已收到您关于以下${KIND_LABEL[s.kind]}账单的咨询：`,
    ...summaryLines(s),
    '我们不会向您索要密码或短信验证码。',
  ].join('\n');
  // The summary is a few hundred bytes; the cut only guards a pathological title.
  return Buffer.byteLength(text) <= WELCOME_TEXT_MAX_BYTES ? text : cut(text, Math.floor(WELCOME_TEXT_MAX_BYTES / 4));
}

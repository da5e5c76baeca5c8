// The channel commands' shared logic (OA chat, SMS banking): which card, the balance and statement answers as text, refusals in words.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { balanceForUser, recentTransactions, type Reader, type RequestMetaLike } from './accounts-port.ts';
import { listBoundCards, type BoundCard } from '../identity/index.ts';
import { cardKindName, money, shanghaiShort, signedMoney, tailOf } from './format.ts';

export type Channel = 'oa' | 'sms' | 'city';

/** Entries 明细 shows in the OA chat, and MX in an SMS. */
export const OA_STATEMENT_COUNT = 5;
export const SMS_STATEMENT_COUNT = 3;

/** What a channel adds to an answer: links the OA chat can show (SMS has none). */
export interface ChannelLinks {
  /** The H5 binding page (through OA web auth); undefined: say where to bind instead. */
  bind?: string;
  /** The H5 page of one card's balance, for answers that need the app (step-up, slider check). */
  cardPage?: (cardId: string) => string;
}

export type CardChoice = { card: BoundCard; cards: BoundCard[] } | { card: undefined; cards: BoundCard[] };

/** The card a command is about: by its last 4 digits, else the default (or only, or first) card. */
export async function chooseCard(ctx: AppContext, who: Reader, last4: string | undefined): Promise<CardChoice> {
  const cards = await listBoundCards(ctx.db, who.tenantId, who.userId);
  if (last4 === undefined) return { card: cards.find((c) => c.isDefault) ?? cards[0], cards };
  return { card: cards.find((c) => c.last4 === last4), cards };
}

export function cardList(cards: BoundCard[]): string {
  return cards.map((c) => `${cardKindName(c.kind)} ${c.maskedNumber}`).join('\n');
}

/** An unknown last-4: the cards the user does have, masked. */
export function noSuchCardText(last4: string, cards: BoundCard[]): string {
  return `没有找到尾号${last4}的已绑定卡片。您已绑定：\n${cardList(cards)}`;
}

export function unboundText(links: ChannelLinks): string {
  return links.bind ? `您还没有绑定银行卡。<a href="${links.bind}">点此绑定</a>，绑定后即可查询余额和明细。` : '您还没有绑定银行卡，请先在微信公众号中绑定。';
}

/** A refusal of the accounts use cases in the user's words; a non-AppError is rethrown (the channel logs it). */
export function refusalText(err: unknown, card: BoundCard, links: ChannelLinks): string {
  if (!(err instanceof AppError)) throw err;
  const tail = tailOf(card.maskedNumber);
  const page = links.cardPage?.(card.cardId);
  switch (err.code) {
    case 'step_up_required':
    case 'captcha_required':
      return page ? `为保障资金安全，${tail}的余额需进一步验证，请<a href="${page}">在页面中查看</a>。` : `为保障资金安全，${tail}的余额需进一步验证，请在微信公众号或App中查看。`;
    case 'quota_exceeded':
      return '今日查询次数已用完，请明天再试。';
    case 'rate_limited':
      return '查询过于频繁，请稍后再试。';
    case 'card_lost':
      return `${tail}已挂失，无法查询。如需帮助请联系客服。`;
    case 'card_frozen':
      return `${tail}已冻结，暂时无法查询。`;
    case 'card_cancelled':
      return `${tail}已注销。`;
    case 'account_dormant':
      return `${tail}为久悬账户，请到网点或在App中激活后再查询。`;
    case 'cross_border_locked':
      return '境外查询已锁定。';
    case 'core_unavailable':
    case 'service_paused':
      return '系统繁忙，暂时无法查询，请稍后再试。';
    case 'not_found':
    case 'forbidden':
      return '没有找到这张卡片，请重新绑定。';
    default:
      return '暂时无法完成查询，请稍后再试。';
  }
}

/** The balance answer: card masked, available and ledger balance, when; the core's last known value is said to be so. */
export async function balanceText(ctx: AppContext, who: Reader, card: BoundCard, channel: Channel, meta?: RequestMetaLike): Promise<string> {
  const b = await balanceForUser(ctx, who, card.cardId, { channel, ...(meta ? { meta } : {}) });
  const lines = [
    `${cardKindName(card.kind)} ${b.maskedNumber}`,
    `可用余额：${money(b.available, b.currency)}`,
    `账面余额：${money(b.ledger, b.currency)}`,
    b.stale ? `（系统繁忙，以上为${shanghaiShort(b.asOf)}的余额）` : `查询时间：${shanghaiShort(b.asOf)}`,
  ];
  return lines.join('\n');
}

/** The last `count` entries, newest first: time, signed amount, who, what. */
export async function statementText(ctx: AppContext, who: Reader, card: BoundCard, count: number, channel: Channel, meta?: RequestMetaLike): Promise<string> {
  const page = await recentTransactions(ctx, who, card.cardId, count, { channel, ...(meta ? { meta } : {}) });
  const head = `${cardKindName(card.kind)} ${page.maskedNumber} 最近${page.items.length}笔交易：`;
  if (page.items.length === 0) return `${cardKindName(card.kind)} ${page.maskedNumber} 近期没有交易。`;
  const lines = page.items.map((i) => {
    const who = i.counterparty ? ` ${i.counterparty}` : '';
    const pending = i.state === 'pending' ? '（处理中）' : '';
    return `${shanghaiShort(i.bookedAt)} ${signedMoney(i.amountFen, i.currency)}${who} ${i.description}${pending}`;
  });
  return [head, ...lines, ...(page.stale ? [`（系统繁忙，以上为${shanghaiShort(page.asOf)}的记录）`] : [])].join('\n');
}

// The Official Account's typed inbound messages and events, passive replies, and the handler signature modules plug in.
import type { AppContext } from '../../app/context.ts';

/** Fields every push carries (WECHAT.md §1). */
interface OaBase {
  /** The tenant whose endpoint received the push. */
  tenantId: string;
  /** FromUserName: the user's openid in this Official Account. */
  openid: string;
  /** ToUserName: the account's original id (`gh_…`). */
  accountId: string;
  /** CreateTime, unix seconds. */
  createTime: number;
}

/** MsgId is a 64-bit integer: kept as its decimal string (it exceeds 2^53). */
export type OaTextMessage = OaBase & { msgType: 'text'; msgId: string; content: string };
export type OaImageMessage = OaBase & { msgType: 'image'; msgId: string; picUrl?: string; mediaId?: string };
export type OaVoiceMessage = OaBase & { msgType: 'voice'; msgId: string; mediaId?: string; format?: string; recognition?: string };
export type OaLocationMessage = OaBase & { msgType: 'location'; msgId: string; latitude: number; longitude: number; scale?: number; label?: string };
export type OaLinkMessage = OaBase & { msgType: 'link'; msgId: string; title?: string; description?: string; url?: string };

/** `subscribe` via a parametric QR code carries `qrscene_<scene>` and the ticket. */
export type OaSubscribeEvent = OaBase & { msgType: 'event'; event: 'subscribe'; eventKey?: string; ticket?: string };
export type OaUnsubscribeEvent = OaBase & { msgType: 'event'; event: 'unsubscribe' };
export type OaClickEvent = OaBase & { msgType: 'event'; event: 'CLICK'; eventKey: string };
/** The user is opening `url` from the menu: analytics only, nothing to answer. */
export type OaViewEvent = OaBase & { msgType: 'event'; event: 'VIEW'; url: string; menuId?: string };
/** An already-subscribed user scanned a parametric QR code (`eventKey` is the scene value, no prefix). */
export type OaScanEvent = OaBase & { msgType: 'event'; event: 'SCAN'; eventKey: string; ticket?: string };
export type OaLocationEvent = OaBase & { msgType: 'event'; event: 'LOCATION'; latitude: number; longitude: number; precision?: number };
/** Delivery report of a template message: `success`, `failed:user block`, `failed: system failed`. */
export type OaTemplateSendFinishedEvent = OaBase & { msgType: 'event'; event: 'TEMPLATESENDJOBFINISH'; msgId: string; status: string };

export type OaEvent =
  | OaSubscribeEvent
  | OaUnsubscribeEvent
  | OaClickEvent
  | OaViewEvent
  | OaScanEvent
  | OaLocationEvent
  | OaTemplateSendFinishedEvent;

/** A message type or event wecard does not model (video, shortvideo, new events): answered `success` by default. */
export type OaOtherInbound = OaBase & { msgType: 'other'; rawMsgType: string; rawEvent?: string; msgId?: string };

export type OaInbound = OaTextMessage | OaImageMessage | OaVoiceMessage | OaLocationMessage | OaLinkMessage | OaEvent | OaOtherInbound;

/** One article of a news reply. */
export interface OaArticle {
  title: string;
  description?: string;
  picUrl?: string;
  url?: string;
}

/** A passive reply: text, or news with 1–8 articles (WECHAT.md §1). */
export type OaReply = { type: 'text'; content: string } | { type: 'news'; articles: OaArticle[] };

/**
 * The passive-reply window of one push. Work may go on past `at`; whatever it then returns is sent
 * as a customer-service message instead of the passive reply.
 */
export interface OaDeadline {
  /** Epoch ms by which the reply must be ready to be sent passively. */
  readonly at: number;
  /** Aborted when the passive-reply window closes. */
  readonly signal: AbortSignal;
}

/** The business side of the OA endpoint: answer a push with a passive reply, or nothing (`success`). */
export type OaMessageHandler = (ctx: AppContext, msg: OaInbound, deadline: OaDeadline) => Promise<OaReply | undefined>;

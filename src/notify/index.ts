// The notify module's public face: the card-system status feed (MQTT), partner webhooks with transaction events, signed daily batch exports.
export {
  cardStatusFeed,
  cardStatusFeedOf,
} from './cardsys/plugin.ts';
export { CardStatusFeed, type CardStatusFeedOptions, CARDSYS_SESSION_EXPIRY_S } from './cardsys/feed.ts';
export {
  linkCardSystem,
  rotateCardSystemKey,
  retireCardSystemKey,
  disableCardSystemLink,
  cardSystemKeyForPeer,
  cardFeedStatus,
  activeKeys,
  type CardsysKeyMaterial,
  type CardFeedStatus,
} from './cardsys/links.ts';
export { runCardSync, pruneFeed, CARD_SYNC_TOPIC, type CardSyncRun } from './cardsys/sync-job.ts';
export { CARD_CANCELLED_TOPIC } from './cardsys/apply.ts';
export { CARD_SYNC_INTERVAL_MS, CARD_SYNC_STALE_AFTER_MS, coreStatusOf, decide } from './cardsys/policy.ts';
export { MqttLink, redactUrl, type MqttLinkOptions } from './cardsys/mqtt-link.ts';
export {
  CARDSYS_DEFAULT_TOPIC_ROOT,
  CARDSYS_SHARE_GROUP,
  CARDSYS_SNAPSHOT_PART_MAX,
  CARDSYS_STATUSES,
  entryToWire,
  open as openCardsysMessage,
  seal as sealCardsysMessage,
  parseMessage as parseCardsysMessage,
  parseTopic as parseCardsysTopic,
  topicFilter as cardsysTopicFilter,
  topicFor as cardsysTopic,
  WireError as CardsysWireError,
  type CardsysKey,
  type CardsysStatus,
} from './cardsys/wire.ts';

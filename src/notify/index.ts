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
export { partnerWebhooks } from './webhooks/plugin.ts';
export { enqueueTransactionEvent, WEBHOOK_DELIVER_TOPIC, WEBHOOK_FANOUT_TOPIC } from './webhooks/events.ts';
export { TRANSACTION_EVENT_TYPES, WEBHOOK_EVENT_DATA_MAX_BYTES, EventError, type TransactionEvent, type TransactionEventType } from './webhooks/types.ts';
export {
  addWebhookEndpoint,
  listWebhookEndpoints,
  disableWebhookEndpoint,
  WEBHOOK_MAX_ENDPOINTS_PER_TENANT,
  type WebhookEndpoint,
  type NewWebhookEndpoint,
  type WebhookSecrets,
} from './webhooks/endpoints.ts';
export { listWebhookDeliveries, replayWebhookDelivery, replayDeadWebhookDeliveries, type WebhookDelivery } from './webhooks/operator.ts';
export { WEBHOOK_RETRY_SCHEDULE_MS, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_TIMEOUT_MS, webhookRetryDelayMs } from './webhooks/deliver.ts';
export {
  WEBHOOK_HEADERS,
  WEBHOOK_TIMESTAMP_TOLERANCE_S,
  sealWebhookBody,
  signWebhook,
  verifyWebhookSignature,
  openWebhookBody,
  type WebhookEvent,
  type WebhookEnvelope,
} from './webhooks/envelope.ts';
export { dailyExport, type DailyExportOptions } from './export/plugin.ts';
export {
  generateDailyExport,
  getDailyExport,
  listDailyExports,
  scheduleDailyExport,
  DAILY_EXPORT_TOPIC,
  EXPORT_MAX_ROWS,
  type DailyExport,
  type DailyExportSummary,
} from './export/job.ts';
export { enableDailyExport, rotateExportKey, disableDailyExport, exportPublicKeys, currentExportKey, EXPORT_RSA_BITS, type ExportPublicKey } from './export/keys.ts';
export { EXPORT_COLUMNS, exportCsv, verifyExport } from './export/csv.ts';
export { topupExportSource, type ExportTopup, type ListTopupsForDay } from './export/source.ts';
export { shanghaiDay, dayBounds, nextExportRunAt } from './export/policy.ts';
export { pruneWebhooks, WEBHOOK_PRUNE_TOPIC, WEBHOOK_RETENTION_MS } from './webhooks/prune.ts';
export { interchange, type InterchangeOptions } from './plugin.ts';

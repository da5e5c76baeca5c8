// The WeChat Pay v3 module's public face: the client calls, the notification routes and their types, platform keys, bill parsing.
export {
  createJsapiOrder,
  paymentParams,
  queryOrder,
  closeOrder,
  createRefund,
  queryRefund,
  downloadTradeBill,
  notifyUrls,
  beijingRfc3339,
  TRADE_BILL_MAX_BYTES,
  type NewJsapiOrder,
  type NewRefund,
  type DownloadedBill,
} from './client.ts';
export { PayApiError, PAY_REQUEST_TIMEOUT_MS, type PayFailureKind } from './http.ts';
export { payNotifications, NOTIFY_BODY_LIMIT_BYTES, type PayNotificationOptions } from './routes.ts';
export type { TransactionNotification, RefundNotification } from './notify.ts';
export type { PayTransaction, PayRefund, TradeState, RefundStatus } from './resources.ts';
export type { RequestPaymentParams } from './signing.ts';
export { addPlatformKey, removePlatformKey } from './tenant.ts';
export { refreshPlatformCertificates, certificatesFromAnswer } from './certificates.ts';
export { parseTradeBill, type TradeBill, type TradeBillRow, type TradeBillSummary, type TradeBillType } from './bill.ts';
export { billYuanToFen, TIMESTAMP_WINDOW_S } from './policy.ts';
export { PAY_NOTIFICATION_RETENTION_MS } from './jobs.ts';
export { payNotificationsOf, PAY_NOTIFICATIONS_LIST_MAX } from './notify.ts';
export type { StoredPayNotification } from './store.ts';

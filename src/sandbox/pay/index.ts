// The sandbox WeChat Pay platform's public face: its routes, the cashier, the notification schedule.
export { sandboxPayRoutes } from './routes.ts';
export { payOrder, type PaidOrder } from './orders.ts';
export { DELIVER_NOTIFICATION_TOPIC, NOTIFY_RETRY_SCHEDULE_MS, NOTIFY_TIMEOUT_MS, attemptDelivery } from './deliver.ts';
export { SETTLE_REFUND_TOPIC } from './refunds.ts';
export { rotatePlatformKey } from './merchants.ts';
export { getFaults, setFaults, type Faults, type FaultsInput } from './faults.ts';

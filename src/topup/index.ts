// The top-up module's public face: the routes and jobs plugin, the payment handlers for payNotifications, the review queue and switches for the console, reads for bills and integrators.
//
// Wiring (src/app/modules.ts):
//   payNotifications(topupPaymentHandlers())           instead of payNotifications()
//   topupRoutes()                                       the cardholder routes and the module's jobs
import type { Authenticate } from '../app/auth.ts';
import type { AppContext } from '../app/context.ts';
import type { ModulePlugin } from '../app/server.ts';
import type { Tx } from '../db/tx.ts';
import { authenticateCardholder } from '../identity/index.ts';
import type { RefundNotification, TransactionNotification } from '../wechat/pay/index.ts';
import { EXPIRE_TOPIC, expireJob, QUERY_TOPIC, queryJob } from './attempts.ts';
import { LOAD_EXPIRY_TOPIC, SETTLE_TOPIC } from './credit.ts';
import { loadExpiryJob, settleJob } from './loads.ts';
import { MESSAGE_JOB_OPTIONS, MESSAGE_TOPIC, messageJob } from './messages.ts';
import { onTransactionNotification, onTransactionNotifications } from './payments.ts';
import { reconcileAllJob, reconcileJob, RECONCILE_ALL_TOPIC, RECONCILE_TOPIC, scheduleReconciliation } from './reconcile.ts';
import { onRefundNotification, REFUND_JOB_OPTIONS, REFUND_TOPIC, refundJob } from './refunds.ts';
import { REVIEW_SLA_TOPIC, reviewSlaJob } from './review.ts';
import { registerTopupRoutes } from './routes.ts';

export { storedValueCapFen, REGISTERED_CARD_CAP_FEN, ANONYMOUS_CARD_CAP_FEN, citizenStatusOf, quoteTopup, type CitizenCardStatus } from './policy.ts';
export { settlementArrival, officialCalendar, shanghaiRfc3339, type Arrival, type SettleKind, type DayCalendar } from './calendar.ts';
export { citizenCard, type CitizenCard } from './citizen-cards.ts';
export { createTopup, type NewTopup } from './orders.ts';
export { renewPayment, placeAttempt, QUERY_TOPIC, EXPIRE_TOPIC } from './attempts.ts';
export { applyPayment, OUT_TRADE_NO_PREFIX, type PaymentOutcome } from './payments.ts';
export { confirmLoad, type LoadConfirmation } from './loads.ts';
export { getTopupView, listTopups, topupBill, topupEvents, topupDetail, topupsOfDay, type TopupEvent } from './reads.ts';
export { reconcileDay, scheduleReconciliation, nextReconciliation, RECONCILE_TOPIC, type ReconRun } from './reconcile.ts';
export { classifyDay, type Finding, type FindingClass } from './recon-policy.ts';
export { listReviewItems, getReviewItem, assignReviewItem, REVIEW_SLA_TOPIC, type ReviewItem, type ReviewClass } from './review.ts';
export { decideReviewItem, approveReviewDecision, declineReviewDecision, allowedDecisions, needsFourEyes } from './review-decide.ts';
export { getTopupSettings, updateTopupSettings, type TopupSettings } from './settings.ts';
export { topupFenAccount, type TopupFenAccount } from './accounting.ts';
export { ensureTopupAccounts, type TopupAccounts } from './accounts.ts';
export { requestTrustedContact, listTrustedContacts, acceptTrustedContact, endTrustedContact, type TrustedContact } from './contacts.ts';
export { MESSAGE_TOPIC } from './messages.ts';
export { REFUND_TOPIC } from './refunds.ts';
export { SETTLE_TOPIC, LOAD_EXPIRY_TOPIC } from './credit.ts';
export { CRASH_POINTS, type CrashPoint } from './crash.ts';
export type { TopupAnswer, TopupView } from './views.ts';
export type { TopupStatus } from './topup.table.ts';

/** Every background topic of the module (tests run them with ctx.jobs.runDue({ topics })). */
export const TOPUP_TOPICS = [QUERY_TOPIC, EXPIRE_TOPIC, SETTLE_TOPIC, LOAD_EXPIRY_TOPIC, MESSAGE_TOPIC, REFUND_TOPIC, REVIEW_SLA_TOPIC, RECONCILE_TOPIC, RECONCILE_ALL_TOPIC] as const;

/** The business handlers for `payNotifications({ onTransaction, onTransactions, onRefund })`: payments and refunds of top-ups; others are left alone. */
export function topupPaymentHandlers(): {
  onTransaction: (ctx: AppContext, tx: Tx, n: TransactionNotification) => Promise<void>;
  onTransactions: (ctx: AppContext, tx: Tx, ns: TransactionNotification[]) => Promise<void>;
  onRefund: (ctx: AppContext, tx: Tx, n: RefundNotification) => Promise<void>;
} {
  return { onTransaction: onTransactionNotification, onTransactions: onTransactionNotifications, onRefund: onRefundNotification };
}

export interface TopupRoutesOptions {
  /** The cardholder hook; default: identity's for the context the plugin is mounted on. */
  authenticate?: Authenticate;
  /** Schedule the daily reconciliation on start (default true). */
  scheduleDaily?: boolean;
}

/** The top-up routes and background jobs (order query, expiry, settlement, loads, messages, refunds, review SLA, reconciliation). */
export function topupRoutes(opts: TopupRoutesOptions = {}): ModulePlugin {
  return async (app, ctx) => {
    ctx.jobs.register(QUERY_TOPIC, queryJob, { maxAttempts: 10 });
    ctx.jobs.register(EXPIRE_TOPIC, expireJob, { maxAttempts: 5 });
    ctx.jobs.register(SETTLE_TOPIC, settleJob, { maxAttempts: 10 });
    ctx.jobs.register(LOAD_EXPIRY_TOPIC, loadExpiryJob, { maxAttempts: 10 });
    ctx.jobs.register(MESSAGE_TOPIC, messageJob, MESSAGE_JOB_OPTIONS);
    ctx.jobs.register(REFUND_TOPIC, refundJob, REFUND_JOB_OPTIONS);
    ctx.jobs.register(REVIEW_SLA_TOPIC, reviewSlaJob, { maxAttempts: 5 });
    ctx.jobs.register(RECONCILE_TOPIC, reconcileJob, { maxAttempts: 6, retryDelayMs: (n) => Math.min(60_000 * 2 ** (n - 1), 3_600_000) });
    ctx.jobs.register(RECONCILE_ALL_TOPIC, reconcileAllJob, { maxAttempts: 5 });
    registerTopupRoutes(app, ctx, opts.authenticate ?? authenticateCardholder(ctx));
    if (opts.scheduleDaily !== false) await scheduleReconciliation(ctx);
  };
}

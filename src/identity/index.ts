// The identity module's public face: the auth hook, bound cards, card lifecycle, step-up, OTP, the SMS and face ports, and the routes.
//
// Final signatures (contracts4.md, refined):
//   authenticateCardholder(ctx, opts?: { allowUnactivatedDevice?: boolean }): Authenticate
//   listBoundCards(db, tenantId, userId): Promise<BoundCard[]>
//   requireOwnCard(db, principal, cardId): Promise<BoundCard>        404 unknown/other tenant, 403 another user's card
//   requireOwnCardWithCore(db, principal, cardId): the same, with the core's card as read for it
//   findUserByOpenid(db, tenantId, openid): Promise<{ userId } | undefined>
//   resolveOaUser(ctx, tenantId, oaOpenid): Promise<{ userId } | undefined>   (OA chat: links an unseen OA openid by unionid via user/info)
//   assertCardUsable(ctx, card: BoundCard, { now?, purpose: 'balance' | 'transactions' | 'topup' | 'manage' }): Promise<CoreCard>
//       throws card_lost | card_frozen { until?, scope? } | card_cancelled | account_dormant { reactivation }
//   requireStepUp(ctx, principal, { purpose, card?, amountFen?, always?, now?, meta? }): Promise<void>
//       throws step_up_required { challengeId, method, otpSentTo? } (method: payment_password_last4 | sms_otp | face)
//   answerStepUp(ctx, principal, challengeId, answer, meta)          (POST /api/v1/step-ups/{challengeId})
//   sendOtp(ctx, { tenantId, purpose, subject, phone, action, now? }): Promise<{ challengeId, otpSentTo, expiresAt }>
//   verifyOtp(ctx, { challengeId, code, purpose, subject?, tenantId, userId?, now?, meta? }, onVerified?: (tx) => Promise<T>): Promise<T>
//       throws otp_invalid { attemptsLeft } | otp_locked { retryAfter } | not_found
//   reactivateIfQualifying(tx, card: { id, tenantId } /* core card */, { amountFen, incoming, at }): Promise<boolean>
//   onCardStatusChanged(ctx, { coreCardId, status, at? }): Promise<{ revoked }>
//   identityRoutes(opts?: { sms?: SmsSender; face?: FaceVerifier }): ModulePlugin
//   withCardholderAuth(make: ({ authenticate }) => ModulePlugin, opts?): ModulePlugin   (composition: e.g. withCardholderAuth(consentRoutes))
//   createOtpChallenge(tx, pepper, crypto, { tenantId, purpose, subject, phone, now }) + deliverOtp(ctx, …) after commit (codes tied to a row in the caller's transaction)
//
// Decisions:
// - One person per (tenant, unionid); an app that gives no unionid links by (app, openid) until a
//   later sign-in brings one (OA snsapi_base: asked of the OA's cgi-bin/user/info).
// - Sessions: 32 random bytes (base64url) stored as SHA-256; 2 h idle (sliding), 12 h absolute.
// - The payment password is the core card's (the demo sheet's); step-up "last 4" checks the
//   card's. Confirming a first binding needs it (and it must match); a card without one gets it set.
// - A risk-frozen user answers card_frozen { until, scope: 'user' } on card use and on binding
//   (forbidden stays "not yours"); unbinding and loss reports still work.
// - OTP: 6 digits, 5 min, single use, HMAC (pepper-derived key) at rest, 5 tries per challenge,
//   10 wrong per phone in 24 h lock the phone, 60 s between codes per phone and purpose.
import type { ModulePlugin } from '../app/server.ts';
import type { AppContext } from '../app/context.ts';
import { authenticateCardholder, type AuthenticateOptions } from './auth.ts';
import type { Authenticate } from '../app/auth.ts';
import { registerCancelSweep } from './cancel-sweep.ts';
import { registerPrune } from './prune.ts';
import type { FaceVerifier } from './face.ts';
import { setIdentityPorts } from './ports.ts';
import { cardRoutes } from './routes-cards.ts';
import { sessionRoutes } from './routes-session.ts';
import type { SmsSender } from './sms.ts';

export { authenticateCardholder, deviceIdHeader, type AuthenticateOptions } from './auth.ts';
export { listBoundCards, requireOwnCard, requireOwnCardWithCore, countBoundCards, cardView, type BoundCard, type CardView } from './cards.ts';
export { findUserByOpenid, listOpenids, getUser, type IdentityUser } from './store.ts';
export { resolveOaUser, oaUnionidOf } from './link.ts';
export { assertCardUsable, reactivateIfQualifying, onCardStatusChanged, reactivateOnline } from './lifecycle.ts';
export { requireStepUp, answerStepUp, type StepUpRequest, type StepUpPassed } from './step-up.ts';
export { sendOtp, verifyOtp, createOtpChallenge, deliverOtp, type OtpPurpose, type OtpCheck, type CreatedOtp } from './otp.ts';
export { httpSmsSender, sandboxSmsSender, defaultSmsSender, type Sms, type SmsSender } from './sms.ts';
export type { FaceVerifier } from './face.ts';
export { identityPorts } from './ports.ts';
export { CANCEL_SWEEP_TOPIC, sweepCancelledCards } from './cancel-sweep.ts';
export { IDENTITY_PRUNE_TOPIC, IDENTITY_RETENTION_MS, pruneIdentity } from './prune.ts';
export { cancellationAccessDeadline, workingDay, addWorkingDays, CALENDAR_COVERAGE } from './working-days.ts';
export { reactivationFor, type Reactivation, type CardUsePurpose, type StepUpMethod } from './policy.ts';
export type { RequestMeta } from './events.ts';
export { parseElements, type BindingRequest, type ParsedElements } from './bindings.ts';

export interface IdentityRoutesOptions {
  /** The SMS gateway; default: SMS_PROVIDER_URL, else the sandbox outbox when the sandbox is on. */
  sms?: SmsSender;
  /** The face verifier; default: the sandbox's when the sandbox is on, else none (face step-ups fall back to SMS). */
  face?: FaceVerifier;
}

/**
 * The cardholder API of the identity module (sessions, /me, devices, bindings, cards, step-ups)
 * and its daily jobs: the cancelled-card sweep and the retention prune.
 */
export function identityRoutes(opts: IdentityRoutesOptions = {}): ModulePlugin {
  return async (app, ctx: AppContext) => {
    setIdentityPorts(ctx, { ...(opts.sms ? { sms: opts.sms } : {}), ...('face' in opts ? { face: opts.face } : {}) });
    const authenticate = authenticateCardholder(ctx);
    const authenticateAnyDevice = authenticateCardholder(ctx, { allowUnactivatedDevice: true });
    sessionRoutes(app, ctx, { authenticate, authenticateAnyDevice });
    cardRoutes(app, ctx, authenticate);
    await registerCancelSweep(ctx);
    await registerPrune(ctx);
  };
}

/**
 * For composition in src/app/modules.ts: a module plugin factory that takes an Authenticate hook
 * (consentRoutes, later accounts and top-up routes) gets the cardholder hook of the context it is
 * mounted on.
 */
export function withCardholderAuth(make: (opts: { authenticate: Authenticate }) => ModulePlugin, opts?: AuthenticateOptions): ModulePlugin {
  return (app, ctx) => make({ authenticate: authenticateCardholder(ctx, opts) })(app, ctx);
}

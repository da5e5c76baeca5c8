// The risk module's public face: quotas, rate limits, captcha, anomaly signals and freezes, cross-border lock.
import type { ModulePlugin } from '../app/server.ts';
import { registerRiskJobs, schedulePrune } from './jobs.ts';

export { consumeQuota, consumeQuotas, quotaStatus, QUOTA_KEY_MAX_CHARS, type QuotaKind, type QuotaRequest, type QuotaUse } from './quota.ts';
export {
  checkRateLimit,
  rateLimitHook,
  InProcessRateLimiter,
  RATE_LIMIT_MAX_KEYS,
  type RateLimitRule,
  type RateLimitHookOptions,
} from './rate-limit.ts';
export {
  issueCaptcha,
  verifyCaptcha,
  requireCaptcha,
  solvePow,
  parseCaptchaAnswer,
  CAPTCHA_ANSWER_HEADER,
  CAPTCHA_TTL_MS,
  CAPTCHA_MAX_OPEN_PER_SUBJECT,
  POW_DIFFICULTY_BITS,
  type CaptchaChallenge,
} from './captcha.ts';
export {
  recordRiskSignal,
  recordRiskSignals,
  activeFreeze,
  liftFreeze,
  listRiskEvents,
  reviewRiskEvent,
  type RiskSignal,
  type RiskSignalKind,
  type ActiveFreeze,
  type RiskEventView,
} from './signals.ts';
export { countryOf, checkCrossBorder } from './geo.ts';
export { guardBoundQuery, guardNoBindQuery, type BoundQuery, type NoBindQuery } from './guards.ts';
export { pruneRiskData, RISK_PRUNE_TOPIC } from './jobs.ts';
export {
  businessDay,
  startOfBusinessDay,
  nextQuotaReset,
  shanghaiIso,
  anomalyScore,
  riskRules,
  captchaRequired,
  crossBorderLockOn,
  isMainland,
  RISK_FREEZE_SCORE,
  RISK_WEIGHTS,
  DEFAULT_QUERIES_PER_DAY_ABOVE,
  NOBIND_FREE_CARDS,
  type RiskFeatures,
  type RiskRules,
} from './policy.ts';

/** Mounts the risk module's background work: the daily retention prune (no HTTP routes). */
export const riskModule: ModulePlugin = async (_app, ctx) => {
  registerRiskJobs(ctx);
  await schedulePrune(ctx.db, ctx.clock.now());
};

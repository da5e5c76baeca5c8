// The contact module's public face: bill refs for other modules' answers, the routes, the WeCom callback handlers, routing and agent-token setup, the funnel.
//
// Wiring (src/app/modules.ts):
//   wecomCallbacks(contactWecomHandlers())
//   withCardholderAuth(({ authenticate }) => contactRoutes({ authenticate, sources: [/* topup source */], operatorAuth }))
// contactRoutes registers the module's jobs; every instance that runs jobs must mount it.
export { billRefFor, billRefsFor, transactionSourceId, transactionBills, type Bill, type BillOwner, type BillSource } from './bills.ts';
export { topupBills } from './topup-source.ts';
export { BILL_REF_PATTERN, BILL_REFS_BATCH_MAX, type BillIdentity } from './bill-ref.ts';
export { contactRoutes, FUNNEL_MAX_SPAN_MS, type ContactRoutesOptions, type OperatorAuth } from './routes.ts';
export { contactWecomHandlers } from './wecom-events.ts';
export {
  configureContactAgents,
  setContactSettings,
  getContactSettings,
  issueAgentToken,
  revokeAgentToken,
  type AgentConfig,
  type ContactSettings,
} from './agents.ts';
export { funnelReport, startJourney, markStep, type FunnelQuery, type FunnelReport, type JourneyKey, type Segments } from './funnel.ts';
export { normaliseServiceId, type VerificationMethod } from './emergency.ts';
export { seedSandboxAgents } from './demo.ts';
export {
  BILL_KINDS,
  FUNNEL_STEPS,
  SEGMENTS,
  QR_TTL_MS,
  CONTEXT_TTL_MS,
  EMERGENCY_TTL_MS,
  QUEUE_TTL_MS,
  DEFAULT_SCHEDULE,
  DEFAULT_NOTICE_VERSION,
  HIGH_VALUE_DEFAULT_FEN,
  NEW_USER_MAX_AGE_MS,
  type BillKind,
  type FunnelStep,
  type Segment,
  type Schedule,
} from './policy.ts';
export { AFTER_ADD_TOPIC, EXPIRE_TOPIC, CONTEXT_EXPIRE_TOPIC, EMERGENCY_EXPIRE_TOPIC, PRUNE_TOPIC } from './jobs.ts';

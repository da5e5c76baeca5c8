// The audit module's public face: consent records per purpose and notice version, and the hash-chained audit log.
//
// How the audit log stays tamper-evident without slowing its writers:
// - recordAudit is one INSERT with a bigserial seq and no hash, in the caller's transaction. Hashing
//   at write time would make each writer read and wait for its predecessor's hash: one lock for
//   every balance read on every instance.
// - The sealer (seal.ts; job `audit.seal` every AUDIT_SEAL_INTERVAL_MS, or sealAudit called by hand)
//   chains committed rows in seq order in bounded batches, only through rows older than
//   AUDIT_SEAL_MARGIN_MS by the database clock, writing audit_chain (prev link, prev hash, hash =
//   SHA-256(prev_hash ‖ canonical row)) and one checkpoint per tenant per batch (head seq, head
//   hash, running row count). The largest checkpointed batch end is the sealed frontier.
// - One chain per tenant, over one global seq order. Per tenant because an institution's auditor
//   can verify and anchor its own chain without reading another bank's rows, a tenant's chain is
//   verified in time proportional to its own rows, and a departing tenant's log can be exported
//   or erased as a whole (PIPL art. 47) without breaking the others' chains. Deletions stay
//   detectable: each sealed row links to the previous row of its chain, and each checkpoint
//   records the chain's row count, so a hole is a link or a count that no longer holds, while a
//   seq value burnt by a rolled-back transaction was never linked and is no hole.
// - Rows are never updated: hashes live in their own table, and triggers refuse UPDATE, DELETE and
//   TRUNCATE on all four tables, the sealer included. Someone who disables the triggers is caught
//   by verifyAuditChain; someone who also re-seals everything is caught by an external anchor (a
//   head copied out from `npm run audit:verify`'s output or from audit_checkpoints).
export { recordAudit, recordAudits, type AuditEntry } from './log.ts';
export { setConsent, hasConsent, listConsents, consentHistory, CONSENT_HISTORY_MAX_ROWS, type Consent, type ConsentChange } from './consents.ts';
export {
  CONSENT_PURPOSES,
  isConsentPurpose,
  AuditRefusedError,
  AUDIT_DETAIL_MAX_CHARS,
  NOTICE_VERSION_PATTERN,
  type ConsentPurpose,
} from './policy.ts';
export { sealAudit, AUDIT_SEAL_MARGIN_MS, AUDIT_SEAL_BATCH_ROWS, AUDIT_SEAL_MAX_BATCHES, type SealOptions, type SealResult } from './seal.ts';
export {
  verifyAuditChain,
  AUDIT_VERIFY_MAX_PROBLEMS,
  AUDIT_VERIFY_PAGE_ROWS,
  type AuditAnchor,
  type VerifyOptions,
  type VerifyResult,
} from './verify.ts';
export { genesisHash, type AuditProblem, type AuditProblemKind } from './chain.ts';
export { sealedFrontier } from './store.ts';
export { auditJobs, sealJob, scheduleAuditSeal, AUDIT_SEAL_TOPIC, AUDIT_SEAL_INTERVAL_MS } from './jobs.ts';
export { consentRoutes } from './routes.ts';
export { formatVerifyReport } from './report.ts';
export type { AuditActorKind, AuditOutcome } from './audit.table.ts';

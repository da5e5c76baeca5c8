// Sandbox-only fault switches of the Pay platform, per tenant: failing or slow API answers, duplicate notifications, signature probes, clock skew, refund outcomes.
import { Type, type Static } from 'typebox';
import type { AppContext } from '../../app/context.ts';
import { inTx } from '../../db/tx.ts';
import { NOTIFY_DUPLICATES_MAX } from './deliver.ts';
import { faultsOf, upsertFaults, type SandboxFaults } from './store.ts';

/** The longest delay the delay switch accepts: past the client's timeout, bounded. */
export const API_DELAY_MAX_MS = 15_000;
export const FAULT_COUNT_MAX = 1_000;
/** Clock skew of a day in either direction at most. */
export const TIMESTAMP_SKEW_MAX_S = 86_400;

export const FaultsSchema = Type.Object(
  {
    apiFailStatus: Type.Optional(Type.Union([Type.Literal(429), Type.Literal(500), Type.Literal(502), Type.Literal(503), Type.Null()], { description: 'status the next apiFailCount API calls answer with' })),
    apiFailCount: Type.Optional(Type.Integer({ minimum: 0, maximum: FAULT_COUNT_MAX })),
    apiDelayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: API_DELAY_MAX_MS, description: 'every API answer waits this long first' })),
    notifyDuplicates: Type.Optional(Type.Integer({ minimum: 0, maximum: NOTIFY_DUPLICATES_MAX, description: 'extra copies sent at once with each notification attempt' })),
    probeCount: Type.Optional(Type.Integer({ minimum: 0, maximum: FAULT_COUNT_MAX, description: 'the next signed answers or notifications carry a WECHATPAY/SIGNTEST/ probe signature' })),
    timestampSkewS: Type.Optional(Type.Integer({ minimum: -TIMESTAMP_SKEW_MAX_S, maximum: TIMESTAMP_SKEW_MAX_S, description: 'added to Wechatpay-Timestamp' })),
    refundOutcome: Type.Optional(Type.Union([Type.Literal('SUCCESS'), Type.Literal('ABNORMAL'), Type.Literal('CLOSED')])),
  },
  { additionalProperties: false },
);
export type FaultsInput = Static<typeof FaultsSchema>;

export interface Faults {
  apiFailStatus: number | null;
  apiFailCount: number;
  apiDelayMs: number;
  notifyDuplicates: number;
  probeCount: number;
  timestampSkewS: number;
  refundOutcome: 'SUCCESS' | 'ABNORMAL' | 'CLOSED';
}

const NONE: Faults = { apiFailStatus: null, apiFailCount: 0, apiDelayMs: 0, notifyDuplicates: 0, probeCount: 0, timestampSkewS: 0, refundOutcome: 'SUCCESS' };

function toFaults(row: SandboxFaults | undefined): Faults {
  if (!row) return { ...NONE };
  return {
    apiFailStatus: row.api_fail_status,
    apiFailCount: row.api_fail_remaining,
    apiDelayMs: row.api_delay_ms,
    notifyDuplicates: row.notify_duplicates,
    probeCount: row.probe_remaining,
    timestampSkewS: row.timestamp_skew_s,
    refundOutcome: row.refund_outcome,
  };
}

export async function getFaults(ctx: AppContext, tenantId: string): Promise<Faults> {
  return toFaults(await faultsOf(ctx.db, tenantId));
}

/** Merges the given switches into the tenant's current ones; what is not given stays. */
export async function setFaults(ctx: AppContext, tenantId: string, input: FaultsInput): Promise<Faults> {
  return inTx(ctx.db, async (tx) => {
    const next = { ...toFaults(await faultsOf(tx, tenantId)), ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) } as Faults;
    await upsertFaults(tx, {
      tenant_id: tenantId,
      api_fail_status: next.apiFailStatus,
      api_fail_remaining: next.apiFailCount,
      api_delay_ms: next.apiDelayMs,
      notify_duplicates: next.notifyDuplicates,
      probe_remaining: next.probeCount,
      timestamp_skew_s: next.timestampSkewS,
      refund_outcome: next.refundOutcome,
      updated_at: ctx.clock.now(),
    });
    ctx.log.info({ tenantId, faults: next }, 'sandbox WeChat Pay fault switches set');
    return next;
  });
}

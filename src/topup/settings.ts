// Per-tenant top-up switches kept beside the policy: the emergency pause of new orders, the four-eyes threshold of the review queue, message templates.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';

/** Decisions on review items at or above this amount need a second reviewer unless the tenant sets its own. */
export const DEFAULT_FOUR_EYES_THRESHOLD_FEN = 100_000n;
export const DEFAULT_RESULT_TEMPLATE_ID = 'topup_result';
export const DEFAULT_DELAY_TEMPLATE_ID = 'topup_delay';
/** What a paused service tells the user unless the operator wrote a message. */
export const DEFAULT_PAUSED_MESSAGE = '充值服务临时维护中，请稍后再试。已支付的订单不受影响。';
const PAUSED_MESSAGE_MAX_CHARS = 200;
const TEMPLATE_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export interface TopupSettings {
  tenantId: string;
  paused: boolean;
  pausedMessage: string;
  pausedAt: Date | null;
  pausedBy: string | null;
  fourEyesThresholdFen: bigint;
  resultTemplateId: string;
  delayTemplateId: string;
}

export async function getTopupSettings(db: Db | Tx, tenantId: string): Promise<TopupSettings> {
  const r = await db.selectFrom('topup_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  return {
    tenantId,
    paused: r?.paused ?? false,
    pausedMessage: r?.paused_message ?? DEFAULT_PAUSED_MESSAGE,
    pausedAt: r?.paused_at ?? null,
    pausedBy: r?.paused_by ?? null,
    fourEyesThresholdFen: r?.four_eyes_threshold_fen != null ? BigInt(r.four_eyes_threshold_fen) : DEFAULT_FOUR_EYES_THRESHOLD_FEN,
    resultTemplateId: r?.result_template_id ?? DEFAULT_RESULT_TEMPLATE_ID,
    delayTemplateId: r?.delay_template_id ?? DEFAULT_DELAY_TEMPLATE_ID,
  };
}

/** Refuses a new order while the operator's emergency switch is on (503 service_paused with the user message). */
export async function assertNotPaused(db: Db | Tx, tenantId: string): Promise<void> {
  const s = await getTopupSettings(db, tenantId);
  if (s.paused) throw new AppError('service_paused', s.pausedMessage, { message: s.pausedMessage, pausedAt: s.pausedAt?.toISOString() ?? null });
}

export interface SettingsChange {
  paused?: boolean;
  pausedMessage?: string | null;
  fourEyesThresholdFen?: bigint | null;
  resultTemplateId?: string | null;
  delayTemplateId?: string | null;
}

/**
 * The operator console's switch (and the runbook's): pausing stops new orders at once on every
 * instance (read per request from the database); orders already paid are still credited.
 */
export async function updateTopupSettings(ctx: AppContext, tenantId: string, operatorId: string, change: SettingsChange): Promise<TopupSettings> {
  if (change.pausedMessage != null && [...change.pausedMessage].length > PAUSED_MESSAGE_MAX_CHARS) {
    throw AppError.validation([{ field: 'pausedMessage', message: `must be at most ${PAUSED_MESSAGE_MAX_CHARS} characters` }]);
  }
  // PostgreSQL text cannot hold NUL: refused here as the caller's error, not a failed statement (found by fuzzing).
  if (change.pausedMessage?.includes('\u0000')) throw AppError.validation([{ field: 'pausedMessage', message: 'must not contain the NUL character' }]);
  for (const f of ['resultTemplateId', 'delayTemplateId'] as const) {
    const v = change[f];
    if (v != null && !TEMPLATE_ID_PATTERN.test(v)) throw AppError.validation([{ field: f, message: 'must be a template id' }]);
  }
  if (change.fourEyesThresholdFen != null && change.fourEyesThresholdFen < 0n) throw AppError.validation([{ field: 'fourEyesThresholdFen', message: 'must not be negative' }]);
  const now = ctx.clock.now();
  await inTx(ctx.db, async (tx) => {
    const current = await getTopupSettings(tx, tenantId);
    const paused = change.paused ?? current.paused;
    const row = {
      tenant_id: tenantId,
      paused,
      paused_message: change.pausedMessage !== undefined ? change.pausedMessage : current.pausedMessage === DEFAULT_PAUSED_MESSAGE ? null : current.pausedMessage,
      paused_at: change.paused === undefined ? current.pausedAt : change.paused ? now : null,
      paused_by: change.paused === undefined ? current.pausedBy : change.paused ? operatorId : null,
      four_eyes_threshold_fen: change.fourEyesThresholdFen !== undefined ? change.fourEyesThresholdFen : current.fourEyesThresholdFen,
      result_template_id: change.resultTemplateId !== undefined ? change.resultTemplateId : current.resultTemplateId,
      delay_template_id: change.delayTemplateId !== undefined ? change.delayTemplateId : current.delayTemplateId,
      updated_at: now,
    };
    await tx.insertInto('topup_settings').values(row).onConflict((oc) => oc.column('tenant_id').doUpdateSet(row)).execute();
    await recordAudit(tx, {
      tenantId,
      actor: { kind: 'operator', id: operatorId },
      action: change.paused === undefined ? 'topup.settings' : change.paused ? 'topup.paused' : 'topup.resumed',
      outcome: 'ok',
      // The amount as a bigint (stored as the same decimal text): as a string it was scanned as free
      // text, and a threshold such as 13800000000 fen read as a mobile number and failed the change (found by fuzzing).
      detail: { paused, fourEyesThresholdFen: row.four_eyes_threshold_fen },
      at: now,
    });
  });
  if (change.paused !== undefined) ctx.log.warn({ tenantId, paused: change.paused, operatorId }, change.paused ? 'top-up orders paused by the emergency switch' : 'top-up orders resumed');
  return getTopupSettings(ctx.db, tenantId);
}

// Balance-change alerts: a scanner turns postings on bound cards into once-only alert rows and jobs; the send job delivers an OA template message, with retries, honouring the user's opt-out.
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { AppContext } from '../app/context.ts';
import { enqueueJob, type JobContext, type JobOptions } from '../app/jobs.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { listOpenids } from '../identity/index.ts';
import { getTransfer } from '../ledger/index.ts';
import { scrubText } from '../shared/mask.ts';
import { sendTemplateMessage, WechatApiError } from '../wechat/api/index.ts';
import { shanghaiLong, signedMoney, tailOf } from './format.ts';
import { alertsEnabled, cdb, getChannelSettings } from './store.ts';

export const ALERT_SCAN_TOPIC = 'channels.alert-scan';
export const ALERT_SEND_TOPIC = 'channels.alert-send';
/**
 * How often the scanner looks for new postings: with the job poll's follow-up rounds, an alert is
 * sent within about two of these of its posting (issue 10's sync goal: under 3 s for real-time tenants).
 */
export const ALERT_SCAN_INTERVAL_MS = 1_000;
/** Postings one scan transaction reads at most; a job runs up to ALERT_SCAN_BATCHES_PER_RUN of them. */
export const ALERT_SCAN_BATCH = 2_000;
export const ALERT_SCAN_BATCHES_PER_RUN = 50;
/**
 * Sequence numbers are taken when a posting is written, not when its transaction commits: a scan
 * reads again this many seqs below its cursor, so a transaction that committed late is still
 * seen. Alert rows are keyed by (card, transfer), so reading a posting twice alerts once.
 */
export const ALERT_SCAN_OVERLAP = 500;
/** The one scanner's cursor row. */
const CURSOR_ID = 'ledger';

/** A template message is worth a few tries (token refresh, a platform hiccup), not a day of them. */
export const ALERT_JOB_OPTIONS: JobOptions = { maxAttempts: 5, retryDelayMs: (n) => Math.min(5_000 * 2 ** (n - 1), 300_000) };

/** WeChat answers no retry can fix: not a follower (43004), blocked (43019), bad openid (40003), bad template (40037), bad data (47003). */
const PERMANENT_ERRCODES = new Set([43004, 43019, 40003, 40037, 47003]);

interface AlertPayload {
  cardId: string;
  transferId: string;
}

/** Sets the cursor at the ledger's end if there is none: alerts start from when the module first ran, never for history. */
export async function initAlertCursor(db: Db, now: Date): Promise<void> {
  const max = await db.selectFrom('ledger_postings').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
  const at = max?.m === null || max?.m === undefined ? 0n : BigInt(max.m as bigint | string);
  await cdb(db).insertInto('channels_alert_cursor').values({ id: CURSOR_ID, last_seq: at, updated_at: now }).onConflict((oc) => oc.column('id').doNothing()).execute();
}

/** Schedules the next scan (one per interval bucket across instances). */
export async function scheduleAlertScan(db: Db | Tx, at: Date): Promise<void> {
  const bucket = Math.floor(at.getTime() / ALERT_SCAN_INTERVAL_MS);
  await enqueueJob(db, { topic: ALERT_SCAN_TOPIC, payload: {}, dedupeKey: `${ALERT_SCAN_TOPIC}:${bucket}`, runAfter: at });
}

/**
 * One scan: the posted postings after the cursor (less the overlap) on the ledger accounts of
 * cards that are bound now and were bound when the posting was booked become alert rows and send
 * jobs, in one transaction with the cursor's move (the cursor row lock makes scans take turns).
 * Returns the alerts queued.
 */
export async function scanPostings(ctx: AppContext): Promise<number> {
  let queued = 0;
  for (let i = 0; i < ALERT_SCAN_BATCHES_PER_RUN; i++) {
    const batch = await scanBatch(ctx);
    queued += batch.queued;
    if (!batch.more) break;
  }
  return queued;
}

async function scanBatch(ctx: AppContext): Promise<{ queued: number; more: boolean }> {
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    const c = cdb(tx);
    const cursor = await c.selectFrom('channels_alert_cursor').select('last_seq').where('id', '=', CURSOR_ID).forUpdate().executeTakeFirst();
    if (!cursor) return { queued: 0, more: false };
    const from = BigInt(cursor.last_seq);
    const top = await sql<{ m: bigint | string | null; n: bigint | string }>`select max(seq) as m, count(*) as n from (select seq from ledger_postings where seq > ${from} order by seq limit ${ALERT_SCAN_BATCH}) s`.execute(tx);
    const to = top.rows[0]?.m === null || top.rows[0]?.m === undefined ? from : BigInt(top.rows[0].m);
    const more = Number(top.rows[0]?.n ?? 0) >= ALERT_SCAN_BATCH;
    const low = from - BigInt(ALERT_SCAN_OVERLAP);
    const rows = await tx
      .selectFrom('ledger_postings as p')
      .innerJoin('ledger_transfers as t', 't.id', 'p.transfer_id')
      .innerJoin('core_cards as cc', 'cc.ledger_account_id', 'p.account_id')
      .innerJoin('identity_cards as ic', (j) => j.onRef('ic.core_card_id', '=', 'cc.id').on('ic.unbound_at', 'is', null))
      .select(['p.transfer_id', 'ic.id as card_id', 'ic.user_id', 't.tenant_id'])
      .where('p.seq', '>', low < 0n ? 0n : low)
      .where('p.seq', '<=', to)
      .where('p.layer', '=', 'posted')
      .whereRef('ic.bound_at', '<=', 'p.booked_at')
      .orderBy('p.seq')
      .execute();
    let queued = 0;
    for (const r of rows) {
      const inserted = await c
        .insertInto('channels_alerts')
        .values({ card_id: r.card_id, transfer_id: r.transfer_id, tenant_id: r.tenant_id, user_id: r.user_id, status: 'queued', reason: null, msgid: null, created_at: now, finished_at: null })
        .onConflict((oc) => oc.columns(['card_id', 'transfer_id']).doNothing())
        .returning('card_id')
        .executeTakeFirst();
      if (!inserted) continue;
      await enqueueJob(tx, { topic: ALERT_SEND_TOPIC, payload: { cardId: r.card_id, transferId: r.transfer_id } satisfies AlertPayload, dedupeKey: `${ALERT_SEND_TOPIC}:${r.card_id}:${r.transfer_id}` });
      queued++;
    }
    if (to > from) await c.updateTable('channels_alert_cursor').set({ last_seq: to, updated_at: now }).where('id', '=', CURSOR_ID).execute();
    return { queued, more };
  });
}

async function finish(ctx: AppContext, p: AlertPayload, status: 'sent' | 'skipped' | 'failed', reason: string | null, msgid: string | null): Promise<void> {
  await cdb(ctx.db)
    .updateTable('channels_alerts')
    .set({ status, reason, msgid, finished_at: ctx.clock.now() })
    .where('card_id', '=', p.cardId)
    .where('transfer_id', '=', p.transferId)
    .where('status', '=', 'queued')
    .execute();
}

/** The template's fields (pure): the card by its last 4 only, Shanghai time, signed amount, scrubbed memo. */
export function alertData(t: { amountFen: bigint; currency: string; bookedAt: Date; description: string; counterparty: string | null }, maskedNumber: string, incoming: boolean): Record<string, { value: string }> {
  const memo = scrubText([t.counterparty, t.description].filter(Boolean).join(' ')).slice(0, 60) || '—';
  return {
    first: { value: incoming ? '您的账户有一笔入账' : '您的账户有一笔支出' },
    keyword1: { value: tailOf(maskedNumber) },
    keyword2: { value: shanghaiLong(t.bookedAt) },
    keyword3: { value: signedMoney(incoming ? t.amountFen : -t.amountFen, t.currency) },
    keyword4: { value: memo },
    remark: { value: '回复「退订提醒」可关闭余额变动提醒' },
  };
}

/** The send job: once per (card, transfer), to each OA openid of the cardholder, unless they opted out or unbound the card. */
export async function sendAlert(ctx: AppContext, p: AlertPayload, job: JobContext): Promise<void> {
  const alert = await cdb(ctx.db).selectFrom('channels_alerts').selectAll().where('card_id', '=', p.cardId).where('transfer_id', '=', p.transferId).executeTakeFirst();
  if (!alert || alert.status !== 'queued') return;
  if (!(await alertsEnabled(ctx.db, alert.tenant_id, alert.user_id))) return finish(ctx, p, 'skipped', 'opted_out', null);
  const card = await ctx.db.selectFrom('identity_cards').select(['masked_number', 'core_card_id', 'unbound_at']).where('id', '=', p.cardId).executeTakeFirst();
  if (!card || card.unbound_at !== null) return finish(ctx, p, 'skipped', 'unbound', null);
  const openids = (await listOpenids(ctx.db, alert.user_id)).filter((o) => o.appKind === 'oa');
  if (openids.length === 0) return finish(ctx, p, 'skipped', 'no_oa_follower', null);
  const transfer = await getTransfer(ctx.db, p.transferId);
  if (!transfer) return finish(ctx, p, 'skipped', 'no_transfer', null);
  const core = await ctx.db.selectFrom('core_cards').select('ledger_account_id').where('id', '=', card.core_card_id).executeTakeFirst();
  const incoming = transfer.creditAccountId === core?.ledger_account_id;
  const settings = await getChannelSettings(ctx.db, alert.tenant_id);
  const data = alertData(transfer, card.masked_number, incoming);
  const clientMsgId = createHash('sha256').update(`${p.cardId}:${p.transferId}`).digest('base64url').slice(0, 32);
  let msgid: string | null = null;
  try {
    for (const o of openids) {
      try {
        msgid = (await sendTemplateMessage(ctx, alert.tenant_id, { touser: o.openid, templateId: settings.alertTemplateId, data, clientMsgId })).msgid;
      } catch (err) {
        if (err instanceof WechatApiError && PERMANENT_ERRCODES.has(err.errcode)) {
          ctx.log.info({ tenantId: alert.tenant_id, errcode: err.errcode }, 'balance alert refused by WeChat; not retried');
          continue;
        }
        throw err;
      }
    }
  } catch (err) {
    if (job.attempts >= ALERT_JOB_OPTIONS.maxAttempts) await finish(ctx, p, 'failed', 'gave_up', null);
    throw err;
  }
  await finish(ctx, p, msgid ? 'sent' : 'failed', msgid ? null : 'refused', msgid);
}

export function registerAlertJobs(ctx: AppContext): void {
  ctx.jobs.register(
    ALERT_SCAN_TOPIC,
    async (c) => {
      const n = await scanPostings(c);
      if (n > 0) c.log.debug({ alerts: n }, 'balance alerts queued');
      await scheduleAlertScan(c.db, new Date(c.clock.now().getTime() + ALERT_SCAN_INTERVAL_MS));
    },
    { maxAttempts: 3 },
  );
  ctx.jobs.register(ALERT_SEND_TOPIC, (c, payload: AlertPayload, job) => sendAlert(c, payload, job), ALERT_JOB_OPTIONS);
}

// The signed daily batch export: made by the job `notify.daily-export` at 02:00 Shanghai for the day before, kept in the database for the console to download.
import type { Selectable } from 'kysely';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { enqueueJob, type JobContext } from '../../app/jobs.ts';
import { sqlState, type Db, type Tx } from '../../db/tx.ts';
import type { ExportRow } from '../notify.table.ts';
import { exportCsv, sha256Hex, signExport } from './csv.ts';
import { exportTenants, signingKey } from './keys.ts';
import { isDay, nextExportRunAt, previousDay, shanghaiDay } from './policy.ts';
import type { ListTopupsForDay } from './source.ts';

export const DAILY_EXPORT_TOPIC = 'notify.daily-export';
/** Rows one file holds at most (tens of MB of CSV in one row); a bigger day fails loudly instead of being cut. */
export const EXPORT_MAX_ROWS = 200_000;
/** Tenants one run exports. */
export const EXPORT_TENANTS_PER_RUN = 1_000;
export const DAILY_EXPORT_MAX_ATTEMPTS = 6;
export const DAILY_EXPORT_RETRY_MS = 10 * 60_000;
const UNIQUE_VIOLATION = '23505';

export interface DailyExport {
  tenantId: string;
  day: string;
  version: number;
  /** The signing key's id: `exportPublicKeys` gives its public half. */
  kid: string;
  fileName: string;
  /** The file's exact text (UTF-8); the signature covers these bytes. */
  csv: string;
  /** base64 RSA-2048 PKCS#1 v1.5 SHA-256, detached. */
  signature: string;
  sha256: string;
  rowCount: number;
  totalAmountFen: bigint;
  createdAt: Date;
}

export type DailyExportSummary = Omit<DailyExport, 'csv' | 'signature'>;

function toExport(r: Selectable<ExportRow>): DailyExport {
  return {
    tenantId: r.tenant_id,
    day: r.day,
    version: r.version,
    kid: r.kid,
    fileName: r.file_name,
    csv: r.csv,
    signature: r.signature,
    sha256: r.sha256,
    rowCount: r.row_count,
    totalAmountFen: BigInt(r.total_amount_fen),
    createdAt: r.created_at,
  };
}

function checkDay(day: string): void {
  if (!isDay(day)) throw AppError.validation([{ field: 'day', message: 'must be a date YYYY-MM-DD' }]);
}

/** The latest version of a day's file (or `version`), with its signature. */
export async function getDailyExport(db: Db | Tx, tenantId: string, day: string, version?: number): Promise<DailyExport | undefined> {
  checkDay(day);
  let q = db.selectFrom('notify_exports').selectAll().where('tenant_id', '=', tenantId).where('day', '=', day);
  if (version !== undefined) q = q.where('version', '=', version);
  const r = await q.orderBy('version', 'desc').executeTakeFirst();
  return r ? toExport(r) : undefined;
}

/** The tenant's files, newest day first, without their contents. */
export async function listDailyExports(db: Db, tenantId: string, limit = 100): Promise<DailyExportSummary[]> {
  const rows = await db
    .selectFrom('notify_exports')
    .select(['tenant_id', 'day', 'version', 'kid', 'file_name', 'sha256', 'row_count', 'total_amount_fen', 'created_at'])
    .where('tenant_id', '=', tenantId)
    .orderBy('day', 'desc')
    .orderBy('version', 'desc')
    .limit(Math.min(Math.max(limit, 1), 366))
    .execute();
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    day: r.day,
    version: r.version,
    kid: r.kid,
    fileName: r.file_name,
    sha256: r.sha256,
    rowCount: r.row_count,
    totalAmountFen: BigInt(r.total_amount_fen),
    createdAt: r.created_at,
  }));
}

/**
 * Makes the tenant's file for `day`: reads the day's top-ups, writes the CSV, signs it with the
 * tenant's active key and stores it as the next version. Without `replace` an existing file is
 * returned as it is (the job may run twice). A day not yet over is refused.
 */
export async function generateDailyExport(
  ctx: AppContext,
  list: ListTopupsForDay,
  tenantId: string,
  day: string,
  o: { replace?: boolean } = {},
): Promise<DailyExport> {
  checkDay(day);
  if (day >= shanghaiDay(ctx.clock.now())) throw new AppError('conflict', `${day} is not over yet in Asia/Shanghai`);
  const existing = await getDailyExport(ctx.db, tenantId, day);
  if (existing && !o.replace) return existing;
  const key = await signingKey(ctx.db, ctx.crypto, tenantId);
  if (!key) throw new AppError('conflict', 'the daily export is not enabled for this tenant');
  const rows = await list(ctx.db, tenantId, day, EXPORT_MAX_ROWS);
  if (rows.length > EXPORT_MAX_ROWS) throw new Error(`more than ${EXPORT_MAX_ROWS} top-ups on ${day}; the export is refused rather than cut short`);
  const { csv, totalAmountFen } = exportCsv(rows);
  const version = (existing?.version ?? 0) + 1;
  const row = {
    tenant_id: tenantId,
    day,
    version,
    kid: key.kid,
    file_name: `wecard-topups-${tenantId}-${day}-v${version}.csv`,
    csv,
    signature: signExport(key.privateKeyPem, csv),
    sha256: sha256Hex(csv),
    row_count: rows.length,
    total_amount_fen: totalAmountFen,
    created_at: ctx.clock.now(),
  };
  try {
    await ctx.db.insertInto('notify_exports').values(row).execute();
  } catch (err) {
    // Another instance made this version at the same moment: theirs stands.
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    return (await getDailyExport(ctx.db, tenantId, day, version))!;
  }
  ctx.log.info({ tenantId, day, version, rows: rows.length, kid: key.kid }, 'daily export written');
  return toExport({ ...row, created_at: row.created_at });
}

/** Enqueues the run at the next 02:00 Shanghai (one row per day across instances). */
export async function scheduleDailyExport(db: Db | Tx, now: Date): Promise<void> {
  const at = nextExportRunAt(now);
  await enqueueJob(db, { topic: DAILY_EXPORT_TOPIC, payload: { day: previousDay(shanghaiDay(at)) }, dedupeKey: `${DAILY_EXPORT_TOPIC}:${shanghaiDay(at)}`, runAfter: at });
}

/**
 * The job: schedules tomorrow's run first, then makes the day's file for every tenant with the
 * export enabled. Tenants already done are skipped, so a retry after one tenant failed redoes nothing.
 */
export async function dailyExportJob(ctx: AppContext, list: ListTopupsForDay, payload: { day?: string } | null, job: JobContext): Promise<void> {
  await scheduleDailyExport(ctx.db, job.now);
  const day = payload?.day && isDay(payload.day) ? payload.day : previousDay(shanghaiDay(job.now));
  const failed: string[] = [];
  for (const tenantId of await exportTenants(ctx.db, EXPORT_TENANTS_PER_RUN)) {
    try {
      await generateDailyExport(ctx, list, tenantId, day);
    } catch (err) {
      failed.push(tenantId);
      ctx.log.error({ err, tenantId, day }, 'daily export failed');
    }
  }
  if (failed.length > 0) throw new Error(`daily export of ${day} failed for ${failed.length} tenant(s)`);
}

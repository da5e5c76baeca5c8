// Funnel analytics of bill → customer service: one journey per user and bill with the first time of each step, segments, and the per-tenant report.
//
// A journey starts when the user first views the bill (or taps contact without viewing it first).
// A step implies the steps before it: reaching one fills any earlier step still empty with the same
// time, so every journey is a prefix of view → tap → QR shown → added → first message. The report
// takes the journeys that started in [from, to): per step how many reached it, the conversion from
// the step before and from the start, and between consecutive steps the median and 90th
// percentile of the time taken, with PostgreSQL's percentile_cont (linear interpolation between
// the two nearest ranks: the value at rank 1 + p·(n − 1) of the n sorted durations).
import { sql, type RawBuilder } from 'kysely';
import type { AppContext } from '../app/context.ts';
import type { Db, Tx } from '../db/tx.ts';
import { readBalance } from '../core/index.ts';
import { getUser, listBoundCards } from '../identity/index.ts';
import { getTenant } from '../tenants/index.ts';
import { FUNNEL_STEPS, isHighValue, isNewUser, type BillKind, type FunnelStep, type Segment } from './policy.ts';

export interface JourneyKey {
  tenantId: string;
  userId: string;
  billKey: string;
}

export interface Segments {
  newUser: boolean;
  elderly: boolean;
  /** null: unknown (balances unreadable). */
  highValue: boolean | null;
}

const COLUMN: Record<FunnelStep, 'viewed_at' | 'tapped_at' | 'qr_shown_at' | 'added_at' | 'first_message_at'> = {
  viewed: 'viewed_at',
  tapped: 'tapped_at',
  qr_shown: 'qr_shown_at',
  added: 'added_at',
  first_message: 'first_message_at',
};

/** Cards whose balances count towards "high value" (a user has few; the bound bounds the core reads). */
export const SEGMENT_CARDS_MAX = 10;
/** Funnel journeys are kept this long, then pruned. */
export const JOURNEY_RETENTION_MS = 400 * 86_400_000;

/** Creates the journey with its segments if it does not exist yet; true when this call created it. */
export async function startJourney(db: Db | Tx, key: JourneyKey, o: { billKind: BillKind; segments: Segments; at: Date }): Promise<boolean> {
  const r = await db
    .insertInto('contact_journeys')
    .values({
      tenant_id: key.tenantId,
      user_id: key.userId,
      bill_key: key.billKey,
      bill_kind: o.billKind,
      new_user: o.segments.newUser,
      elderly: o.segments.elderly,
      high_value: o.segments.highValue,
      viewed_at: o.at,
      tapped_at: null,
      qr_shown_at: null,
      added_at: null,
      first_message_at: null,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'user_id', 'bill_key']).doNothing())
    .returning('bill_key')
    .executeTakeFirst();
  return r !== undefined;
}

/** Records that the journey reached `step` at `at` (first time only), filling earlier empty steps. */
export async function markStep(db: Db | Tx, key: JourneyKey, step: FunnelStep, at: Date): Promise<void> {
  const upto = FUNNEL_STEPS.indexOf(step);
  const set: Record<string, RawBuilder<Date>> = {};
  for (const s of FUNNEL_STEPS.slice(1, upto + 1)) set[COLUMN[s]] = sql<Date>`coalesce(${sql.ref(COLUMN[s])}, ${at})`;
  if (Object.keys(set).length === 0) return;
  await db.updateTable('contact_journeys').set(set).where('tenant_id', '=', key.tenantId).where('user_id', '=', key.userId).where('bill_key', '=', key.billKey).execute();
}

/**
 * The user's segments as of `now`: new (< 30 days), elderly mode, high value (available CNY on the
 * debit and citizen cards bound, at T+1, against the tenant's large-balance line). Reading the
 * balances may fail (core down): high value is then unknown, never a reason to refuse the user.
 */
export async function segmentsOf(ctx: AppContext, tenantId: string, userId: string, now: Date): Promise<Segments> {
  const user = await getUser(ctx.db, userId);
  const out: Segments = { newUser: user ? isNewUser(user.createdAt, now) : false, elderly: user?.elderlyMode ?? false, highValue: null };
  try {
    const tenant = await getTenant(ctx.db, tenantId);
    const threshold = tenant?.policy.verification.stepUpThresholdFen;
    const cards = (await listBoundCards(ctx.db, tenantId, userId)).filter((c) => c.kind !== 'credit').slice(0, SEGMENT_CARDS_MAX);
    let total = 0n;
    for (const c of cards) {
      const b = await readBalance(ctx, { tenantId, card: { id: c.coreCardId, tenantId }, freshness: 't+1', now });
      if (b.currency === 'CNY') total += b.available;
    }
    out.highValue = isHighValue(total, threshold === null || threshold === undefined ? null : BigInt(threshold));
  } catch (err) {
    ctx.log.warn({ err, tenantId }, 'balances unreadable: the journey has no high-value segment');
  }
  return out;
}

/** Starts the journey (reading the segments only when it is new) and marks `step`. */
export async function recordStep(ctx: AppContext, key: JourneyKey, billKind: BillKind, step: FunnelStep, at: Date): Promise<void> {
  const exists = await ctx.db.selectFrom('contact_journeys').select('bill_key').where('tenant_id', '=', key.tenantId).where('user_id', '=', key.userId).where('bill_key', '=', key.billKey).executeTakeFirst();
  if (!exists) await startJourney(ctx.db, key, { billKind, segments: await segmentsOf(ctx, key.tenantId, key.userId, at), at });
  if (step !== 'viewed') await markStep(ctx.db, key, step, at);
}

export async function pruneJourneys(db: Db, before: Date, limit: number): Promise<number> {
  const r = await sql`
    delete from contact_journeys where (tenant_id, user_id, bill_key) in (
      select tenant_id, user_id, bill_key from contact_journeys where viewed_at < ${before} limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

// ---------- the report ----------

export interface FunnelQuery {
  tenantId: string;
  from: Date;
  to: Date;
  segment: Segment;
}

export interface FunnelReport {
  tenantId: string;
  from: Date;
  to: Date;
  segment: Segment;
  steps: { step: FunnelStep; count: number; conversionFromPrevious: number | null; conversionFromStart: number | null }[];
  /** Between consecutive steps, over the journeys that reached both; null when none did. */
  transitions: { from: FunnelStep; to: FunnelStep; count: number; medianMs: number | null; p90Ms: number | null }[];
}

const SEGMENT_FILTER: Record<Segment, RawBuilder<unknown>> = {
  all: sql`true`,
  new_user: sql`new_user`,
  elderly: sql`elderly`,
  high_value: sql`high_value is true`,
};

const ratio = (n: number, d: number): number | null => (d === 0 ? null : n / d);
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** The funnel of one tenant's journeys that started in [from, to), for one segment ('all' for everyone). */
export async function funnelReport(db: Db | Tx, q: FunnelQuery): Promise<FunnelReport> {
  const pairs = FUNNEL_STEPS.slice(1).map((to, i) => [COLUMN[FUNNEL_STEPS[i]!], COLUMN[to]] as const);
  const durations = pairs.map(([a, b], i) => {
    const ms = sql`(extract(epoch from (${sql.ref(b)} - ${sql.ref(a)})) * 1000)::float8`;
    return sql`percentile_cont(0.5) within group (order by ${ms}) as ${sql.raw(`p50_${i}`)}, percentile_cont(0.9) within group (order by ${ms}) as ${sql.raw(`p90_${i}`)}`;
  });
  const counts = FUNNEL_STEPS.map((s) => sql`count(${sql.ref(COLUMN[s])}) as ${sql.raw(`n_${s}`)}`);
  const r = await sql<Record<string, unknown>>`
    select ${sql.join([...counts, ...durations])}
    from contact_journeys
    where tenant_id = ${q.tenantId} and viewed_at >= ${q.from} and viewed_at < ${q.to} and ${SEGMENT_FILTER[q.segment]}`.execute(db);
  const row = r.rows[0] ?? {};
  const n = FUNNEL_STEPS.map((s) => Number(row[`n_${s}`] ?? 0));
  return {
    tenantId: q.tenantId,
    from: q.from,
    to: q.to,
    segment: q.segment,
    steps: FUNNEL_STEPS.map((step, i) => ({
      step,
      count: n[i]!,
      conversionFromPrevious: i === 0 ? null : ratio(n[i]!, n[i - 1]!),
      conversionFromStart: i === 0 ? null : ratio(n[i]!, n[0]!),
    })),
    transitions: FUNNEL_STEPS.slice(1).map((to, i) => ({
      from: FUNNEL_STEPS[i]!,
      to,
      count: n[i + 1]!,
      medianMs: num(row[`p50_${i}`]),
      p90Ms: num(row[`p90_${i}`]),
    })),
  };
}

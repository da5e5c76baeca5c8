// The risk module's SQL: quota counters, signals and their features, usual locations, events, freezes, captchas, pruning.
import { sql } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import type { RiskFeatures, RiskSubject } from './policy.ts';
import type { QuotaKindColumn, RiskAction, RiskSignalKindColumn } from './risk.table.ts';

// ---------------------------------------------------------------------------------------------
// Quotas

/**
 * One atomic statement: inserts today's counter at 1, or adds 1 while it is below `limit`. Under
 * concurrency PostgreSQL re-checks the `where` on the latest row version with the row locked,
 * so exactly `limit` increments succeed whatever the number of instances. Undefined = used up.
 */
export async function incrementQuota(
  db: Db | Tx,
  q: { tenantId: string; kind: QuotaKindColumn; key: string; day: string; limit: number | null; now: Date },
): Promise<number | undefined> {
  const row = await db
    .insertInto('risk_quotas')
    .values({ tenant_id: q.tenantId, kind: q.kind, key: q.key, day: q.day, used: 1, updated_at: q.now })
    .onConflict((oc) => {
      const update = oc.columns(['tenant_id', 'kind', 'key', 'day']).doUpdateSet({ used: sql`risk_quotas.used + 1`, updated_at: q.now });
      return q.limit === null ? update : update.where('risk_quotas.used', '<', q.limit);
    })
    .returning('used')
    .executeTakeFirst();
  return row?.used;
}

/**
 * Several unlimited counters at once, one statement: each (tenant, kind, key, day) is inserted at
 * `by` or has `by` added; the counters must be distinct. Returns each counter's new count, in order.
 */
export async function incrementQuotasUnlimited(
  db: Db | Tx,
  qs: { tenantId: string; kind: QuotaKindColumn; key: string; day: string; by: number; now: Date }[],
): Promise<number[]> {
  if (qs.length === 0) return [];
  const rows = await db
    .insertInto('risk_quotas')
    .values(qs.map((q) => ({ tenant_id: q.tenantId, kind: q.kind, key: q.key, day: q.day, used: q.by, updated_at: q.now })))
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'kind', 'key', 'day']).doUpdateSet({
        used: sql`risk_quotas.used + excluded.used`,
        updated_at: sql`excluded.updated_at`,
      }),
    )
    .returning(['tenant_id', 'kind', 'key', 'day', 'used'])
    .execute();
  const byCounter = new Map(rows.map((r) => [`${r.tenant_id}\u0000${r.kind}\u0000${r.key}\u0000${r.day}`, r.used]));
  return qs.map((q) => {
    const used = byCounter.get(`${q.tenantId}\u0000${q.kind}\u0000${q.key}\u0000${q.day}`);
    if (used === undefined) throw new Error('quota counter missing from the upsert');
    return used;
  });
}

export async function quotaUsed(db: Db | Tx, q: { tenantId: string; kind: QuotaKindColumn; key: string; day: string }): Promise<number> {
  const row = await db
    .selectFrom('risk_quotas')
    .select('used')
    .where('tenant_id', '=', q.tenantId)
    .where('kind', '=', q.kind)
    .where('key', '=', q.key)
    .where('day', '=', q.day)
    .executeTakeFirst();
  return row?.used ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Signals and features

/**
 * Creates or touches the subject's row and holds its lock until the transaction ends, so two
 * signals of one subject are scored one after the other (no double freeze). Returns the id of
 * the last signal a freeze already acted on.
 */
export async function lockSubject(tx: Tx, tenantId: string, subject: RiskSubject, now: Date): Promise<bigint | null> {
  const row = await tx
    .insertInto('risk_subjects')
    .values({ tenant_id: tenantId, subject_kind: subject.kind, subject_id: subject.id, baseline_signal_id: null, last_signal_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'subject_kind', 'subject_id']).doUpdateSet({ last_signal_at: now }))
    .returning('baseline_signal_id')
    .executeTakeFirstOrThrow();
  return row.baseline_signal_id === null ? null : BigInt(row.baseline_signal_id);
}

export async function setBaseline(tx: Tx, tenantId: string, subject: RiskSubject, signalId: bigint): Promise<void> {
  await tx
    .updateTable('risk_subjects')
    .set({ baseline_signal_id: signalId })
    .where('tenant_id', '=', tenantId)
    .where('subject_kind', '=', subject.kind)
    .where('subject_id', '=', subject.id)
    .execute();
}

export interface NewSignal {
  tenantId: string;
  userId: string | null;
  cardId: string | null;
  kind: RiskSignalKindColumn;
  country: string | null;
  detail: Record<string, unknown> | null;
  at: Date;
}

export async function insertSignal(tx: Tx, s: NewSignal): Promise<bigint> {
  const row = await tx
    .insertInto('risk_signals')
    .values({
      tenant_id: s.tenantId,
      user_id: s.userId,
      card_id: s.cardId,
      kind: s.kind,
      country: s.country,
      detail: s.detail ? JSON.stringify(s.detail) : null,
      created_at: s.at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return BigInt(row.id);
}

/**
 * Records that the user was seen in `country`; true when the user had been seen elsewhere before
 * and never here (a first-ever location is nobody's "new" location).
 */
export async function touchLocation(tx: Tx, tenantId: string, userId: string, country: string, now: Date): Promise<boolean> {
  const known = await tx
    .selectFrom('risk_locations')
    .select('country')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .execute();
  await tx
    .insertInto('risk_locations')
    .values({ tenant_id: tenantId, user_id: userId, country, first_seen_at: now, last_seen_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'user_id', 'country']).doUpdateSet({ last_seen_at: now }))
    .execute();
  return known.length > 0 && !known.some((k) => k.country === country);
}

/** Counts of the subject's signals after `afterId`, over the window (queries: since `dayStart`). */
export async function signalFeatures(
  tx: Tx,
  q: { tenantId: string; subject: RiskSubject; afterId: bigint | null; since: Date; dayStart: Date; throughId?: bigint },
): Promise<RiskFeatures> {
  const column = q.subject.kind === 'user' ? sql.ref('user_id') : sql.ref('card_id');
  const r = await sql<{ queries: bigint; locations: bigint; devices: bigint; otps: bigint; probed: bigint }>`
    select
      count(*) filter (where kind = 'query' and created_at >= ${q.dayStart}) as queries,
      count(*) filter (where kind = 'new_location') as locations,
      count(*) filter (where kind = 'new_device') as devices,
      count(*) filter (where kind = 'otp_failed') as otps,
      count(distinct card_id) filter (where kind = 'nobind_card_probe') as probed
    from risk_signals
    where tenant_id = ${q.tenantId} and ${column} = ${q.subject.id} and created_at >= ${q.since}
      and id > ${q.afterId ?? 0n}${q.throughId === undefined ? sql`` : sql` and id <= ${q.throughId}`}`.execute(tx);
  const row = r.rows[0]!;
  return {
    queriesToday: Number(row.queries),
    newLocations: Number(row.locations),
    newDevices: Number(row.devices),
    failedOtps: Number(row.otps),
    nobindCardsProbed: Number(row.probed),
  };
}

/**
 * lockSubject for several distinct subjects in one statement, in the given order (callers sort
 * them, so two batches lock shared subjects in the same order). Returns each subject's baseline.
 */
export async function lockSubjects(tx: Tx, subjects: { tenantId: string; subject: RiskSubject; now: Date }[]): Promise<(bigint | null)[]> {
  if (subjects.length === 0) return [];
  const rows = await tx
    .insertInto('risk_subjects')
    .values(subjects.map((s) => ({ tenant_id: s.tenantId, subject_kind: s.subject.kind, subject_id: s.subject.id, baseline_signal_id: null, last_signal_at: s.now })))
    .onConflict((oc) => oc.columns(['tenant_id', 'subject_kind', 'subject_id']).doUpdateSet({ last_signal_at: sql`excluded.last_signal_at` }))
    .returning(['tenant_id', 'subject_kind', 'subject_id', 'baseline_signal_id'])
    .execute();
  const key = (t: string, k: string, id: string) => `${t}\u0000${k}\u0000${id}`;
  const m = new Map(rows.map((r) => [key(r.tenant_id, r.subject_kind, r.subject_id), r.baseline_signal_id]));
  return subjects.map((s) => {
    const b = m.get(key(s.tenantId, s.subject.kind, s.subject.id));
    if (b === undefined) throw new Error('risk subject missing from the upsert');
    return b === null ? null : BigInt(b);
  });
}

/** insertSignal for several signals in one statement; their ids, in the given order. */
export async function insertSignals(tx: Tx, ss: NewSignal[]): Promise<bigint[]> {
  if (ss.length === 0) return [];
  const rows = await tx
    .insertInto('risk_signals')
    .values(
      ss.map((s) => ({
        tenant_id: s.tenantId,
        user_id: s.userId,
        card_id: s.cardId,
        kind: s.kind,
        country: s.country,
        detail: s.detail ? JSON.stringify(s.detail) : null,
        created_at: s.at,
      })),
    )
    .returning('id')
    .execute();
  // The ids come from one sequence, drawn row by row in VALUES order: ascending ids are the rows in order.
  const ids = rows.map((r) => BigInt(r.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (ids.length !== ss.length) throw new Error('risk signals missing from the insert');
  return ids;
}

/** The countries each named user was seen in (keys `tenant\u0000user`). */
export async function knownLocations(tx: Tx, users: { tenantId: string; userId: string }[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (users.length === 0) return out;
  const r = await sql<{ tenant_id: string; user_id: string; country: string }>`
    select l.tenant_id, l.user_id, l.country
    from unnest(${users.map((u) => u.tenantId)}::text[], ${users.map((u) => u.userId)}::text[]) as u(tenant_id, user_id)
    join risk_locations l on l.tenant_id = u.tenant_id and l.user_id = u.user_id`.execute(tx);
  for (const row of r.rows) {
    const k = `${row.tenant_id}\u0000${row.user_id}`;
    let set = out.get(k);
    if (!set) out.set(k, (set = new Set()));
    set.add(row.country);
  }
  return out;
}

/** Records several distinct (tenant, user, country) sightings in one statement (touchLocation's write). */
export async function touchLocations(tx: Tx, ls: { tenantId: string; userId: string; country: string; firstAt: Date; lastAt: Date }[]): Promise<void> {
  if (ls.length === 0) return;
  await tx
    .insertInto('risk_locations')
    .values(ls.map((l) => ({ tenant_id: l.tenantId, user_id: l.userId, country: l.country, first_seen_at: l.firstAt, last_seen_at: l.lastAt })))
    .onConflict((oc) => oc.columns(['tenant_id', 'user_id', 'country']).doUpdateSet({ last_seen_at: sql`excluded.last_seen_at` }))
    .execute();
}

/**
 * signalFeatures for several (subject, window) questions of one subject kind in one statement:
 * each counts the subject's signals with afterId < id <= throughId over its own window.
 */
export async function signalFeaturesMany(
  tx: Tx,
  kind: RiskSubject['kind'],
  qs: { tenantId: string; subjectId: string; afterId: bigint | null; throughId: bigint; since: Date; dayStart: Date }[],
): Promise<RiskFeatures[]> {
  if (qs.length === 0) return [];
  const column = kind === 'user' ? sql.ref('s.user_id') : sql.ref('s.card_id');
  const r = await sql<{ ord: bigint | string | number; queries: bigint; locations: bigint; devices: bigint; otps: bigint; probed: bigint }>`
    select q.ord, f.queries, f.locations, f.devices, f.otps, f.probed
    from unnest(
      ${qs.map((q) => q.tenantId)}::text[],
      ${qs.map((q) => q.subjectId)}::text[],
      ${qs.map((q) => (q.afterId ?? 0n).toString())}::bigint[],
      ${qs.map((q) => q.throughId.toString())}::bigint[],
      ${qs.map((q) => q.since.toISOString())}::timestamptz[],
      ${qs.map((q) => q.dayStart.toISOString())}::timestamptz[]
    ) with ordinality as q(tenant_id, subject_id, after_id, through_id, since, day_start, ord)
    cross join lateral (
      select
        count(*) filter (where s.kind = 'query' and s.created_at >= q.day_start) as queries,
        count(*) filter (where s.kind = 'new_location') as locations,
        count(*) filter (where s.kind = 'new_device') as devices,
        count(*) filter (where s.kind = 'otp_failed') as otps,
        count(distinct s.card_id) filter (where s.kind = 'nobind_card_probe') as probed
      from risk_signals s
      where s.tenant_id = q.tenant_id and ${column} = q.subject_id and s.created_at >= q.since
        and s.id > q.after_id and s.id <= q.through_id
    ) f`.execute(tx);
  const out: RiskFeatures[] = new Array(qs.length);
  for (const row of r.rows) {
    out[Number(row.ord) - 1] = {
      queriesToday: Number(row.queries),
      newLocations: Number(row.locations),
      newDevices: Number(row.devices),
      failedOtps: Number(row.otps),
      nobindCardsProbed: Number(row.probed),
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Events and freezes

export interface FreezeRow {
  id: string;
  subjectKind: 'user' | 'card';
  subjectId: string;
  reason: string;
  startsAt: Date;
  until: Date;
}

/** The freeze in force now on any of the subjects that ends last, if any. */
export async function findActiveFreeze(db: Db | Tx, tenantId: string, subjects: RiskSubject[], now: Date): Promise<FreezeRow | undefined> {
  if (subjects.length === 0) return undefined;
  const row = await db
    .selectFrom('risk_freezes')
    .select(['id', 'subject_kind', 'subject_id', 'reason', 'starts_at', 'until'])
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or(subjects.map((s) => eb.and([eb('subject_kind', '=', s.kind), eb('subject_id', '=', s.id)]))))
    .where('until', '>', now)
    .where('starts_at', '<=', now)
    .where('lifted_at', 'is', null)
    .orderBy('until', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row
    ? { id: row.id, subjectKind: row.subject_kind, subjectId: row.subject_id, reason: row.reason, startsAt: row.starts_at, until: row.until }
    : undefined;
}

export async function insertEvent(
  tx: Tx,
  e: { id: string; tenantId: string; subject: RiskSubject; score: number; features: Record<string, unknown>; action: RiskAction; at: Date },
): Promise<void> {
  await tx
    .insertInto('risk_events')
    .values({
      id: e.id,
      tenant_id: e.tenantId,
      subject_kind: e.subject.kind,
      subject_id: e.subject.id,
      kind: 'anomaly',
      score: e.score,
      features: JSON.stringify(e.features),
      action: e.action,
      status: 'open',
      created_at: e.at,
      reviewed_at: null,
      reviewed_by: null,
    })
    .execute();
}

export async function insertFreeze(
  tx: Tx,
  f: { id: string; tenantId: string; subject: RiskSubject; reason: string; eventId: string | null; startsAt: Date; until: Date },
): Promise<void> {
  await tx
    .insertInto('risk_freezes')
    .values({
      id: f.id,
      tenant_id: f.tenantId,
      subject_kind: f.subject.kind,
      subject_id: f.subject.id,
      reason: f.reason,
      event_id: f.eventId,
      starts_at: f.startsAt,
      until: f.until,
      lifted_at: null,
      lifted_by: null,
    })
    .execute();
}

/** Ends a freeze early (an operator's decision); false when there was none in force. */
export async function liftFreezeRow(tx: Tx, q: { tenantId: string; freezeId: string; by: string; now: Date }): Promise<boolean> {
  const r = await tx
    .updateTable('risk_freezes')
    .set({ lifted_at: q.now, lifted_by: q.by })
    .where('tenant_id', '=', q.tenantId)
    .where('id', '=', q.freezeId)
    .where('lifted_at', 'is', null)
    .where('until', '>', q.now)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export interface RiskEventView {
  id: string;
  tenantId: string;
  subject: RiskSubject;
  kind: 'anomaly';
  score: number;
  features: Record<string, unknown>;
  action: RiskAction;
  status: 'open' | 'reviewed';
  createdAt: Date;
  reviewedAt: Date | null;
  reviewedBy: string | null;
}

export async function selectEvents(
  db: Db | Tx,
  q: { tenantId: string; status?: 'open' | 'reviewed'; subject?: RiskSubject; limit: number },
): Promise<RiskEventView[]> {
  let query = db.selectFrom('risk_events').selectAll().where('tenant_id', '=', q.tenantId);
  if (q.status) query = query.where('status', '=', q.status);
  if (q.subject) query = query.where('subject_kind', '=', q.subject.kind).where('subject_id', '=', q.subject.id);
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    subject: { kind: r.subject_kind, id: r.subject_id },
    kind: r.kind,
    score: r.score,
    features: (typeof r.features === 'string' ? JSON.parse(r.features) : r.features) as Record<string, unknown>,
    action: r.action,
    status: r.status,
    createdAt: r.created_at,
    reviewedAt: r.reviewed_at,
    reviewedBy: r.reviewed_by,
  }));
}

export async function markEventReviewed(tx: Tx, q: { tenantId: string; eventId: string; by: string; now: Date }): Promise<boolean> {
  const r = await tx
    .updateTable('risk_events')
    .set({ status: 'reviewed', reviewed_at: q.now, reviewed_by: q.by })
    .where('tenant_id', '=', q.tenantId)
    .where('id', '=', q.eventId)
    .where('status', '=', 'open')
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

// ---------------------------------------------------------------------------------------------
// Captchas

export async function insertCaptcha(
  db: Db | Tx,
  c: { id: string; tenantId: string; subject: string; prefix: string; difficultyBits: number; now: Date; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('risk_captchas')
    .values({
      id: c.id,
      tenant_id: c.tenantId,
      subject: c.subject,
      prefix: c.prefix,
      difficulty_bits: c.difficultyBits,
      created_at: c.now,
      expires_at: c.expiresAt,
      used_at: null,
    })
    .execute();
}

/** Unused, unexpired challenges of a subject, oldest first (their expiries). */
export async function openCaptchaExpiries(db: Db | Tx, tenantId: string, subject: string, now: Date, limit: number): Promise<Date[]> {
  const rows = await db
    .selectFrom('risk_captchas')
    .select('expires_at')
    .where('tenant_id', '=', tenantId)
    .where('subject', '=', subject)
    .where('expires_at', '>', now)
    .where('used_at', 'is', null)
    .orderBy('expires_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.expires_at);
}

/** Marks the challenge used in one statement (single use across instances) and returns it; undefined if already used or unknown. */
export async function consumeCaptcha(
  db: Db | Tx,
  id: string,
  now: Date,
): Promise<{ tenantId: string; subject: string; prefix: string; difficultyBits: number; expiresAt: Date } | undefined> {
  const row = await db
    .updateTable('risk_captchas')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .returning(['tenant_id', 'subject', 'prefix', 'difficulty_bits', 'expires_at'])
    .executeTakeFirst();
  return row
    ? { tenantId: row.tenant_id, subject: row.subject, prefix: row.prefix, difficultyBits: row.difficulty_bits, expiresAt: row.expires_at }
    : undefined;
}

// ---------------------------------------------------------------------------------------------
// Pruning

/** Deletes up to `batch` rows of `table` matching `where` (by ctid: the tables have no common key); returns how many. */
async function deleteBatch(db: Db, table: string, where: ReturnType<typeof sql>, batch: number): Promise<number> {
  const r = await sql`
    delete from ${sql.table(table)} where ctid in (select ctid from ${sql.table(table)} where ${where} limit ${batch})`.execute(db);
  return Number(r.numAffectedRows ?? 0n);
}

export interface PruneCutoffs {
  signalsBefore: Date;
  quotaDaysBefore: string;
  captchasBefore: Date;
  locationsBefore: Date;
  subjectsBefore: Date;
}

export async function pruneBatch(db: Db, c: PruneCutoffs, batch: number): Promise<Record<'signals' | 'quotas' | 'captchas' | 'locations' | 'subjects', number>> {
  return {
    signals: await deleteBatch(db, 'risk_signals', sql`created_at < ${c.signalsBefore}`, batch),
    quotas: await deleteBatch(db, 'risk_quotas', sql`day < ${c.quotaDaysBefore}`, batch),
    captchas: await deleteBatch(db, 'risk_captchas', sql`expires_at < ${c.captchasBefore}`, batch),
    locations: await deleteBatch(db, 'risk_locations', sql`last_seen_at < ${c.locationsBefore}`, batch),
    subjects: await deleteBatch(db, 'risk_subjects', sql`last_signal_at < ${c.subjectsBefore}`, batch),
  };
}

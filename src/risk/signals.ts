// Risk signals: record one, rescore its subject, freeze at the threshold with a risk event; freeze look-ups and the review queue.
import type { AppContext } from '../app/context.ts';
import type { Db, Tx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { newId } from '../shared/ids.ts';
import { BASE_POLICY } from '../tenants/presets.ts';
import { getTenant, type Policy } from '../tenants/index.ts';
import { countryOf } from './geo.ts';
import {
  anomalyScore,
  freezeReason,
  riskAction,
  riskRules,
  RISK_WINDOW_MS,
  startOfBusinessDay,
  type RiskFeatures,
  type RiskRules,
  type RiskSubject,
} from './policy.ts';
import {
  findActiveFreeze,
  insertEvent,
  insertFreeze,
  insertSignal,
  insertSignals,
  knownLocations,
  liftFreezeRow,
  lockSubject,
  lockSubjects,
  markEventReviewed,
  selectEvents,
  setBaseline,
  signalFeatures,
  signalFeaturesMany,
  touchLocation,
  touchLocations,
  type NewSignal,
  type RiskEventView,
} from './store.ts';

export type RiskSignalKind = 'query' | 'new_location' | 'new_device' | 'otp_failed' | 'nobind_card_probe';

/** Longest id a signal names (user ids, card tokens, blind indexes are far shorter). */
const RISK_ID_MAX_CHARS = 200;
/** Largest `detail` kept with a signal, as JSON text. */
const SIGNAL_DETAIL_MAX_CHARS = 2_000;
/** A bare 11–19 digit string is a card or phone number by mistake: it must never reach the risk tables. */
const LOOKS_LIKE_CARD_NUMBER = /^\d{11,19}$/;

export interface RiskSignal {
  tenantId: string;
  /** The person acting (a user id; in no-bind mode the WeChat account's opaque key). */
  userId?: string;
  /** A card token, or for no-bind probes the probed card's blind index. Never a clear number. */
  cardId?: string;
  kind: RiskSignalKind;
  now: Date;
  /** The client's address: only its country is kept. */
  ip?: string;
  detail?: Record<string, unknown>;
}

function checkedId(name: string, id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  if (id.length === 0 || id.length > RISK_ID_MAX_CHARS) throw new Error(`risk ${name} must be 1..${RISK_ID_MAX_CHARS} characters`);
  if (LOOKS_LIKE_CARD_NUMBER.test(id)) throw new Error(`risk ${name} looks like a card number: pass its token or blind index`);
  return id;
}

/** The subject a signal is scored and acted on: the user when named (the person acting), else the card. */
function subjectOf(s: RiskSignal): RiskSubject {
  const userId = checkedId('userId', s.userId);
  const cardId = checkedId('cardId', s.cardId);
  if (userId) return { kind: 'user', id: userId };
  if (cardId) return { kind: 'card', id: cardId };
  throw new Error('a risk signal names a user or a card');
}

/** A run of 11+ digits anywhere in a detail is a card, ID or phone number that must not be kept. */
const HOLDS_CLEAR_NUMBER = /\d{11,}/;

/** The detail as kept: dropped when it is too large or holds what looks like a clear number. */
function boundedDetail(detail: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!detail) return null;
  const text = JSON.stringify(detail, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  if (HOLDS_CLEAR_NUMBER.test(text)) return { dropped: 'looked_sensitive' };
  return text.length <= SIGNAL_DETAIL_MAX_CHARS ? detail : { dropped: 'too_large' };
}

/**
 * Records a signal, recomputes the subject's anomaly score and acts at the tenant's thresholds
 * (temporary freeze of user or card + a risk event). Signals of one subject are scored one at a
 * time (the subject row's lock), so a burst freezes once. Signals already acted on by a freeze
 * do not count again: after a freeze ends the subject starts from zero, not straight back into
 * another freeze. A query from a country the user was never seen in before adds a derived
 * `new_location` signal.
 */
export async function recordRiskSignal(
  ctx: AppContext,
  tx: Tx,
  s: RiskSignal,
): Promise<{ score: number; action: 'none' | 'freeze_user' | 'freeze_card' }> {
  const subject = subjectOf(s);
  const tenant = await getTenant(tx, s.tenantId);
  // A signal about an unknown tenant is a caller bug, but scoring must not break a request: use the base rules.
  const rules = riskRules(tenant?.policy ?? BASE_POLICY);
  const country = s.ip ? countryOf(s.ip) : undefined;
  const baseline = await lockSubject(tx, s.tenantId, subject, s.now);

  const common = { tenantId: s.tenantId, userId: s.userId ?? null, cardId: s.cardId ?? null, country: country ?? null, at: s.now };
  let lastId = await insertSignal(tx, { ...common, kind: s.kind, detail: boundedDetail(s.detail) });
  if (country && s.userId && s.kind !== 'new_location') {
    const isNew = await touchLocation(tx, s.tenantId, s.userId, country, s.now);
    if (isNew) lastId = await insertSignal(tx, { ...common, kind: 'new_location', detail: { derivedFrom: s.kind } });
  }

  const features = await signalFeatures(tx, {
    tenantId: s.tenantId,
    subject,
    afterId: baseline,
    since: new Date(s.now.getTime() - RISK_WINDOW_MS),
    dayStart: startOfBusinessDay(s.now),
  });
  return actOnScore(ctx, tx, { signal: s, subject, rules, features, country, lastId });
}

/**
 * Scores the subject's features; at the threshold freezes it with a risk event and an audit entry
 * (unless a freeze is already in force) and moves its baseline to the signal just recorded.
 */
async function actOnScore(
  ctx: AppContext,
  tx: Tx,
  a: { signal: RiskSignal; subject: RiskSubject; rules: RiskRules; features: RiskFeatures; country: string | undefined; lastId: bigint },
): Promise<{ score: number; action: 'none' | 'freeze_user' | 'freeze_card' }> {
  const { signal: s, subject, rules, features, country } = a;
  const scored = anomalyScore(features, rules);
  const action = riskAction(scored.score, subject);
  if (action === 'none') return { score: scored.score, action };

  // Already frozen (a freeze an operator set, or one from before the baseline): no second event.
  const existing = await findActiveFreeze(tx, s.tenantId, [subject], s.now);
  if (!existing) {
    const eventId = newId('rev');
    const until = new Date(s.now.getTime() + rules.freezeMinutes * 60_000);
    const reason = freezeReason(scored);
    await insertEvent(tx, {
      id: eventId,
      tenantId: s.tenantId,
      subject,
      score: scored.score,
      features: { ...features, contributions: scored.contributions, trigger: s.kind, ...(country ? { country } : {}) },
      action,
      at: s.now,
    });
    await insertFreeze(tx, { id: newId('frz'), tenantId: s.tenantId, subject, reason, eventId, startsAt: s.now, until });
    await recordAudit(tx, {
      tenantId: s.tenantId,
      actor: { kind: 'system', id: 'risk' },
      action: 'risk.freeze',
      subject: { kind: subject.kind, id: subject.id },
      outcome: 'ok',
      detail: { eventId, score: scored.score, until: until.toISOString(), trigger: s.kind, contributions: scored.contributions },
      at: s.now,
    });
    ctx.log.warn({ tenantId: s.tenantId, subjectKind: subject.kind, subjectId: subject.id, eventId, score: scored.score, until }, 'risk freeze');
  }
  await setBaseline(tx, s.tenantId, subject, a.lastId);
  return { score: scored.score, action };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * recordRiskSignal for several signals in one transaction, with the same outcome per signal (and
 * the same rows) as recording them one by one in the given order, in a handful of statements
 * instead of ~5 per signal: the batch's subjects locked in one upsert (deduplicated, sorted, so
 * two batches lock shared subjects in the same order), the users' known countries read at once,
 * all signals (and derived `new_location` ones) inserted in one statement in order, every
 * signal's features counted in one statement per subject kind, each scored in code. The signal
 * that reaches the threshold freezes as recordRiskSignal does; later signals of that subject in
 * the batch are then counted from the new baseline, one by one (rare). Tenant rules are read once
 * per tenant of the batch, unless the caller passes the tenant's policy.
 */
export async function recordRiskSignals(
  ctx: AppContext,
  tx: Tx,
  signals: readonly RiskSignal[],
  /** Tenants' policies the caller already holds (e.g. its per-instance cache): not read again. */
  policies: ReadonlyMap<string, Policy> = new Map(),
): Promise<{ score: number; action: 'none' | 'freeze_user' | 'freeze_card' }[]> {
  if (signals.length === 0) return [];
  const subjects = signals.map(subjectOf);
  const subjectKey = (i: number) => `${signals[i]!.tenantId}\u0000${subjects[i]!.kind}\u0000${subjects[i]!.id}`;

  const rulesOf = new Map<string, RiskRules>();
  for (const tenantId of new Set(signals.map((s) => s.tenantId))) {
    const known = policies.get(tenantId);
    if (known) {
      rulesOf.set(tenantId, riskRules(known));
      continue;
    }
    const tenant = await getTenant(tx, tenantId);
    // A signal about an unknown tenant is a caller bug, but scoring must not break a request: use the base rules.
    rulesOf.set(tenantId, riskRules(tenant?.policy ?? BASE_POLICY));
  }
  const countries = signals.map((s) => (s.ip ? countryOf(s.ip) : undefined));

  // Lock each subject once (its last signal's time, as one by one would leave it), sorted.
  const lastOf = new Map<string, number>();
  signals.forEach((_s, i) => lastOf.set(subjectKey(i), i));
  const locked = [...lastOf.entries()]
    .map(([key, i]) => ({ key, tenantId: signals[i]!.tenantId, subject: subjects[i]!, now: signals[i]!.now }))
    .sort((a, b) => cmp(a.key, b.key));
  const baselines = await lockSubjects(tx, locked);
  const baseline = new Map<string, bigint | null>(locked.map((l, j) => [l.key, baselines[j]!]));

  // Usual locations: what one by one would have found, signal after signal.
  const locating = signals.map((s, i) => !!countries[i] && !!s.userId && s.kind !== 'new_location');
  const userKey = (i: number) => `${signals[i]!.tenantId}\u0000${signals[i]!.userId}`;
  const users = new Map<string, { tenantId: string; userId: string }>();
  signals.forEach((s, i) => {
    if (locating[i]) users.set(userKey(i), { tenantId: s.tenantId, userId: s.userId! });
  });
  const known = await knownLocations(tx, [...users.values()]);
  const seen = new Map<string, { tenantId: string; userId: string; country: string; firstAt: Date; lastAt: Date }>();
  const isNew: boolean[] = signals.map((s, i) => {
    if (!locating[i]) return false;
    const country = countries[i]!;
    let set = known.get(userKey(i));
    if (!set) known.set(userKey(i), (set = new Set()));
    const fresh = set.size > 0 && !set.has(country);
    set.add(country);
    const lk = `${userKey(i)}\u0000${country}`;
    const l = seen.get(lk);
    if (l) l.lastAt = s.now;
    else seen.set(lk, { tenantId: s.tenantId, userId: s.userId!, country, firstAt: s.now, lastAt: s.now });
    return fresh;
  });
  await touchLocations(tx, [...seen.values()].sort((a, b) => cmp(a.tenantId, b.tenantId) || cmp(a.userId, b.userId) || cmp(a.country, b.country)));

  // Every signal in order, each followed by its derived new_location signal.
  const rows: NewSignal[] = [];
  const lastRow: number[] = [];
  signals.forEach((s, i) => {
    const common = { tenantId: s.tenantId, userId: s.userId ?? null, cardId: s.cardId ?? null, country: countries[i] ?? null, at: s.now };
    rows.push({ ...common, kind: s.kind, detail: boundedDetail(s.detail) });
    if (isNew[i]) rows.push({ ...common, kind: 'new_location', detail: { derivedFrom: s.kind } });
    lastRow.push(rows.length - 1);
  });
  const ids = await insertSignals(tx, rows);
  const lastIds = lastRow.map((r) => ids[r]!);

  const question = (i: number, afterId: bigint | null) => ({
    tenantId: signals[i]!.tenantId,
    subjectId: subjects[i]!.id,
    afterId,
    throughId: lastIds[i]!,
    since: new Date(signals[i]!.now.getTime() - RISK_WINDOW_MS),
    dayStart: startOfBusinessDay(signals[i]!.now),
  });
  const features: RiskFeatures[] = new Array(signals.length);
  for (const kind of ['user', 'card'] as const) {
    const at = subjects.flatMap((sub, i) => (sub.kind === kind ? [i] : []));
    const f = await signalFeaturesMany(tx, kind, at.map((i) => question(i, baseline.get(subjectKey(i)) ?? null)));
    at.forEach((i, j) => (features[i] = f[j]!));
  }

  const moved = new Set<string>();
  const out: { score: number; action: 'none' | 'freeze_user' | 'freeze_card' }[] = [];
  for (let i = 0; i < signals.length; i++) {
    const key = subjectKey(i);
    // An earlier signal of this batch froze the subject: count from its new baseline.
    const f = moved.has(key)
      ? await signalFeatures(tx, { ...question(i, baseline.get(key) ?? null), subject: subjects[i]! })
      : features[i]!;
    const r = await actOnScore(ctx, tx, { signal: signals[i]!, subject: subjects[i]!, rules: rulesOf.get(signals[i]!.tenantId)!, features: f, country: countries[i], lastId: lastIds[i]! });
    if (r.action !== 'none') {
      baseline.set(key, lastIds[i]!);
      moved.add(key);
    }
    out.push(r);
  }
  return out;
}

export interface ActiveFreeze {
  until: Date;
  reason: string;
  /** Which of the subjects asked about is frozen. */
  scope: 'user' | 'card';
  freezeId: string;
}

/** The freeze in force now on the user or the card (whichever ends last), if any. */
export async function activeFreeze(
  db: Db | Tx,
  q: { tenantId: string; userId?: string; cardId?: string; now: Date },
): Promise<ActiveFreeze | undefined> {
  const subjects: RiskSubject[] = [];
  if (q.userId) subjects.push({ kind: 'user', id: q.userId });
  if (q.cardId) subjects.push({ kind: 'card', id: q.cardId });
  const f = await findActiveFreeze(db, q.tenantId, subjects, q.now);
  return f ? { until: f.until, reason: f.reason, scope: f.subjectKind, freezeId: f.id } : undefined;
}

/** Ends a freeze early (an operator's decision, audited); false when it was not in force. */
export async function liftFreeze(tx: Tx, q: { tenantId: string; freezeId: string; operatorId: string; now: Date }): Promise<boolean> {
  const lifted = await liftFreezeRow(tx, { tenantId: q.tenantId, freezeId: q.freezeId, by: q.operatorId, now: q.now });
  if (lifted) {
    await recordAudit(tx, {
      tenantId: q.tenantId,
      actor: { kind: 'operator', id: q.operatorId },
      action: 'risk.unfreeze',
      subject: { kind: 'freeze', id: q.freezeId },
      outcome: 'ok',
      at: q.now,
    });
  }
  return lifted;
}

/** Risk events in the review queue order (newest first). */
export const RISK_EVENTS_PAGE_MAX = 100;

export async function listRiskEvents(
  db: Db | Tx,
  q: { tenantId: string; status?: 'open' | 'reviewed'; subject?: RiskSubject; limit?: number },
): Promise<RiskEventView[]> {
  return selectEvents(db, { ...q, limit: Math.min(Math.max(q.limit ?? RISK_EVENTS_PAGE_MAX, 1), RISK_EVENTS_PAGE_MAX) });
}

/** Marks an event reviewed by an operator; false when it was not open. */
export async function reviewRiskEvent(tx: Tx, q: { tenantId: string; eventId: string; operatorId: string; now: Date }): Promise<boolean> {
  return markEventReviewed(tx, { tenantId: q.tenantId, eventId: q.eventId, by: q.operatorId, now: q.now });
}

export type { RiskEventView };

// Pure helpers over tenant policies: resolve a preset with overrides, validate, and read limits as values.
import { Value } from 'typebox/value';
import { AppError, type FieldError } from '../app/errors.ts';
import { BASE_POLICY, PRESET_PATCHES, type PresetId } from './presets.ts';
import {
  PolicySchema,
  type FeeRule,
  type Policy,
  type PolicyPatch,
  type TopupMethod,
} from './policy-schema.ts';

export * from './policy-schema.ts';

type Plain = Record<string, unknown>;

function isPlainObject(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep merge of `patch` over `base`: objects merge key by key, arrays and scalars (null
 * included, meaning "unlimited") replace, `undefined` leaves the base alone. A tagged object
 * (one with `kind`, like a fee rule) whose kind changes is replaced whole, never mixed.
 */
export function deepMerge<T>(base: T, patch: unknown): T {
  if (patch === undefined) return structuredClone(base);
  if (!isPlainObject(base) || !isPlainObject(patch)) return structuredClone(patch) as T;
  if ('kind' in patch && patch.kind !== base.kind) return structuredClone(patch) as T;
  const out: Plain = structuredClone(base);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    out[k] = k in base ? deepMerge(base[k], v) : structuredClone(v);
  }
  return out as T;
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  message: string;
  params: Record<string, unknown>;
}

/** Field errors of a value against the policy schema, one per field, named `${prefix}.a.b`. */
function schemaErrors(value: unknown, prefix: string): FieldError[] {
  const byPath = new Map<string, SchemaError[]>();
  for (const e of Value.Errors(PolicySchema, value) as Iterable<SchemaError>) {
    let path = e.instancePath;
    if (e.keyword === 'required' && Array.isArray(e.params.requiredProperties)) {
      for (const name of e.params.requiredProperties as string[]) {
        byPath.set(`${path}/${name}`, [{ ...e, message: 'is required' }]);
      }
      continue;
    }
    if (e.keyword === 'additionalProperties') continue; // reported per field by the 'boolean' error
    if (e.keyword === 'boolean') e.message = 'is not a known policy field';
    path ||= '';
    const list = byPath.get(path) ?? [];
    list.push(e);
    byPath.set(path, list);
  }
  const out: FieldError[] = [];
  for (const [path, errs] of byPath) {
    const field = `${prefix}${path.replaceAll('/', '.')}`;
    const allowed = errs.flatMap((e) =>
      e.keyword === 'const' ? [e.params.allowedValue] : e.keyword === 'enum' ? (e.params.allowedValues as unknown[]) : [],
    ).map((v) => JSON.stringify(v));
    const concrete = errs.find(
      (e) => e.keyword !== 'anyOf' && e.keyword !== 'const' && e.keyword !== 'enum' && !(e.keyword === 'type' && e.params.type === 'null'),
    );
    const message = allowed.length > 0 && !concrete ? `must be one of ${allowed.join(', ')}` : (concrete ?? errs[0]!).message;
    out.push({ field, message });
  }
  return out;
}

/** Rules the schema cannot express: ranges that must be ordered, methods that must be offered. */
function crossFieldErrors(p: Policy, prefix: string): FieldError[] {
  const errors: FieldError[] = [];
  const err = (field: string, message: string) => errors.push({ field: `${prefix}.${field}`, message });
  for (const [method, rule] of Object.entries(p.topup.methods)) {
    if (rule.minFen > rule.maxFen) err(`topup.methods.${method}.minFen`, 'must not exceed maxFen');
    if (rule.enabled && rule.maxFen === 0) err(`topup.methods.${method}.maxFen`, 'must be above 0 for an enabled method');
    if (rule.fee.kind === 'rate' && rule.fee.maxFen !== null && rule.fee.minFen > rule.fee.maxFen) {
      err(`topup.methods.${method}.fee.minFen`, 'must not exceed fee.maxFen');
    }
  }
  for (const w of ['afterCutoff', 'holiday'] as const) {
    if (p.settlement[w].minMinutes > p.settlement[w].maxMinutes) err(`settlement.${w}.minMinutes`, 'must not exceed maxMinutes');
  }
  if (p.dormant.afterMonths !== null && p.dormant.reactivation.length === 0) {
    err('dormant.reactivation', 'a tenant whose accounts go dormant must offer at least one way to reactivate');
  }
  if (p.dormant.reactivation.includes('transfer_min_fen') && p.dormant.transferMinFen < 1) {
    err('dormant.transferMinFen', 'must be at least 1 when reactivation by transfer is offered');
  }
  const needs = { payment_password_last4: 'payment_password', sms_otp: 'sms_otp', face: 'face' } as const;
  if (p.verification.stepUpThresholdFen !== null && !p.verification.methods.includes(needs[p.verification.stepUpMethod])) {
    err('verification.stepUpMethod', `needs ${needs[p.verification.stepUpMethod]} among verification.methods`);
  }
  if (p.exceptions.maxEmergencyContacts < p.topup.maxTrustedContacts) {
    err('topup.maxTrustedContacts', 'must not exceed exceptions.maxEmergencyContacts');
  }
  return errors;
}

/** Every problem with a candidate policy; empty when it is valid. */
export function validatePolicy(value: unknown, prefix = 'policy'): FieldError[] {
  const errors = schemaErrors(value, prefix);
  if (errors.length > 0) return errors;
  return crossFieldErrors(value as Policy, prefix);
}

/** Throws `validation_failed` naming each bad field, else returns the value typed. */
export function assertPolicy(value: unknown, prefix = 'policy'): Policy {
  const errors = validatePolicy(value, prefix);
  if (errors.length > 0) throw AppError.validation(errors);
  return value as Policy;
}

// Resolved presets are constants: validated once, then served as copies (callers may mutate theirs).
const resolvedPresets = new Map<PresetId, Policy>();

/** The full, validated policy of a preset. */
export function presetPolicy(preset: PresetId): Policy {
  let p = resolvedPresets.get(preset);
  if (!p) {
    const patch = PRESET_PATCHES[preset];
    if (!patch) throw AppError.validation([{ field: 'preset', message: `unknown preset "${String(preset)}"` }]);
    p = assertPolicy(deepMerge(BASE_POLICY, patch), `preset.${preset}`);
    resolvedPresets.set(preset, p);
  }
  return structuredClone(p);
}

/** A preset with a tenant's overrides merged over it, validated; bad values throw `validation_failed`. */
export function resolvePolicy(preset: PresetId, overrides?: PolicyPatch): Policy {
  return applyPolicyPatch(presetPolicy(preset), overrides);
}

/** `patch` merged over an existing policy, validated. */
export function applyPolicyPatch(policy: Policy, patch?: PolicyPatch): Policy {
  if (patch !== undefined && !isPlainObject(patch)) {
    throw AppError.validation([{ field: 'policy', message: 'must be an object' }]);
  }
  return assertPolicy(deepMerge(policy, patch));
}

/**
 * A policy read back from storage, completed with the preset's values for fields it lacks
 * (a profile saved before a field existed). Never throws: stored policies were validated on write.
 */
export function completeStoredPolicy(preset: PresetId, stored: unknown): Policy {
  // Every tenant read completes its policy, and a tenant's stored policy rarely changes: the
  // completion is remembered by its input and served as a copy (callers may mutate theirs).
  const key = `${preset}\u0000${JSON.stringify(stored) ?? ''}`;
  let done = completedPolicies.get(key);
  if (!done) {
    done = deepMerge(presetPolicy(preset), stored);
    if (completedPolicies.size >= COMPLETED_POLICIES_MAX) completedPolicies.clear();
    completedPolicies.set(key, done);
  }
  return structuredClone(done);
}

/** Completed policies remembered (a few per tenant at most: its current and recent profiles). */
const COMPLETED_POLICIES_MAX = 512;
const completedPolicies = new Map<string, Policy>();

// ---- reading limits as values -------------------------------------------------------------

export type QuotaKind = 'bound' | 'noBindPerCard' | 'noBindPerWechatAccount';

/** The daily quota of a kind of query; null = unlimited. */
export function dailyQuota(policy: Policy, kind: QuotaKind): number | null {
  switch (kind) {
    case 'bound':
      return policy.quotas.boundPerUserPerDay;
    case 'noBindPerCard':
      return policy.quotas.noBindPerCardPerDay;
    case 'noBindPerWechatAccount':
      return policy.quotas.noBindPerWechatAccountPerDay;
  }
}

/** How old a served balance may be, in ms (0 = real time). */
export function balanceMaxAgeMs(policy: Policy): number {
  return policy.balance.freshness === 'realtime' ? 0 : policy.balance.freshness * 1000;
}

/** True when a balance of this size needs a step-up challenge under the policy. */
export function needsStepUp(policy: Policy, balanceFen: bigint): boolean {
  const t = policy.verification.stepUpThresholdFen;
  return t !== null && balanceFen >= BigInt(t);
}

export interface TopupLimits {
  method: TopupMethod;
  enabled: boolean;
  minFen: bigint;
  maxFen: bigint;
  fee: FeeRule;
}

export function topupLimits(policy: Policy, method: TopupMethod): TopupLimits {
  const rule = policy.topup.methods[method];
  return { method, enabled: rule.enabled, minFen: BigInt(rule.minFen), maxFen: BigInt(rule.maxFen), fee: rule.fee };
}

const BASIS_POINTS_PER_UNIT = 10_000n;

/** The fee on an amount: `amount × bp / 10 000` rounded half up to the fen, then held within min/max. */
export function topupFeeFen(fee: FeeRule, amountFen: bigint): bigint {
  if (fee.kind === 'free') return 0n;
  let f = (amountFen * BigInt(fee.basisPoints) * 2n + BASIS_POINTS_PER_UNIT) / (2n * BASIS_POINTS_PER_UNIT);
  if (f < BigInt(fee.minFen)) f = BigInt(fee.minFen);
  if (fee.maxFen !== null && f > BigInt(fee.maxFen)) f = BigInt(fee.maxFen);
  return f;
}

/** `months` calendar months after `from` (the day clamped to the month's end, time kept, UTC fields). */
export function addMonths(from: Date, months: number): Date {
  const d = new Date(from.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d;
}

/** When an account last active at `lastActivityAt` goes dormant under the policy; null = never. */
export function dormantFrom(policy: Policy, lastActivityAt: Date): Date | null {
  return policy.dormant.afterMonths === null ? null : addMonths(lastActivityAt, policy.dormant.afterMonths);
}

export function isDormantAt(policy: Policy, lastActivityAt: Date, now: Date): boolean {
  const from = dormantFrom(policy, lastActivityAt);
  return from !== null && now.getTime() >= from.getTime();
}

/** The earliest instant a statement may reach back to. */
export function statementEarliest(policy: Policy, now: Date): Date {
  return addMonths(now, -policy.statements.maxMonths);
}

// Tenant policy presets and the pure helpers over them: the seeds' rules, merging, validation, limits.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/app/errors.ts';
import {
  BASE_POLICY,
  PRESET_IDS,
  addMonths,
  applyPolicyPatch,
  assertCredentials,
  balanceMaxAgeMs,
  dailyQuota,
  deepMerge,
  isDormantAt,
  needsStepUp,
  presetPolicy,
  resolvePolicy,
  statementEarliest,
  topupFeeFen,
  topupLimits,
  validatePolicy,
} from '../../../src/tenants/index.ts';

function validationFields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('validation_failed');
    return ((err as AppError).extra.errors as { field: string }[]).map((e) => e.field);
  }
  throw new Error('expected a validation_failed error');
}

describe('presets', () => {
  it('every shipped preset resolves to a valid policy', () => {
    for (const id of PRESET_IDS) expect(validatePolicy(presetPolicy(id))).toEqual([]);
    expect(validatePolicy(BASE_POLICY)).toEqual([]);
  });

  it('agricultural: no-bind 3 per card and 5 per WeChat account, bound unlimited behind a slider', () => {
    const p = presetPolicy('agricultural');
    expect(dailyQuota(p, 'noBindPerCard')).toBe(3);
    expect(dailyQuota(p, 'noBindPerWechatAccount')).toBe(5);
    expect(dailyQuota(p, 'bound')).toBeNull();
    expect(p.captcha.boundQuery).toBe('slider');
    expect(p.noBind).toMatchObject({ enabled: true, freshness: 't+1', lastTransactions: 3 });
  });

  it('agricultural: step-up at ¥500,000 by the last 4 of the payment password, SMS for a new device, freeze above 20 a day', () => {
    const p = presetPolicy('agricultural');
    expect(p.verification.stepUpThresholdFen).toBe(50_000_000);
    expect(p.verification.stepUpMethod).toBe('payment_password_last4');
    expect(needsStepUp(p, 49_999_999n)).toBe(false);
    expect(needsStepUp(p, 50_000_000n)).toBe(true);
    expect(p.verification.newDeviceActivation).toBe('sms_otp');
    expect(p.freeze).toMatchObject({ queriesPerDayAbove: 20, unusualLocation: true });
  });

  it('agricultural: dormant after 6 months, woken by a transfer of at least ¥1', () => {
    const p = presetPolicy('agricultural');
    expect(p.dormant).toMatchObject({ afterMonths: 6, reactivation: ['transfer_min_fen'], transferMinFen: 100, queryableOnline: false });
    const last = new Date('2025-01-31T04:00:00Z');
    expect(isDormantAt(p, last, new Date('2025-07-30T04:00:00Z'))).toBe(false);
    expect(isDormantAt(p, last, new Date('2025-07-31T04:00:00Z'))).toBe(true);
  });

  it('unlimited-realtime: real time, no quotas, 6-month statements', () => {
    const p = presetPolicy('unlimited-realtime');
    expect(balanceMaxAgeMs(p)).toBe(0);
    expect(p.quotas).toEqual({ boundPerUserPerDay: null, noBindPerCardPerDay: null, noBindPerWechatAccountPerDay: null });
    expect(p.statements.maxMonths).toBe(6);
  });

  it('daily-10: 10 a day, 30 s freshness, 1-year paged statements, dormant cards queryable online', () => {
    const p = presetPolicy('daily-10');
    expect(dailyQuota(p, 'bound')).toBe(10);
    expect(balanceMaxAgeMs(p)).toBe(30_000);
    expect(p.statements).toEqual({ maxMonths: 12, mode: 'paged' });
    expect(p.dormant.queryableOnline).toBe(true);
  });

  it('daily-20: 20 a day, 60 s freshness, custom range, 1-cent dormant verification', () => {
    const p = presetPolicy('daily-20');
    expect(dailyQuota(p, 'bound')).toBe(20);
    expect(balanceMaxAgeMs(p)).toBe(60_000);
    expect(p.statements.mode).toBe('custom_range');
    expect(p.dormant.reactivation).toEqual(['one_cent_verification']);
  });

  it('citizen-card: 零钱 ¥50–2,000 free, bank card ¥100–5,000, credit card ¥300–1,000', () => {
    const p = presetPolicy('citizen-card');
    expect(topupLimits(p, 'wechat_balance')).toMatchObject({ enabled: true, minFen: 5_000n, maxFen: 200_000n, fee: { kind: 'free' } });
    expect(topupLimits(p, 'bank_card')).toMatchObject({ enabled: true, minFen: 10_000n, maxFen: 500_000n });
    expect(topupLimits(p, 'credit_card')).toMatchObject({ enabled: true, minFen: 30_000n, maxFen: 100_000n });
  });

  it('citizen-card: instant before 16:00 on working days, 1–2 h after, 2–6 h on holidays, SLAs of seed 002', () => {
    const p = presetPolicy('citizen-card');
    expect(p.settlement).toEqual({
      instantCutoff: '16:00',
      afterCutoff: { minMinutes: 60, maxMinutes: 120 },
      holiday: { minMinutes: 120, maxMinutes: 360 },
      clearing: { mode: 'realtime', batchMaxHours: 12 },
    });
    expect(p.exceptions).toEqual({
      autoReconciliationMinutes: 30,
      manualReviewMinutes: 120,
      backupChannelMinutes: 15,
      supplementWindowHours: 72,
      cardStatusSyncMinutes: 15,
      maxEmergencyContacts: 3,
    });
    expect(p.cancellation.accessCutoffWorkingDays).toBe(7);
  });

  it('bank presets offer no top-up method', () => {
    for (const id of ['agricultural', 'unlimited-realtime', 'daily-10', 'daily-20'] as const) {
      for (const m of ['wechat_balance', 'bank_card', 'credit_card'] as const) expect(topupLimits(presetPolicy(id), m).enabled).toBe(false);
    }
  });

  it('a preset handed out is a copy: mutating it does not change the next one', () => {
    const a = presetPolicy('daily-10');
    a.quotas.boundPerUserPerDay = 99;
    expect(presetPolicy('daily-10').quotas.boundPerUserPerDay).toBe(10);
  });
});

describe('resolvePolicy', () => {
  it('merges overrides over the preset and keeps everything else', () => {
    const p = resolvePolicy('daily-10', { quotas: { boundPerUserPerDay: 15 }, crossBorder: { mode: 'automatic' } });
    expect(p.quotas).toEqual({ boundPerUserPerDay: 15, noBindPerCardPerDay: 10, noBindPerWechatAccountPerDay: 10 });
    expect(p.crossBorder.mode).toBe('automatic');
    expect(p.balance.freshness).toBe(30);
  });

  it('null in an override means unlimited and replaces a number', () => {
    expect(resolvePolicy('daily-20', { quotas: { boundPerUserPerDay: null } }).quotas.boundPerUserPerDay).toBeNull();
  });

  it('arrays replace whole rather than merge', () => {
    expect(resolvePolicy('agricultural', { dormant: { reactivation: ['counter', 'online'] } }).dormant.reactivation).toEqual(['counter', 'online']);
  });

  it('a fee rule of another kind replaces the old one instead of mixing fields', () => {
    const p = resolvePolicy('citizen-card', { topup: { methods: { wechat_balance: { fee: { kind: 'rate', basisPoints: 5, minFen: 1, maxFen: 100 } } } } });
    expect(p.topup.methods.wechat_balance.fee).toEqual({ kind: 'rate', basisPoints: 5, minFen: 1, maxFen: 100 });
    const back = applyPolicyPatch(p, { topup: { methods: { wechat_balance: { fee: { kind: 'free' } } } } });
    expect(back.topup.methods.wechat_balance.fee).toEqual({ kind: 'free' });
  });

  it('rejects a negative quota, naming the field', () => {
    expect(validationFields(() => resolvePolicy('daily-10', { quotas: { boundPerUserPerDay: -1 } }))).toEqual(['policy.quotas.boundPerUserPerDay']);
  });

  it('rejects an unknown enum value with the allowed values in the message', () => {
    try {
      resolvePolicy('daily-10', { crossBorder: { mode: 'sometimes' as never } });
      expect.unreachable();
    } catch (err) {
      const errors = (err as AppError).extra.errors as { field: string; message: string }[];
      expect(errors).toEqual([{ field: 'policy.crossBorder.mode', message: 'must be one of "blocked", "automatic", "by_card_network"' }]);
    }
  });

  it('rejects unknown fields, a malformed cutoff and a fractional amount', () => {
    const fields = validationFields(() =>
      resolvePolicy('citizen-card', {
        settlement: { instantCutoff: '4pm' },
        topup: { methods: { bank_card: { minFen: 10.5 } } },
        ...({ surprise: true } as object),
      }),
    );
    expect(fields.sort()).toEqual(['policy.settlement.instantCutoff', 'policy.surprise', 'policy.topup.methods.bank_card.minFen']);
  });

  it('rejects a top-up minimum above the maximum and an inverted delay window', () => {
    const fields = validationFields(() =>
      resolvePolicy('citizen-card', {
        topup: { methods: { bank_card: { minFen: 600_000 } } },
        settlement: { holiday: { minMinutes: 400 } },
      }),
    );
    expect(fields.sort()).toEqual(['policy.settlement.holiday.minMinutes', 'policy.topup.methods.bank_card.minFen']);
  });

  it('rejects dormancy without any reactivation route', () => {
    expect(validationFields(() => resolvePolicy('agricultural', { dormant: { reactivation: [] } }))).toEqual(['policy.dormant.reactivation']);
  });

  it('rejects a step-up by payment password when the tenant does not use payment passwords', () => {
    expect(validationFields(() => resolvePolicy('agricultural', { verification: { methods: ['sms_otp'] } }))).toEqual([
      'policy.verification.stepUpMethod',
    ]);
  });

  it('rejects more trusted contacts than emergency contacts allowed', () => {
    expect(validationFields(() => resolvePolicy('citizen-card', { topup: { maxTrustedContacts: 4 } }))).toEqual(['policy.topup.maxTrustedContacts']);
  });

  it('rejects a patch that is not an object', () => {
    expect(validationFields(() => applyPolicyPatch(presetPolicy('daily-10'), 'x' as never))).toEqual(['policy']);
  });
});

describe('deepMerge', () => {
  it('leaves the base untouched', () => {
    const base = { a: { b: 1, c: [1, 2] } };
    const out = deepMerge(base, { a: { b: 2 } });
    expect(out).toEqual({ a: { b: 2, c: [1, 2] } });
    expect(base).toEqual({ a: { b: 1, c: [1, 2] } });
    expect(out.a.c).not.toBe(base.a.c);
  });

  it('ignores undefined values in the patch', () => {
    expect(deepMerge({ a: 1, b: 2 }, { a: undefined, b: 3 })).toEqual({ a: 1, b: 3 });
  });
});

describe('topupFeeFen', () => {
  it('is zero for a free method', () => {
    expect(topupFeeFen({ kind: 'free' }, 200_000n)).toBe(0n);
  });

  it('charges the rate rounded half up to the fen, within min and max', () => {
    const rule = { kind: 'rate' as const, basisPoints: 10, minFen: 1, maxFen: 500 };
    expect(topupFeeFen(rule, 10_000n)).toBe(10n); // ¥100 × 0.1 % = ¥0.10
    expect(topupFeeFen(rule, 12_345n)).toBe(12n); // 12.345 → 12
    expect(topupFeeFen(rule, 12_499n)).toBe(12n); // 12.499 → 12
    expect(topupFeeFen(rule, 12_500n)).toBe(13n); // 12.5 → 13
    expect(topupFeeFen(rule, 100n)).toBe(1n); // 0.1 → 0, raised to the minimum
    expect(topupFeeFen(rule, 10_000_000n)).toBe(500n); // capped
  });

  it('has no cap when maxFen is null', () => {
    expect(topupFeeFen({ kind: 'rate', basisPoints: 60, minFen: 0, maxFen: null }, 100_000_000n)).toBe(600_000n);
  });
});

describe('dates', () => {
  it('addMonths clamps to the end of a shorter month', () => {
    expect(addMonths(new Date('2025-08-31T10:00:00Z'), 6).toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(addMonths(new Date('2024-03-31T10:00:00Z'), -1).toISOString()).toBe('2024-02-29T10:00:00.000Z');
  });

  it('statementEarliest reaches back the policy number of months', () => {
    const now = new Date('2026-01-15T02:00:00Z');
    expect(statementEarliest(presetPolicy('unlimited-realtime'), now).toISOString()).toBe('2025-07-15T02:00:00.000Z');
    expect(statementEarliest(presetPolicy('daily-10'), now).toISOString()).toBe('2025-01-15T02:00:00.000Z');
  });

  it('a tenant without dormancy never calls an account dormant', () => {
    expect(isDormantAt(presetPolicy('citizen-card'), new Date('2000-01-01'), new Date('2026-01-01'))).toBe(false);
  });
});

describe('credentials', () => {
  const good = {
    oa: { appId: 'wx0123456789abcdef', appSecret: '0123456789abcdef0123456789abcdef', token: 'tok3n', encodingAESKey: 'a'.repeat(43), mode: 'safe' as const },
    miniProgram: { appId: 'wx1123456789abcdef', appSecret: '0123456789abcdef0123456789abcdef' },
  };

  it('accepts well-formed credentials', () => {
    expect(assertCredentials(good)).toEqual(good);
  });

  it('rejects a malformed field without quoting the secret value', () => {
    try {
      assertCredentials({ ...good, oa: { ...good.oa, encodingAESKey: 'tooShortSecretValue' } });
      expect.unreachable();
    } catch (err) {
      expect((err as AppError).code).toBe('validation_failed');
      expect(JSON.stringify((err as AppError).extra)).not.toContain('tooShortSecretValue');
      expect((err as AppError).message).not.toContain('tooShortSecretValue');
      expect(((err as AppError).extra.errors as { field: string }[])[0]!.field).toBe('credentials.oa.encodingAESKey');
    }
  });

  it('rejects one app id used for both the Official Account and the mini-program', () => {
    expect(() => assertCredentials({ ...good, miniProgram: { ...good.miniProgram, appId: good.oa.appId } })).toThrow(/must differ/);
  });
});

// Pure console logic: the policy diff (leaf by leaf, arrays whole), the preview of a patch, the role matrix and tenant scoping.
import { describe, expect, it } from 'vitest';
import { policyDiff, previewPatch, isAllowed, canActOnTenant, PERMISSIONS, OPERATOR_ROLES, demoTotpSecret, demoOperators } from '../../../src/admin/index.ts';
import { presetPolicy } from '../../../src/tenants/index.ts';

describe('policyDiff', () => {
  it('lists changed leaves with dotted paths, compares arrays whole, and nothing for equal values', () => {
    const a = { quotas: { bound: null, card: 3 }, methods: ['sms_otp'], nested: { deep: { x: 1 } } };
    const b = { quotas: { bound: 4, card: 3 }, methods: ['sms_otp', 'face'], nested: { deep: { x: 1 } } };
    expect(policyDiff(a, b)).toEqual([
      { path: 'methods', from: ['sms_otp'], to: ['sms_otp', 'face'] },
      { path: 'quotas.bound', from: null, to: 4 },
    ]);
    expect(policyDiff(a, structuredClone(a))).toEqual([]);
    expect(policyDiff({ fee: { kind: 'free' } }, { fee: { kind: 'rate', basisPoints: 10 } })).toEqual([
      { path: 'fee.basisPoints', from: null, to: 10 },
      { path: 'fee.kind', from: 'free', to: 'rate' },
    ]);
  });
});

describe('previewPatch', () => {
  const base = presetPolicy('daily-10');
  it('validates the merged profile and names each bad field under patch.', () => {
    const p = previewPatch(base, { quotas: { boundPerUserPerDay: -1 }, statements: { maxMonths: 0 } });
    expect(p.valid).toBe(false);
    expect(p.policy).toBeNull();
    expect(p.errors.map((e) => e.field).sort()).toEqual(['patch.quotas.boundPerUserPerDay', 'patch.statements.maxMonths']);
  });
  it('refuses a field the policy does not know, and a patch that is not an object', () => {
    expect(previewPatch(base, { quotas: { perHour: 3 } }).valid).toBe(false);
    expect(previewPatch(base, [1, 2]).errors).toEqual([{ field: 'patch', message: 'must be an object' }]);
  });
  it('applies cross-field rules too (min above max)', () => {
    const p = previewPatch(base, { topup: { methods: { wechat_balance: { minFen: 500_000, maxFen: 100 } } } });
    expect(p.valid).toBe(false);
    expect(p.errors[0]!.field).toBe('patch.topup.methods.wechat_balance.minFen');
  });
  it('shows exactly the changed leaves of a valid patch', () => {
    const p = previewPatch(base, { quotas: { boundPerUserPerDay: 3 } });
    expect(p).toMatchObject({ valid: true, errors: [], changes: [{ path: 'quotas.boundPerUserPerDay', from: 10, to: 3 }] });
    expect(p.policy!.quotas.boundPerUserPerDay).toBe(3);
  });
});

describe('roles', () => {
  it('gives every role the session, reads only what it needs, and money decisions to reviewers and admins', () => {
    for (const role of OPERATOR_ROLES) expect(isAllowed(role, 'session')).toBe(true);
    expect(OPERATOR_ROLES.filter((r) => isAllowed(r, 'review.decide'))).toEqual(['reviewer', 'admin']);
    expect(OPERATOR_ROLES.filter((r) => isAllowed(r, 'policy.write'))).toEqual(['operator', 'admin']);
    expect(OPERATOR_ROLES.filter((r) => isAllowed(r, 'audit.read'))).toEqual(['auditor', 'admin']);
    expect(OPERATOR_ROLES.filter((r) => isAllowed(r, 'operators.manage'))).toEqual(['admin']);
    // The auditor changes nothing.
    const writes = (Object.keys(PERMISSIONS) as (keyof typeof PERMISSIONS)[]).filter((p) => /\.(write|decide|run|manage)$/.test(p));
    expect(writes.filter((p) => isAllowed('auditor', p))).toEqual([]);
    // The admin can do everything.
    expect((Object.keys(PERMISSIONS) as (keyof typeof PERMISSIONS)[]).every((p) => isAllowed('admin', p))).toBe(true);
  });
  it('keeps tenant operators to their tenant and lets platform operators act on any', () => {
    expect(canActOnTenant('a', 'a')).toBe(true);
    expect(canActOnTenant('a', 'b')).toBe(false);
    expect(canActOnTenant(null, 'b')).toBe(true);
  });
});

describe('demo operators', () => {
  it('derive a fixed base32 TOTP secret per username, distinct per user', () => {
    expect(demoTotpSecret('admin')).toBe(demoTotpSecret('admin'));
    expect(demoTotpSecret('admin')).toMatch(/^[A-Z2-7]{32}$/);
    const ops = demoOperators(['hz-citizen-card', 'realtime-bank']);
    expect(new Set(ops.map((o) => o.totpSecret)).size).toBe(ops.length);
    expect(ops.map((o) => o.username)).toEqual(['admin', 'hz-citizen-card.operator', 'hz-citizen-card.reviewer', 'hz-citizen-card.reviewer2', 'hz-citizen-card.auditor', 'hz-citizen-card.admin', 'realtime-bank.admin']);
  });
});

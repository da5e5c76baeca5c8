// Acceptance: an operator signs in with TOTP, previews and saves a quota change as a new policy version, and the cardholder API enforces it without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corePort } from '../../../src/core/index.ts';
import { identityRoutes } from '../../../src/identity/index.ts';
import { accountsRoutes } from '../../../src/accounts/index.ts';
import { DEMO_OPERATOR_PASSWORD, demoTotpSecret, seedDemoOperators } from '../../../src/admin/index.ts';
import { startWorld, type World } from '../accounts/world.ts';
import { consoleFor, ensureAdminSchema, withAdmin, type Console } from './helpers.ts';

const TENANT = 'realtime-bank';
let w: World;
let op: Console;

beforeAll(async () => {
  w = await startWorld({ serverModules: withAdmin([corePort(), identityRoutes(), accountsRoutes()]) });
  await ensureAdminSchema(w.server.ctx.db);
  await seedDemoOperators(w.server.ctx);
  op = consoleFor(w.server.url, `${TENANT}.admin`, w.clock);
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('policy change through the console', { timeout: 60_000 }, () => {
  it('signs in with password and TOTP, changes the daily quota, and the balance API enforces it', async () => {
    const signIn = await op.signIn(DEMO_OPERATOR_PASSWORD, demoTotpSecret(`${TENANT}.admin`));
    expect(signIn.status, signIn.text).toBe(201);

    const s = await w.signIn(TENANT);
    const card = await w.bind(s, w.holder(TENANT, '李晓红'));
    const balance = () => w.call('GET', `/api/v1/cards/${card.cardId}/balance`, { session: s });
    for (let i = 0; i < 3; i++) expect((await balance()).status).toBe(200);

    const before = await op.call('GET', `/tenants/${TENANT}/policy`);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ tenantId: TENANT, version: 0, policy: { quotas: { boundPerUserPerDay: null } } });

    // A bad value: the preview names the field and nothing is saved.
    const bad = await op.call('POST', `/tenants/${TENANT}/policy/preview`, { patch: { quotas: { boundPerUserPerDay: -1 } } });
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({ valid: false, policy: null, errors: [expect.objectContaining({ field: 'patch.quotas.boundPerUserPerDay' })] });
    const refused = await op.call('PUT', `/tenants/${TENANT}/policy`, { baseVersion: 0, patch: { quotas: { boundPerUserPerDay: -1 } } });
    expect([refused.status, refused.body.code]).toEqual([400, 'validation_failed']);

    const preview = await op.call('POST', `/tenants/${TENANT}/policy/preview`, { patch: { quotas: { boundPerUserPerDay: 4 } } });
    expect(preview.body).toMatchObject({ valid: true, version: 0, changes: [{ path: 'quotas.boundPerUserPerDay', from: null, to: 4 }] });

    const saved = await op.call('PUT', `/tenants/${TENANT}/policy`, { baseVersion: 0, patch: { quotas: { boundPerUserPerDay: 4 } }, note: 'cap bound queries' });
    expect(saved.status, saved.text).toBe(200);
    expect(saved.body).toMatchObject({ version: 1, policy: { quotas: { boundPerUserPerDay: 4 } }, changes: [{ path: 'quotas.boundPerUserPerDay', from: null, to: 4 }] });

    // Someone who previewed version 0 cannot overwrite version 1.
    const stale = await op.call('PUT', `/tenants/${TENANT}/policy`, { baseVersion: 0, patch: { quotas: { boundPerUserPerDay: 100 } } });
    expect([stale.status, stale.body.code, stale.body.currentVersion]).toEqual([409, 'conflict', 1]);

    // In force once this instance's hot-state bound has passed (no restart); the three earlier reads count.
    w.forgetHotState();
    expect((await balance()).status).toBe(200);
    const over = await balance();
    expect([over.status, over.body.code, over.body.limit]).toEqual([429, 'quota_exceeded', 4]);

    const versions = await op.call('GET', `/tenants/${TENANT}/policy/versions`);
    expect(versions.body.items).toEqual([expect.objectContaining({ version: 1, note: 'cap bound queries', authorId: signIn.body.operator.id, changes: [{ path: 'quotas.boundPerUserPerDay', from: null, to: 4 }] })]);
    const audit = await w.server.ctx.db.selectFrom('audit_log').select(['actor_id', 'detail']).where('tenant_id', '=', TENANT).where('action', '=', 'admin.policy_changed').execute();
    expect(audit).toEqual([{ actor_id: signIn.body.operator.id, detail: JSON.stringify({ paths: ['quotas.boundPerUserPerDay'], version: 1 }) }]);
  });
});

// Two wecard instances on one PostgreSQL receive the same WeCom event many times at once: the handler runs once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { wecomCallbacks, type AddExternalContactEvent } from '../../../../src/wechat/wecom/index.ts';
import type { WecomCredentials } from '../../../../src/tenants/index.ts';
import { addContactXml, wecomEvent, wecomTenant } from './fixtures.ts';

/** Long enough that the copies' transactions overlap and the later ones wait on the first one's key. */
const HANDLER_HOLD_MS = 100;
const COPIES_PER_INSTANCE = 5;

describe.skipIf(!process.env.TEST_DATABASE_URL)('WeCom events across two instances (needs PostgreSQL: PGlite has one connection)', () => {
  let platform: Platform;
  let tenant: { tenantId: string; wecom: WecomCredentials };
  const runs: { instance: number; event: AddExternalContactEvent }[] = [];

  beforeAll(async () => {
    let instance = 0;
    const handlerOf = (n: number) =>
      wecomCallbacks({
        onAddExternalContact: async (_ctx, _tx, event) => {
          runs.push({ instance: n, event });
          await new Promise((r) => setTimeout(r, HANDLER_HOLD_MS));
        },
      });
    platform = await startPlatform({
      sandboxModules: [],
      // Each instance gets its own plugin, as separate processes would.
      serverModules: [(app, ctx) => handlerOf(instance++)(app, ctx)],
      instances: 2,
    });
    tenant = await wecomTenant(platform.servers[0]!.ctx);
    registerSensitive(tenant.wecom.token, tenant.wecom.encodingAESKey, tenant.wecom.secret);
  });
  afterAll(async () => {
    await platform?.close();
  });

  it(`runs the handler once when ${COPIES_PER_INSTANCE} copies reach each of two instances at the same time`, async () => {
    const now = Math.floor(Date.now() / 1000);
    const xml = addContactXml(tenant.wecom.corpId, { externalUserId: 'wmTwoInstances', state: 'twoinst', createTime: now });
    const sends = platform.servers.flatMap((server) =>
      Array.from({ length: COPIES_PER_INSTANCE }, () => {
        // Each copy encrypted afresh (new random prefix, nonce), as a WeCom retry would be.
        const req = wecomEvent(tenant.tenantId, tenant.wecom, xml, now);
        return fetch(`${server.url}${req.url}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: req.body }).then(async (r) => ({ status: r.status, body: await r.text() }));
      }),
    );
    const answers = await Promise.all(sends);
    expect(answers.every((a) => a.status === 200 && a.body === 'success')).toBe(true);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.event).toMatchObject({ externalUserId: 'wmTwoInstances', state: 'twoinst' });
    const rows = await platform.db.db.selectFrom('wecom_events').selectAll().where('tenant_id', '=', tenant.tenantId).execute();
    expect(rows).toHaveLength(1);
  });
});

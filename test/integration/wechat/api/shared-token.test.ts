// Two wecard instances on one PostgreSQL share one access_token: refreshes are counted at the sandbox's token endpoint (PostgreSQL only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxWxRoutes } from '../../../../src/sandbox/wx/index.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { getAccessToken, sendSubscribeMessage, sendTemplateMessage, tokenStats } from '../../../../src/wechat/api/index.ts';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { http, MINUTE_MS, sandboxUser, tokenFetches, wxTenant, type AppCredentials } from './fixtures.ts';

/** Calls per instance in one burst: more than one instance's pool, so the instances truly race. */
const CALLS_PER_INSTANCE = 15;

describe.skipIf(!process.env.TEST_DATABASE_URL)('two instances, one access_token (needs PostgreSQL: PGlite has one connection)', () => {
  let platform: Platform;
  const clock = new ManualClock('2026-03-02T01:00:00Z');
  let tenantId: string;
  let creds: AppCredentials;
  let openid: string;

  /** Template messages sent from both instances at once; every one must get through. */
  async function burst(): Promise<void> {
    const calls = platform.servers.flatMap((s) =>
      Array.from({ length: CALLS_PER_INSTANCE }, (_, i) =>
        sendTemplateMessage(s.ctx, tenantId, { touser: openid, templateId: 'tpl_BalanceChange', data: { keyword1: { value: `第 ${i} 笔` } } }),
      ),
    );
    const sent = await Promise.all(calls);
    expect(new Set(sent.map((s) => s.msgid)).size).toBe(platform.servers.length * CALLS_PER_INSTANCE);
  }

  const fetches = () => tokenFetches(platform.sandbox.url, creds.oa.appId);
  const oaStats = async () => (await tokenStats(platform.servers[0]!.ctx.db, tenantId)).find((s) => s.kind === 'oa');

  beforeAll(async () => {
    platform = await startPlatform({ sandboxModules: [sandboxWxRoutes], serverModules: [], instances: 2, clock });
    ({ tenantId, creds } = await wxTenant(platform.servers[0]!.ctx));
    openid = (await sandboxUser(platform.sandbox.url, tenantId)).openid;
  }, 60_000);

  afterAll(async () => {
    await platform?.close();
  });

  it('fetches exactly one token for concurrent calls on both instances, and both use it', async () => {
    await burst();
    expect(await fetches()).toBe(1);
    const [a, b] = await Promise.all(platform.servers.map((s) => getAccessToken(s.ctx, { tenantId, kind: 'oa' })));
    registerSensitive(a!);
    expect(a).toBe(b);
    expect(await oaStats()).toMatchObject({ refreshes: 1, forcedRefreshes: 0 });
  });

  it("refreshes exactly once when another party's fetch retired the token (40001 on both instances)", async () => {
    // A staging server with the production appid fetches its own token: ours dies 5 minutes later.
    const foreign = await http('GET', `${platform.sandbox.url}/sandbox/wx/cgi-bin/token?${new URLSearchParams({ grant_type: 'client_credential', appid: creds.oa.appId, secret: creds.oa.appSecret })}`);
    registerSensitive(foreign.body.access_token);
    expect(await fetches()).toBe(2);
    clock.advance(5 * MINUTE_MS + 1000);
    await burst();
    expect(await fetches()).toBe(3);
    expect(await oaStats()).toMatchObject({ refreshes: 2, forcedRefreshes: 1 });
  });

  it('refreshes exactly once more after the sandbox revokes the token', async () => {
    await http('POST', `${platform.sandbox.url}/sandbox/api/tokens/revoke`, { appId: creds.oa.appId });
    await burst();
    expect(await fetches()).toBe(4);
    expect(await oaStats()).toMatchObject({ refreshes: 3, forcedRefreshes: 2 });
  });

  it('refreshes ahead of expiry once across both instances', async () => {
    clock.advance(7200 * 1000 - 5 * MINUTE_MS + 1000);
    await burst();
    expect(await fetches()).toBe(5);
    expect(await oaStats()).toMatchObject({ refreshes: 4, forcedRefreshes: 2 });
    await burst();
    expect(await fetches()).toBe(5);
  });

  it("keeps each app's token apart: one mini-program fetch for both instances", async () => {
    const mini = (await sandboxUser(platform.sandbox.url, tenantId)).openid;
    const miniOpenid = (await http('GET', `${platform.sandbox.url}/sandbox/api/users/${mini}`)).body.miniProgramOpenid;
    await http('POST', `${platform.sandbox.url}/sandbox/api/users/${mini}/subscribe-grants`, { templateId: 'tpl_TopupDone', count: 2 * CALLS_PER_INSTANCE });
    await Promise.all(
      platform.servers.flatMap((s) =>
        Array.from({ length: CALLS_PER_INSTANCE }, () => sendSubscribeMessage(s.ctx, tenantId, { touser: miniOpenid, templateId: 'tpl_TopupDone', data: { thing1: { value: '充值成功' } } })),
      ),
    );
    expect(await tokenFetches(platform.sandbox.url, creds.miniProgram.appId)).toBe(1);
    expect(await fetches()).toBe(5);
  });
});

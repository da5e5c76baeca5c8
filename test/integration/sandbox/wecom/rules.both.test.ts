// WeCom's rules as the sandbox enforces them: welcome code single use within 20 s, retries of a refused event, error codes of each endpoint.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { sandboxWxRoutes } from '../../../../src/sandbox/wx/index.ts';
import { sandboxWecomRoutes, SANDBOX_WECOM_AGENTS, WELCOME_CODE_TTL_MS } from '../../../../src/sandbox/wecom/index.ts';
import { WechatApiError, getAccessToken } from '../../../../src/wechat/api/index.ts';
import { addContactWay, newContactWayState, recentWecomEvents, sendWelcomeMessage, wecomCallbacks } from '../../../../src/wechat/wecom/index.ts';
import { sandboxTenant, scan, wecomApi } from './fixtures.ts';

const clock = new ManualClock('2026-01-05T02:00:00Z');
const agent = SANDBOX_WECOM_AGENTS[0]!.userId;
let platform: Platform;
let tenantId: string;
let failuresLeft = 0;
let handled = 0;

async function errcodeOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WechatApiError) return err.errcode;
    throw err;
  }
  return undefined;
}

beforeAll(async () => {
  platform = await startPlatform({
    clock,
    sandboxModules: [sandboxWxRoutes, sandboxWecomRoutes],
    serverModules: [
      wecomCallbacks({
        onAddExternalContact: async () => {
          if (failuresLeft > 0) {
            failuresLeft--;
            throw new Error('the server is having a bad moment');
          }
          handled++;
        },
      }),
    ],
  });
  tenantId = (await sandboxTenant(platform.servers[0]!.ctx)).tenantId;
});
afterAll(async () => {
  await platform?.close();
});
/** Earlier tests' retry jobs (no-ops once delivered) are run out of the way first. */
async function drainJobs(): Promise<void> {
  clock.advance(10 * 60_000);
  while ((await platform.sandbox.ctx.jobs.runDue()) > 0);
  failuresLeft = 0;
  handled = 0;
}

async function newContactWay(): Promise<string> {
  return (await addContactWay(platform.servers[0]!.ctx, tenantId, { agentUserId: agent, state: newContactWayState() })).configId;
}

async function latestWelcomeCode(): Promise<string> {
  const [event] = await recentWecomEvents(platform.servers[0]!.ctx.db, tenantId, 1);
  return event!.welcome_code!;
}

async function delivery(): Promise<{ attempts: number; delivered_at: Date | null }> {
  return platform.db.db
    .selectFrom('sandbox_wecom_event_deliveries')
    .select(['attempts', 'delivered_at'])
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirstOrThrow();
}

describe('welcome codes', () => {
  beforeEach(drainJobs);

  it(`accept a welcome message ${WELCOME_CODE_TTL_MS / 1000} s after the event, and not one second later`, async () => {
    const server = platform.servers[0]!;
    await scan(platform.sandbox.url, await newContactWay());
    const inTime = await latestWelcomeCode();
    clock.advance(WELCOME_CODE_TTL_MS);
    await sendWelcomeMessage(server.ctx, tenantId, { welcomeCode: inTime, text: '欢迎' });

    await scan(platform.sandbox.url, await newContactWay());
    const late = await latestWelcomeCode();
    clock.advance(WELCOME_CODE_TTL_MS + 1_000);
    expect(await errcodeOf(sendWelcomeMessage(server.ctx, tenantId, { welcomeCode: late, text: '欢迎' }))).toBe(41050);
  });

  it('are single use even when two sends race', async () => {
    const server = platform.servers[0]!;
    await scan(platform.sandbox.url, await newContactWay());
    const code = await latestWelcomeCode();
    const results = await Promise.all([0, 1, 2].map(() => errcodeOf(sendWelcomeMessage(server.ctx, tenantId, { welcomeCode: code, text: '欢迎' }))));
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
    expect(results.filter((r) => r === 41051)).toHaveLength(2);
  });
});

describe('event delivery', () => {
  beforeEach(drainJobs);

  it('retries a refused event every 5 s until the server takes it, and the handler runs once', async () => {
    failuresLeft = 2;
    const res = await scan(platform.sandbox.url, await newContactWay());
    expect(res.json.delivery).toEqual({ delivered: false, status: 500 });
    expect(await platform.sandbox.ctx.jobs.runDue()).toBe(0);
    clock.advance(5_000);
    expect(await platform.sandbox.ctx.jobs.runDue()).toBe(1);
    expect(handled).toBe(0);
    clock.advance(5_000);
    expect(await platform.sandbox.ctx.jobs.runDue()).toBe(1);
    expect(handled).toBe(1);
    expect(await delivery()).toMatchObject({ attempts: 3, delivered_at: expect.any(Date) });
    clock.advance(60_000);
    expect(await platform.sandbox.ctx.jobs.runDue()).toBe(0);
  });

  it('gives up after the first attempt and three retries', async () => {
    failuresLeft = 100;
    await scan(platform.sandbox.url, await newContactWay());
    for (let i = 0; i < 5; i++) {
      clock.advance(5_000);
      await platform.sandbox.ctx.jobs.runDue();
    }
    expect(await delivery()).toMatchObject({ attempts: 4, delivered_at: null });
    expect(handled).toBe(0);
  });

  it('sends repeated copies when asked (fault switch) and the server handles the event once', async () => {
    const res = await scan(platform.sandbox.url, await newContactWay(), { repeat: 5 });
    expect(res.json.delivery.delivered).toBe(true);
    expect(handled).toBe(1);
    expect((await delivery()).attempts).toBe(5);
  });
});

describe('error answers, as WeCom gives them (HTTP 200, errcode)', () => {
  let configId: string;
  beforeAll(async () => {
    configId = await newContactWay();
  });

  const cases: [string, string, (t: string) => string | undefined, unknown, number][] = [
    ['no access_token', 'add_contact_way', () => undefined, { type: 1, scene: 2, user: [agent] }, 41001],
    ['an unknown access_token', 'add_contact_way', () => 'not-a-token', { type: 1, scene: 2, user: [agent] }, 40014],
    ['a body that is not JSON', 'add_contact_way', (t) => t, '{"type":', 40058],
    ['no type', 'add_contact_way', (t) => t, { scene: 2, user: [agent] }, 41037],
    ['an unknown type', 'add_contact_way', (t) => t, { type: 3, scene: 2, user: [agent] }, 41039],
    ['no scene', 'add_contact_way', (t) => t, { type: 1, user: [agent] }, 41038],
    ['an unknown scene', 'add_contact_way', (t) => t, { type: 1, scene: 9, user: [agent] }, 41040],
    ['two users on a type 1 way', 'add_contact_way', (t) => t, { type: 1, scene: 2, user: [agent, SANDBOX_WECOM_AGENTS[1]!.userId] }, 40058],
    ['an unknown member', 'add_contact_way', (t) => t, { type: 1, scene: 2, user: ['Nobody'] }, 60111],
    ['a memo over 30 characters', 'add_contact_way', (t) => t, { type: 1, scene: 2, user: [agent], remark: '备'.repeat(31) }, 40058],
    ['no config_id', 'del_contact_way', (t) => t, {}, 41043],
    ['an unknown config_id', 'get_contact_way', (t) => t, { config_id: '0'.repeat(32) }, 41044],
    ['no userid', 'remark', (t) => t, { external_userid: 'wmX', remark: 'x' }, 41009],
    ['no external_userid', 'remark', (t) => t, { userid: agent, remark: 'x' }, 41035],
    ['neither remark nor description', 'remark', (t) => t, { userid: agent, external_userid: 'wmX' }, 40058],
    ['a remark over 20 characters', 'remark', (t) => t, { userid: agent, external_userid: 'wmX', remark: '备'.repeat(21) }, 40058],
    ['a stranger', 'remark', (t) => t, { userid: agent, external_userid: 'wmNotAContact', remark: 'x' }, 84061],
    ['no welcome code', 'send_welcome_msg', (t) => t, { text: { content: 'hi' } }, 41049],
    ['an unknown welcome code', 'send_welcome_msg', (t) => t, { welcome_code: 'nope', text: { content: 'hi' } }, 41050],
    ['no text', 'send_welcome_msg', (t) => t, { welcome_code: 'nope' }, 44004],
    ['a text over 4000 bytes', 'send_welcome_msg', (t) => t, { welcome_code: 'nope', text: { content: '好'.repeat(1334) } }, 45002],
  ];

  it.each(cases)('answers %s on %s with its errcode', async (_what, endpoint, tokenOf, body, errcode) => {
    const token = await getAccessToken(platform.servers[0]!.ctx, { tenantId, kind: 'wecom' });
    const res = await wecomApi(platform.sandbox.url, endpoint, tokenOf(token), body);
    expect(res.httpStatus).toBe(200);
    expect(res.json.errcode).toBe(errcode);
    expect(typeof res.json.errmsg).toBe('string');
  });

  it('refuses an Official Account token on WeCom endpoints (40014)', async () => {
    const oaToken = await getAccessToken(platform.servers[0]!.ctx, { tenantId, kind: 'oa' });
    expect((await wecomApi(platform.sandbox.url, 'get_contact_way', oaToken, { config_id: configId })).json.errcode).toBe(40014);
  });

  it("refuses another tenant's contact way (41044)", async () => {
    const other = await sandboxTenant(platform.servers[0]!.ctx);
    const otherToken = await getAccessToken(platform.servers[0]!.ctx, { tenantId: other.tenantId, kind: 'wecom' });
    expect((await wecomApi(platform.sandbox.url, 'del_contact_way', otherToken, { config_id: configId })).json.errcode).toBe(41044);
  });

  it('answers a scan of an unknown contact way with 404 and a bad body with 400', async () => {
    expect((await scan(platform.sandbox.url, '0'.repeat(32))).status).toBe(404);
    expect((await scan(platform.sandbox.url, configId, { repeat: 99 })).status).toBe(400);
    expect((await scan(platform.sandbox.url, configId, { unknown: true })).status).toBe(400);
  });

  it('answers a token past its two hours with 42001 (runs last: it moves the clock)', async () => {
    const token = await getAccessToken(platform.servers[0]!.ctx, { tenantId, kind: 'wecom' });
    clock.advance(7_200_000 + 1_000);
    expect((await wecomApi(platform.sandbox.url, 'get_contact_way', token, { config_id: configId })).json.errcode).toBe(42001);
  });
});

// A simulated user chats with a tenant's OA through the sandbox and the real protocol: text and menu clicks in every mode, late answers as customer-service messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { inTx } from '../../../../src/db/tx.ts';
import { createTenant, type OaCredentials } from '../../../../src/tenants/index.ts';
import { generateSandboxCredentials } from '../../../../src/sandbox/demo/credentials.ts';
import { sandboxWxRoutes } from '../../../../src/sandbox/wx/index.ts';
import { sandboxOaRoutes, DEMO_OA_MENU } from '../../../../src/sandbox/oa/index.ts';
import { oaServer, HELP_TEXT, NOT_UNDERSTOOD_TEXT, CUSTOM_REPLY_TOPIC, type OaInbound, type OaReply } from '../../../../src/wechat/oa/index.ts';
import { defaultReply } from '../../../../src/wechat/oa/default-handler.ts';

const STARTUP_TIMEOUT_MS = 120_000;
/**
 * The server's passive-reply window: shorter than WeChat's so the slow command below misses it
 * without a long wait, and long enough that the instant answers never do, however loaded the machine.
 */
const DEADLINE_MS = 2_000;
const SLOW_WORD = '慢查询';

let p: Platform;
let release: ((r: OaReply) => void) | undefined;
const seen: OaInbound[] = [];

beforeAll(async () => {
  p = await startPlatform({
    sandboxModules: [sandboxWxRoutes, sandboxOaRoutes],
    serverModules: [
      oaServer({
        replyDeadlineMs: DEADLINE_MS,
        onMessage: async (_ctx, msg) => {
          seen.push(msg);
          if (msg.msgType === 'text' && msg.content === SLOW_WORD) return new Promise<OaReply>((r) => (release = r));
          return defaultReply(msg);
        },
      }),
    ],
  });
}, STARTUP_TIMEOUT_MS);
afterAll(async () => {
  await p?.close();
});

let seq = 0;
async function sandboxTenant(mode: OaCredentials['mode']): Promise<string> {
  const id = `chat-${mode}-${++seq}`;
  const credentials = await generateSandboxCredentials(mode);
  registerSensitive(credentials.oa!.token, credentials.oa!.encodingAESKey, credentials.oa!.appSecret);
  const ctx = p.servers[0]!.ctx;
  await inTx(ctx.db, (tx) => createTenant(tx, ctx.crypto, { id, name: `聊天 ${mode}`, kind: 'bank', preset: 'agricultural', credentials, now: ctx.clock.now() }));
  return id;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${p.sandbox.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function newUser(tenantId: string): Promise<string> {
  const r = await api('POST', '/sandbox/api/users', { tenantId });
  expect(r.status).toBe(201);
  return r.json.openid as string;
}

describe('chatting with the OA through the sandbox', () => {
  it.each(['safe', 'compatible', 'plain'] as const)('round-trips 帮助, other text and menu clicks in %s mode', async (mode) => {
    const tenantId = await sandboxTenant(mode);
    const openid = await newUser(tenantId);
    expect((await api('POST', `/sandbox/api/users/${openid}/oa-messages`, { tenantId, text: '帮助' })).json).toEqual({ reply: HELP_TEXT, attempts: 1 });
    expect((await api('POST', `/sandbox/api/users/${openid}/oa-messages`, { tenantId, text: '你好' })).json).toEqual({ reply: NOT_UNDERSTOOD_TEXT, attempts: 1 });
    expect((await api('POST', `/sandbox/api/users/${openid}/oa-messages`, { tenantId, menuKey: 'HELP' })).json.reply).toBe(HELP_TEXT);
    expect((await api('POST', `/sandbox/api/users/${openid}/oa-messages`, { tenantId, menuKey: 'BALANCE' })).json.reply).toContain('BALANCE');
    // The server saw the user's OA openid, as WeChat would send it.
    expect(seen.at(-1)).toMatchObject({ tenantId, openid, msgType: 'event', event: 'CLICK', eventKey: 'BALANCE' });
  });

  it('delivers an answer that missed the passive window as a customer-service message', async () => {
    const tenantId = await sandboxTenant('safe');
    const openid = await newUser(tenantId);
    const r = await api('POST', `/sandbox/api/users/${openid}/oa-messages`, { tenantId, text: SLOW_WORD });
    expect(r.json).toEqual({ reply: null, attempts: 1 });
    release!({ type: 'text', content: '您的余额为 100.00 元' });
    const server = p.servers[0]!.ctx;
    // The late answer is queued off the request: wait for its job, then run it as the poller would.
    for (let i = 0; i < 200; i++) {
      const job = await server.db.selectFrom('outbox').select('id').where('topic', '=', CUSTOM_REPLY_TOPIC).where('done_at', 'is', null).executeTakeFirst();
      if (job) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(await server.jobs.runDue({ topics: [CUSTOM_REPLY_TOPIC] })).toBe(1);
    const inbox = await api('GET', `/sandbox/api/custom-messages?openid=${openid}`);
    expect(inbox.json).toEqual([expect.objectContaining({ openid, msgtype: 'text', content: '您的余额为 100.00 元' })]);
  });

  it('serves the demo menu and refuses unknown users, other tenants’ users and malformed bodies', async () => {
    const tenantId = await sandboxTenant('plain');
    expect((await api('GET', `/sandbox/api/tenants/${tenantId}/oa-menu`)).json).toEqual(DEMO_OA_MENU);
    expect((await api('GET', '/sandbox/api/tenants/no-such-tenant/oa-menu')).status).toBe(404);
    const other = await sandboxTenant('plain');
    const openid = await newUser(other);
    expect((await api('POST', `/sandbox/api/users/${openid}/oa-messages`, { tenantId, text: '帮助' })).status).toBe(404);
    expect((await api('POST', '/sandbox/api/users/oNobody/oa-messages', { tenantId, text: '帮助' })).status).toBe(404);
    expect((await api('POST', `/sandbox/api/users/${openid}/oa-messages`, { tenantId: other, text: '帮助', menuKey: 'HELP' })).status).toBe(400);
    expect((await api('POST', `/sandbox/api/users/${openid}/oa-messages`, { tenantId: other, text: '' })).status).toBe(400);
  });
});

// The sandbox's qyapi.weixin.qq.com customer-contact endpoints (联系我, remark, welcome message), with WeCom's rules and error codes.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { findSandboxAgent } from './agents.ts';
import { WecomFailure } from './errors.ts';
import {
  countLiveContactWays,
  findContactWay,
  findExternalContact,
  findWelcomeCode,
  insertContactWay,
  markContactWayDeleted,
  updateRemark,
  useWelcomeCode,
  type ContactWayRecord,
} from './store.ts';

/** WeCom's limits (WECHAT-VECTORS.md §5.2–5.4). */
export const CONTACT_WAYS_PER_CORP_MAX = 500_000;
export const CONTACT_WAY_USERS_MAX = 100;
export const STATE_MAX_CHARS = 30;
export const CONTACT_WAY_REMARK_MAX_CHARS = 30;
export const REMARK_MAX_CHARS = 20;
export const DESCRIPTION_MAX_CHARS = 150;
export const WELCOME_TEXT_MAX_BYTES = 4_000;

export type Body = Record<string, unknown>;
const chars = (s: string) => [...s].length;

function optionalString(body: Body, name: string, maxChars: number): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new WecomFailure(40058, `${name} must be a string`);
  if (chars(v) > maxChars) throw new WecomFailure(40058, `${name} exceeds ${maxChars} characters`);
  return v;
}

function requiredString(body: Body, name: string, missing: ConstructorParameters<typeof WecomFailure>[0]): string {
  const v = body[name];
  if (v === undefined || v === null || v === '') throw new WecomFailure(missing);
  if (typeof v !== 'string' || v.length > 256) throw new WecomFailure(40058, `${name} is malformed`);
  return v;
}

/** The QR code URL add_contact_way answers: the sandbox's own page, reached through its public URL. */
export function qrCodeUrl(ctx: AppContext, configId: string): string {
  return `${ctx.config.publicUrl}/sandbox/wecom/qr/${configId}`;
}

function refuseUnsupported(body: Body, names: string[]): void {
  for (const n of names) {
    if (body[n] !== undefined && body[n] !== null && body[n] !== false) throw new WecomFailure(40058, `${n} is not supported by the sandbox`);
  }
}

export async function addContactWay(ctx: AppContext, tenantId: string, body: Body): Promise<Body> {
  if (body.type === undefined) throw new WecomFailure(41037);
  if (body.type !== 1 && body.type !== 2) throw new WecomFailure(41039);
  if (body.scene === undefined) throw new WecomFailure(41038);
  if (body.scene !== 1 && body.scene !== 2) throw new WecomFailure(41040);
  refuseUnsupported(body, ['party', 'is_temp', 'conclusions', 'unionid', 'is_exclusive']);
  const users = body.user;
  if (!Array.isArray(users) || users.length === 0 || users.some((u) => typeof u !== 'string')) throw new WecomFailure(40058, 'user must list member userids');
  if (body.type === 1 && users.length !== 1) throw new WecomFailure(40058, 'a type 1 contact way has exactly one user');
  if (users.length > CONTACT_WAY_USERS_MAX) throw new WecomFailure(41041);
  for (const u of users as string[]) if (!findSandboxAgent(u)) throw new WecomFailure(60111, u.slice(0, 64));
  const state = optionalString(body, 'state', STATE_MAX_CHARS);
  const remark = optionalString(body, 'remark', CONTACT_WAY_REMARK_MAX_CHARS);
  if (body.skip_verify !== undefined && typeof body.skip_verify !== 'boolean') throw new WecomFailure(40058, 'skip_verify must be a boolean');
  if ((await countLiveContactWays(ctx.db, tenantId)) >= CONTACT_WAYS_PER_CORP_MAX) throw new WecomFailure(41045);
  const configId = randomBytes(16).toString('hex');
  await insertContactWay(ctx.db, {
    config_id: configId,
    tenant_id: tenantId,
    type: body.type,
    scene: body.scene,
    user_ids: [...new Set(users as string[])],
    remark: remark ?? null,
    state: state ?? null,
    skip_verify: body.skip_verify !== false,
    created_at: ctx.clock.now(),
    deleted_at: null,
  });
  // Scene 1 is a button inside a mini-program: no QR code.
  return body.scene === 2 ? { config_id: configId, qr_code: qrCodeUrl(ctx, configId) } : { config_id: configId };
}

async function liveContactWay(ctx: AppContext, tenantId: string, body: Body): Promise<ContactWayRecord> {
  const configId = requiredString(body, 'config_id', 41043);
  const way = await findContactWay(ctx.db, configId);
  if (!way || way.tenant_id !== tenantId || way.deleted_at) throw new WecomFailure(41044);
  return way;
}

export async function getContactWay(ctx: AppContext, tenantId: string, body: Body): Promise<Body> {
  const way = await liveContactWay(ctx, tenantId, body);
  return {
    contact_way: {
      config_id: way.config_id,
      type: way.type,
      scene: way.scene,
      remark: way.remark ?? '',
      skip_verify: way.skip_verify,
      state: way.state ?? '',
      ...(way.scene === 2 ? { qr_code: qrCodeUrl(ctx, way.config_id) } : {}),
      user: way.user_ids,
      party: [],
      is_temp: false,
    },
  };
}

export async function deleteContactWay(ctx: AppContext, tenantId: string, body: Body): Promise<Body> {
  const way = await liveContactWay(ctx, tenantId, body);
  if (!(await markContactWayDeleted(ctx.db, tenantId, way.config_id, ctx.clock.now()))) throw new WecomFailure(41044);
  return {};
}

export async function remark(ctx: AppContext, tenantId: string, body: Body): Promise<Body> {
  const userId = requiredString(body, 'userid', 41009);
  const externalUserId = requiredString(body, 'external_userid', 41035);
  refuseUnsupported(body, ['remark_company', 'remark_mobiles', 'remark_pic_mediaid']);
  const remarkText = optionalString(body, 'remark', REMARK_MAX_CHARS);
  const description = optionalString(body, 'description', DESCRIPTION_MAX_CHARS);
  if (!remarkText && !description) throw new WecomFailure(40058, 'remark or description is required');
  if (!findSandboxAgent(userId)) throw new WecomFailure(60111, userId.slice(0, 64));
  const contact = await findExternalContact(ctx.db, tenantId, userId, externalUserId);
  if (!contact) throw new WecomFailure(84061);
  await updateRemark(
    ctx.db,
    externalUserId,
    { ...(remarkText !== undefined ? { remark: remarkText } : {}), ...(description !== undefined ? { description } : {}) },
    ctx.clock.now(),
  );
  return {};
}

/** Single use, within 20 s of the event; the first caller wins, a later one gets 41051 as on WeCom. */
export async function sendWelcomeMessage(ctx: AppContext, tenantId: string, body: Body): Promise<Body> {
  const code = requiredString(body, 'welcome_code', 41049);
  refuseUnsupported(body, ['attachments']);
  const text = body.text as Body | undefined;
  const content = text && typeof text === 'object' ? text.content : undefined;
  if (typeof content !== 'string' || content.length === 0) throw new WecomFailure(44004);
  if (Buffer.byteLength(content) > WELCOME_TEXT_MAX_BYTES) throw new WecomFailure(45002);
  const now = ctx.clock.now();
  if (await useWelcomeCode(ctx.db, tenantId, code, content, now)) return {};
  const row = await findWelcomeCode(ctx.db, tenantId, code);
  if (row?.used_at) throw new WecomFailure(41051);
  throw new WecomFailure(41050, row ? 'the welcome code expired (20 s)' : undefined);
}

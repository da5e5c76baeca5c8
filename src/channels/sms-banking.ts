// SMS banking: the provider-neutral inbound webhook (HMAC-signed JSON), the commands YE / YE#1234 / MX / MX#1234 / BZ, and replies through the SMS port.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import type { App } from '../app/server.ts';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { enqueueJob, type JobOptions } from '../app/jobs.ts';
import { inTx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { findCardsByReservedPhone } from '../core/index.ts';
import { identityPorts, listBoundCards, type BoundCard } from '../identity/index.ts';
import { checkRateLimit } from '../risk/index.ts';
import { maskPhone } from '../shared/mask.ts';
import { normaliseChinaMobile } from '../shared/sensitive.ts';
import { getTenant, TENANT_ID_PATTERN } from '../tenants/index.ts';
import { balanceText, refusalText, SMS_STATEMENT_COUNT, statementText } from './commands.ts';

export const SMS_COMMAND_TOPIC = 'channels.sms-command';
export const SMS_REPLY_TOPIC = 'channels.sms-reply';
/** Header names of the webhook's signature: HMAC-SHA256(SMS_PROVIDER_TOKEN, `${timestamp}.${rawBody}`) as hex. */
export const SMS_SIGNATURE_HEADER = 'x-sms-signature';
export const SMS_TIMESTAMP_HEADER = 'x-sms-timestamp';
/** A signed request is accepted this long either side of now (replays beyond it are refused). */
export const SMS_SIGNATURE_WINDOW_MS = 5 * 60_000;
/** Commands one phone may send per hour (SMS pumping and guessing protection); the daily query quota applies on top. */
export const SMS_COMMANDS_PER_HOUR = 20;
const SMS_MAX_BODY_BYTES = 8 * 1024;
/** Replies are short texts: a few tries, then give up (the user can send the command again). */
export const SMS_REPLY_JOB: Partial<JobOptions> = { maxAttempts: 4, retryDelayMs: (n) => Math.min(2_000 * 2 ** (n - 1), 60_000) };
/** A command that failed (the database, not the core: the core's outage is an answer) is tried again a few times. */
const SMS_COMMAND_JOB: Partial<JobOptions> = { maxAttempts: 3, retryDelayMs: (n) => 2_000 * n };

export const SMS_HELP_TEXT = '短信银行指令：YE 查询余额；YE#1234 查询尾号1234的卡；MX 最近3笔交易（MX#1234 指定卡）；BZ 帮助。';
export const SMS_NOT_REGISTERED_TEXT = '您的手机号未关联已绑定的银行卡。请先在微信公众号中绑卡。';

export type SmsCommand = { kind: 'balance' | 'statement'; last4?: string } | { kind: 'help' };

/** `YE`, `ye#1234`, `ＹＥ＃１２３４`, `MX 1234`, `BZ`; anything else answers the help text. */
export function parseSmsText(text: string): SmsCommand {
  const t = text.normalize('NFKC').trim().toUpperCase().replace(/\s+/g, ' ');
  const m = /^(YE|MX)(?:\s*#?\s*(\d{4}))?$/.exec(t);
  if (!m) return { kind: 'help' };
  const kind = m[1] === 'YE' ? 'balance' : 'statement';
  return m[2] ? { kind, last4: m[2] } : { kind };
}

/** The signature a provider sends (and the sandbox's SMS provider computes). */
export function smsSignature(token: string, timestamp: string, rawBody: Buffer | string): string {
  return createHmac('sha256', token).update(`${timestamp}.`).update(rawBody).digest('hex');
}

function assertSigned(ctx: AppContext, headers: Record<string, unknown>, raw: Buffer): void {
  const token = ctx.config.sms.providerToken;
  // Without a shared secret no inbound text can be trusted: the webhook is closed.
  if (!token) throw new AppError('unauthenticated', 'SMS banking is not configured (SMS_PROVIDER_TOKEN)');
  const ts = headers[SMS_TIMESTAMP_HEADER];
  const sig = headers[SMS_SIGNATURE_HEADER];
  if (typeof ts !== 'string' || !/^\d{1,12}$/.test(ts) || typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig)) throw new AppError('unauthenticated', 'missing or malformed signature');
  if (Math.abs(Number(ts) * 1000 - ctx.clock.now().getTime()) > SMS_SIGNATURE_WINDOW_MS) throw new AppError('unauthenticated', 'the signature timestamp is outside the window');
  const want = Buffer.from(smsSignature(token, ts, raw), 'hex');
  if (!timingSafeEqual(want, Buffer.from(sig, 'hex'))) throw new AppError('unauthenticated', 'the signature does not match');
}

const InboundSms = Type.Object(
  {
    messageId: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', description: "the provider's id of the message; a repeat with the same id is answered once" }),
    from: Type.String({ minLength: 5, maxLength: 20, description: 'the sender, a mainland mobile number (+86 optional)' }),
    text: Type.String({ minLength: 1, maxLength: 160 }),
    receivedAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

interface SmsCommandPayload {
  tenantId: string;
  messageId: string;
  /** The sender's phone and the text, encrypted: outbox rows are plain JSON. */
  phoneEnc: string;
  textEnc: string;
}

/**
 * `POST /sms/inbound/{tenantId}`: verifies the signature, refuses malformed bodies, and queues the
 * command once per messageId (202). The command runs in the background job (so the provider gets
 * its answer at once and a failed reply is retried).
 */
export function smsInboundRoute(app: App, ctx: AppContext): void {
  app.register(async (scope) => {
    // The signature covers the raw bytes: parse after checking.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: SMS_MAX_BODY_BYTES }, (_req, body, done) => done(null, body));
    scope.post(
      '/sms/inbound/:tenantId',
      {
        bodyLimit: SMS_MAX_BODY_BYTES,
        schema: {
          tags: ['channels'],
          summary: 'SMS banking: an inbound text from the SMS provider (JSON, HMAC-signed); the reply goes out by SMS',
          params: Type.Object({ tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, minLength: 2, maxLength: 40 }) }),
          response: { 202: Type.Object({ accepted: Type.Boolean() }) },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.params as { tenantId: string };
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        assertSigned(ctx, req.headers as Record<string, unknown>, raw);
        let body: { messageId: string; from: string; text: string };
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw AppError.validation([{ field: 'body', message: 'is not JSON' }]);
        }
        const errors = [...checkInbound(body)];
        if (errors.length > 0) throw AppError.validation(errors);
        const phone = normaliseChinaMobile(body.from);
        if (!phone) throw AppError.validation([{ field: 'from', message: 'is not a mainland mobile number' }]);
        if (!(await getTenant(ctx.db, tenantId))) throw new AppError('not_found', 'no such institution');
        const payload: SmsCommandPayload = { tenantId, messageId: body.messageId, phoneEnc: ctx.crypto.encrypt(phone), textEnc: ctx.crypto.encrypt(body.text) };
        await enqueueJob(ctx.db, { topic: SMS_COMMAND_TOPIC, payload, dedupeKey: `${SMS_COMMAND_TOPIC}:${tenantId}:${body.messageId}` });
        return reply.code(202).send({ accepted: true });
      },
    );
  });
}

function* checkInbound(b: unknown): Generator<{ field: string; message: string }> {
  if (b === null || typeof b !== 'object' || Array.isArray(b)) {
    yield { field: 'body', message: 'must be an object' };
    return;
  }
  const o = b as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['messageId', 'from', 'text', 'receivedAt'].includes(k)) yield { field: k, message: 'is not a known field' };
  if (typeof o.messageId !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(o.messageId)) yield { field: 'messageId', message: 'must be 1–64 letters, digits or _.:-' };
  if (typeof o.from !== 'string' || o.from.length > 20) yield { field: 'from', message: 'must be a phone number' };
  if (typeof o.text !== 'string' || o.text.length === 0 || o.text.length > 160) yield { field: 'text', message: 'must be 1–160 characters' };
  if (o.receivedAt !== undefined && (typeof o.receivedAt !== 'string' || Number.isNaN(Date.parse(o.receivedAt)))) yield { field: 'receivedAt', message: 'must be a date-time' };
}

/**
 * The card "registered to that phone": a card whose reserved phone (预留手机号) at the core is the
 * sender's and that a WeChat user bound here; by last 4 when given, else that user's default.
 */
async function cardOfPhone(ctx: AppContext, tenantId: string, phone: string, last4: string | undefined): Promise<{ card: BoundCard; all: BoundCard[] } | { card: undefined; all: BoundCard[] }> {
  const cores = await findCardsByReservedPhone(ctx.db, ctx.crypto, tenantId, phone);
  if (cores.length === 0) return { card: undefined, all: [] };
  const rows = await ctx.db
    .selectFrom('identity_cards')
    .select(['user_id'])
    .where('tenant_id', '=', tenantId)
    .where('core_card_id', 'in', cores.map((c) => c.id))
    .where('unbound_at', 'is', null)
    .orderBy('bound_at', 'desc')
    .execute();
  const coreIds = new Set(cores.map((c) => c.id));
  const all: BoundCard[] = [];
  for (const userId of [...new Set(rows.map((r) => r.user_id))]) {
    for (const c of await listBoundCards(ctx.db, tenantId, userId)) if (coreIds.has(c.coreCardId)) all.push(c);
  }
  if (last4 !== undefined) return { card: all.find((c) => c.last4 === last4), all };
  return { card: all.find((c) => c.isDefault) ?? all[0], all };
}

async function answer(ctx: AppContext, tenantId: string, phone: string, cmd: SmsCommand): Promise<{ text: string; userId?: string; outcome: 'ok' | 'refused' }> {
  if (cmd.kind === 'help') return { text: SMS_HELP_TEXT, outcome: 'ok' };
  const { card, all } = await cardOfPhone(ctx, tenantId, phone, cmd.last4);
  if (all.length === 0) return { text: SMS_NOT_REGISTERED_TEXT, outcome: 'refused' };
  if (!card) return { text: `没有找到尾号${cmd.last4}的卡。可查询：${all.map((c) => `尾号${c.last4}`).join('、')}。`, userId: all[0]!.userId, outcome: 'refused' };
  const who = { tenantId, userId: card.userId };
  try {
    const text = cmd.kind === 'balance' ? await balanceText(ctx, who, card, 'sms') : await statementText(ctx, who, card, SMS_STATEMENT_COUNT, 'sms');
    return { text: text.replace(/\n/g, '；'), userId: card.userId, outcome: 'ok' };
  } catch (err) {
    return { text: refusalText(err, card, {}), userId: card.userId, outcome: 'refused' };
  }
}

interface SmsReplyPayload {
  tenantId: string;
  phoneEnc: string;
  textEnc: string;
}

/**
 * The command job: runs the command (the reads count and are audited like the API's), records
 * `sms.command` and queues the reply in one transaction; the reply job alone retries sending, so
 * a flaky gateway never makes a query count twice.
 */
export async function runSmsCommand(ctx: AppContext, p: SmsCommandPayload): Promise<void> {
  const phone = ctx.crypto.decrypt(p.phoneEnc);
  const text = ctx.crypto.decrypt(p.textEnc);
  const now = ctx.clock.now();
  const cmd = parseSmsText(text);
  let result: { text: string; userId?: string; outcome: 'ok' | 'refused' };
  try {
    await checkRateLimit(ctx, { bucket: 'sms-banking', key: `${p.tenantId}:${ctx.crypto.blindIndex('channels.sms', phone)}`, limit: SMS_COMMANDS_PER_HOUR, windowMs: 3_600_000, now });
    result = await answer(ctx, p.tenantId, phone, cmd);
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== 'rate_limited') throw err;
    // Over the hourly limit: no answer at all (answering would let anyone make us text a number).
    await recordAudit(ctx.db, { tenantId: p.tenantId, actor: { kind: 'system', id: 'sms-banking' }, action: 'sms.command', outcome: 'refused', detail: { command: cmd.kind, phone: maskPhone(phone), reason: 'rate_limited' }, at: now });
    return;
  }
  const tenant = await getTenant(ctx.db, p.tenantId);
  const reply = `【${tenant?.name ?? '银行'}】${result.text}`.slice(0, 500);
  await inTx(ctx.db, async (tx) => {
    await recordAudit(tx, {
      tenantId: p.tenantId,
      actor: result.userId ? { kind: 'cardholder', id: result.userId } : { kind: 'system', id: 'sms-banking' },
      action: 'sms.command',
      outcome: result.outcome,
      detail: { command: cmd.kind, phone: maskPhone(phone), messageId: p.messageId },
      at: now,
    });
    const payload: SmsReplyPayload = { tenantId: p.tenantId, phoneEnc: p.phoneEnc, textEnc: ctx.crypto.encrypt(reply) };
    await enqueueJob(tx, { topic: SMS_REPLY_TOPIC, payload, dedupeKey: `${SMS_REPLY_TOPIC}:${p.tenantId}:${p.messageId}` });
  });
}

async function sendSmsReply(ctx: AppContext, p: SmsReplyPayload): Promise<void> {
  await identityPorts(ctx).sms.send({ phone: ctx.crypto.decrypt(p.phoneEnc), text: ctx.crypto.decrypt(p.textEnc) });
}

export function registerSmsJobs(ctx: AppContext): void {
  ctx.jobs.register(SMS_COMMAND_TOPIC, (c, p: SmsCommandPayload) => runSmsCommand(c, p), SMS_COMMAND_JOB);
  ctx.jobs.register(SMS_REPLY_TOPIC, (c, p: SmsReplyPayload) => sendSmsReply(c, p), SMS_REPLY_JOB);
}

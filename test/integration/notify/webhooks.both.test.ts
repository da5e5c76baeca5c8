// Partner webhooks against a real local HTTP receiver: encrypted and signed once per event, retried on the schedule, dead-lettered, replayed by an operator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { inTx } from '../../../src/db/tx.ts';
import { AppError } from '../../../src/app/errors.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import {
  EventError,
  WEBHOOK_DELIVER_TOPIC,
  WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_RETRY_SCHEDULE_MS,
  addWebhookEndpoint,
  disableWebhookEndpoint,
  enqueueTransactionEvent,
  listWebhookDeliveries,
  listWebhookEndpoints,
  partnerWebhooks,
  pruneWebhooks,
  WEBHOOK_RETENTION_MS,
  replayDeadWebhookDeliveries,
  replayWebhookDelivery,
  type TransactionEvent,
  type WebhookSecrets,
} from '../../../src/notify/index.ts';
import { citizenTenant, startWebhookReceiver, type WebhookReceiver } from './fixtures.ts';
import { randomToken } from '../../../src/shared/ids.ts';

let t: TestApp;
const clock = new ManualClock('2026-03-02T02:00:00Z');
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  t = await startTestApp({ clock, modules: [partnerWebhooks()] });
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await t?.close();
});

/** Runs due jobs until none is left (fan-out, then deliveries), at the clock's time. */
async function drain(): Promise<void> {
  for (let i = 0; i < 20; i++) if ((await t.ctx.jobs.runDue({ now: clock.now() })) === 0) return;
}

async function partner(tenantId: string, o: { eventTypes?: TransactionEvent['type'][] | ['*']; accountIds?: string[] } = {}) {
  let secrets: WebhookSecrets | undefined;
  const receiver = await startWebhookReceiver(() => secrets!, () => Math.floor(clock.now().getTime() / 1000));
  receivers.push(receiver);
  const r = await addWebhookEndpoint(t.ctx, { tenantId, url: receiver.url, description: 'partner', eventTypes: o.eventTypes ?? ['*'], accountIds: o.accountIds });
  secrets = r.secrets;
  registerSensitive(secrets.aesKey, secrets.hmacKey);
  return { receiver, endpoint: r.endpoint, secrets };
}

const credited = (tenantId: string, orderId = `top_${randomToken()}`): TransactionEvent => ({
  tenantId,
  type: 'topup.credited',
  sourceKey: `topup:${orderId}:credited`,
  occurredAt: clock.now(),
  data: { orderId, maskedCardNumber: '623091*********1234', amount: 10_000n, fee: 0n, currency: 'CNY', method: 'wechat_balance', creditedAt: clock.now() },
});

describe('partner webhooks', () => {
  it('delivers an event enqueued in a committed transaction, AES-256-GCM encrypted and HMAC signed, and never one whose transaction rolled back', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const { receiver } = await partner(tenantId);
    const ev = credited(tenantId);
    await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, ev));
    await inTx(t.ctx.db, async (tx) => {
      await enqueueTransactionEvent(tx, credited(tenantId, 'top_rolled_back'));
      throw new Error('rollback');
    }).catch(() => undefined);
    await drain();

    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    expect(got.signatureValid).toBe(true);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-wecard-timestamp']).toBe(String(clock.now().getTime() / 1000));
    expect(got.headers['x-wecard-event-type']).toBe('topup.credited');
    expect(got.event).toEqual({
      id: got.headers['x-wecard-event-id'],
      type: 'topup.credited',
      createdAt: clock.now().toISOString(),
      data: { ...ev.data, amount: 10_000, fee: 0, creditedAt: clock.now().toISOString() },
    });
    // The body on the wire is the envelope only: nothing of the event is readable without the key.
    expect(Object.keys(JSON.parse(got.body)).sort()).toEqual(['alg', 'ciphertext', 'iv', 'tag', 'v']);
    expect(got.body).not.toContain('623091');
    const [d] = (await listWebhookDeliveries(t.ctx.db, tenantId)).items;
    expect(d).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200, eventType: 'topup.credited', deliveredAt: clock.now() });
  });

  it('announces an event once however often its producer enqueues it, and only to endpoints that want its type and account', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const all = await partner(tenantId);
    const refundsOnly = await partner(tenantId, { eventTypes: ['topup.refunded'] });
    const oneAccount = await partner(tenantId, { eventTypes: ['ledger.posted'], accountIds: ['acc_partner_1'] });
    const disabled = await partner(tenantId);
    await disableWebhookEndpoint(t.ctx, tenantId, disabled.endpoint.id);

    const ev = credited(tenantId);
    for (let i = 0; i < 3; i++) await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, ev));
    const posting = (accountId: string): TransactionEvent => ({
      tenantId,
      type: 'ledger.posted',
      sourceKey: `ledger:tr_${accountId}`,
      accountId,
      occurredAt: clock.now(),
      data: { transferId: `tr_${accountId}`, accountId, amount: 500, currency: 'CNY', direction: 'credit' },
    });
    await inTx(t.ctx.db, async (tx) => {
      await enqueueTransactionEvent(tx, posting('acc_partner_1'));
      await enqueueTransactionEvent(tx, posting('acc_someone_else'));
    });
    await drain();

    expect(all.receiver.received.map((r) => r.event!.type).sort()).toEqual(['ledger.posted', 'ledger.posted', 'topup.credited']);
    expect(refundsOnly.receiver.received).toHaveLength(0);
    expect(oneAccount.receiver.received.map((r) => r.event!.data.accountId)).toEqual(['acc_partner_1']);
    expect(disabled.receiver.received).toHaveLength(0);
    const events = await t.ctx.db.selectFrom('notify_events').select('id').where('tenant_id', '=', tenantId).execute();
    expect(events).toHaveLength(3);
    const listed = await listWebhookEndpoints(t.ctx.db, tenantId);
    expect(listed.filter((e) => e.disabledAt !== null).map((e) => e.id)).toEqual([disabled.endpoint.id]);
    expect(listed).toHaveLength(4);
  });

  it('retries a failing partner on the named backoff schedule until it answers 2xx', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const { receiver } = await partner(tenantId);
    receiver.answers.push(500, 503);
    await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, credited(tenantId)));
    await drain();
    expect(receiver.received).toHaveLength(1);
    let [d] = (await listWebhookDeliveries(t.ctx.db, tenantId)).items;
    expect(d).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 500, lastError: 'HTTP 500: not now' });

    // Not before the first retry delay.
    clock.advance(WEBHOOK_RETRY_SCHEDULE_MS[0] - 1_000);
    await drain();
    expect(receiver.received).toHaveLength(1);
    clock.advance(1_000);
    await drain();
    expect(receiver.received).toHaveLength(2);
    clock.advance(WEBHOOK_RETRY_SCHEDULE_MS[1]);
    await drain();
    expect(receiver.received).toHaveLength(3);
    [d] = (await listWebhookDeliveries(t.ctx.db, tenantId)).items;
    expect(d).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 200, lastError: null });
    // Every attempt is sealed afresh (new IV, new timestamp) and names the same event.
    const ids = new Set(receiver.received.map((r) => r.headers['x-wecard-event-id']));
    expect(ids.size).toBe(1);
    expect(new Set(receiver.received.map((r) => JSON.parse(r.body).iv)).size).toBe(3);
  });

  it('keeps a dead letter after the last attempt, tries no more, and delivers it when an operator replays it', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const { receiver } = await partner(tenantId);
    receiver.answers.push(...Array.from({ length: WEBHOOK_MAX_ATTEMPTS }, () => 503));
    await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, credited(tenantId)));
    await drain();
    for (const delay of WEBHOOK_RETRY_SCHEDULE_MS) {
      clock.advance(delay);
      await drain();
    }
    expect(receiver.received).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
    let [d] = (await listWebhookDeliveries(t.ctx.db, tenantId, { status: 'dead' })).items;
    expect(d).toMatchObject({ status: 'dead', attempts: WEBHOOK_MAX_ATTEMPTS, lastStatusCode: 503, deadAt: clock.now() });
    const job = await t.ctx.db.selectFrom('outbox').selectAll().where('topic', '=', WEBHOOK_DELIVER_TOPIC).where('dedupe_key', '=', `${WEBHOOK_DELIVER_TOPIC}:${d!.id}:0`).executeTakeFirstOrThrow();
    expect(job.dead_at).not.toBeNull();
    expect(t.logs.some((l) => l.includes('webhook delivery failed for the last time') && l.includes(d!.id))).toBe(true);

    clock.advance(7 * 86_400_000);
    await drain();
    expect(receiver.received).toHaveLength(WEBHOOK_MAX_ATTEMPTS);

    await replayWebhookDelivery(t.ctx, tenantId, d!.id);
    await expect(replayWebhookDelivery(t.ctx, tenantId, d!.id)).rejects.toMatchObject({ code: 'conflict' });
    await drain();
    expect(receiver.received).toHaveLength(WEBHOOK_MAX_ATTEMPTS + 1);
    [d] = (await listWebhookDeliveries(t.ctx.db, tenantId)).items;
    expect(d).toMatchObject({ status: 'delivered', replays: 1, attempts: WEBHOOK_MAX_ATTEMPTS + 1, deadAt: null });
  });

  it('counts a refused connection and a redirect as failed attempts, and replays a tenant’s dead letters in one call', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const { receiver, endpoint } = await partner(tenantId);
    receiver.answers.push(302);
    await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, credited(tenantId)));
    await drain();
    let [d] = (await listWebhookDeliveries(t.ctx.db, tenantId)).items;
    expect(d).toMatchObject({ status: 'pending', lastStatusCode: 302 });

    // A partner whose server is gone: nothing listens on its port.
    const gone = await startWebhookReceiver(() => ({ aesKey: '', hmacKey: '' }), () => 0);
    await gone.close();
    const { endpoint: goneEndpoint } = await addWebhookEndpoint(t.ctx, { tenantId, url: gone.url, eventTypes: ['topup.refunded'] });
    await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, { ...credited(tenantId), type: 'topup.refunded', sourceKey: 'topup:x:refunded' }));
    await drain();
    const [refused] = (await listWebhookDeliveries(t.ctx.db, tenantId, { endpointId: goneEndpoint.id })).items;
    expect(refused).toMatchObject({ status: 'pending', lastStatusCode: null });
    expect(refused!.lastError).toMatch(/ECONNREFUSED/);

    for (const delay of WEBHOOK_RETRY_SCHEDULE_MS) {
      receiver.answers.push(500);
      clock.advance(delay);
      await drain();
    }
    expect((await listWebhookDeliveries(t.ctx.db, tenantId, { status: 'dead' })).items).toHaveLength(2);
    await disableWebhookEndpoint(t.ctx, tenantId, goneEndpoint.id);
    // Only the live endpoint's dead letter is replayed; the disabled endpoint's stays dead.
    expect(await replayDeadWebhookDeliveries(t.ctx, tenantId)).toBe(1);
    await drain();
    [d] = (await listWebhookDeliveries(t.ctx.db, tenantId, { endpointId: endpoint.id })).items;
    expect(d!.status).toBe('delivered');
  });

  it('ends pending deliveries of a disabled endpoint as dead letters without calling it', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const { receiver, endpoint } = await partner(tenantId);
    await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, credited(tenantId)));
    await t.ctx.jobs.runDue({ now: clock.now(), topics: ['notify.webhook-fanout'] });
    await disableWebhookEndpoint(t.ctx, tenantId, endpoint.id);
    await drain();
    expect(receiver.received).toHaveLength(0);
    const [d] = (await listWebhookDeliveries(t.ctx.db, tenantId)).items;
    expect(d).toMatchObject({ status: 'dead', lastError: 'endpoint disabled' });
  });

  it('pages through deliveries newest first with a cursor', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    await partner(tenantId);
    for (let i = 0; i < 5; i++) {
      await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, credited(tenantId)));
      await drain();
      clock.advance(1_000);
    }
    const first = await listWebhookDeliveries(t.ctx.db, tenantId, { limit: 2 });
    const second = await listWebhookDeliveries(t.ctx.db, tenantId, { limit: 2, cursor: first.nextCursor! });
    const third = await listWebhookDeliveries(t.ctx.db, tenantId, { limit: 2, cursor: second.nextCursor! });
    const all = [...first.items, ...second.items, ...third.items];
    expect(all).toHaveLength(5);
    expect(third.nextCursor).toBeNull();
    expect(all.map((d) => d.createdAt.getTime())).toEqual([...all.map((d) => d.createdAt.getTime())].sort((a, b) => b - a));
  });

  it('prunes delivered deliveries and their events after the retention, and keeps dead letters', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const { receiver } = await partner(tenantId);
    await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, credited(tenantId)));
    await drain();
    receiver.answers.push(...Array.from({ length: WEBHOOK_MAX_ATTEMPTS }, () => 500));
    await inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, credited(tenantId)));
    await drain();
    for (const delay of WEBHOOK_RETRY_SCHEDULE_MS) {
      clock.advance(delay);
      await drain();
    }
    const before = (await listWebhookDeliveries(t.ctx.db, tenantId)).items;
    expect(before.map((d) => d.status).sort()).toEqual(['dead', 'delivered']);
    clock.advance(WEBHOOK_RETENTION_MS);
    expect(await pruneWebhooks(t.ctx.db, clock.now())).toBeGreaterThanOrEqual(2);
    const after = (await listWebhookDeliveries(t.ctx.db, tenantId)).items;
    expect(after.map((d) => d.status)).toEqual(['dead']);
    expect(await t.ctx.db.selectFrom('notify_events').select('id').where('tenant_id', '=', tenantId).execute()).toHaveLength(1);
  });

  it('refuses endpoints with bad URLs or event types, plain http outside the sandbox, and events carrying clear personal data', async () => {
    const { tenantId } = await citizenTenant(t.ctx, clock.now(), 0);
    const bad = async (input: Partial<Parameters<typeof addWebhookEndpoint>[1]>, ctx = t.ctx) => {
      const err = await addWebhookEndpoint(ctx, { tenantId, url: 'https://partner.example/hook', eventTypes: ['*'], ...input }).catch((e) => e);
      expect(err).toBeInstanceOf(AppError);
      return (err as AppError).extra.errors as { field: string }[];
    };
    expect((await bad({ url: 'ftp://partner.example/x' }))[0]!.field).toBe('url');
    expect((await bad({ url: 'https://user:pw@partner.example/x' }))[0]!.field).toBe('url');
    expect((await bad({ eventTypes: [] }))[0]!.field).toBe('eventTypes');
    expect((await bad({ eventTypes: ['topup.stolen' as never] }))[0]!.field).toBe('eventTypes');
    const production = { ...t.ctx, config: { ...t.ctx.config, sandbox: false } };
    expect((await bad({ url: 'http://partner.example/hook' }, production))[0]!.field).toBe('url');
    await expect(addWebhookEndpoint(t.ctx, { tenantId: 'no-such-tenant', url: 'https://p.example/h', eventTypes: ['*'] })).rejects.toMatchObject({ code: 'not_found' });

    const leaky = { ...credited(tenantId), data: { orderId: 'x', cardNumber: '6230910000000000001' } };
    await expect(inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, leaky))).rejects.toBeInstanceOf(EventError);
    await expect(inTx(t.ctx.db, (tx) => enqueueTransactionEvent(tx, { ...credited(tenantId), type: 'topup.unknown' as never }))).rejects.toBeInstanceOf(EventError);
  });
});

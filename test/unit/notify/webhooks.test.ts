// Partner webhook rules without a network: the envelope and signature as WEBHOOKS.md states them, event checks, endpoint matching, the retry schedule.
import { describe, expect, it } from 'vitest';
import { createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { openWebhookBody, sealWebhookBody, signWebhook, verifyWebhookSignature, WEBHOOK_TIMESTAMP_TOLERANCE_S } from '../../../src/notify/webhooks/envelope.ts';
import { checkEvent, EventError, jsonSafe, type TransactionEvent } from '../../../src/notify/webhooks/types.ts';
import { endpointWants } from '../../../src/notify/webhooks/endpoints.ts';
import { WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_SCHEDULE_MS, webhookRetryDelayMs } from '../../../src/notify/webhooks/deliver.ts';

const aes = randomBytes(32);
const hmac = randomBytes(32);
const event = { id: 'evt_1', type: 'topup.credited', createdAt: '2026-03-02T02:00:00.000Z', data: { orderId: 'tu_1', amount: 10000 } };

describe('webhook envelope', () => {
  it('is AES-256-GCM over the event JSON that plain node:crypto opens, with a fresh IV each time', () => {
    const body = sealWebhookBody(aes, event);
    const env = JSON.parse(body);
    expect(env).toMatchObject({ v: 1, alg: 'AES-256-GCM' });
    const d = createDecipheriv('aes-256-gcm', aes, Buffer.from(env.iv, 'base64'));
    d.setAuthTag(Buffer.from(env.tag, 'base64'));
    expect(JSON.parse(Buffer.concat([d.update(Buffer.from(env.ciphertext, 'base64')), d.final()]).toString())).toEqual(event);
    expect(JSON.parse(sealWebhookBody(aes, event)).iv).not.toBe(env.iv);
    expect(openWebhookBody(aes, body)).toEqual(event);
    expect(() => openWebhookBody(randomBytes(32), body)).toThrow();
  });

  it('signs `timestamp.body` with HMAC-SHA256 as `v1=<hex>`, and the check refuses other bodies, keys and stale timestamps', () => {
    const body = sealWebhookBody(aes, event);
    const sig = signWebhook(hmac, '1772416800', body);
    expect(sig).toBe(`v1=${createHmac('sha256', hmac).update(`1772416800.${body}`).digest('hex')}`);
    const ok = { timestamp: '1772416800', body, signature: sig, nowS: 1772416800 + WEBHOOK_TIMESTAMP_TOLERANCE_S };
    expect(verifyWebhookSignature(hmac, ok)).toBe(true);
    expect(verifyWebhookSignature(hmac, { ...ok, nowS: ok.nowS + 1 })).toBe(false);
    expect(verifyWebhookSignature(hmac, { ...ok, body: `${body} ` })).toBe(false);
    expect(verifyWebhookSignature(hmac, { ...ok, timestamp: '1772416801' })).toBe(false);
    expect(verifyWebhookSignature(randomBytes(32), ok)).toBe(false);
    expect(verifyWebhookSignature(hmac, { ...ok, signature: sig.slice(0, -1) })).toBe(false);
  });
});

describe('transaction events', () => {
  const base: TransactionEvent = { tenantId: 't1', type: 'topup.credited', sourceKey: 'topup:tu_1:credited', occurredAt: new Date('2026-03-02T02:00:00Z'), data: {} };

  it('turns bigint amounts and dates into JSON, and refuses other values', () => {
    expect(jsonSafe({ a: 1n, b: 2n ** 60n, c: new Date('2026-03-02T02:00:00Z'), d: [1, 'x', null], e: undefined })).toEqual({
      a: 1,
      b: '1152921504606846976',
      c: '2026-03-02T02:00:00.000Z',
      d: [1, 'x', null],
    });
    expect(() => jsonSafe({ f: () => 1 })).toThrow(EventError);
    expect(() => jsonSafe({ n: Number.NaN })).toThrow(EventError);
    expect(() => jsonSafe(new Map())).toThrow(EventError);
  });

  it('refuses clear personal data anywhere in the data, unknown types, bad source keys and oversized data', () => {
    expect(() => checkEvent({ ...base, data: { card: { cardNumber: '6230910000000000006' } } })).toThrow(/never clear personal data/);
    expect(() => checkEvent({ ...base, data: { phone: '13800000000' } })).toThrow(EventError);
    expect(() => checkEvent({ ...base, type: 'topup.nope' as never })).toThrow(EventError);
    expect(() => checkEvent({ ...base, sourceKey: 'has space' })).toThrow(EventError);
    expect(() => checkEvent({ ...base, data: { blob: 'x'.repeat(17_000) } })).toThrow(/larger than/);
    expect(checkEvent({ ...base, data: { maskedCardNumber: '623091*********0006', amount: 5n } })).toEqual({ maskedCardNumber: '623091*********0006', amount: 5 });
  });
});

describe('endpoint matching', () => {
  const e = { eventTypes: ['topup.credited' as const], accountIds: null, disabledAt: null };
  it('matches by type, wildcard and account filter, and never a disabled endpoint', () => {
    expect(endpointWants(e, 'topup.credited', null)).toBe(true);
    expect(endpointWants(e, 'topup.refunded', null)).toBe(false);
    expect(endpointWants({ ...e, eventTypes: ['*'] }, 'ledger.posted', 'acc_1')).toBe(true);
    expect(endpointWants({ ...e, eventTypes: ['*'], accountIds: ['acc_1'] }, 'ledger.posted', 'acc_2')).toBe(false);
    expect(endpointWants({ ...e, eventTypes: ['*'], accountIds: ['acc_1'] }, 'topup.credited', null)).toBe(false);
    expect(endpointWants({ ...e, disabledAt: new Date() }, 'topup.credited', null)).toBe(false);
  });
});

describe('retry schedule', () => {
  it('backs off monotonically over about two days and names the attempt count', () => {
    expect(WEBHOOK_MAX_ATTEMPTS).toBe(WEBHOOK_RETRY_SCHEDULE_MS.length + 1);
    const delays = Array.from({ length: WEBHOOK_MAX_ATTEMPTS - 1 }, (_, i) => webhookRetryDelayMs(i + 1));
    expect(delays).toEqual([...WEBHOOK_RETRY_SCHEDULE_MS]);
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
    const totalH = delays.reduce((s, d) => s + d, 0) / 3_600_000;
    expect(totalH).toBeGreaterThan(40);
    expect(totalH).toBeLessThan(50);
  });
});

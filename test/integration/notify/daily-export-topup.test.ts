// The daily export over the real top-up module: a cardholder tops up through the sandbox cashier, and the next day's signed file lists the paid order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, verify } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { CITIZEN, startTopupWorld, type TopupWorld } from '../topup/world.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { dailyExport, enableDailyExport, generateDailyExport, shanghaiDay, topupExportSource } from '../../../src/notify/index.ts';

describe('daily export of real top-ups', () => {
  let w: TopupWorld;
  const clock = new ManualClock('2026-03-18T02:30:00Z');
  beforeAll(async () => {
    w = await startTopupWorld({ clock, extraServerModules: [dailyExport()] });
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it('lists the paid order with its amount, masked card and WeChat transaction, signed with the tenant key', async () => {
    const h = w.holder(CITIZEN.electronic);
    const s = await w.signIn();
    await w.bind(s, h);
    const created = await w.topup(s, { citizenCardNumber: h.cards[0]!.number, amount: 10_000, method: 'wechat_balance' });
    expect(created.status, JSON.stringify(created.body)).toBeLessThan(300);
    expect((await w.pay(w.prepayOf(created.body.payParams))).status).toBeLessThan(300);
    await w.runSandboxJobs();
    await w.runJobs();
    const unpaid = await w.topup(s, { citizenCardNumber: h.cards[0]!.number, amount: 5_000, method: 'wechat_balance' });
    expect(unpaid.status).toBeLessThan(300);

    const ctx = w.server.ctx;
    const day = shanghaiDay(clock.now());
    const key = await enableDailyExport(ctx, 'hz-citizen-card');
    clock.advance(86_400_000);
    const file = await generateDailyExport(ctx, topupExportSource, 'hz-citizen-card', day);
    expect(verify('sha256', Buffer.from(file.csv), createPublicKey(key.publicKeyPem), Buffer.from(file.signature, 'base64'))).toBe(true);
    const [header, ...rows] = parse(file.csv) as string[][];
    const col = (name: string) => header!.indexOf(name);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row[col('order_id')]).toBe(created.body.orderId);
    expect(row[col('amount_fen')]).toBe('10000');
    expect(row[col('masked_card_number')]).toBe(`${h.cards[0]!.number.slice(0, 6)}*********${h.cards[0]!.number.slice(-4)}`);
    expect(row[col('transaction_id')]).not.toBe('');
    expect(file.csv).not.toContain(h.cards[0]!.number);
    expect(file.totalAmountFen).toBe(10_000n);
  });
});

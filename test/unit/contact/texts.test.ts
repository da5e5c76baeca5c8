// What customer service is told of a bill: WeCom remark and description within their limits, the welcome summary, masked agent and watermark.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amountText, descriptionFor, maskAgentId, maskedAgent, maskOpaqueId, remarkFor, safeTitle, summaryLines, watermark, welcomeText, type BillSnapshot } from '../../../src/contact/texts.ts';
import { normaliseServiceId } from '../../../src/contact/emergency.ts';
import { check, propertySeed } from '../shared/seed.ts';

const seed = propertySeed('contact-texts');

const snap = (o: Partial<BillSnapshot> = {}): BillSnapshot => ({
  kind: 'transaction',
  orderNumber: 'tr_01hq3k9x2abcdefghjkmnpqrst',
  amountFen: '12345',
  currency: 'CNY',
  direction: 'debit',
  occurredAt: '2026-03-18T06:30:00.000Z',
  title: '超市消费',
  status: 'posted',
  maskedCard: '622848*********8903',
  cardLast4: '8903',
  ...o,
});

describe('WeCom remark and description', () => {
  it('puts the amount and the end of the order number in the remark, the whole number in the description', () => {
    expect(remarkFor(snap())).toBe('…hjkmnpqrst -¥123.45');
    expect([...remarkFor(snap())].length).toBeLessThanOrEqual(20);
    expect(remarkFor(snap({ orderNumber: 'TU2026', direction: 'credit' }))).toBe('TU2026 ¥123.45');
    expect(descriptionFor(snap())).toBe('订单号 tr_01hq3k9x2abcdefghjkmnpqrst · 金额 -¥123.45 · 交易 2026-03-18 14:30 · 尾号8903');
    expect(descriptionFor(snap({ kind: 'topup', cardLast4: null, direction: 'credit' }))).toBe('订单号 tr_01hq3k9x2abcdefghjkmnpqrst · 金额 ¥123.45 · 充值 2026-03-18 14:30');
  });

  it('stays within WeCom limits (remark ≤ 20, description ≤ 150 characters) and never carries more than the last 4 card digits', () => {
    check(
      seed,
      fc.property(
        fc.string({ minLength: 1, maxLength: 120 }).filter((s) => !s.includes('\n')),
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.constantFrom('debit', 'credit'),
        fc.constantFrom('CNY', 'USD'),
        (orderNumber, fen, direction, currency) => {
          const s = snap({ orderNumber, amountFen: fen.toString(), direction: direction as 'debit' | 'credit', currency });
          expect([...remarkFor(s)].length).toBeLessThanOrEqual(20);
          expect([...descriptionFor(s)].length).toBeLessThanOrEqual(150);
          expect(welcomeText(s, '客服专员')).not.toContain('622848');
        },
      ),
    );
  });

  it('shows foreign currencies by code and money out with a minus', () => {
    expect(amountText({ amountFen: '123456', direction: 'credit', currency: 'CNY' })).toBe('¥1,234.56');
    expect(amountText({ amountFen: '500', direction: 'debit', currency: 'USD' })).toBe('-5.00 USD');
  });
});

describe('welcome message and summary', () => {
  it('greets with the title and carries the order number, amount, time, title and card tail', () => {
    const text = welcomeText(snap(), '客服专员');
    expect(text.split('\n')).toEqual([
      '您好，我是客服专员，已收到您关于以下交易账单的咨询：',
      '订单号：tr_01hq3k9x2abcdefghjkmnpqrst',
      '金额：-¥123.45',
      '时间：2026-03-18 14:30',
      '摘要：超市消费',
      '卡号：尾号8903',
      '我们不会向您索要密码或短信验证码。',
    ]);
    expect(summaryLines(snap({ cardLast4: null, title: '' }))).toEqual(['订单号：tr_01hq3k9x2abcdefghjkmnpqrst', '金额：-¥123.45', '时间：2026-03-18 14:30', '摘要：交易']);
  });

  it('scrubs card and phone numbers out of a bill title and bounds its length', () => {
    expect(safeTitle('转账 6228480012345678903 给 13800138000')).toBe('转账 622848*********8903 给 138****8000');
    expect([...safeTitle('长'.repeat(100))].length).toBe(40);
  });
});

describe('masking', () => {
  it('masks the agent (name surname only, userid ends) and the user id in the watermark', () => {
    expect(maskedAgent({ userId: 'ZhangMin', displayName: '张敏', title: '客服专员' })).toEqual({ name: '张*', id: 'Zh****in', title: '客服专员' });
    expect(maskAgentId('Li')).toBe('L*');
    expect(maskOpaqueId('usr_01hq3k9x2abcdefghjkmnpqr')).toBe('usr_****npqr');
    expect(watermark('usr_01hq3k9x2abcdefghjkmnpqr', new Date('2026-03-18T06:30:05Z'))).toBe('usr_****npqr 2026-03-18 14:30:05 仅限客服核对');
  });

  it('reads emergency service ids however they are typed, and nothing else', () => {
    expect(normaliseServiceId('cs-7k3m 9qxd')).toBe('CS-7K3M-9QXD');
    expect(normaliseServiceId('CS7K3M9QXD')).toBe('CS-7K3M-9QXD');
    expect(normaliseServiceId('CS-7K3M-9QX0')).toBeUndefined();
    expect(normaliseServiceId('CS-7K3M-9QXDD')).toBeUndefined();
    expect(normaliseServiceId('x'.repeat(40))).toBeUndefined();
  });
});

// The H5 app's own logic against the server's: its SHA-256 and proof-of-work solver, its phone and name checks, the spoken amounts, the top-up page's amounts and fees.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256 as pageSha256 } from '../../web/h5/src/captcha/sha256.ts';
import { solvePow as pageSolvePow } from '../../web/h5/src/captcha/pow.ts';
import { checkCard, checkId, checkName, normalisePhone } from '../../web/h5/src/validation.ts';
import { solvePow as serverSolvePow } from '../../src/risk/captcha.ts';
import { powSolves } from '../../src/risk/policy.ts';
import { normaliseChinaMobile, PersonName } from '../../src/shared/sensitive.ts';
import { validateCardNumber } from '../../src/shared/card-number.ts';
import { fenToSpokenChinese } from '../../src/shared/money.ts';
import { spokenAmount } from '../../src/web/speech.ts';
import { formatMoney, parseYuan } from '../../web/h5/src/format.ts';
import { estimateFeeFen, prepayIdOf, sandboxCashierUrl } from '../../web/h5/src/topup.ts';
import { topupFeeFen } from '../../src/tenants/index.ts';
import { check, propertySeed } from '../unit/shared/seed.ts';

const seed = propertySeed('test/e2e/web-logic.test.ts');

describe("the page's proof-of-work", () => {
  it('hashes exactly as node:crypto does, for any message up to three blocks', () => {
    check(
      seed,
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(Buffer.from(pageSha256(bytes)).toString('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
      }),
      300,
    );
  });

  it("finds the server reference solver's nonce, which the server accepts", () => {
    for (const prefix of ['wecard:abcdefghijklmnop:', 'wecard:0123456789ABCDEF:', 'wecard:测试:']) {
      const nonce = pageSolvePow(prefix, 12);
      expect(nonce).toBe(serverSolvePow(prefix, 12));
      expect(powSolves(prefix, nonce!, 12)).toBe(true);
    }
  });

  it('gives up after its bound instead of searching forever', () => {
    expect(pageSolvePow('wecard:x:', 64, undefined, 1_000)).toBeUndefined();
  });
});

describe("the binding form's checks", () => {
  it('accept and refuse phones exactly as the server does', () => {
    const samples = ['13800000000', '+86 138-0000-0000', '0086 13800000000', '8613800000000', '12800000000', '1380000000', '138000000000', '', ' 13912345678 ', '(139)12345678', '１３８００００００００'];
    for (const s of samples) expect(normalisePhone(s), s).toBe(normaliseChinaMobile(s));
    check(
      seed,
      fc.property(fc.stringMatching(/^[+0-9 ()-]{0,20}$/), (s) => {
        expect(normalisePhone(s)).toBe(normaliseChinaMobile(s));
      }),
    );
  });

  it('accept and refuse names exactly as the server does', () => {
    const samples = ['张伟明', ' 王  建国 ', 'Anna-Lena O’Brien', '阿卜杜·热合曼', '', 'x'.repeat(65), '张3', 'Li. Wei', '<script>'];
    for (const s of samples) {
      let server = true;
      try {
        PersonName.parse(s);
      } catch {
        server = false;
      }
      expect(checkName(s).ok, JSON.stringify(s)).toBe(server);
    }
  });

  it('use the server’s own card and ID validators, UnionPay exception included', () => {
    expect(checkCard('6228480012345678903')).toEqual({ ok: true, value: '6228480012345678903' });
    expect(checkCard('6228480012345678904')).toMatchObject({ ok: true, hint: 'unionpayCheck' });
    expect(validateCardNumber('6228480012345678904').ok).toBe(true);
    expect(checkCard('4111111111111112')).toEqual({ ok: false, key: 'card.luhn' });
    expect(checkId('resident_id', '11010519491231002X')).toEqual({ ok: true, value: '11010519491231002X' });
    expect(checkId('resident_id', '310101200001011234')).toEqual({ ok: false, key: 'id.check_character' });
    expect(checkId('hk_macao_travel_permit', 'H12345678')).toMatchObject({ ok: true });
  });
});

describe('spoken amounts for the voice broadcast', () => {
  it('read yuan amounts with the shared spoken formatter', () => {
    expect(spokenAmount(123456n, 'CNY')).toBe('一千二百三十四元五角六分');
    expect(spokenAmount(1500n, 'CNY')).toBe(fenToSpokenChinese(1500n));
    expect(spokenAmount(-105n, 'CNY')).toBe('负一元零五分');
  });

  it('read other currencies as a decimal and the currency’s name', () => {
    expect(spokenAmount(123456n, 'USD')).toBe('一千二百三十四点五六美元');
    expect(spokenAmount(100n, 'HKD')).toBe('一港元');
    expect(spokenAmount(1050n, 'EUR')).toBe('十点五欧元');
    expect(spokenAmount(5000n, 'JPY')).toBe('五千日元');
    expect(spokenAmount(0n, 'USD')).toBe('零美元');
    expect(spokenAmount(250n, 'XAU')).toBe('二点五XAU');
  });

  it('refuse what JSON cannot carry exactly', () => {
    expect(() => spokenAmount(2n ** 60n, 'CNY')).toThrow(RangeError);
    expect(() => spokenAmount(1n, 'cny')).toThrow(RangeError);
  });
});

describe("the top-up page's amounts", () => {
  it('reads typed yuan as exact fen, and refuses anything that is not an amount with at most two decimals', () => {
    expect(parseYuan('100')).toBe(10_000);
    expect(parseYuan(' 12.5 ')).toBe(1_250);
    expect(parseYuan('0.07')).toBe(7);
    expect(parseYuan('1,000.05')).toBe(100_005);
    expect(parseYuan('¥20')).toBe(2_000);
    for (const bad of ['', '.5', '1.234', '-1', '1e3', 'abc', '12.', '1 0']) expect(parseYuan(bad), bad).toBeNull();
    check(
      seed,
      fc.property(fc.integer({ min: 0, max: 10 ** 12 }), (fen) => {
        // What the page shows, typed back, is the same amount.
        expect(parseYuan(formatMoney(fen, 'CNY'))).toBe(fen);
      }),
      300,
    );
  });

  it('estimates the fee exactly as the server charges it, for any rate, bounds and amount', () => {
    const rule = fc.oneof(
      fc.constant({ kind: 'free' as const }),
      fc.record({
        kind: fc.constant('rate' as const),
        basisPoints: fc.integer({ min: 0, max: 10_000 }),
        minFen: fc.integer({ min: 0, max: 500 }),
        maxFen: fc.option(fc.integer({ min: 500, max: 100_000 }), { nil: null }),
      }),
    );
    check(
      seed,
      fc.property(rule, fc.integer({ min: 1, max: 100_000_000 }), (fee, amount) => {
        expect(BigInt(estimateFeeFen(fee, amount))).toBe(topupFeeFen(fee, BigInt(amount)));
      }),
      300,
    );
  });

  it('finds the prepay id in the payment package and sends the cashier only back into the app', () => {
    expect(prepayIdOf('prepay_id=wx201410272009395522657a690389285100')).toBe('wx201410272009395522657a690389285100');
    expect(prepayIdOf('prepay_id=wx1&x=1')).toBeNull();
    expect(prepayIdOf('wx1')).toBeNull();
    expect(sandboxCashierUrl('wx1', '/h5/topups/tu_1')).toBe('/sandbox/cashier?prepayId=wx1&return=%2Fh5%2Ftopups%2Ftu_1');
  });
});

// The built-in core's records: encryption at rest, blind-index look-ups, payment passwords, statuses, element checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { inTx } from '../../../src/db/tx.ts';
import { FieldCrypto } from '../../../src/shared/crypto.ts';
import { AppError } from '../../../src/app/errors.ts';
import { CardNumber } from '../../../src/shared/sensitive.ts';
import { maskIdNumber, maskName } from '../../../src/shared/mask.ts';
import { createTenant } from '../../../src/tenants/index.ts';
import { getAccount } from '../../../src/ledger/index.ts';
import {
  createCustomer,
  findCardByNumber,
  findCardsByReservedPhone,
  findCustomerByDocument,
  getCard,
  listCardsOfCustomer,
  openCard,
  recordCardActivity,
  revealCardNumber,
  revealCustomer,
  setCardStatus,
  setCrossBorderLock,
  setPaymentPassword,
  verifyCardElements,
  verifyPaymentPassword,
  verifyPaymentPasswordLast4,
  type CoreCard,
  type CoreCustomer,
} from '../../../src/core/index.ts';

const crypto = new FieldCrypto({ keys: { v1: Buffer.alloc(16, 3) }, current: 'v1', blindIndexKey: Buffer.alloc(32, 5) });
const keys = { crypto, passwordPepper: 'core-test-pepper-0123' };
const NOW = new Date('2026-01-05T02:00:00Z');

// DOMAIN.md's made-up test numbers.
const NAME = '王小明';
const ID_NUMBER = '110101199003077758';
const PHONE = '13800009901';
const RESERVED_PHONE = '13800009902';
const DEBIT = '6228480012345678903';
const CREDIT = '6222021234567890128';
const OTHER = '6217009876543210981';
const PASSWORD = '246810';
registerSensitive(NAME, ID_NUMBER, PHONE, RESERVED_PHONE, DEBIT, CREDIT, OTHER, PASSWORD);

let db: TestDb;
let customer: CoreCustomer;
let debit: CoreCard;
let credit: CoreCard;

async function expectAppError(p: Promise<unknown>, code: string): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe(code);
    return err as AppError;
  }
  throw new Error(`expected ${code}`);
}

beforeAll(async () => {
  db = await openTestDb();
  await inTx(db.db, async (tx) => {
    await createTenant(tx, crypto, { id: 'bank-a', name: 'A 银行', kind: 'bank', preset: 'agricultural', now: NOW });
    await createTenant(tx, crypto, { id: 'bank-b', name: 'B 银行', kind: 'bank', preset: 'daily-10', now: NOW });
  });
  ({ customer, debit, credit } = await inTx(db.db, async (tx) => {
    const customer = await createCustomer(tx, crypto, { tenantId: 'bank-a', name: NAME, idType: 'resident_id', idNumber: ID_NUMBER, phone: PHONE, now: NOW });
    const debit = await openCard(tx, keys, {
      tenantId: 'bank-a', customerId: customer.id, number: DEBIT, kind: 'debit', currency: 'CNY', reservedPhone: RESERVED_PHONE, paymentPassword: PASSWORD, now: NOW,
    });
    const credit = await openCard(tx, keys, {
      tenantId: 'bank-a', customerId: customer.id, number: CardNumber.parse(CREDIT), kind: 'credit', currency: 'CNY', reservedPhone: RESERVED_PHONE, paymentPassword: PASSWORD, now: NOW,
    });
    return { customer, debit, credit };
  }));
});
afterAll(async () => {
  await db?.close();
});

describe('customers', () => {
  it('answers masked forms only', () => {
    expect(customer).toMatchObject({ tenantId: 'bank-a', maskedName: maskName(NAME), idType: 'resident_id', maskedIdNumber: maskIdNumber(ID_NUMBER), maskedPhone: '138****9901' });
    expect(customer.maskedName).not.toBe(NAME);
    const text = JSON.stringify(customer);
    for (const s of [NAME, ID_NUMBER, PHONE]) expect(text).not.toContain(s);
  });

  it('stores name, ID number and phone encrypted: the raw row holds no clear value', async () => {
    const raw = await sql<Record<string, unknown>>`select * from core_customers where id = ${customer.id}`.execute(db.db);
    const text = JSON.stringify(raw.rows[0]);
    for (const s of [NAME, ID_NUMBER, PHONE]) expect(text).not.toContain(s);
    for (const col of ['name_enc', 'id_number_enc', 'phone_enc']) expect(String(raw.rows[0]![col])).toMatch(/^sm4:v1:/);
  });

  it('finds a customer by document through the blind index, and reveals the clear elements on request', async () => {
    expect((await findCustomerByDocument(db.db, crypto, 'bank-a', 'resident_id', ID_NUMBER))?.id).toBe(customer.id);
    expect(await findCustomerByDocument(db.db, crypto, 'bank-b', 'resident_id', ID_NUMBER)).toBeUndefined();
    expect(await revealCustomer(db.db, crypto, customer.id)).toEqual({ name: NAME, idType: 'resident_id', idNumber: ID_NUMBER, phone: PHONE });
  });

  it('refuses a second customer with the same document at one institution', async () => {
    await expectAppError(
      inTx(db.db, (tx) => createCustomer(tx, crypto, { tenantId: 'bank-a', name: '王小明', idType: 'resident_id', idNumber: ID_NUMBER, phone: PHONE, now: NOW })),
      'conflict',
    );
  });

  it('refuses an invalid ID number without repeating it', async () => {
    const bad = '310101200001011234'; // DOMAIN.md: check character should be X
    registerSensitive(bad);
    const err = await expectAppError(
      inTx(db.db, (tx) => createCustomer(tx, crypto, { tenantId: 'bank-a', name: '李四', idType: 'resident_id', idNumber: bad, phone: PHONE, now: NOW })),
      'validation_failed',
    );
    expect(JSON.stringify({ m: err.message, e: err.extra })).not.toContain(bad);
  });
});

describe('cards', () => {
  it('answers the masked number, last 4 and masked reserved phone, never the clear ones', () => {
    expect(debit).toMatchObject({ maskedNumber: '622848*********8903', last4: '8903', kind: 'debit', currency: 'CNY', status: 'active', maskedReservedPhone: '138****9902', hasPaymentPassword: true, crossBorderLock: true });
    const text = JSON.stringify([debit, credit]);
    for (const s of [DEBIT, CREDIT, RESERVED_PHONE, PASSWORD]) expect(text).not.toContain(s);
  });

  it('stores the number and reserved phone encrypted and the password only as salted hashes', async () => {
    const raw = await sql<Record<string, unknown>>`select * from core_cards where customer_id = ${customer.id}`.execute(db.db);
    expect(raw.rows).toHaveLength(2);
    const text = JSON.stringify(raw.rows);
    for (const s of [DEBIT, CREDIT, RESERVED_PHONE, PASSWORD, PASSWORD.slice(-4)]) expect(text).not.toContain(s);
    for (const r of raw.rows) {
      expect(String(r.number_enc)).toMatch(/^sm4:v1:/);
      expect(String(r.payment_password_hash)).toMatch(/^scrypt\$16384\$8\$1\$/);
    }
    // Same password on two cards, different salts: different hashes.
    expect(raw.rows[0]!.payment_password_hash).not.toBe(raw.rows[1]!.payment_password_hash);
  });

  it('opens a ledger account per card: no overdraft for debit, a credit line for credit', async () => {
    const a = await getAccount(db.db, debit.ledgerAccountId);
    expect(a).toMatchObject({ tenantId: 'bank-a', currency: 'CNY', kind: 'customer', noOverdraft: true });
    expect((await getAccount(db.db, credit.ledgerAccountId))?.noOverdraft).toBe(false);
  });

  it('finds a card by number via the blind index, however the number is typed, within the tenant only', async () => {
    expect((await findCardByNumber(db.db, crypto, 'bank-a', DEBIT))?.id).toBe(debit.id);
    expect((await findCardByNumber(db.db, crypto, 'bank-a', '6228 4800 1234 5678 903'))?.id).toBe(debit.id);
    expect((await findCardByNumber(db.db, crypto, 'bank-a', CardNumber.parse(CREDIT)))?.id).toBe(credit.id);
    expect(await findCardByNumber(db.db, crypto, 'bank-b', DEBIT)).toBeUndefined();
    expect(await findCardByNumber(db.db, crypto, 'bank-a', OTHER)).toBeUndefined();
  });

  it('finds cards by reserved phone and lists a customer’s cards', async () => {
    expect((await findCardsByReservedPhone(db.db, crypto, 'bank-a', '+86 138-0000-9902')).map((c) => c.id).sort()).toEqual([debit.id, credit.id].sort());
    expect((await listCardsOfCustomer(db.db, customer.id)).map((c) => c.id).sort()).toEqual([debit.id, credit.id].sort());
  });

  it('reveals the clear number only through revealCardNumber', async () => {
    expect(await revealCardNumber(db.db, crypto, debit.id)).toBe(DEBIT);
  });

  it('refuses a number already issued at the institution, but the same number may exist at another', async () => {
    await expectAppError(
      inTx(db.db, (tx) => openCard(tx, keys, { tenantId: 'bank-a', customerId: customer.id, number: DEBIT, kind: 'debit', currency: 'CNY', reservedPhone: PHONE, now: NOW })),
      'conflict',
    );
    const other = await inTx(db.db, async (tx) => {
      const c = await createCustomer(tx, crypto, { tenantId: 'bank-b', name: NAME, idType: 'resident_id', idNumber: ID_NUMBER, phone: PHONE, now: NOW });
      return openCard(tx, keys, { tenantId: 'bank-b', customerId: c.id, number: DEBIT, kind: 'debit', currency: 'CNY', reservedPhone: PHONE, now: NOW });
    });
    expect(other.hasPaymentPassword).toBe(false);
    expect((await findCardByNumber(db.db, crypto, 'bank-b', DEBIT))?.id).toBe(other.id);
  });

  it('refuses a card for a customer of another institution', async () => {
    await expectAppError(
      inTx(db.db, (tx) => openCard(tx, keys, { tenantId: 'bank-b', customerId: customer.id, number: OTHER, kind: 'debit', currency: 'CNY', reservedPhone: PHONE, now: NOW })),
      'not_found',
    );
  });

  it('refuses a weak or malformed payment password', async () => {
    for (const pw of ['123456', '888888', '12345', 'abcdef']) {
      await expectAppError(
        inTx(db.db, (tx) => openCard(tx, keys, { tenantId: 'bank-a', customerId: customer.id, number: OTHER, kind: 'debit', currency: 'CNY', reservedPhone: PHONE, paymentPassword: pw, now: NOW })),
        'validation_failed',
      );
    }
  });
});

describe('payment password', () => {
  it('verifies the right password and refuses a wrong or malformed one', async () => {
    expect(await verifyPaymentPassword(db.db, keys.passwordPepper, debit.id, PASSWORD)).toBe(true);
    expect(await verifyPaymentPassword(db.db, keys.passwordPepper, debit.id, '246811')).toBe(false);
    expect(await verifyPaymentPassword(db.db, keys.passwordPepper, debit.id, '')).toBe(false);
    expect(await verifyPaymentPassword(db.db, keys.passwordPepper, debit.id, `${PASSWORD}0`)).toBe(false);
  });

  it('depends on the pepper: the right password with another pepper fails', async () => {
    expect(await verifyPaymentPassword(db.db, 'another-pepper-0123456', debit.id, PASSWORD)).toBe(false);
  });

  it('checks the last 4 digits for the large-balance step-up', async () => {
    expect(await verifyPaymentPasswordLast4(db.db, keys.passwordPepper, debit.id, PASSWORD.slice(-4))).toBe(true);
    expect(await verifyPaymentPasswordLast4(db.db, keys.passwordPepper, debit.id, '0000')).toBe(false);
  });

  it('is replaced by setPaymentPassword', async () => {
    await inTx(db.db, (tx) => setPaymentPassword(tx, keys.passwordPepper, credit.id, '975310', NOW));
    expect(await verifyPaymentPassword(db.db, keys.passwordPepper, credit.id, '975310')).toBe(true);
    expect(await verifyPaymentPassword(db.db, keys.passwordPepper, credit.id, PASSWORD)).toBe(false);
  });

  it('answers not_found for an unknown card', async () => {
    await expectAppError(verifyPaymentPassword(db.db, keys.passwordPepper, 'card_nope', PASSWORD), 'not_found');
  });
});

describe('status and state', () => {
  it('moves a card between statuses and records when', async () => {
    const later = new Date(NOW.getTime() + 3_600_000);
    const lost = await inTx(db.db, (tx) => setCardStatus(tx, debit.id, 'lost', later));
    expect(lost).toMatchObject({ status: 'lost' });
    expect(lost.statusChangedAt.getTime()).toBe(later.getTime());
    expect((await getCard(db.db, debit.id))?.status).toBe('lost');
    expect((await inTx(db.db, (tx) => setCardStatus(tx, debit.id, 'active', later))).status).toBe('active');
  });

  it('treats cancellation as final', async () => {
    const c = await inTx(db.db, (tx) =>
      openCard(tx, keys, { tenantId: 'bank-a', customerId: customer.id, number: OTHER, kind: 'debit', currency: 'CNY', reservedPhone: PHONE, now: NOW }),
    );
    await inTx(db.db, (tx) => setCardStatus(tx, c.id, 'cancelled', NOW));
    await expectAppError(inTx(db.db, (tx) => setCardStatus(tx, c.id, 'active', NOW)), 'conflict');
    expect((await inTx(db.db, (tx) => setCardStatus(tx, c.id, 'cancelled', NOW))).status).toBe('cancelled');
  });

  it('answers not_found for the status of an unknown card', async () => {
    await expectAppError(inTx(db.db, (tx) => setCardStatus(tx, 'card_nope', 'lost', NOW)), 'not_found');
  });

  it('switches the cross-border lock', async () => {
    expect((await inTx(db.db, (tx) => setCrossBorderLock(tx, debit.id, false, NOW))).crossBorderLock).toBe(false);
    expect((await getCard(db.db, debit.id))?.crossBorderLock).toBe(false);
  });

  it('records activity forward only', async () => {
    const t1 = new Date(NOW.getTime() + 86_400_000);
    expect((await inTx(db.db, (tx) => recordCardActivity(tx, debit.id, t1, t1))).lastActivityAt.getTime()).toBe(t1.getTime());
    expect((await inTx(db.db, (tx) => recordCardActivity(tx, debit.id, NOW, t1))).lastActivityAt.getTime()).toBe(t1.getTime());
  });
});

describe('four-element verification', () => {
  const good = { cardNumber: DEBIT, holderName: NAME, idType: 'resident_id' as const, idNumber: ID_NUMBER, phone: RESERVED_PHONE };

  it('matches when card, name, document and reserved phone all agree (however they are typed)', async () => {
    const r = await verifyCardElements(db.db, crypto, 'bank-a', { ...good, cardNumber: '6228-4800-1234-5678-903', phone: '+86 13800009902', holderName: ' 王小明 ' });
    expect(r.match).toBe(true);
    if (r.match) expect(r.card.id).toBe(debit.id);
  });

  it('does not match when any one element differs, and does not say which', async () => {
    for (const wrong of [
      { holderName: '王小红' },
      { idNumber: '11010519491231002X' },
      { idType: 'passport' as const },
      { phone: PHONE },
      { cardNumber: OTHER },
    ]) {
      expect(await verifyCardElements(db.db, crypto, 'bank-a', { ...good, ...wrong })).toEqual({ match: false });
    }
    expect(await verifyCardElements(db.db, crypto, 'bank-b', good)).toEqual({ match: false });
  });
});

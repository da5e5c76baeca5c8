// The built-in core banking's SQL: customers and cards, C2 fields encrypted at rest with blind-index look-ups.
import { sql, type Selectable } from 'kysely';
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import type { FieldCrypto } from '../shared/crypto.ts';
import { newId } from '../shared/ids.ts';
import { maskCardNumber, maskIdNumber, maskName, maskPhone } from '../shared/mask.ts';
import { CardNumber, IdNumber, Phone, PersonName, normaliseChinaMobile } from '../shared/sensitive.ts';
import { normaliseCardNumber } from '../shared/card-number.ts';
import { normaliseIdNumber, type IdType } from '../shared/id-document.ts';
import { createAccount } from '../ledger/index.ts';
import { assertPaymentPassword, hashSecret } from './password.ts';
import type { CoreCardRow, CoreCustomerRow } from './core.table.ts';

export type CardKind = CoreCardRow['kind'];
export type CardStatus = CoreCardRow['status'];
export const CARD_STATUSES: readonly CardStatus[] = ['active', 'lost', 'frozen', 'cancelled', 'dormant'];

/** A clear value as a string or a sensitive wrapper (shared/sensitive.ts). */
export type Clear = string | { reveal(): string };
const clear = (v: Clear): string => (typeof v === 'string' ? v : v.reveal());

export interface CitizenCardInfo {
  /** Electronic cards are credited at once; physical ones need an on-card load (圈存). */
  form: 'electronic' | 'physical';
  /** 实名: PBOC caps a registered prepaid card at ¥5,000, an anonymous one at ¥1,000. */
  realName: boolean;
  /** 交通联合 (T-Union) card, accepted across cities. */
  tUnion: boolean;
}

/** A customer as other modules see it: masked forms only. */
export interface CoreCustomer {
  id: string;
  tenantId: string;
  maskedName: string;
  idType: IdType;
  maskedIdNumber: string;
  maskedPhone: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A card as other modules see it: masked number and phone, no password material. */
export interface CoreCard {
  id: string;
  tenantId: string;
  customerId: string;
  maskedNumber: string;
  last4: string;
  kind: CardKind;
  currency: string;
  status: CardStatus;
  ledgerAccountId: string;
  hasPaymentPassword: boolean;
  maskedReservedPhone: string;
  citizen: CitizenCardInfo | null;
  openedAt: Date;
  lastActivityAt: Date;
  crossBorderLock: boolean;
  statusChangedAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

// Blind-index domains: equal strings of different kinds never share an index value.
const BIDX = { name: 'core.name', idNumber: 'core.id_number', phone: 'core.phone', card: 'core.card_number' } as const;

/** Names compare after Unicode normalisation and whitespace folding, as the bank's counter would. */
function normaliseName(name: string): string {
  return name.normalize('NFC').trim().replace(/\s+/g, ' ');
}

function normalisePhone(phone: string): string {
  return normaliseChinaMobile(phone) ?? phone.replace(/[\s-]/g, '');
}

/** Blind indexes for look-ups by a clear value (callers never see the HMAC key). */
export const blindIndexOf = {
  name: (crypto: FieldCrypto, v: Clear) => crypto.blindIndex(BIDX.name, normaliseName(clear(v))),
  idNumber: (crypto: FieldCrypto, v: Clear) => crypto.blindIndex(BIDX.idNumber, normaliseIdNumber(clear(v))),
  phone: (crypto: FieldCrypto, v: Clear) => crypto.blindIndex(BIDX.phone, normalisePhone(clear(v))),
  card: (crypto: FieldCrypto, v: Clear) => crypto.blindIndex(BIDX.card, normaliseCardNumber(clear(v))),
};

type CustomerRow = Selectable<CoreCustomerRow>;
type CardRow = Selectable<CoreCardRow>;

function toCustomer(r: CustomerRow): CoreCustomer {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    maskedName: r.name_masked,
    idType: r.id_type as IdType,
    maskedIdNumber: r.id_number_masked,
    maskedPhone: r.phone_masked,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Row → public card (module-internal: card-state.ts shares it). */
export function toCard(r: CardRow): CoreCard {
  const citizen = typeof r.citizen === 'string' ? JSON.parse(r.citizen) : r.citizen;
  return {
    id: r.id,
    tenantId: r.tenant_id,
    customerId: r.customer_id,
    maskedNumber: r.number_masked,
    last4: r.last4,
    kind: r.kind,
    currency: r.currency,
    status: r.status,
    ledgerAccountId: r.ledger_account_id,
    hasPaymentPassword: r.payment_password_hash !== null,
    maskedReservedPhone: r.reserved_phone_masked,
    citizen: (citizen as CitizenCardInfo | null) ?? null,
    openedAt: r.opened_at,
    lastActivityAt: r.last_activity_at,
    crossBorderLock: r.cross_border_lock,
    statusChangedAt: r.status_changed_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

// ---- customers -----------------------------------------------------------------------------

export interface NewCustomer {
  tenantId: string;
  name: Clear;
  idType: IdType;
  idNumber: Clear;
  phone: Clear;
  now: Date;
}

/** Records a customer; the document must be valid for its type (`validation_failed` otherwise). */
export async function createCustomer(tx: Tx, crypto: FieldCrypto, input: NewCustomer): Promise<CoreCustomer> {
  const name = PersonName.parse(normaliseName(clear(input.name)), 'name');
  const id = IdNumber.parse(clear(input.idNumber), { type: input.idType, today: input.now });
  const phone = Phone.parse(clear(input.phone), 'phone');
  const idBidx = blindIndexOf.idNumber(crypto, id);
  const taken = await tx
    .selectFrom('core_customers')
    .select('id')
    .where('tenant_id', '=', input.tenantId)
    .where('id_type', '=', input.idType)
    .where('id_number_bidx', '=', idBidx)
    .executeTakeFirst();
  if (taken) throw new AppError('conflict', `a customer with this document already exists (${taken.id})`);
  const row = await tx
    .insertInto('core_customers')
    .values({
      id: newId('cus'),
      tenant_id: input.tenantId,
      name_enc: crypto.encrypt(name.reveal()),
      name_bidx: blindIndexOf.name(crypto, name),
      name_masked: maskName(name.reveal()),
      id_type: id.type,
      id_number_enc: crypto.encrypt(id.reveal()),
      id_number_bidx: idBidx,
      id_number_masked: maskIdNumber(id.reveal()),
      phone_enc: crypto.encrypt(phone.reveal()),
      phone_bidx: blindIndexOf.phone(crypto, phone),
      phone_masked: maskPhone(phone.reveal()),
      created_at: input.now,
      updated_at: input.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toCustomer(row);
}

export async function getCustomer(db: Db | Tx, id: string): Promise<CoreCustomer | undefined> {
  const r = await db.selectFrom('core_customers').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toCustomer(r) : undefined;
}

export async function findCustomerByDocument(
  db: Db | Tx,
  crypto: FieldCrypto,
  tenantId: string,
  idType: IdType,
  idNumber: Clear,
): Promise<CoreCustomer | undefined> {
  const r = await db
    .selectFrom('core_customers')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id_type', '=', idType)
    .where('id_number_bidx', '=', blindIndexOf.idNumber(crypto, idNumber))
    .executeTakeFirst();
  return r ? toCustomer(r) : undefined;
}

export async function listCustomers(db: Db | Tx, tenantId: string): Promise<CoreCustomer[]> {
  const rows = await db.selectFrom('core_customers').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toCustomer);
}

/** The clear identity elements of a customer: for the bank's own verification and the sandbox demo sheet only. */
export async function revealCustomer(
  db: Db | Tx,
  crypto: FieldCrypto,
  id: string,
): Promise<{ name: string; idType: IdType; idNumber: string; phone: string } | undefined> {
  const r = await db.selectFrom('core_customers').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) return undefined;
  return { name: crypto.decrypt(r.name_enc), idType: r.id_type as IdType, idNumber: crypto.decrypt(r.id_number_enc), phone: crypto.decrypt(r.phone_enc) };
}

// ---- cards ---------------------------------------------------------------------------------

/** What opening a card needs: the field crypto and the payment-password pepper (an AppContext has both). */
export interface CoreKeys {
  crypto: FieldCrypto;
  passwordPepper: string;
}

export interface NewCard {
  tenantId: string;
  customerId: string;
  number: Clear;
  kind: CardKind;
  currency: string;
  reservedPhone: Clear;
  paymentPassword?: string;
  status?: CardStatus;
  citizen?: CitizenCardInfo;
  openedAt?: Date;
  lastActivityAt?: Date;
  /** Default true: queries from outside the mainland are locked until the cardholder lifts it. */
  crossBorderLock?: boolean;
  now: Date;
}

const CURRENCY = /^[A-Z]{3}$/;

function ledgerAccountName(kind: CardKind, masked: string): string {
  return `${kind} card ${masked}`;
}

/** Opens a card for an existing customer and its ledger account (no overdraft except for credit cards). */
export async function openCard(tx: Tx, keys: CoreKeys, input: NewCard): Promise<CoreCard> {
  const { crypto } = keys;
  const number = CardNumber.parse(clear(input.number), 'number');
  const phone = Phone.parse(clear(input.reservedPhone), 'reservedPhone');
  if (!CURRENCY.test(input.currency)) throw AppError.validation([{ field: 'currency', message: 'must be an ISO 4217 code' }]);
  if ((input.kind === 'citizen') !== (input.citizen !== undefined)) {
    throw AppError.validation([{ field: 'citizen', message: 'citizen cards, and only they, carry citizen-card details' }]);
  }
  const password = input.paymentPassword === undefined ? undefined : assertPaymentPassword(input.paymentPassword);
  const customer = await tx.selectFrom('core_customers').select(['id', 'tenant_id']).where('id', '=', input.customerId).executeTakeFirst();
  if (!customer || customer.tenant_id !== input.tenantId) throw new AppError('not_found', `no customer ${input.customerId} at ${input.tenantId}`);
  const numberBidx = blindIndexOf.card(crypto, number);
  const taken = await tx
    .selectFrom('core_cards')
    .select('id')
    .where('tenant_id', '=', input.tenantId)
    .where('number_bidx', '=', numberBidx)
    .executeTakeFirst();
  if (taken) throw new AppError('conflict', `the card number is already issued (${taken.id})`);

  const id = newId('card');
  const account = await createAccount(tx, {
    tenantId: input.tenantId,
    code: `card:${id}`,
    name: ledgerAccountName(input.kind, number.masked),
    currency: input.currency,
    kind: 'customer',
    // A credit card's balance goes below zero as the cardholder spends the credit line.
    noOverdraft: input.kind !== 'credit',
  });
  const openedAt = input.openedAt ?? input.now;
  const row = await tx
    .insertInto('core_cards')
    .values({
      id,
      tenant_id: input.tenantId,
      customer_id: input.customerId,
      number_enc: crypto.encrypt(number.reveal()),
      number_bidx: numberBidx,
      number_masked: number.masked,
      last4: number.last4,
      kind: input.kind,
      currency: input.currency,
      status: input.status ?? 'active',
      ledger_account_id: account.id,
      payment_password_hash: password === undefined ? null : await hashSecret(password, keys.passwordPepper),
      payment_password_last4_hash: password === undefined ? null : await hashSecret(password.slice(-4), keys.passwordPepper),
      reserved_phone_enc: crypto.encrypt(phone.reveal()),
      reserved_phone_bidx: blindIndexOf.phone(crypto, phone),
      reserved_phone_masked: phone.masked,
      citizen: input.citizen ? JSON.stringify(input.citizen) : null,
      opened_at: openedAt,
      last_activity_at: input.lastActivityAt ?? openedAt,
      cross_border_lock: input.crossBorderLock ?? true,
      status_changed_at: input.now,
      created_at: input.now,
      updated_at: input.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toCard(row);
}

export async function getCard(db: Db | Tx, id: string): Promise<CoreCard | undefined> {
  const r = await db.selectFrom('core_cards').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toCard(r) : undefined;
}

/**
 * Cards by id under row locks, in id order: what a decision about a card's money (a top-up's PBOC
 * cap) reads before it books, so a concurrent credit of the same card waits until this transaction
 * ends and then sees its result. Missing ones are absent from the map.
 */
export async function lockCards(tx: Tx, ids: readonly string[]): Promise<Map<string, CoreCard>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.selectFrom('core_cards').selectAll().where(sql<boolean>`id = any(${[...new Set(ids)]}::text[])`).orderBy('id').forUpdate().execute();
  return new Map(rows.map((r) => [r.id, toCard(r)]));
}

/** The card with this number at this institution, found by its blind index (the number is never compared in clear). */
export async function findCardByNumber(db: Db | Tx, crypto: FieldCrypto, tenantId: string, number: Clear): Promise<CoreCard | undefined> {
  const r = await db
    .selectFrom('core_cards')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('number_bidx', '=', blindIndexOf.card(crypto, number))
    .executeTakeFirst();
  return r ? toCard(r) : undefined;
}

export async function findCardByLedgerAccount(db: Db | Tx, ledgerAccountId: string): Promise<CoreCard | undefined> {
  const r = await db.selectFrom('core_cards').selectAll().where('ledger_account_id', '=', ledgerAccountId).executeTakeFirst();
  return r ? toCard(r) : undefined;
}

/** Cards whose reserved phone is this number (SMS banking finds the sender's cards this way). */
export async function findCardsByReservedPhone(db: Db | Tx, crypto: FieldCrypto, tenantId: string, phone: Clear): Promise<CoreCard[]> {
  const rows = await db
    .selectFrom('core_cards')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('reserved_phone_bidx', '=', blindIndexOf.phone(crypto, phone))
    .orderBy('opened_at')
    .orderBy('id')
    .execute();
  return rows.map(toCard);
}

export async function listCardsOfCustomer(db: Db | Tx, customerId: string): Promise<CoreCard[]> {
  const rows = await db.selectFrom('core_cards').selectAll().where('customer_id', '=', customerId).orderBy('opened_at').orderBy('id').execute();
  return rows.map(toCard);
}

export async function listCards(db: Db | Tx, tenantId: string): Promise<CoreCard[]> {
  const rows = await db.selectFrom('core_cards').selectAll().where('tenant_id', '=', tenantId).orderBy('opened_at').orderBy('id').execute();
  return rows.map(toCard);
}

/** The clear card number: for the bank's own use and the sandbox demo sheet only; never log it. */
export async function revealCardNumber(db: Db | Tx, crypto: FieldCrypto, cardId: string): Promise<string | undefined> {
  const r = await db.selectFrom('core_cards').select('number_enc').where('id', '=', cardId).executeTakeFirst();
  return r ? crypto.decrypt(r.number_enc) : undefined;
}

/** The clear reserved phone, for sending the card's OTP; never log it. */
export async function revealReservedPhone(db: Db | Tx, crypto: FieldCrypto, cardId: string): Promise<string | undefined> {
  const r = await db.selectFrom('core_cards').select('reserved_phone_enc').where('id', '=', cardId).executeTakeFirst();
  return r ? crypto.decrypt(r.reserved_phone_enc) : undefined;
}

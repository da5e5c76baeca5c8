// Card state changes in the built-in core: status, cross-border lock, activity, payment password, element checks.
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import type { FieldCrypto } from '../shared/crypto.ts';
import type { IdType } from '../shared/id-document.ts';
import { randomToken } from '../shared/ids.ts';
import { createAccount } from '../ledger/index.ts';
import { assertPaymentPassword, hashSecret, verifySecret } from './password.ts';
import { blindIndexOf, toCard, type CardStatus, type Clear, type CoreCard } from './store.ts';

async function lockCard(tx: Tx, cardId: string) {
  const row = await tx.selectFrom('core_cards').selectAll().where('id', '=', cardId).forUpdate().executeTakeFirst();
  if (!row) throw new AppError('not_found', `no card ${cardId}`);
  return row;
}

/**
 * Moves a card to `status`. Cancellation is final: a cancelled card never comes back (a new card
 * is issued instead), so any change away from `cancelled` is a `conflict`. Setting the current
 * status again changes nothing.
 */
export async function setCardStatus(tx: Tx, cardId: string, status: CardStatus, now: Date): Promise<CoreCard> {
  const row = await lockCard(tx, cardId);
  if (row.status === status) return toCard(row);
  if (row.status === 'cancelled') throw new AppError('conflict', 'the card is cancelled; a cancelled card cannot change status');
  const updated = await tx
    .updateTable('core_cards')
    .set({ status, status_changed_at: now, updated_at: now })
    .where('id', '=', cardId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toCard(updated);
}

export async function setCrossBorderLock(tx: Tx, cardId: string, locked: boolean, now: Date): Promise<CoreCard> {
  await lockCard(tx, cardId);
  const updated = await tx
    .updateTable('core_cards')
    .set({ cross_border_lock: locked, updated_at: now })
    .where('id', '=', cardId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toCard(updated);
}

/** Records a customer transaction at `at` (dormancy counts from the latest one); never moves the date back. */
export async function recordCardActivity(tx: Tx, cardId: string, at: Date, now: Date): Promise<CoreCard> {
  const row = await lockCard(tx, cardId);
  if (row.last_activity_at.getTime() >= at.getTime()) return toCard(row);
  const updated = await tx
    .updateTable('core_cards')
    .set({ last_activity_at: at, updated_at: now })
    .where('id', '=', cardId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toCard(updated);
}

/** Sets (or replaces) the card's 6-digit payment password; only salted, peppered hashes are stored. */
export async function setPaymentPassword(tx: Tx, pepper: string, cardId: string, password: string, now: Date): Promise<CoreCard> {
  const pw = assertPaymentPassword(password);
  await lockCard(tx, cardId);
  const updated = await tx
    .updateTable('core_cards')
    .set({
      payment_password_hash: await hashSecret(pw, pepper),
      payment_password_last4_hash: await hashSecret(pw.slice(-4), pepper),
      updated_at: now,
    })
    .where('id', '=', cardId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toCard(updated);
}

async function passwordHashes(db: Db | Tx, cardId: string) {
  const r = await db
    .selectFrom('core_cards')
    .select(['payment_password_hash', 'payment_password_last4_hash'])
    .where('id', '=', cardId)
    .executeTakeFirst();
  if (!r) throw new AppError('not_found', `no card ${cardId}`);
  return r;
}

/**
 * True when `password` is the card's payment password. False for a wrong one, a malformed one and
 * a card without a password. Counting failures and locking out is the caller's (identity) job.
 */
export async function verifyPaymentPassword(db: Db | Tx, pepper: string, cardId: string, password: string): Promise<boolean> {
  const { payment_password_hash: hash } = await passwordHashes(db, cardId);
  if (!hash || typeof password !== 'string' || !/^\d{6}$/.test(password)) return false;
  return verifySecret(password, hash, pepper);
}

/** The step-up check for large balances: the last 4 digits of the payment password (DOMAIN.md). */
export async function verifyPaymentPasswordLast4(db: Db | Tx, pepper: string, cardId: string, last4: string): Promise<boolean> {
  const { payment_password_last4_hash: hash } = await passwordHashes(db, cardId);
  if (!hash || typeof last4 !== 'string' || !/^\d{4}$/.test(last4)) return false;
  return verifySecret(last4, hash, pepper);
}

export interface CardElements {
  cardNumber: Clear;
  holderName: Clear;
  idType: IdType;
  idNumber: Clear;
  phone: Clear;
}

/**
 * The four-element check of card binding: card number, holder name, document and reserved phone
 * must all match the bank's records. The answer never says which element failed, so it cannot be
 * used to learn one element at a time.
 */
export async function verifyCardElements(
  db: Db | Tx,
  crypto: FieldCrypto,
  tenantId: string,
  e: CardElements,
): Promise<{ match: true; card: CoreCard } | { match: false }> {
  const row = await db
    .selectFrom('core_cards')
    .innerJoin('core_customers', 'core_customers.id', 'core_cards.customer_id')
    .selectAll('core_cards')
    .select(['core_customers.name_bidx', 'core_customers.id_type', 'core_customers.id_number_bidx'])
    .where('core_cards.tenant_id', '=', tenantId)
    .where('core_cards.number_bidx', '=', blindIndexOf.card(crypto, e.cardNumber))
    .executeTakeFirst();
  if (!row) return { match: false };
  const ok =
    row.name_bidx === blindIndexOf.name(crypto, e.holderName) &&
    row.id_type === e.idType &&
    row.id_number_bidx === blindIndexOf.idNumber(crypto, e.idNumber) &&
    row.reserved_phone_bidx === blindIndexOf.phone(crypto, e.phone);
  if (!ok) return { match: false };
  const { name_bidx: _n, id_type: _t, id_number_bidx: _i, ...card } = row;
  return { match: true, card: toCard(card) };
}

export interface DemoCardState {
  status: CardStatus;
  paymentPassword: string;
  lastActivityAt: Date;
  crossBorderLock: boolean;
  now: Date;
}

/**
 * Sandbox only: puts a demo card back to its seeded state (any status, cancelled included) with a
 * fresh, empty ledger account. The old account keeps its postings (they are append-only) and simply
 * stops being the card's, so every per-currency sum stays zero. A real core never does this.
 */
export async function resetDemoCard(tx: Tx, pepper: string, cardId: string, state: DemoCardState): Promise<CoreCard> {
  const pw = assertPaymentPassword(state.paymentPassword);
  const row = await lockCard(tx, cardId);
  const account = await createAccount(tx, {
    tenantId: row.tenant_id,
    code: `card:${row.id}:${randomToken(5)}`,
    name: `${row.kind} card ${row.number_masked}`,
    currency: row.currency,
    kind: 'customer',
    noOverdraft: row.kind !== 'credit',
  });
  const updated = await tx
    .updateTable('core_cards')
    .set({
      ledger_account_id: account.id,
      status: state.status,
      status_changed_at: state.now,
      payment_password_hash: await hashSecret(pw, pepper),
      payment_password_last4_hash: await hashSecret(pw.slice(-4), pepper),
      last_activity_at: state.lastActivityAt,
      cross_border_lock: state.crossBorderLock,
      updated_at: state.now,
    })
    .where('id', '=', cardId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toCard(updated);
}

// Trusted contacts: a relative asks to top up someone's citizen card, the card's owner accepts; at most 3 per relative and per card (seed 002's emergency contacts).
import { sql, type Selectable } from 'kysely';
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { findCardByNumber } from '../core/index.ts';
import { listBoundCards } from '../identity/index.ts';
import { checkRateLimit } from '../risk/index.ts';
import { newId } from '../shared/ids.ts';
import { requireTenant } from '../tenants/index.ts';
import type { TopupTrustedContactRow } from './topup.table.ts';

export const RELATIONS = ['spouse', 'parent', 'child', 'sibling', 'grandparent', 'grandchild', 'other_relative'] as const;
export type Relation = (typeof RELATIONS)[number];
/** Contact requests one user may make per hour: enough for a family, too few to probe card numbers. */
export const CONTACT_REQUESTS_PER_HOUR = 10;

export interface TrustedContact {
  id: string;
  /** requester: you may top up this card once accepted; owner: a relative asks to top up your card. */
  role: 'requester' | 'owner';
  maskedCardNumber: string;
  relation: Relation;
  status: 'pending' | 'accepted' | 'declined' | 'revoked';
  createdAt: Date;
  acceptedAt: Date | null;
}

type Row = Selectable<TopupTrustedContactRow>;

function view(r: Row, role: TrustedContact['role']): TrustedContact {
  return { id: r.id, role, maskedCardNumber: r.card_masked, relation: r.relation as Relation, status: r.status, createdAt: r.created_at, acceptedAt: r.accepted_at };
}

const LIVE = ['pending', 'accepted'] as const;

async function lockFor(tx: Tx, key: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${key}))`.execute(tx);
}

/** A relative asks to top up the card with this number; the owner must accept. Asking again answers the live request. */
export async function requestTrustedContact(ctx: AppContext, p: CardholderPrincipal, input: { citizenCardNumber: string; relation: Relation }): Promise<TrustedContact> {
  const now = ctx.clock.now();
  await checkRateLimit(ctx, { bucket: 'topup.contacts', key: p.userId, limit: CONTACT_REQUESTS_PER_HOUR, windowMs: 3_600_000, now });
  if (!(RELATIONS as readonly string[]).includes(input.relation)) throw AppError.validation([{ field: 'relation', message: `must be one of ${RELATIONS.join(', ')}` }]);
  const policy = (await requireTenant(ctx.db, p.tenantId)).policy;
  const card = await findCardByNumber(ctx.db, ctx.crypto, p.tenantId, input.citizenCardNumber);
  if (!card || card.kind !== 'citizen') throw new AppError('not_found', 'no citizen card with this number at this institution');
  if ((await listBoundCards(ctx.db, p.tenantId, p.userId)).some((c) => c.coreCardId === card.id)) {
    throw AppError.validation([{ field: 'citizenCardNumber', message: 'is your own card: top it up directly' }]);
  }
  const row = await inTx(ctx.db, async (tx) => {
    await lockFor(tx, `topup.contacts:${p.userId}`);
    await lockFor(tx, `topup.contacts.card:${card.id}`);
    const live = await tx.selectFrom('topup_trusted_contacts').selectAll().where('requester_user_id', '=', p.userId).where('status', 'in', LIVE).execute();
    const same = live.find((r) => r.card_id === card.id);
    if (same) return same;
    const maxPerUser = policy.topup.maxTrustedContacts;
    if (live.length >= maxPerUser) throw new AppError('conflict', `at most ${maxPerUser} trusted contacts: remove one first`, { limit: maxPerUser, reason: 'trusted_contacts_limit' });
    const forCard = await tx.selectFrom('topup_trusted_contacts').select('id').where('card_id', '=', card.id).where('status', 'in', LIVE).execute();
    const maxPerCard = policy.exceptions.maxEmergencyContacts;
    if (forCard.length >= maxPerCard) throw new AppError('conflict', `this card already has ${maxPerCard} trusted contacts`, { limit: maxPerCard, reason: 'card_contacts_limit' });
    const inserted = await tx
      .insertInto('topup_trusted_contacts')
      .values({ id: newId('tc'), tenant_id: p.tenantId, requester_user_id: p.userId, card_id: card.id, card_masked: card.maskedNumber, relation: input.relation, status: 'pending', created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(tx, { tenantId: p.tenantId, actor: { kind: 'cardholder', id: p.userId }, action: 'topup.contact_requested', subject: { kind: 'trusted_contact', id: inserted.id }, outcome: 'ok', detail: { relation: input.relation, card: card.maskedNumber }, deviceId: p.deviceId, at: now });
    return inserted;
  });
  return view(row, 'requester');
}

/** The caller's contacts both ways: cards they may top up, and relatives asking for their cards. */
export async function listTrustedContacts(db: Db, p: CardholderPrincipal): Promise<TrustedContact[]> {
  const mine = await db.selectFrom('topup_trusted_contacts').selectAll().where('requester_user_id', '=', p.userId).where('status', 'in', LIVE).orderBy('created_at').execute();
  const cardIds = (await listBoundCards(db, p.tenantId, p.userId)).filter((c) => c.kind === 'citizen').map((c) => c.coreCardId);
  const theirs =
    cardIds.length === 0
      ? []
      : await db.selectFrom('topup_trusted_contacts').selectAll().where('tenant_id', '=', p.tenantId).where('card_id', 'in', cardIds).where('status', 'in', LIVE).orderBy('created_at').execute();
  return [...mine.map((r) => view(r, 'requester' as const)), ...theirs.map((r) => view(r, 'owner' as const))];
}

async function requireContact(tx: Tx, p: CardholderPrincipal, id: string): Promise<Row> {
  const r = await tx.selectFrom('topup_trusted_contacts').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!r || r.tenant_id !== p.tenantId) throw new AppError('not_found', 'no such trusted contact');
  return r;
}

async function ownsCard(db: Db | Tx, p: CardholderPrincipal, cardId: string): Promise<boolean> {
  return (await listBoundCards(db, p.tenantId, p.userId)).some((c) => c.coreCardId === cardId);
}

/** The card's owner (a user who has the card bound) accepts a pending request. */
export async function acceptTrustedContact(ctx: AppContext, p: CardholderPrincipal, id: string): Promise<TrustedContact> {
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    const r = await requireContact(tx, p, id);
    if (!(await ownsCard(tx, p, r.card_id))) throw new AppError('forbidden', 'only the card’s owner can accept');
    if (r.status === 'accepted') return view(r, 'owner');
    if (r.status !== 'pending') throw new AppError('conflict', `the request is ${r.status}`);
    await tx.updateTable('topup_trusted_contacts').set({ status: 'accepted', owner_user_id: p.userId, accepted_at: now, updated_at: now }).where('id', '=', r.id).execute();
    await recordAudit(tx, { tenantId: p.tenantId, actor: { kind: 'cardholder', id: p.userId }, action: 'topup.contact_accepted', subject: { kind: 'trusted_contact', id: r.id }, outcome: 'ok', deviceId: p.deviceId, at: now });
    return view({ ...r, status: 'accepted', owner_user_id: p.userId, accepted_at: now }, 'owner');
  });
}

/** Either side ends a contact: the requester withdraws it, the owner declines or revokes it. */
export async function endTrustedContact(ctx: AppContext, p: CardholderPrincipal, id: string): Promise<void> {
  const now = ctx.clock.now();
  await inTx(ctx.db, async (tx) => {
    const r = await requireContact(tx, p, id);
    const asRequester = r.requester_user_id === p.userId;
    if (!asRequester && !(await ownsCard(tx, p, r.card_id))) throw new AppError('forbidden', 'not your contact');
    if (r.status !== 'pending' && r.status !== 'accepted') return;
    const status = !asRequester && r.status === 'pending' ? 'declined' : 'revoked';
    await tx.updateTable('topup_trusted_contacts').set({ status, ended_at: now, updated_at: now }).where('id', '=', r.id).execute();
    await recordAudit(tx, { tenantId: p.tenantId, actor: { kind: 'cardholder', id: p.userId }, action: `topup.contact_${status}`, subject: { kind: 'trusted_contact', id: r.id }, outcome: 'ok', deviceId: p.deviceId, at: now });
  });
}

/** The accepted contact that lets `userId` top up `cardId`, if any (checked when an order is placed). */
export async function acceptedContact(db: Db | Tx, userId: string, contactId: string): Promise<Row | undefined> {
  return db.selectFrom('topup_trusted_contacts').selectAll().where('id', '=', contactId).where('requester_user_id', '=', userId).where('status', '=', 'accepted').executeTakeFirst();
}

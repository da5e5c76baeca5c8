// Seeds (or re-creates) the demo institutions, cardholders, cards and a year of ledger history.
import { sql } from 'kysely';
import type { AppContext } from '../../app/context.ts';
import { inTx, type Tx } from '../../db/tx.ts';
import { randomToken } from '../../shared/ids.ts';
import { addMonths, createTenant, getCredentials, getTenant, listTenants, resetProfile, setCredentials, type OaCredentials, type TenantCredentials } from '../../tenants/index.ts';
import {
  createCustomer,
  findCardByNumber,
  findCustomerByDocument,
  openCard,
  resetDemoCard,
  type CoreCard,
} from '../../core/index.ts';
import { createAccount, findAccountByCode, transferMany, type LedgerAccountKind } from '../../ledger/index.ts';
import { generateSandboxCredentials } from './credentials.ts';
import { DEMO_TENANTS, demoCardholders, randomFor, type DemoCardholder, type DemoTenantSpec } from './spec.ts';
import { planTenantYear, type AccountRef, type InternalAccount } from './transactions.ts';
import { randomInt } from '../../shared/card-number.ts';
import { seedSandboxAgents } from '../../contact/index.ts';
import { seedDemoOperators } from '../../admin/index.ts';

/** Transfers handed to the ledger per call: bounds memory and statement size. */
export const SEED_TRANSFER_BATCH = 500;
/** Serialises concurrent seeders (two instances starting at once) on one database. */
const SEED_LOCK_KEY = 7_215_530_011;

const INTERNAL_KIND: Record<InternalAccount, LedgerAccountKind> = {
  clearing: 'clearing',
  settlement: 'settlement',
  fee: 'fee',
  interest: 'internal',
};
const INTERNAL_NAME: Record<InternalAccount, string> = {
  clearing: '清算往来',
  settlement: '待结算资金',
  fee: '手续费收入',
  interest: '利息支出',
};

/** The ledger code of a tenant's internal account: `clearing` in CNY, `clearing-usd` in US dollars. */
export function internalAccountCode(which: InternalAccount, currency: string): string {
  return currency === 'CNY' ? which : `${which}-${currency.toLowerCase()}`;
}

export interface SeedResult {
  /** Tenants seeded by this call. */
  seeded: string[];
  /** Tenants left alone because they already existed (and `reset` was off). */
  skipped: string[];
  customers: number;
  cards: number;
  transfers: number;
  ms: number;
}

async function internalAccount(tx: Tx, tenantId: string, which: InternalAccount, currency: string): Promise<string> {
  const code = internalAccountCode(which, currency);
  const found = await findAccountByCode(tx, tenantId, code);
  if (found) return found.id;
  const created = await createAccount(tx, {
    tenantId,
    code,
    name: currency === 'CNY' ? INTERNAL_NAME[which] : `${INTERNAL_NAME[which]}（${currency}）`,
    currency,
    kind: INTERNAL_KIND[which],
    noOverdraft: false,
  });
  return created.id;
}

async function seedTenant(
  ctx: AppContext,
  tx: Tx,
  spec: DemoTenantSpec,
  holders: DemoCardholder[],
  freshCredentials: TenantCredentials | undefined,
  now: Date,
): Promise<{ customers: number; cards: number; transfers: number }> {
  const existing = await getTenant(tx, spec.id);
  if (!existing) {
    await createTenant(tx, ctx.crypto, { id: spec.id, name: spec.name, kind: spec.kind, preset: spec.preset, credentials: freshCredentials, now });
  } else {
    await resetProfile(tx, spec.id, { preset: spec.preset, name: spec.name, kind: spec.kind, now });
    if (freshCredentials) await setCredentials(tx, ctx.crypto, spec.id, freshCredentials, now);
  }

  const plan = planTenantYear(holders, now);
  const accountOf = new Map<string, string>();
  let cards = 0;
  for (const h of holders) {
    let customer = await findCustomerByDocument(tx, ctx.crypto, spec.id, h.idType, h.idNumber);
    customer ??= await createCustomer(tx, ctx.crypto, { tenantId: spec.id, name: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone, now });
    const random = randomFor(`${spec.id}/${h.key}/opened`);
    for (const [i, c] of h.cards.entries()) {
      const ref = `${h.key}#${i}`;
      // Opened 2–8 years before the history starts.
      const openedAt = addMonths(now, -(24 + randomInt(random, 72) + HISTORY_BACK_MONTHS));
      const lastActivityAt = plan.lastActivity.get(ref) ?? openedAt;
      const found = await findCardByNumber(tx, ctx.crypto, spec.id, h.cardNumbers[i]!);
      let card: CoreCard;
      if (found) {
        card = await resetDemoCard(tx, ctx.passwordPepper, found.id, {
          status: c.status,
          paymentPassword: h.paymentPassword,
          lastActivityAt,
          crossBorderLock: true,
          now,
        });
      } else {
        card = await openCard(tx, ctx, {
          tenantId: spec.id,
          customerId: customer.id,
          number: h.cardNumbers[i]!,
          kind: c.kind,
          currency: c.currency,
          reservedPhone: h.phone,
          paymentPassword: h.paymentPassword,
          status: c.status,
          ...(c.citizen ? { citizen: c.citizen } : {}),
          openedAt,
          lastActivityAt,
          crossBorderLock: true,
          now,
        });
      }
      accountOf.set(ref, card.ledgerAccountId);
      cards++;
    }
  }

  const internal = new Map<string, string>();
  const resolve = async (r: AccountRef): Promise<string> => {
    if ('card' in r) return accountOf.get(r.card)!;
    const key = `${r.internal}:${r.currency}`;
    let id = internal.get(key);
    if (!id) {
      id = await internalAccount(tx, spec.id, r.internal, r.currency);
      internal.set(key, id);
    }
    return id;
  };
  // Every tenant has its CNY internal accounts even when no demo transfer touches one.
  for (const which of Object.keys(INTERNAL_KIND) as InternalAccount[]) await resolve({ internal: which, currency: 'CNY' });

  // Idempotency ids are unique per run: a reset books its history on fresh accounts.
  const run = randomToken(6);
  const inputs = [];
  for (const [n, t] of plan.transfers.entries()) {
    inputs.push({
      idempotencyId: `demo:${spec.id}:${run}:${n}`,
      debitAccountId: await resolve(t.debit),
      creditAccountId: await resolve(t.credit),
      amountFen: t.amountFen,
      kind: t.kind,
      description: t.description,
      counterparty: t.counterparty,
      bookedAt: t.bookedAt,
      now,
      metadata: { demo: true },
    });
  }
  for (let i = 0; i < inputs.length; i += SEED_TRANSFER_BATCH) {
    await transferMany(tx, inputs.slice(i, i + SEED_TRANSFER_BATCH));
  }
  return { customers: holders.length, cards, transfers: inputs.length };
}

/** How far back the planned history reaches (transactions.ts books 12 months). */
const HISTORY_BACK_MONTHS = 13;

/**
 * Seeds every demo tenant, one transaction each. Without `reset`, a tenant that already exists is
 * left as it is (so a second call changes nothing). With `reset`, each demo tenant is put back to
 * its seeded state: profile and policy from its preset, the same cardholders and card numbers,
 * statuses and passwords as seeded, and fresh ledger accounts with a new year of history. Its
 * sandbox credentials are kept, so configured clients keep working.
 */
export interface SeedOptions {
  /** Seeds the demo tenants again over what is there. */
  reset?: boolean;
  /**
   * Where a tenant's sandbox credentials come from (default: generated, two RSA-2048 key pairs each).
   * Test suites pass a set generated once per run: the key generation is most of a seed's CPU.
   */
  credentials?: (tenantId: string, oaMode: OaCredentials['mode']) => Promise<TenantCredentials>;
}

export async function seedDemo(ctx: AppContext, opts: SeedOptions = {}): Promise<SeedResult> {
  const started = performance.now();
  const reset = opts.reset ?? false;
  const now = ctx.clock.now();
  const holders = demoCardholders();
  const present = new Set((await listTenants(ctx.db)).map((t) => t.id));
  const result: SeedResult = { seeded: [], skipped: [], customers: 0, cards: 0, transfers: 0, ms: 0 };

  // Key generation is slow CPU work: do it outside any transaction, only for tenants that need it.
  const fresh = new Map<string, TenantCredentials>();
  await Promise.all(
    DEMO_TENANTS.filter((t) => !present.has(t.id) || reset).map(async (t) => {
      if (present.has(t.id) && (await getCredentials(ctx.db, ctx.crypto, t.id))?.pay?.platformPrivateKeyPem) return;
      fresh.set(t.id, await (opts.credentials ?? ((_id, mode) => generateSandboxCredentials(mode)))(t.id, t.oaMode));
    }),
  );

  for (const spec of DEMO_TENANTS) {
    const done = await inTx(ctx.db, async (tx) => {
      await sql`select pg_advisory_xact_lock(${SEED_LOCK_KEY})`.execute(tx);
      if (!reset && (await getTenant(tx, spec.id))) return undefined;
      return seedTenant(ctx, tx, spec, holders.filter((h) => h.tenantId === spec.id), fresh.get(spec.id), now);
    });
    if (!done) {
      result.skipped.push(spec.id);
      continue;
    }
    result.seeded.push(spec.id);
    result.customers += done.customers;
    result.cards += done.cards;
    result.transfers += done.transfers;
  }
  // Demo customer-service agents in each demo tenant's sandbox WeCom (idempotent: configured, not appended).
  if (ctx.config.sandbox && result.seeded.length > 0) await seedSandboxAgents(ctx, result.seeded);
  // Demo console operators (idempotent; one shared demo password, fixed TOTP secrets: see README).
  if (ctx.config.sandbox && result.seeded.length > 0) await seedDemoOperators(ctx);
  result.ms = Math.round(performance.now() - started);
  // Counts only: the demo sheet's numbers never go to a log.
  ctx.log.info({ seeded: result.seeded, skipped: result.skipped, customers: result.customers, cards: result.cards, transfers: result.transfers, ms: result.ms, reset }, 'demo data seeded');
  return result;
}

/** Seeds the demo when the database holds no tenant at all (first start in embedded mode). */
export async function seedDemoIfEmpty(ctx: AppContext): Promise<SeedResult | undefined> {
  if ((await listTenants(ctx.db)).length > 0) return undefined;
  return seedDemo(ctx);
}

// The tenant's top-up ledger accounts: customer funds received through WeChat Pay and fee income (each split in shards), and suspense for money not (yet) applied to a card.
import { createHash } from 'node:crypto';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { createAccount, findAccountByCode } from '../ledger/index.ts';

/**
 * Every top-up debits customer funds (and most credit fees), and the ledger locks both rows from the
 * booking to the commit: one account each would make every top-up of a tenant wait in one queue.
 * The balances are split over this many accounts, picked by the order; reports add them up.
 */
export const TOPUP_ACCOUNT_SHARDS = 8;

export interface TopupAccounts {
  /** 充值备付金: what WeChat Pay collected for the operator (debited as money is applied), in shards. */
  customerFunds: string[];
  /** Top-up fees earned, in shards. */
  fee: string[];
  /** Paid money not applied to a card: duplicates awaiting refund, items in review. */
  suspense: string;
}

/** The shard of a sharded account that movements about `key` (an order id, an out_trade_no) use. */
export function shardOf(ids: readonly string[], key: string): string {
  return ids[createHash('sha256').update(key).digest().readUInt32BE(0) % ids.length]!;
}

interface Spec {
  code: string;
  name: string;
  kind: 'clearing' | 'fee' | 'suspense';
}

const specs = (): Spec[] => [
  ...Array.from({ length: TOPUP_ACCOUNT_SHARDS }, (_, i) => ({ code: `topup-customer-funds-${i}`, name: `充值备付金（微信支付）${i}`, kind: 'clearing' as const })),
  ...Array.from({ length: TOPUP_ACCOUNT_SHARDS }, (_, i) => ({ code: `topup-fee-${i}`, name: `充值手续费收入 ${i}`, kind: 'fee' as const })),
  { code: 'topup-suspense', name: '充值待处理资金', kind: 'suspense' },
];

/** Tenants whose account ids one context remembers (ids never change once created). */
const MEMO_MAX_TENANTS = 1_000;
const memo = new WeakMap<AppContext, Map<string, TopupAccounts>>();

function remembered(ctx: AppContext, tenantId: string): TopupAccounts | undefined {
  return memo.get(ctx)?.get(tenantId);
}

function remember(ctx: AppContext, tenantId: string, a: TopupAccounts): void {
  let m = memo.get(ctx);
  if (!m) memo.set(ctx, (m = new Map()));
  if (m.size >= MEMO_MAX_TENANTS) m.delete(m.keys().next().value!);
  m.set(tenantId, a);
}

async function find(db: Db | Tx, tenantId: string): Promise<TopupAccounts | undefined> {
  const ids: string[] = [];
  // One after another: a transaction's connection runs one statement at a time anyway.
  for (const s of specs()) {
    const a = await findAccountByCode(db, tenantId, s.code);
    if (!a) return undefined;
    ids.push(a.id);
  }
  return { customerFunds: ids.slice(0, TOPUP_ACCOUNT_SHARDS), fee: ids.slice(TOPUP_ACCOUNT_SHARDS, 2 * TOPUP_ACCOUNT_SHARDS), suspense: ids[2 * TOPUP_ACCOUNT_SHARDS]! };
}

/**
 * Opens the accounts on first use (outside any transaction: a concurrent twin may open them
 * first, which is then read back). Called before an order is placed, so the payment path only reads.
 */
export async function ensureTopupAccounts(ctx: AppContext, tenantId: string): Promise<TopupAccounts> {
  const known = remembered(ctx, tenantId) ?? (await find(ctx.db, tenantId));
  if (known) {
    remember(ctx, tenantId, known);
    return known;
  }
  for (const spec of specs()) {
    try {
      await inTx(ctx.db, async (tx) => {
        if (await findAccountByCode(tx, tenantId, spec.code)) return;
        await createAccount(tx, { tenantId, code: spec.code, name: spec.name, currency: 'CNY', kind: spec.kind, now: ctx.clock.now() });
      });
    } catch (err) {
      // Another instance opened it between our read and insert.
      if (!(err instanceof AppError && err.code === 'conflict')) throw err;
    }
  }
  const made = await find(ctx.db, tenantId);
  if (!made) throw new Error(`top-up ledger accounts of ${tenantId} could not be opened`);
  remember(ctx, tenantId, made);
  return made;
}

/** The accounts inside a transaction (they exist: every order was placed after ensureTopupAccounts). */
export async function topupAccounts(ctx: AppContext, tx: Tx, tenantId: string): Promise<TopupAccounts> {
  const known = remembered(ctx, tenantId) ?? (await find(tx, tenantId));
  if (!known) throw new Error(`top-up ledger accounts of ${tenantId} are missing`);
  remember(ctx, tenantId, known);
  return known;
}

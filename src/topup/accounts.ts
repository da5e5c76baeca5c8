// The tenant's top-up ledger accounts: customer funds received through WeChat Pay, fee income, and suspense for money not (yet) applied to a card.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { createAccount, findAccountByCode } from '../ledger/index.ts';

export interface TopupAccounts {
  /** 充值备付金: what WeChat Pay collected for the operator (debited as money is applied). */
  customerFunds: string;
  /** Top-up fees earned. */
  fee: string;
  /** Paid money not applied to a card: duplicates awaiting refund, items in review. */
  suspense: string;
}

const ACCOUNTS = {
  customerFunds: { code: 'topup-customer-funds', name: '充值备付金（微信支付）', kind: 'clearing' },
  fee: { code: 'topup-fee', name: '充值手续费收入', kind: 'fee' },
  suspense: { code: 'topup-suspense', name: '充值待处理资金', kind: 'suspense' },
} as const;

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
  // One after another: a transaction's connection runs one statement at a time anyway.
  const customerFunds = await findAccountByCode(db, tenantId, ACCOUNTS.customerFunds.code);
  const fee = await findAccountByCode(db, tenantId, ACCOUNTS.fee.code);
  const suspense = await findAccountByCode(db, tenantId, ACCOUNTS.suspense.code);
  return customerFunds && fee && suspense ? { customerFunds: customerFunds.id, fee: fee.id, suspense: suspense.id } : undefined;
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
  for (const spec of Object.values(ACCOUNTS)) {
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

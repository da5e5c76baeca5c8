// Shared set-up for the core port's integration tests: a bank with cardholders and cards, postings on the built-in core, the sandbox core and wecard servers.
import { expect } from 'vitest';
import type { AppContext } from '../../../../src/app/context.ts';
import { AppError, type ErrorCode } from '../../../../src/app/errors.ts';
import { inTx, type Db } from '../../../../src/db/tx.ts';
import { createAccount, history, transfer, type LedgerAccount, type Transfer } from '../../../../src/ledger/index.ts';
import { createTenant, type PresetId } from '../../../../src/tenants/index.ts';
import { createCustomer, openCard, type CoreCard } from '../../../../src/core/index.ts';
import { generateCardNumber, seededRandom } from '../../../../src/shared/card-number.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { openTestDb, type TestDb } from '../../../helpers/db.ts';
import { startServer, type RunningServer } from '../../../helpers/platform.ts';
import type { Clock } from '../../../../src/shared/clock.ts';
import { corePort, createCoreBanking, type CoreBankingOptions } from '../../../../src/core/setup.ts';
import { sandboxCoreRoutes } from '../../../../src/sandbox/core/index.ts';

/** Tuesday 6 January 2026, 10:00 in Shanghai: the previous business day is Monday the 5th. */
export const T0 = new Date('2026-01-06T02:00:00Z');
export const SECOND_MS = 1_000;
export const CORE_TOKEN = 'core-test-token-0123456789';

// DOMAIN.md's made-up identity; each test bank is its own tenant, so they never collide.
const NAME = '王小明';
const ID_NUMBER = '110101199003077758';
const PHONE = '13800009901';
export const RESERVED_PHONE = '13800009902';
registerSensitive(NAME, ID_NUMBER, PHONE, RESERVED_PHONE, CORE_TOKEN);

export interface Bank {
  tenantId: string;
  customerId: string;
  funding: LedgerAccount;
}

type Keys = Pick<AppContext, 'crypto' | 'passwordPepper'>;

export async function setupBank(db: Db, keys: Keys, opts: { preset: PresetId; now: Date; tenantId?: string }): Promise<Bank> {
  const tenantId = opts.tenantId ?? `bank-${randomToken(6)}`;
  return inTx(db, async (tx) => {
    await createTenant(tx, keys.crypto, { id: tenantId, name: `测试银行 ${tenantId}`, kind: 'bank', preset: opts.preset, now: opts.now });
    const customer = await createCustomer(tx, keys.crypto, { tenantId, name: NAME, idType: 'resident_id', idNumber: ID_NUMBER, phone: PHONE, now: opts.now });
    const funding = await createAccount(tx, { tenantId, code: `clearing-${randomToken(4)}`, name: 'clearing', currency: 'CNY', kind: 'clearing', now: opts.now });
    return { tenantId, customerId: customer.id, funding };
  });
}

let cardSeed = Math.floor(Math.random() * 2 ** 31);

export interface TestCard extends CoreCard {
  number: string;
}

export async function newCard(db: Db, keys: Keys, bank: Bank, now: Date): Promise<TestCard> {
  const number = generateCardNumber('622848', seededRandom(cardSeed++));
  registerSensitive(number);
  const card = await inTx(db, (tx) =>
    openCard(tx, keys, { tenantId: bank.tenantId, customerId: bank.customerId, number, kind: 'debit', currency: 'CNY', reservedPhone: RESERVED_PHONE, now }),
  );
  return { ...card, number };
}

/** Books a posting on the built-in core: + money into the card, − out of it. */
export async function post(db: Db, bank: Bank, card: CoreCard, amountFen: bigint, now: Date, description = 'test posting', bookedAt?: Date): Promise<Transfer> {
  const into = amountFen > 0n;
  const r = await inTx(db, (tx) =>
    transfer(tx, {
      idempotencyId: `t-${randomToken(8)}`,
      debitAccountId: into ? bank.funding.id : card.ledgerAccountId,
      creditAccountId: into ? card.ledgerAccountId : bank.funding.id,
      amountFen: into ? amountFen : -amountFen,
      kind: into ? 'deposit' : 'purchase',
      description,
      counterparty: '测试商户',
      now,
      bookedAt,
    }),
  );
  return r.transfer;
}

/** Every transfer id on the card's statement in the built-in core, newest first. */
export async function ledgerIds(db: Db, card: CoreCard, opts: { from?: Date } = {}): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await history(db, card.ledgerAccountId, { from: opts.from, cursor, limit: 100 });
    out.push(...page.items.filter((e) => e.state === 'posted').map((e) => e.transferId));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

export async function expectAppError(fn: () => Promise<unknown>, code: ErrorCode): Promise<AppError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected AppError ${code}`).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe(code);
  return caught as AppError;
}

// ---- the sandbox core and wecard instances over real HTTP ------------------------------------

/** Short timeouts so fault tests finish quickly; the breaker keeps its production thresholds. */
export const FAST_CORE: CoreBankingOptions = { attemptTimeoutMs: 400, deadlineMs: 1_500, backoff: { baseMs: 10, capMs: 50 } };

export interface CorePlatform {
  db: TestDb;
  sandbox: RunningServer;
  servers: RunningServer[];
  coreUrl: string;
  setFaults(f: { mode: 'none' | 'down' | 'slow' | 'flaky'; downAs?: 'reset' | '503'; delayMs?: number; every?: number }): Promise<void>;
  faultState(): Promise<{ mode: string; requests: number; served: number }>;
  close(): Promise<void>;
}

/**
 * The sandbox (serving the simulated core under /sandbox/core) and `instances` wecard servers whose
 * CORE_BANKING_URL points at it, all on one database and one clock.
 */
export async function startCorePlatform(opts: { clock: Clock; instances?: number; core?: CoreBankingOptions }): Promise<CorePlatform> {
  const db = await openTestDb();
  const sandbox = await startServer({ modules: [sandboxCoreRoutes], dbHandle: db, clock: opts.clock, config: { CORE_BANKING_TOKEN: CORE_TOKEN } });
  const coreUrl = `${sandbox.url}/sandbox/core`;
  const servers: RunningServer[] = [];
  for (let i = 0; i < (opts.instances ?? 1); i++) {
    servers.push(
      await startServer({
        modules: [corePort({ core: (ctx) => createCoreBanking(ctx, { ...FAST_CORE, ...opts.core }) })],
        dbHandle: i === 0 ? db : db.openAnother(),
        clock: opts.clock,
        config: { CORE_BANKING_URL: coreUrl, CORE_BANKING_TOKEN: CORE_TOKEN },
      }),
    );
  }
  return {
    db,
    sandbox,
    servers,
    coreUrl,
    setFaults: async (f) => {
      const res = await fetch(`${sandbox.url}/sandbox/api/core/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
      expect(res.status).toBe(200);
    },
    faultState: async () => (await (await fetch(`${sandbox.url}/sandbox/api/core/faults`)).json()) as { mode: string; requests: number; served: number },
    close: async () => {
      for (const s of servers) await s.close();
      await sandbox.close();
      await db.close();
    },
  };
}

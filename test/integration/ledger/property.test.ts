// Property test (PostgreSQL only): random transfer sequences run concurrently, then the ledger's invariants, a model of the balances and replays are checked.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { propertySeed } from '../../unit/shared/seed.ts';
import { inTx } from '../../../src/db/tx.ts';
import { AppError } from '../../../src/app/errors.ts';
import {
  getBalance,
  postPending,
  reverse,
  transfer,
  verifyInvariants,
  voidPending,
  type LedgerAccount,
  type Transfer,
  type TransferResult,
} from '../../../src/ledger/index.ts';
import { freshTenant, openAccount, T0 } from './fixtures.ts';

/** Scenarios per run: the issue asks for at least 200 on PostgreSQL; LEDGER_PROPERTY_RUNS raises it for a nightly run. */
const RUNS = Math.max(200, Number(process.env.LEDGER_PROPERTY_RUNS ?? '200'));
/** Connections racing each other: more than the machine's cores, so transactions truly interleave. */
const POOL_SIZE = 12;
/** Errors a well-formed request may meet under a race; anything else fails the property. */
const EXPECTED_CODES = new Set(['insufficient_funds', 'idempotency_conflict', 'conflict']);
/** Idempotency keys are drawn from a small pool so that replays and key collisions happen often. */
const KEY_POOL = 12;

type Op =
  | { op: 'transfer'; from: number; to: number; amount: number; key: number; hold: boolean }
  | { op: 'post'; target: number; part: number; key: number }
  | { op: 'void'; target: number; key: number }
  | { op: 'reverse'; target: number; key: number };

interface Scenario {
  /** Account 0 is a clearing account that may go negative; the others are no-overdraft wallets. */
  wallets: number;
  funding: number[];
  /** Phase 1: transfers and holds, all at once. */
  first: Op[];
  /** Phase 2, all at once: resolutions and reversals of phase 1's results, mixed with more transfers. */
  second: Op[];
}

function scenarioArb(): fc.Arbitrary<Scenario> {
  return fc.integer({ min: 2, max: 5 }).chain((wallets) => {
    const account = fc.integer({ min: 0, max: wallets });
    const transferOp = fc
      .record({ from: account, to: account, amount: fc.integer({ min: 1, max: 400 }), key: fc.integer({ min: 0, max: KEY_POOL - 1 }), hold: fc.boolean() })
      .filter((t) => t.from !== t.to)
      .map((t) => ({ op: 'transfer' as const, ...t }));
    const target = fc.integer({ min: 0, max: 40 });
    const key = fc.integer({ min: 0, max: KEY_POOL - 1 });
    const linked = fc.oneof(
      fc.record({ op: fc.constant('post' as const), target, part: fc.integer({ min: 1, max: 100 }), key }),
      fc.record({ op: fc.constant('void' as const), target, key }),
      fc.record({ op: fc.constant('reverse' as const), target, key }),
    );
    return fc.record({
      wallets: fc.constant(wallets),
      funding: fc.array(fc.integer({ min: 0, max: 1_000 }), { minLength: wallets, maxLength: wallets }),
      first: fc.array(transferOp, { minLength: 4, maxLength: 24 }),
      second: fc.array(fc.oneof({ weight: 3, arbitrary: linked }, { weight: 1, arbitrary: transferOp }), { minLength: 2, maxLength: 16 }),
    });
  });
}

interface Outcome {
  op: Op;
  run: () => Promise<TransferResult>;
  result?: TransferResult;
  code?: string;
}

/** Balances the model derives from the transfers the ledger says it booked. */
interface ModelBalance {
  posted: bigint;
  pendingDebits: bigint;
  pendingCredits: bigint;
}

function model(accounts: LedgerAccount[], booked: Map<string, Transfer>): Map<string, ModelBalance> {
  const m = new Map(accounts.map((a) => [a.id, { posted: 0n, pendingDebits: 0n, pendingCredits: 0n }]));
  const at = (id: string) => m.get(id)!;
  const resolved = new Set<string>();
  for (const t of booked.values()) if (t.pendingId) resolved.add(t.pendingId);
  for (const t of booked.values()) {
    if (t.state === 'pending') {
      if (resolved.has(t.id)) continue;
      at(t.debitAccountId).pendingDebits += t.amountFen;
      at(t.creditAccountId).pendingCredits += t.amountFen;
    } else if (t.state === 'posted') {
      at(t.debitAccountId).posted -= t.amountFen;
      at(t.creditAccountId).posted += t.amountFen;
    }
    // A void moves no money and only ends its hold.
  }
  return m;
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('ledger property: random concurrent transfer sequences on PostgreSQL', () => {
  let db: TestDb;
  const seed = propertySeed('ledger-concurrency');

  beforeAll(async () => {
    db = await openTestDb({ poolMax: POOL_SIZE });
  });
  afterAll(async () => {
    await db?.close();
  });

  it(
    `keeps every invariant, matches the model and changes nothing on replay, over ${RUNS} scenarios`,
    async () => {
      let scenarios = 0;
      await fc.assert(
        fc.asyncProperty(scenarioArb(), async (s) => {
          scenarios++;
          const tenantId = freshTenant();
          const clearing = await openAccount(db.db, tenantId, { code: 'clearing', kind: 'clearing' });
          const wallets: LedgerAccount[] = [];
          for (let i = 0; i < s.wallets; i++) wallets.push(await openAccount(db.db, tenantId, { code: `w${i}`, noOverdraft: true }));
          const accounts = [clearing, ...wallets];
          const booked = new Map<string, Transfer>();
          for (const [i, w] of wallets.entries()) {
            if (s.funding[i]! === 0) continue;
            const r = await inTx(db.db, (tx) =>
              transfer(tx, { idempotencyId: `fund-${i}`, debitAccountId: clearing.id, creditAccountId: w.id, amountFen: BigInt(s.funding[i]!), kind: 'fund', description: 'fund', now: T0 }),
            );
            booked.set(r.transfer.id, r.transfer);
          }

          const inputOf = (o: Extract<Op, { op: 'transfer' }>, prefix: string) => ({
            idempotencyId: `${prefix}-${o.key}`,
            debitAccountId: accounts[o.from]!.id,
            creditAccountId: accounts[o.to]!.id,
            amountFen: BigInt(o.amount),
            kind: o.hold ? 'hold' : 'payment',
            description: `${o.from}→${o.to}`,
            pending: o.hold,
            now: T0,
          });
          const runAll = async (outcomes: Outcome[]) => {
            const settled = await Promise.allSettled(outcomes.map((o) => o.run()));
            settled.forEach((r, i) => {
              if (r.status === 'fulfilled') outcomes[i]!.result = r.value;
              else if (r.reason instanceof AppError && EXPECTED_CODES.has(r.reason.code)) outcomes[i]!.code = r.reason.code;
              else throw r.reason;
            });
            for (const o of outcomes) if (o.result) booked.set(o.result.transfer.id, o.result.transfer);
          };

          const first: Outcome[] = s.first.map((op) => ({ op, run: () => inTx(db.db, (tx) => transfer(tx, inputOf(op as Extract<Op, { op: 'transfer' }>, 'a'))) }));
          await runAll(first);
          const phase1 = [...booked.values()];
          const second: Outcome[] = s.second.map((op) => {
            if (op.op === 'transfer') return { op, run: () => inTx(db.db, (tx) => transfer(tx, inputOf(op, 'b'))) };
            const target = phase1[op.target % phase1.length]!;
            const idempotencyId = `c-${op.key}`;
            if (op.op === 'post') {
              const amountFen = (target.amountFen * BigInt(op.part) + 99n) / 100n;
              return { op, run: () => inTx(db.db, (tx) => postPending(tx, { idempotencyId, pendingId: target.id, amountFen, now: T0 })) };
            }
            if (op.op === 'void') return { op, run: () => inTx(db.db, (tx) => voidPending(tx, { idempotencyId, pendingId: target.id, now: T0 })) };
            return { op, run: () => inTx(db.db, (tx) => reverse(tx, { idempotencyId, transferId: target.id, reason: 'undo', now: T0 })) };
          });
          await runAll(second);

          // 1. The ledger's own audit: cached totals, zero sum, no overdraft, double entry, holds.
          const report = await verifyInvariants(db.db, { tenantId });
          expect(report.violations).toEqual([]);

          // 2. An independent model over what the calls said they booked gives the same balances.
          const expected = model(accounts, booked);
          let sum = 0n;
          const before = new Map<string, bigint>();
          for (const a of accounts) {
            const b = await getBalance(db.db, a.id);
            const want = expected.get(a.id)!;
            expect({ posted: b.postedFen, pendingDebits: b.pendingDebitFen, pendingCredits: b.pendingCreditFen }).toEqual(want);
            if (a.noOverdraft) expect(b.availableFen >= 0n).toBe(true);
            sum += b.postedFen;
            before.set(a.id, b.postedFen);
          }
          expect(sum).toBe(0n);

          // 3. Every request that succeeded, sent again, returns its original transfer and changes nothing.
          const replays = await Promise.all([...first, ...second].filter((o) => o.result).map(async (o) => ({ o, r: await o.run() })));
          for (const { o, r } of replays) {
            expect(r.replayed).toBe(true);
            expect(r.transfer.id).toBe(o.result!.transfer.id);
          }
          for (const a of accounts) expect((await getBalance(db.db, a.id)).postedFen).toBe(before.get(a.id));
          expect((await verifyInvariants(db.db, { tenantId })).transfersChecked).toBe(report.transfersChecked);
        }),
        { seed, numRuns: RUNS, endOnFailure: true },
      );
      expect(scenarios).toBeGreaterThanOrEqual(RUNS);
    },
    600_000,
  );
});

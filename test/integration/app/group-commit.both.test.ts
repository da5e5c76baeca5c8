// GroupCommit: concurrent items share a transaction, each answered after its commit; a failing batch fails every item, or with isolateFailures only the item that fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJobs } from '../../../src/app/jobs.ts';
import { GroupCommit, type Outcome } from '../../../src/db/group-commit.ts';
import type { Tx } from '../../../src/db/tx.ts';
import { openTestDb, type TestDb } from '../../helpers/db.ts';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb();
});
afterAll(async () => {
  await t?.close();
});

/** Each item is a job row; an item named `bad…` makes the whole batch's transaction fail (a constraint-free, non-AppError failure). */
function writer(isolateFailures: boolean, batches: number[]) {
  return new GroupCommit<string, string>(t.db, {
    apply: async () => {
      throw new Error('batches only');
    },
    applyBatch: async (tx: Tx, items: string[]): Promise<Outcome<string>[]> => {
      batches.push(items.length);
      await enqueueJobs(tx, items.map((k) => ({ topic: 'test.group', payload: { k }, dedupeKey: `group:${k}` })));
      if (items.some((k) => k.startsWith('bad'))) throw new Error(`cannot apply ${items.find((k) => k.startsWith('bad'))}`);
      return items.map((k) => ({ ok: true as const, value: `ok:${k}` }));
    },
    lockKey: (k) => k,
    isolateFailures,
  });
}

async function stored(prefix: string): Promise<string[]> {
  const rows = await t.db.selectFrom('outbox').select('dedupe_key').where('dedupe_key', 'like', `group:${prefix}%`).orderBy('dedupe_key').execute();
  return rows.map((r) => r.dedupe_key!.slice('group:'.length));
}

describe('GroupCommit', () => {
  it('answers every concurrent item after one shared commit', async () => {
    const batches: number[] = [];
    const w = writer(false, batches);
    const keys = Array.from({ length: 20 }, (_, i) => `a${String(i).padStart(2, '0')}`);
    expect(await Promise.all(keys.map((k) => w.submit(k)))).toEqual(keys.map((k) => `ok:${k}`));
    expect(await stored('a')).toEqual(keys);
    expect(batches.reduce((x, y) => x + y, 0)).toBe(20);
    expect(batches.length).toBeLessThan(20);
  });

  it('fails every item of a failing batch by default, and keeps none of its writes', async () => {
    const w = writer(false, []);
    const results = await Promise.allSettled(['b1', 'bad-b', 'b2'].map((k) => w.submit(k)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await stored('b')).toEqual([]);
  });

  it('with isolateFailures, re-runs a failed batch one item per transaction: only the bad item fails', async () => {
    const batches: number[] = [];
    const w = writer(true, batches);
    const results = await Promise.allSettled(['c1', 'bad-c', 'c2', 'c3'].map((k) => w.submit(k)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['ok:c1', 'cannot apply bad-c', 'ok:c2', 'ok:c3']);
    expect(await stored('c')).toEqual(['c1', 'c2', 'c3']);
    expect(await stored('bad')).toEqual([]);
    // The first try carried all four; the retries one each.
    expect(batches).toEqual([4, 1, 1, 1, 1]);
  });
});

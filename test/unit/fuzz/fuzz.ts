// Fuzz sizing and seeds: FUZZ_RUNS cases per property (nightly: 10000, default a quick smoke), FUZZ_SEED replays a failure.
import fc from 'fast-check';

/** Whether FUZZ_RUNS asked for a sized run (then per-case timeouts scale with it). */
export function fuzzRunsGiven(): boolean {
  return process.env.FUZZ_RUNS !== undefined && process.env.FUZZ_RUNS !== '';
}

/**
 * Cases per property: FUZZ_RUNS when set (a nightly run sets 10000), else `smokeRuns`, sized so the
 * whole fuzz set stays a small part of `npm test` on a 2-core machine.
 */
export function fuzzRuns(smokeRuns: number): number {
  const raw = process.env.FUZZ_RUNS;
  if (raw === undefined || raw === '') return smokeRuns;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`FUZZ_RUNS must be a positive integer, got ${raw}`);
  return n;
}

/**
 * The seed of this file's properties, printed so any run can be replayed: FUZZ_SEED=<n> (FC_SEED,
 * the older properties' variable, works too). fast-check also prints seed and path on a failure.
 */
export function fuzzSeed(file: string): number {
  const raw = process.env.FUZZ_SEED || process.env.FC_SEED;
  const seed = raw ? Number(raw) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${raw}`);
  process.stdout.write(`[fuzz] ${file}: seed ${seed}, ${fuzzRunsGiven() ? `FUZZ_RUNS=${process.env.FUZZ_RUNS}` : 'smoke runs'} (replay with FUZZ_SEED=${seed})\n`);
  return seed;
}

/** fc.assert parameters for one property of a file. */
export function fuzzParams(seed: number, smokeRuns: number): { seed: number; numRuns: number } {
  return { seed, numRuns: fuzzRuns(smokeRuns) };
}

/** A per-test timeout that grows with the number of cases (`msPerCase` is a generous upper bound). */
export function fuzzTimeoutMs(cases: number, msPerCase: number, floorMs = 30_000): number {
  return Math.max(floorMs, Math.ceil(cases * msPerCase));
}

/** Characters card, ID and phone input is made of, plus the separators, full-width forms and look-alikes people type. */
const NUMBERISH_CHARS = [...'0123456789', ...'0123456789', 'X', 'x', 'H', 'M', 'E', 'A', 'Z', ' ', '-', '+', '(', ')', '（', '）', '\u3000', '\u00a0', '\u2010', '\uFF0D', '０', '９', 'Ｘ', 'ｘ', '.', '#', '٣', '\u0660', '\ud800', '\udfff', '\u0000', '\n'];

/**
 * Strings that probe a parser: any Unicode (lone surrogates and NULs included), long runs, and
 * near misses built from the characters and separators real numbers are typed with.
 */
export function hostileString(maxLength = 80): fc.Arbitrary<string> {
  const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  return fc.oneof(
    { weight: 2, arbitrary: fc.string({ maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength }) },
    { weight: 1, arbitrary: fc.array(fc.oneof(fc.string({ maxLength: 2 }), loneSurrogate), { maxLength: maxLength / 2 }).map((parts) => parts.join('')) },
    { weight: 4, arbitrary: fc.array(fc.constantFrom(...NUMBERISH_CHARS), { maxLength }).map((cs) => cs.join('')) },
    { weight: 1, arbitrary: fc.string({ minLength: maxLength, maxLength: maxLength * 20 }) },
  );
}

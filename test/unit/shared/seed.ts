// Seeds for property tests: FC_SEED replays a failure; the seed in use is printed so any run can be replayed.
import fc from 'fast-check';

/** The seed for this file's property tests, printed once; set FC_SEED=<n> to replay a failure. */
export function propertySeed(file: string): number {
  const fromEnv = process.env.FC_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  process.stdout.write(`[property] ${file}: seed ${seed} (replay with FC_SEED=${seed})\n`);
  return seed;
}

/** fc.assert with the file's seed; fast-check adds the seed and counterexample path to any failure. */
export function check<T>(seed: number, prop: fc.IProperty<T>, numRuns = 500): void {
  fc.assert(prop, { seed, numRuns });
}

// Global setup of the e2e project: builds the H5 app once (only when its sources changed), before any browser test starts.
import { buildH5 } from '../../src/web/build.ts';

export default async function setup(): Promise<void> {
  const r = await buildH5({ quiet: true });
  process.stdout.write(r.built ? `e2e: H5 app built (${r.ms} ms)\n` : 'e2e: H5 app is up to date\n');
}

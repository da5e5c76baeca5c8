// `npm run build:web` (always builds) and the prestart step (builds only when the H5 sources changed).
import { buildH5 } from './build.ts';

const force = process.argv.includes('--force');
const quiet = process.argv.includes('--quiet');
buildH5({ force, quiet })
  .then((r) => {
    process.stdout.write(r.built ? `H5 app built in ${r.ms} ms (web/h5/dist)\n` : 'H5 app is up to date (web/h5/dist)\n');
  })
  .catch((err) => {
    process.stderr.write(`H5 build failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });

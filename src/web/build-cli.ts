// `npm run build:web` (always builds) and the prestart step (builds only when the sources changed): the H5 app and the operator console.
import { ADMIN_APP, buildApp, H5_APP } from './build.ts';

const force = process.argv.includes('--force');
const quiet = process.argv.includes('--quiet');

async function main(): Promise<void> {
  for (const [label, app] of [['H5 app', H5_APP], ['operator console', ADMIN_APP]] as const) {
    const r = await buildApp(app, { force, quiet });
    process.stdout.write(r.built ? `${label} built in ${r.ms} ms (web/${app.name}/dist)\n` : `${label} is up to date (web/${app.name}/dist)\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`web build failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

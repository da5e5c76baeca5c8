// Global setup of the e2e project: builds the H5 app and the operator console (each only when its sources changed), before any browser test starts.
import { ADMIN_APP, buildApp, H5_APP } from '../../src/web/build.ts';

export default async function setup(): Promise<void> {
  for (const app of [H5_APP, ADMIN_APP]) {
    const r = await buildApp(app, { quiet: true });
    process.stdout.write(r.built ? `e2e: web/${app.name} built (${r.ms} ms)\n` : `e2e: web/${app.name} is up to date\n`);
  }
}

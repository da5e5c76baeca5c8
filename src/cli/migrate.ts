// `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded PGlite) and exits.
import { ConfigError, loadConfig } from '../app/config.ts';
import { openPGlite, openPostgres } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';

try {
  const config = loadConfig();
  const handle = config.databaseUrl ? openPostgres({ url: config.databaseUrl, poolMax: 2 }) : await openPGlite(config.dataDir);
  try {
    const result = await migrateToLatest(handle.db);
    const applied = result.results?.filter((r) => r.status === 'Success').map((r) => r.migrationName) ?? [];
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
  } finally {
    await handle.close();
  }
} catch (err) {
  process.stderr.write(`wecard migrate: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

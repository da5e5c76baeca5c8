// `npm run seed`: re-creates the demo tenants, cardholders and their year of history (sandbox installs only).
import { ConfigError, loadConfig } from '../app/config.ts';
import { createContext } from '../app/bootstrap.ts';
import { createLogger } from '../app/logger.ts';
import { seedDemo } from '../sandbox/demo/index.ts';

try {
  const config = loadConfig();
  // Demo data is fictitious people with clear numbers on a demo sheet: it belongs next to the
  // sandbox, never in a database that serves real cardholders.
  if (config.nodeEnv === 'production' || (config.mode === 'production' && !config.sandbox)) {
    process.stderr.write(
      'wecard seed: refusing to seed demo data in production ' +
        `(${config.nodeEnv === 'production' ? 'NODE_ENV=production' : 'DATABASE_URL is set and SANDBOX is off'}). ` +
        'Demo data is for embedded/sandbox installs only.\n',
    );
    process.exit(3);
  }
  const running = await createContext(config, { log: createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel) });
  try {
    const r = await seedDemo(running.ctx, { reset: true });
    process.stdout.write(
      `demo data re-created in ${r.ms} ms: ${r.seeded.length} tenants (${r.seeded.join(', ')}), ` +
        `${r.customers} cardholders, ${r.cards} cards, ${r.transfers} transactions\n` +
        `the demo sheet (card numbers, passwords) is at ${config.publicUrl}/sandbox/api/demo\n`,
    );
  } finally {
    await running.close();
  }
} catch (err) {
  process.stderr.write(`wecard seed: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

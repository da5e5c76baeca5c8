// `tsx src/admin/cli.ts create-admin <username> [display name]`: the first platform admin (password from WECARD_ADMIN_PASSWORD or stdin); prints the TOTP secret once.
import { createInterface } from 'node:readline/promises';
import { ConfigError, loadConfig } from '../app/config.ts';
import { createContext } from '../app/bootstrap.ts';
import { createLogger } from '../app/logger.ts';
import { AppError } from '../app/errors.ts';
import { createOperator, hasPlatformAdmin, PASSWORD_MIN_CHARS } from './operators.ts';

async function readPassword(): Promise<string> {
  const fromEnv = process.env.WECARD_ADMIN_PASSWORD;
  if (fromEnv) return fromEnv;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  try {
    process.stderr.write(`password (at least ${PASSWORD_MIN_CHARS} characters): `);
    return (await rl.question('')).trim();
  } finally {
    rl.close();
  }
}

const [command, username, ...name] = process.argv.slice(2);
if (command !== 'create-admin' || !username) {
  process.stderr.write('usage: tsx src/admin/cli.ts create-admin <username> [display name]\n       (password from WECARD_ADMIN_PASSWORD or stdin; add --force to create another platform admin)\n');
  process.exit(64);
}
const force = name.includes('--force');
const displayName = name.filter((n) => n !== '--force').join(' ') || username;

try {
  const config = loadConfig();
  const running = await createContext(config, { log: createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel) });
  try {
    if (!force && (await hasPlatformAdmin(running.ctx.db))) {
      process.stderr.write('wecard admin: a platform admin exists already; let them create operators in the console (or pass --force)\n');
      process.exit(3);
    }
    const created = await createOperator(running.ctx, { tenantId: null, username, displayName, role: 'admin', password: await readPassword(), createdBy: 'cli' });
    process.stdout.write(
      `platform admin ${created.operator.username} created (${created.operator.id}).\n` +
        `TOTP secret (shown once; add it to an authenticator app): ${created.totpSecret}\n` +
        `otpauth URI: ${created.otpauthUri}\n`,
    );
  } finally {
    await running.close();
  }
} catch (err) {
  const msg = err instanceof AppError ? `${err.code}: ${err.message}` : err instanceof ConfigError ? err.message : (err as Error).message;
  process.stderr.write(`wecard admin: ${msg}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

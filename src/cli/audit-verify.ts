// `npm run audit:verify`: recomputes the audit chain and exits 0 when sound, 1 when tampered, 2 on bad config or arguments, 3 when it could not verify.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../app/config.ts';
import { openPGlite, openPostgres } from '../db/connect.ts';
import { sqlState } from '../db/tx.ts';
import { formatVerifyReport, verifyAuditChain, type AuditAnchor, type VerifyOptions } from '../audit/index.ts';

const USAGE = `usage: npm run audit:verify -- [--tenant <id>] [--after <seq>] [--anchor <tenant>:<seq>:<hash>]... [--max-problems <n>]
  --tenant        verify one tenant's chain only
  --after         incremental: start at the last seal batch ending at or before <seq>
  --anchor        a chain head recorded earlier outside the database; the chain must still pass through it
  --max-problems  stop after this many problems (default 100)
exit status: 0 sound, 1 tampered, 2 bad configuration or arguments, 3 could not verify (database unreachable, schema missing)
`;

class UsageError extends Error {}

function options(argv: string[]): VerifyOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        tenant: { type: 'string' },
        after: { type: 'string' },
        anchor: { type: 'string', multiple: true },
        'max-problems': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const opts: VerifyOptions = {};
  if (v.tenant !== undefined) opts.tenantId = v.tenant;
  if (v.after !== undefined) {
    if (!/^\d{1,19}$/.test(v.after)) throw new UsageError('--after: must be a seq (a whole number)');
    opts.afterSeq = BigInt(v.after);
  }
  if (v['max-problems'] !== undefined) {
    if (!/^\d{1,4}$/.test(v['max-problems']) || Number(v['max-problems']) < 1) throw new UsageError('--max-problems: must be a whole number from 1');
    opts.maxProblems = Number(v['max-problems']);
  }
  if (v.anchor) {
    opts.anchors = v.anchor.map((a): AuditAnchor => {
      const m = /^(.+):(\d{1,19}):([0-9a-fA-F]{64})$/.exec(a);
      if (!m) throw new UsageError(`--anchor ${a}: must be <tenant>:<seq>:<64 hex digits>`);
      return { tenantId: m[1]!, seq: BigInt(m[2]!), hash: m[3]!.toLowerCase() };
    });
  }
  return opts;
}

try {
  const opts = options(process.argv.slice(2));
  const config = loadConfig();
  const handle = config.databaseUrl ? openPostgres({ url: config.databaseUrl, poolMax: 2, applicationName: 'wecard-audit-verify' }) : await openPGlite(config.dataDir);
  let result: Awaited<ReturnType<typeof verifyAuditChain>> | undefined;
  let failure: unknown;
  try {
    result = await verifyAuditChain(handle.db, opts);
  } catch (err) {
    failure = err;
  } finally {
    await handle.close();
  }
  if (!result) {
    const hint = sqlState(failure) === '42P01' ? ' (the audit tables do not exist: run npm run migrate)' : '';
    process.stderr.write(`wecard audit:verify: could not verify: ${(failure as Error)?.message ?? String(failure)}${hint}\n`);
    process.exit(3);
  }
  process.stdout.write(formatVerifyReport(result));
  process.exit(result.ok ? 0 : 1);
} catch (err) {
  if (err instanceof ConfigError || err instanceof UsageError) {
    process.stderr.write(`wecard audit:verify: ${err.message}\n${err instanceof UsageError ? USAGE : ''}`);
    process.exit(2);
  }
  process.stderr.write(`wecard audit:verify: could not verify: ${(err as Error).message}\n`);
  process.exit(3);
}

// temporary experiment (oa): profile wecard's OA endpoint alone
import { fork } from 'node:child_process';
import autocannon from 'autocannon';
import pg from 'pg';
import * as wecomCrypto from '@wecom/crypto';
import { createHash, randomInt } from 'node:crypto';
import { parseConfig } from '../src/app/config.ts';
import { createContext, resolveKeys } from '../src/app/bootstrap.ts';
import { buildServer } from '../src/app/server.ts';
import { openPostgres } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { inTx } from '../src/db/tx.ts';
import { createTenant } from '../src/tenants/index.ts';
import { oaServer } from '../src/wechat/oa/index.ts';
import { createLogger } from '../src/app/logger.ts';
const DB_URL = 'postgres://postgres@127.0.0.1:5432/test';
const OA = { appId: 'wx5e2f0c1a9b8d7e6f', appSecret: '0123456789abcdef0123456789abcdef', token: 'benchToken0123456789', encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', mode: 'safe' as const, originalId: 'gh_0123456789ab' };
const KEYS = { FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f', BLIND_INDEX_KEY: 'ab'.repeat(32), PASSWORD_PEPPER: 'bench-pepper-0123456789', DATABASE_URL: DB_URL, SANDBOX: 'false' };
async function admin(t: string) { const c = new pg.Client({ connectionString: DB_URL }); await c.connect(); try { await c.query(t); } finally { await c.end(); } }
if (process.env.CHILD) {
  const config = parseConfig({ ...KEYS, LOG_LEVEL: 'info', DB_POOL_MAX: '20' });
  const { default: pino } = await import('pino');
  const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: false }));
  const handle = openPostgres({ url: DB_URL, poolMax: 20, schema: process.env.SCHEMA!, applicationName: 'x' });
  const { ctx } = await createContext(config, { log, dbHandle: handle, migrate: false });
  if (process.env.DUMMY) {
    const { createServer } = await import('node:http');
    const s = createServer((req, res) => { req.resume(); req.on('end', () => res.end('success')); });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    process.send!({ port: (s.address() as { port: number }).port });
  } else {
  const app = await buildServer(ctx, { modules: [oaServer()] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.send!({ port: (app.server.address() as { port: number }).port });
  }
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
} else {
  const schema = 'exp_' + Date.now();
  await admin(`create schema ${schema}`);
  const h = openPostgres({ url: DB_URL, poolMax: 2, schema });
  await migrateToLatest(h.db);
  const { crypto } = resolveKeys(parseConfig(KEYS), createLogger('silent'));
  await inTx(h.db, (tx) => createTenant(tx, crypto, { id: 'bench-oa', name: 'x', kind: 'bank', preset: 'agricultural', credentials: { oa: OA }, now: new Date() }));
  const kid = fork(import.meta.filename, [], { execArgv: ['--import', 'tsx', ...(process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROF}`] : [])], env: { ...process.env, CHILD: '1', SCHEMA: schema }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise<{ port: number }>((r) => kid.once('message', (m) => r(m as { port: number })));
  let seq = BigInt(Date.now()) * 1000000n;
  const sha1 = (...p: string[]) => createHash('sha1').update(p.sort().join('')).digest('hex');
  // pre-generate to keep the load generator light
  const N = Number(process.env.N ?? 60000);
  const reqs: { path: string; body: string }[] = [];
  const ts = String(Math.floor(Date.now() / 1000));
  for (let i = 0; i < N; i++) {
    const nonce = String(randomInt(1e9)); seq++;
    const inner = `<xml><ToUserName><![CDATA[${OA.originalId}]]></ToUserName><FromUserName><![CDATA[oBenchUser000000000000000001]]></FromUserName><CreateTime>${ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content><MsgId>${seq}</MsgId></xml>`;
    const enc = wecomCrypto.encrypt(OA.encodingAESKey, inner, OA.appId);
    const q = new URLSearchParams({ signature: sha1(OA.token, ts, nonce), timestamp: ts, nonce, openid: 'oBenchUser000000000000000001', encrypt_type: 'aes', msg_signature: wecomCrypto.getSignature(OA.token, ts, nonce, enc) });
    reqs.push({ path: `/wechat/oa/bench-oa?${q}`, body: `<xml><ToUserName><![CDATA[${OA.originalId}]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>` });
  }
  let k = 0;
  for (const d of [3, Number(process.env.DUR ?? 8)]) {
    const r = await autocannon({ url: `http://127.0.0.1:${port}`, connections: 64, duration: d, requests: [{ method: 'POST', headers: { 'content-type': 'text/xml' }, setupRequest: (req) => { const p = reqs[k++ % N]!; return { ...req, path: p.path, body: p.body }; } }] });
    console.log(`${d}s: ${r.requests.average} req/s p99 ${r.latency.p99} non2xx ${r.non2xx} errors ${r.errors}`);
  }
  kid.kill(); await h.close(); await admin(`drop schema ${schema} cascade`);
}

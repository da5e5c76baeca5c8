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
  if (process.env.WEBOT) {
    const { createRequire } = await import('node:module');
    const { createServer } = await import('node:http');
    const require = createRequire(import.meta.url);
    const wechat = require('wechat');
    const mw = wechat({ token: OA.token, appid: OA.appId, encodingAESKey: OA.encodingAESKey, checkSignature: true }, (_req: any, res: any) => res.reply('您好！可以发送以下指令：\n余额 — 查询已绑定卡片的余额\n明细 — 查看最近的交易明细\n帮助 — 显示本帮助'));
    const s = createServer((req: any, res) => { const q = req.url.indexOf('?'); req.query = Object.fromEntries(new URLSearchParams(q === -1 ? '' : req.url.slice(q + 1))); mw(req, res, () => { res.statusCode = 500; res.end(); }); });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    process.send!({ port: (s.address() as { port: number }).port });
  } else if (process.env.DUMMY) {
    const { createServer } = await import('node:http');
    const s = createServer((req, res) => { req.resume(); req.on('end', () => res.end('success')); });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    process.send!({ port: (s.address() as { port: number }).port });
  } else {
  const floor = async (a: any) => { await a.register(async (scope: any) => { scope.removeAllContentTypeParsers(); scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_r: any, b: any, d: any) => d(null, b)); scope.post('/wechat/oa/:tenantId', async (_req: any, reply: any) => reply.type('text/plain').send('success')); }); };
  const app = await buildServer(ctx, { modules: [process.env.FLOOR ? floor : oaServer()] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.send!({ port: (app.server.address() as { port: number }).port });
  }
  process.on('message', (m: any) => { if (m === 'cpu') process.send!({ cpu: process.cpuUsage() }); });
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
  const { readdirSync, readFileSync } = await import('node:fs');
  const pids = async () => { const c = new pg.Client({ connectionString: DB_URL }); await c.connect(); const r = await c.query(`select pid from pg_stat_activity where application_name = 'x'`); await c.end(); return new Set(r.rows.map((x: any) => String(x.pid))); };
  let mine = new Set<string>();
  const pgCpu = () => { let t = 0; for (const d of readdirSync('/proc')) { if (!/^\d+$/.test(d) || !mine.has(d)) continue; try { const st = readFileSync(`/proc/${d}/stat`, 'utf8'); if (!st.includes('(postgres)')) continue; const f = st.slice(st.lastIndexOf(')') + 2).split(' '); t += Number(f[11]) + Number(f[12]); } catch {} } return t * 10000; };
  const cpu = () => new Promise<{ user: number; system: number }>((res) => { kid.once('message', (m: any) => res(m.cpu)); kid.send('cpu'); });
  for (const d of [3, Number(process.env.DUR ?? 8)]) {
    mine = await pids(); const c0 = await cpu(); const p0 = pgCpu();
    const r = await autocannon({ url: `http://127.0.0.1:${port}`, connections: 64, duration: d, requests: [{ method: 'POST', headers: { 'content-type': 'text/xml' }, setupRequest: (req) => { const p = reqs[k++ % N]!; return { ...req, path: p.path, body: p.body }; } }] });
    const c1 = await cpu(); const pgUs = (pgCpu() - p0) / r.requests.total;
    const us = (c1.user + c1.system - c0.user - c0.system) / r.requests.total;
    console.log(`${d}s: ${r.requests.average} req/s p99 ${r.latency.p99} non2xx ${r.non2xx} errors ${r.errors}; server CPU ${us.toFixed(0)} µs/req; postgres ${pgUs.toFixed(0)} µs/req`);
  }
  kid.kill(); await h.close(); await admin(`drop schema ${schema} cascade`);
}

// temporary (oa): per-request CPU of the OA route in-process (inject), NODB vs floor
import * as wecomCrypto from '@wecom/crypto';
import { createHash, randomInt } from 'node:crypto';
import { parseConfig } from '../src/app/config.ts';
import { createContext } from '../src/app/bootstrap.ts';
import { buildServer } from '../src/app/server.ts';
import { openPGlite } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { inTx } from '../src/db/tx.ts';
import { createTenant } from '../src/tenants/index.ts';
import { oaServer } from '../src/wechat/oa/index.ts';
import { createLogger } from '../src/app/logger.ts';
import pino from 'pino';
const OA = { appId: 'wx5e2f0c1a9b8d7e6f', appSecret: '0123456789abcdef0123456789abcdef', token: 'benchToken0123456789', encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', mode: 'safe' as const, originalId: 'gh_0123456789ab' };
const config = parseConfig({ FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f', BLIND_INDEX_KEY: 'ab'.repeat(32), PASSWORD_PEPPER: 'bench-pepper-0123456789', SANDBOX: 'false', LOG_LEVEL: 'info' });
const h = await openPGlite(undefined); await migrateToLatest(h.db);
const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: false }));
const { ctx } = await createContext(config, { log, dbHandle: h, migrate: false });
await inTx(ctx.db, (tx) => createTenant(tx, ctx.crypto, { id: 'bench-oa', name: 'x', kind: 'bank', preset: 'agricultural', credentials: { oa: OA }, now: new Date() }));
const floor = async (a: any) => { await a.register(async (scope: any) => { scope.removeAllContentTypeParsers(); scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_r: any, b: any, d: any) => d(null, b)); scope.post('/floor/:tenantId', async (_req: any, reply: any) => reply.type('text/plain').send('success')); }); };
const app = await buildServer(ctx, { modules: [oaServer(), floor] });
let seq = BigInt(Date.now()) * 1000000n;
const sha1 = (...p: string[]) => createHash('sha1').update(p.sort().join('')).digest('hex');
const N = 20000; const ts = String(Math.floor(Date.now() / 1000));
const reqs = Array.from({ length: N + 2000 }, () => {
  const nonce = String(randomInt(1e9)); seq++;
  const inner = `<xml><ToUserName><![CDATA[${OA.originalId}]]></ToUserName><FromUserName><![CDATA[oBenchUser000000000000000001]]></FromUserName><CreateTime>${ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content><MsgId>${seq}</MsgId></xml>`;
  const enc = wecomCrypto.encrypt(OA.encodingAESKey, inner, OA.appId);
  const q = new URLSearchParams({ signature: sha1(OA.token, ts, nonce), timestamp: ts, nonce, openid: 'oBenchUser000000000000000001', encrypt_type: 'aes', msg_signature: wecomCrypto.getSignature(OA.token, ts, nonce, enc) });
  return { q: q.toString(), body: `<xml><ToUserName><![CDATA[${OA.originalId}]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>` };
});
async function run(path: string, from: number, n: number) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  const CONC = 32; let i = from;
  await Promise.all(Array.from({ length: CONC }, async () => { while (i < from + n) { const r = reqs[i++]!; const res = await app.inject({ method: 'POST', url: `${path}?${r.q}`, headers: { 'content-type': 'text/xml' }, payload: r.body }); if (res.statusCode !== 200) throw new Error(res.body); } }));
  const c = process.cpuUsage(c0); return `${((c.user + c.system) / n).toFixed(0)} µs/req CPU, ${(n / ((performance.now() - t0) / 1000)).toFixed(0)} req/s`;
}
console.log('warm floor', await run('/floor/bench-oa', 0, 1000));
console.log('warm oa', await run('/wechat/oa/bench-oa', 1000, 1000));
console.log('floor', await run('/floor/bench-oa', 2000, 10000));
console.log('oa', await run('/wechat/oa/bench-oa', 2000, N));
process.exit(0);

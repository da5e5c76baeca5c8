// temporary (oa): cost of the batched claim statement in PostgreSQL
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { openPostgres } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { ClaimBatcher } from '../src/wechat/oa/claims.ts';
const DB_URL = 'postgres://postgres@127.0.0.1:5432/test';
const admin = async (t: string) => { const c = new pg.Client({ connectionString: DB_URL }); await c.connect(); try { return (await c.query(t)).rows; } finally { await c.end(); } };
const schema = 'stmt_' + Date.now();
await admin(`create schema ${schema}`);
const h = openPostgres({ url: DB_URL, poolMax: 4, schema, applicationName: 'stmtexp' });
await migrateToLatest(h.db);
const b = new ClaimBatcher(h.db);
const cpuOf = async () => { const rows = await admin(`select pid from pg_stat_activity where application_name = 'stmtexp'`); let t = 0; for (const r of rows) { try { const st = readFileSync(`/proc/${r.pid}/stat`, 'utf8'); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); t += Number(f[11]) + Number(f[12]); } catch {} } return t * 10; };
const BATCH = Number(process.env.BATCH ?? 10);
let k = 0;
let tc = 0, tf = 0;
async function round(n: number) {
  for (let i = 0; i < n; i++) {
    const keys = Array.from({ length: BATCH }, () => `m:${++k}`);
    let t = performance.now();
    await Promise.all(keys.map((key) => b.claim('bench', key, new Date())));
    tc += performance.now() - t; t = performance.now();
    if (!process.env.NOFIN) await Promise.all(keys.map((key) => b.finish('bench', key, { state: 'replied', reply: 'x'.repeat(400), now: new Date() })));
    tf += performance.now() - t;
  }
}
await round(200);
const c0 = await cpuOf(); const t0 = performance.now();
const N = Number(process.env.N ?? 1000);
await round(N);
const ms = performance.now() - t0; const c1 = await cpuOf();
console.log(`claim ${(tc / (N + 200)).toFixed(2)} ms, finish ${(tf / (N + 200)).toFixed(2)} ms`);
console.log(`batch ${BATCH}: ${N * 2} statements in ${ms.toFixed(0)} ms → ${(ms / (N * 2)).toFixed(2)} ms/statement wall; PG CPU ${((c1 - c0) / (N * 2)).toFixed(2)} ms/statement, ${((c1 - c0) * 1000 / (N * BATCH)).toFixed(0)} µs/push`);
await h.close(); await admin(`drop schema ${schema} cascade`);

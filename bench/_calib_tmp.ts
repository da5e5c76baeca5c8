import Fastify from 'fastify';
import autocannon from 'autocannon';
import pg from 'pg';
import { sql } from 'kysely';
import { openPostgres } from '../src/db/connect.ts';
const URL = 'postgres://postgres@127.0.0.1:5432/test';
const h = openPostgres({ url: URL, poolMax: 20, applicationName: 'calib' });
const app = Fastify();
const N = Number(process.env.N ?? 0);
const mode = process.env.MODE ?? 'select';
app.get('/x', async () => {
  for (let i = 0; i < N; i++) {
    if (mode === 'select') await h.db.selectFrom('tenants').select('id').where('id', '=', 'x' + (i % 3)).executeTakeFirst();
    else await sql`select ${i}::int as a`.execute(h.db);
  }
  return { hello: 'world' };
});
await app.listen({ port: 0, host: '127.0.0.1' });
const port = (app.server.address() as any).port;
await autocannon({ url: `http://127.0.0.1:${port}/x`, connections: 64, duration: 2 });
const r = await autocannon({ url: `http://127.0.0.1:${port}/x`, connections: 64, duration: 6 });
console.log(`N=${N} ${mode}: ${r.requests.average} rps p99 ${r.latency.p99}`);
await app.close(); await h.close();

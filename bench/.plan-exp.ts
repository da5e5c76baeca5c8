// temporary (oa): custom vs generic plan cost of the claim statement
import pg from 'pg';
const DB_URL = 'postgres://postgres@127.0.0.1:5432/test';
const SQL = `with fin as (
          update oa_messages m set state = f.state, reply = f.reply, finished_at = f.at
          from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) as f(tenant_id, dedup_key, state, reply, at)
          where m.tenant_id = f.tenant_id and m.dedup_key = f.dedup_key
        ), ins as (
          insert into oa_messages (tenant_id, dedup_key, state, received_at)
          select c.tenant_id, c.dedup_key, 'processing', c.at
          from unnest($6::text[], $7::text[], $8::timestamptz[]) as c(tenant_id, dedup_key, at)
          on conflict do nothing
          returning tenant_id, dedup_key
        )
        select c.ord, i.dedup_key is not null as fresh, m.state, m.reply
        from unnest($6::text[], $7::text[]) with ordinality as c(tenant_id, dedup_key, ord)
        left join ins i on i.tenant_id = c.tenant_id and i.dedup_key = c.dedup_key
        left join oa_messages m on i.dedup_key is null and m.tenant_id = c.tenant_id and m.dedup_key = c.dedup_key`;
for (const [mode, sc, trick] of [['auto', 'on', false], ['auto', 'off', false]] as const) {
  const c = new pg.Client({ connectionString: DB_URL, options: `-c search_path=${process.env.SCHEMA ?? "oaexplain"} -c plan_cache_mode=${mode} -c synchronous_commit=${sc}` });
  await c.connect();
  let k = 0; const now = new Date().toISOString();
  const claimed: string[][] = [];
  const fin = async () => { const keys = claimed.shift()!; await c.query({ name: 'f', text: SQL, values: [keys.map(() => 'b'), keys, keys.map(() => 'replied'), keys.map(() => 'x'.repeat(400)), keys.map(() => now), [], [], []] }); };
  const run = async () => { const keys = Array.from({ length: 10 }, () => `${mode}:${Date.now()}:${++k}`); claimed.push(keys); await c.query({ name: trick ? 't' : 's', text: trick ? SQL.replace('select c.ord,', "select set_config('synchronous_commit', 'off', true) as sc, c.ord,") : SQL, values: [[], [], [], [], [], keys.map(() => 'b'), keys, keys.map(() => now)] }); };
  for (let i = 0; i < 50; i++) await run();
  const pid = (await c.query('select pg_backend_pid() as p')).rows[0].p; const { readFileSync } = await import('node:fs'); const cpu = () => { const st = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); return (Number(f[11]) + Number(f[12])) * 10; }; const c0 = cpu();
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) await run();
  console.log(mode, sc, 'claims', ((performance.now() - t0) / 500).toFixed(3), 'ms/statement wall;', ((cpu() - c0) / 500).toFixed(3), 'ms backend CPU');
  while (claimed.length > 500) await fin();
  const c2 = cpu(); const t2 = performance.now();
  for (let i = 0; i < 500; i++) await fin();
  console.log(mode, sc, 'finishes', ((performance.now() - t2) / 500).toFixed(3), 'ms/statement wall;', ((cpu() - c2) / 500).toFixed(3), 'ms backend CPU');
  await c.end();
}

import { it } from 'vitest';
import { startTestApp } from '/work/main/test/helpers/app.ts';
import { riskModule } from '/work/main/src/risk/index.ts';
it('x', async () => {
  const t0 = Date.now();
  const t = await startTestApp({ modules: [] });
  console.log('started', Date.now() - t0);
  await riskModule(t.app as any, t.ctx);
  console.log('module', Date.now() - t0);
  await t.close();
}, 60000);

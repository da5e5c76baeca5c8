// The e2e server: one real wecard server with the sandbox mounted (as `npm start` runs it) on a test database, the demo seeded, the H5 app served.
import { modulesFor } from '../../src/app/modules.ts';
import { seedDemo, demoCardholders, type DemoSummary } from '../../src/sandbox/demo/index.ts';
import { hasWebModule } from '../../src/web/index.ts';
import { openTestDb, type TestDb } from '../helpers/db.ts';
import { freePort, startServer, type RunningServer } from '../helpers/platform.ts';
import { testConfig } from '../helpers/app.ts';
import { registerSensitive } from '../helpers/secrets.ts';
import { testDemoCredentials } from '../helpers/demo-credentials.ts';

// Every value of the demo sheet must stay out of the logs.
for (const h of demoCardholders()) registerSensitive(h.name, h.idNumber, h.phone, h.paymentPassword, ...h.cardNumbers);

export interface E2EServer {
  url: string;
  server: RunningServer;
  db: TestDb;
  demo: DemoSummary;
  /** JSON from the server (the sandbox is mounted on it, as in embedded mode). */
  get<T = any>(path: string): Promise<T>;
  post<T = any>(path: string, body: unknown): Promise<T>;
  /** The newest OTP texted to `phone` (the sandbox SMS outbox). */
  lastCode(phone: string, after?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts the server with every module src/app/modules.ts mounts for the sandbox configuration,
 * exactly the production wiring. WeChat base URLs
 * default to the server's own /sandbox, exactly as in embedded mode.
 */
export async function startE2EServer(): Promise<E2EServer> {
  const db = await openTestDb();
  const port = await freePort();
  const modules = modulesFor(testConfig({ PORT: String(port) }));
  if (!hasWebModule(modules)) throw new Error('src/app/modules.ts does not mount the H5 app (webModule)');
  const server = await startServer({ modules, dbHandle: db, port, jobsPollMs: 500 });
  await seedDemo(server.ctx, { credentials: testDemoCredentials });
  const url = server.url;
  const json = async <T>(res: Response): Promise<T> => {
    const text = await res.text();
    if (!res.ok) throw new Error(`${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const e: E2EServer = {
    url,
    server,
    db,
    demo: undefined as unknown as DemoSummary,
    get: async (path) => json(await fetch(`${url}${path}`)),
    post: async (path, body) => json(await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })),
    lastCode: async (phone, after) => {
      const list = await e.get<{ code?: string; sentAt: string }[]>(`/sandbox/api/sms?phone=${encodeURIComponent(phone)}`);
      const hit = list.find((m) => m.code && (!after || m.sentAt > after));
      if (!hit?.code) throw new Error('no code was texted');
      return hit.code;
    },
    close: async () => {
      await server.close();
      await db.close();
    },
  };
  e.demo = await e.get<DemoSummary>('/sandbox/api/demo');
  return e;
}

// The deployment's front door on loopback: a load balancer over the wecard instances (active /readyz checks, a retry only when the connection was refused) and the SMS gateway the instances send OTPs to.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { onCleanup } from './services.ts';

/** Each backend's /readyz is asked this often, and must answer within the timeout. */
const HEALTH_INTERVAL_MS = 250;
const HEALTH_TIMEOUT_MS = 1_000;
/** A proxied request that takes longer is answered 504 (the clients' own timeouts are longer). */
const PROXY_TIMEOUT_MS = 15_000;
const SMS_PATH = '/chaos/sms';
/** Texts kept per phone (the newest is what a binding needs). */
const SMS_KEPT_PER_PHONE = 5;

export interface Backend {
  name: string;
  port: number;
  healthy: boolean;
  /** Requests proxied to it and answered (any status). */
  served: number;
}

export interface Front {
  url: string;
  port: number;
  backends: Backend[];
  /** The newest OTP texted to the phone, or undefined. */
  lastCode(phone: string): string | undefined;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function checkHealth(b: Backend): void {
  const req = httpRequest({ host: '127.0.0.1', port: b.port, path: '/readyz', method: 'GET', timeout: HEALTH_TIMEOUT_MS, agent: false }, (res) => {
    b.healthy = res.statusCode === 200;
    res.resume();
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => (b.healthy = false));
  req.end();
}

type Attempt = { kind: 'answered' } | { kind: 'refused' } | { kind: 'failed'; why: string };

/** One try at one backend; `refused` means the request never reached it (safe to send elsewhere). */
function forward(b: Backend, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<Attempt> {
  return new Promise((resolve) => {
    const xff = req.headers['x-forwarded-for'];
    const headers = { ...req.headers, 'x-forwarded-for': xff ? `${xff}, 127.0.0.1` : '127.0.0.1', connection: 'close' };
    const out = httpRequest({ host: '127.0.0.1', port: b.port, path: req.url, method: req.method, headers, timeout: PROXY_TIMEOUT_MS, agent: false }, (up) => {
      b.served++;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      up.on('end', () => resolve({ kind: 'answered' }));
      up.on('error', () => {
        res.destroy();
        resolve({ kind: 'answered' });
      });
    });
    out.on('timeout', () => out.destroy(new Error('timeout')));
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') {
        b.healthy = false;
        resolve({ kind: 'refused' });
      } else resolve({ kind: 'failed', why: err.message });
    });
    out.end(body);
  });
}

export async function startFront(port: number, backends: Array<{ name: string; port: number }>): Promise<Front> {
  const pool: Backend[] = backends.map((b) => ({ ...b, healthy: false, served: 0 }));
  const sms = new Map<string, string[]>();
  let next = 0;

  const pick = (skip: Set<Backend>): Backend | undefined => {
    for (let i = 0; i < pool.length; i++) {
      const b = pool[(next + i) % pool.length]!;
      if (b.healthy && !skip.has(b)) {
        next = (next + i + 1) % pool.length;
        return b;
      }
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    if (req.url === SMS_PATH && req.method === 'POST') {
      // The SMS provider's JSON contract (src/identity/sms.ts): { phone, text }.
      const { phone, text } = JSON.parse(body.toString('utf8')) as { phone: string; text: string };
      sms.set(phone, [text, ...(sms.get(phone) ?? [])].slice(0, SMS_KEPT_PER_PHONE));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    const tried = new Set<Backend>();
    for (;;) {
      const b = pick(tried);
      if (!b) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"code":"no_backend","message":"no healthy instance"}');
        return;
      }
      tried.add(b);
      const r = await forward(b, req, body, res);
      if (r.kind === 'answered') return;
      if (r.kind === 'failed') {
        // It may have reached the instance: not repeated (the client decides, with its idempotency key).
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'bad_gateway', message: r.why }));
        else res.destroy();
        return;
      }
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const timer = setInterval(() => pool.forEach(checkHealth), HEALTH_INTERVAL_MS);
  const close = async () => {
    clearInterval(timer);
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  const unregister = onCleanup('front', close, () => clearInterval(timer));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    backends: pool,
    lastCode: (phone) => {
      for (const text of sms.get(phone) ?? []) {
        const m = /验证码\s*(\d{4,8})/.exec(text);
        if (m) return m[1];
      }
      return undefined;
    },
    close: async () => {
      unregister();
      await close();
    },
  };
}

// Shared set-up for the interchange tests: the broker's address and reachability, unique topic roots, a citizen-card tenant with cards, polling for asynchronous effects.
import { connect } from 'node:net';
import type { AppContext } from '../../../src/app/context.ts';
import { inTx, type Db } from '../../../src/db/tx.ts';
import { createTenant } from '../../../src/tenants/index.ts';
import { createCustomer, openCard, type CoreCard } from '../../../src/core/index.ts';
import { generateCardNumber, seededRandom } from '../../../src/shared/card-number.ts';
import { randomToken } from '../../../src/shared/ids.ts';
import { registerSensitive } from '../../helpers/secrets.ts';

export const MQTT_URL = process.env.MQTT_URL_TEST ?? 'mqtt://127.0.0.1:1883';

/** True when a TCP connection to the test broker opens within a second. */
export async function brokerReachable(url = MQTT_URL): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port || 1883) });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** A topic root no other test file (or run) shares. */
export function uniqueTopicRoot(file: string): string {
  return `wecard-test/${file}/${randomToken(8)}`;
}

// DOMAIN.md's made-up identity; every test tenant is its own, so they never collide.
const NAME = '王小明';
const ID_NUMBER = '110101199003077758';
const PHONE = '13800009911';
registerSensitive(NAME, ID_NUMBER, PHONE);

export interface TestCard extends CoreCard {
  number: string;
}

let cardSeed = Math.floor(Math.random() * 2 ** 31);

/** A citizen-card tenant with one cardholder and `cards` electronic citizen cards. */
export async function citizenTenant(ctx: Pick<AppContext, 'db' | 'crypto' | 'passwordPepper'>, now: Date, cards = 1): Promise<{ tenantId: string; cards: TestCard[] }> {
  const tenantId = `cc-${randomToken(6)}`;
  const out: TestCard[] = [];
  await inTx(ctx.db as Db, async (tx) => {
    await createTenant(tx, ctx.crypto, { id: tenantId, name: `测试市民卡 ${tenantId}`, kind: 'citizen_card', preset: 'citizen-card', now });
    const customer = await createCustomer(tx, ctx.crypto, { tenantId, name: NAME, idType: 'resident_id', idNumber: ID_NUMBER, phone: PHONE, now });
    for (let i = 0; i < cards; i++) {
      const number = generateCardNumber('623091', seededRandom(cardSeed++));
      registerSensitive(number);
      const card = await openCard(tx, ctx, {
        tenantId,
        customerId: customer.id,
        number,
        kind: 'citizen',
        currency: 'CNY',
        reservedPhone: PHONE,
        citizen: { form: 'electronic', realName: true, tUnion: false },
        now,
      });
      out.push({ ...card, number });
    }
  });
  return { tenantId, cards: out };
}

/** Polls `probe` until it returns a value other than undefined/false, or fails after `deadlineMs` with `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, deadlineMs = 10_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > until) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function post(base: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export interface TcpProxy {
  url: string;
  /** Drops every connection and refuses new ones (the broker "goes down" for the clients behind the proxy). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1:0 in front of the broker, to take it away from one client and give it back. */
export async function startTcpProxy(targetUrl = MQTT_URL): Promise<TcpProxy> {
  const { createServer, connect: dial } = await import('node:net');
  const target = new URL(targetUrl);
  const sockets = new Set<import('node:net').Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = dial({ host: target.hostname, port: Number(target.port || 1883) });
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    cut: () => {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore: () => {
      down = false;
    },
    close: async () => {
      down = true;
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface ReceivedWebhook {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The receiver's verdict on the signature (checked before anything else, as WEBHOOKS.md says). */
  signatureValid: boolean;
  /** The decrypted event, when the signature was valid and decryption worked. */
  event?: { id: string; type: string; createdAt: string; data: Record<string, unknown> };
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Status codes to answer, in order; when empty, 200. A function decides per request instead. */
  answers: number[];
  close(): Promise<void>;
}

/**
 * A partner's webhook receiver on 127.0.0.1:0, written from WEBHOOKS.md with node:crypto only (not
 * wecard's helpers): checks the HMAC-SHA256 signature over `timestamp.body` and the timestamp's
 * freshness against `nowS()`, then decrypts the AES-256-GCM envelope. A bad signature is 401.
 */
export async function startWebhookReceiver(keys: () => { aesKey: string; hmacKey: string }, nowS: () => number): Promise<WebhookReceiver> {
  const { createServer } = await import('node:http');
  const { createHmac, createDecipheriv, timingSafeEqual } = await import('node:crypto');
  const received: ReceivedWebhook[] = [];
  const answers: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = String(req.headers['x-wecard-timestamp'] ?? '');
      const sig = String(req.headers['x-wecard-signature'] ?? '');
      const k = keys();
      const expected = `v1=${createHmac('sha256', Buffer.from(k.hmacKey, 'base64')).update(`${ts}.${body}`).digest('hex')}`;
      const fresh = /^\d+$/.test(ts) && Math.abs(nowS() - Number(ts)) <= 300;
      const signatureValid = fresh && sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
      const r: ReceivedWebhook = { headers: req.headers, body, signatureValid };
      if (signatureValid) {
        const env = JSON.parse(body);
        const d = createDecipheriv('aes-256-gcm', Buffer.from(k.aesKey, 'base64'), Buffer.from(env.iv, 'base64'));
        d.setAuthTag(Buffer.from(env.tag, 'base64'));
        r.event = JSON.parse(Buffer.concat([d.update(Buffer.from(env.ciphertext, 'base64')), d.final()]).toString('utf8'));
      }
      received.push(r);
      const status = !signatureValid ? 401 : (answers.shift() ?? 200);
      res.statusCode = status;
      if (status >= 300 && status < 400) res.setHeader('location', 'http://127.0.0.1:9/elsewhere');
      res.end(status === 200 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/wecard`,
    received,
    answers,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

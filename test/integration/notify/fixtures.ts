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

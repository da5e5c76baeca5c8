// Fuzzes POST /wechat/oa/{tenantId} in the real app (plain, compatible and safe mode): any body, signature or query gets a 2xx WeChat answer or a 4xx problem+json, and a refusal changes nothing.
import { createHash, randomInt } from 'node:crypto';
import fc from 'fast-check';
import * as wecomCrypto from '@wecom/crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modulesFor } from '../../../src/app/modules.ts';
import { ERROR_CODES } from '../../../src/app/errors.ts';
import { inTx } from '../../../src/db/tx.ts';
import { generateSandboxCredentials } from '../../../src/sandbox/demo/credentials.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { createTenant, type OaCredentials } from '../../../src/tenants/index.ts';
import { testConfig } from '../../helpers/app.ts';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { freePort, startServer, type RunningServer } from '../../helpers/platform.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { fuzzRuns, fuzzSeed, fuzzTimeoutMs, hostileString } from '../../unit/fuzz/fuzz.ts';
import { openidLike, pushFields, renderPush, XML_ATTACKS, xmlishText } from '../../unit/fuzz/wechat-arbitraries.ts';
import { differences, errorLogsSince, fingerprint, tablesOf, type Fingerprint } from './fingerprint.ts';

const seed = fuzzSeed('oa-endpoint');
/** Each case is one request and one fingerprint query: ~10 ms on PostgreSQL. */
const SMOKE_RUNS = 150;
const RUNS = fuzzRuns(SMOKE_RUNS);
const TIMEOUT_MS = fuzzTimeoutMs(RUNS, 60);
const STARTUP_TIMEOUT_MS = 120_000;
const MODES = ['plain', 'compatible', 'safe'] as const satisfies readonly OaCredentials['mode'][];

interface Account {
  tenantId: string;
  oa: OaCredentials;
  /** Openids the sandbox knows for this tenant (a real push comes from a real follower). */
  followers: string[];
}

let db: TestDb;
let server: RunningServer;
let tables: string[];
const clock = new ManualClock('2026-03-18T02:30:00Z');
const accounts = new Map<OaCredentials['mode'], Account>();
const nowSec = () => Math.floor(clock.now().getTime() / 1000);

beforeAll(async () => {
  db = await openTestDb();
  const port = await freePort();
  // The real module list (src/app/modules.ts), sandbox included: the OA handler is the channels' chat.
  server = await startServer({ modules: modulesFor(testConfig({ PORT: String(port) })), dbHandle: db, clock, port });
  for (const mode of MODES) {
    const credentials = await generateSandboxCredentials(mode);
    const oa = credentials.oa!;
    registerSensitive(oa.token, oa.encodingAESKey, oa.appSecret);
    const tenantId = `fuzz-oa-${mode}`;
    await inTx(server.ctx.db, (tx) => createTenant(tx, server.ctx.crypto, { id: tenantId, name: `模糊 ${mode}`, kind: 'bank', preset: 'agricultural', credentials, now: clock.now() }));
    const followers: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await server.app.inject({ method: 'POST', url: '/sandbox/api/users', payload: { tenantId } });
      expect(r.statusCode, r.body).toBeLessThan(300);
      followers.push(r.json().openid);
    }
    accounts.set(mode, { tenantId, oa, followers });
  }
  tables = await tablesOf(server.ctx.db);
}, STARTUP_TIMEOUT_MS);
afterAll(async () => {
  await server?.close();
  await db?.close();
});

const sha1Sorted = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');

/** What the case does to the signatures: right, or one of the ways a forger or a broken proxy gets them wrong. */
type Signing = 'valid' | 'wrong_signature' | 'wrong_msg_signature' | 'stale' | 'unsigned' | 'uppercase_hex';
const signing = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Signing>('valid') },
  { weight: 1, arbitrary: fc.constantFrom<Signing>('wrong_signature', 'wrong_msg_signature', 'stale', 'unsigned', 'uppercase_hex') },
);

/** The plaintext body (what WeChat would put inside the envelope in safe mode). */
function innerBody(account: Account): fc.Arbitrary<string | Buffer> {
  return fc.oneof(
    { weight: 12, arbitrary: pushFields(account.oa.originalId, nowSec()).chain((fields) => fc.tuple(fc.constantFrom(...account.followers, ...account.followers), openidLike, fc.boolean()).chain(([follower, stranger, known]) => renderPush({ ...fields, ...(fields.FromUserName?.length === 28 ? { FromUserName: known ? follower : stranger } : {}) }).map((p) => p.body))) },
    { weight: 2, arbitrary: xmlishText },
    { weight: 1, arbitrary: fc.constantFrom(...XML_ATTACKS) },
    { weight: 1, arbitrary: hostileString(200) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  );
}

/** How the envelope of an encrypted push is broken, if at all. */
type Envelope = { kind: 'valid' } | { kind: 'random_encrypt'; encrypt: string } | { kind: 'other_app' } | { kind: 'json' } | { kind: 'no_encrypt' } | { kind: 'junk'; body: string };
const envelope: fc.Arbitrary<Envelope> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Envelope>({ kind: 'valid' }) },
  { weight: 1, arbitrary: fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64')), hostileString(60)).map((encrypt): Envelope => ({ kind: 'random_encrypt', encrypt })) },
  { weight: 1, arbitrary: fc.constantFrom<Envelope>({ kind: 'other_app' }, { kind: 'json' }, { kind: 'no_encrypt' }) },
  { weight: 1, arbitrary: xmlishText.map((body): Envelope => ({ kind: 'junk', body })) },
);

const contentType = fc.constantFrom('text/xml', 'text/xml', 'text/xml; charset=utf-8', 'application/xml', 'application/json', 'application/octet-stream', 'text/plain; charset=utf-16', 'multipart/form-data; boundary=x', undefined);
const extraQuery = fc.dictionary(fc.constantFrom('openid', 'encrypt_type', 'msg_signature', 'timestamp', 'nonce', 'signature', '__proto__', 'x'), fc.oneof(hostileString(20), fc.constant('aes'), fc.constant('raw')), { maxKeys: 2 });

interface Case {
  mode: OaCredentials['mode'];
  inner: string | Buffer;
  signing: Signing;
  encrypted: boolean;
  envelope: Envelope;
  contentType: string | undefined;
  extraQuery: Record<string, string>;
  nonce: string;
}

const pushCase: fc.Arbitrary<Case> = fc.constantFrom(...MODES).chain((mode) =>
  fc.record({
    mode: fc.constant(mode),
    inner: innerBody(accounts.get(mode)!),
    signing,
    // Mostly the account's own mode; sometimes the other one (plain to a safe account, aes to a plain one).
    encrypted: fc.oneof({ weight: 10, arbitrary: fc.constant(mode !== 'plain') }, { weight: 1, arbitrary: fc.boolean() }),
    envelope,
    contentType,
    extraQuery: fc.oneof({ weight: 10, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: extraQuery }),
    nonce: fc.oneof(fc.integer({ min: 0, max: 1e9 }).map(String), fc.string({ minLength: 1, maxLength: 64 })),
  }),
);

/** Query parameters the URL signature covers or carries. */
const URL_SIGNED_KEYS = new Set(['signature', 'timestamp', 'nonce']);

/** The request WeChat would send for the case (signed and, for an encrypted push, enveloped with @wecom/crypto), then broken as the case says. */
function requestFor(c: Case): { url: string; body: string | Buffer; headers: Record<string, string>; signedRight: boolean } {
  const { tenantId, oa } = accounts.get(c.mode)!;
  const timestamp = String(c.signing === 'stale' ? nowSec() - 3_600 : nowSec());
  const q = new URLSearchParams();
  let signature = sha1Sorted(oa.token, timestamp, c.nonce);
  if (c.signing === 'wrong_signature') signature = sha1Sorted(oa.token, timestamp, `${c.nonce}x`);
  if (c.signing === 'uppercase_hex') signature = signature.toUpperCase();
  if (c.signing !== 'unsigned') q.set('signature', signature);
  q.set('timestamp', timestamp);
  q.set('nonce', c.nonce);
  let body: string | Buffer = c.inner;
  if (c.encrypted) {
    q.set('encrypt_type', 'aes');
    const plaintext = typeof c.inner === 'string' ? c.inner : c.inner.toString('latin1');
    const encrypt = c.envelope.kind === 'random_encrypt' ? c.envelope.encrypt : wecomCrypto.encrypt(oa.encodingAESKey, plaintext, c.envelope.kind === 'other_app' ? 'wx0000000000000000' : oa.appId);
    const msgSignature = c.signing === 'wrong_msg_signature' ? sha1Sorted(oa.token, timestamp, c.nonce, `${encrypt}x`) : sha1Sorted(oa.token, timestamp, c.nonce, encrypt);
    q.set('msg_signature', msgSignature);
    const to = `<ToUserName><![CDATA[${oa.originalId}]]></ToUserName>`;
    if (c.envelope.kind === 'json') body = JSON.stringify({ ToUserName: oa.originalId, Encrypt: encrypt });
    else if (c.envelope.kind === 'no_encrypt') body = `<xml>${to}</xml>`;
    else if (c.envelope.kind === 'junk') body = c.envelope.body;
    else body = `<xml>${to}<Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;
  }
  for (const [k, v] of Object.entries(c.extraQuery)) q.set(k, v);
  const headers: Record<string, string> = c.contentType ? { 'content-type': c.contentType } : {};
  // Uppercase hex is still the right signature (signatureMatches lower-cases); an extra query key may
  // overwrite a signed one. msg_signature counts only when the push ends up encrypted (plain mode has none).
  const extra = Object.keys(c.extraQuery);
  const urlSigned = !['wrong_signature', 'stale', 'unsigned'].includes(c.signing) && !extra.some((k) => URL_SIGNED_KEYS.has(k));
  const bodySigned = q.get('encrypt_type') !== 'aes' || (c.signing !== 'wrong_msg_signature' && !extra.includes('msg_signature'));
  const signedRight = urlSigned && bodySigned;
  return { url: `/wechat/oa/${tenantId}?${q}`, body, headers, signedRight };
}


describe('POST /wechat/oa/{tenantId} under fuzzing', () => {
  it(
    'answers every push with a 2xx WeChat answer or a 4xx problem+json, never a 5xx, and a refusal changes nothing',
    async () => {
      let before: Fingerprint = await fingerprint(server.ctx.db, tables);
      const seen = { ok: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(pushCase, async (c) => {
          const req = requestFor(c);
          const logsFrom = server.logs.length;
          const res = await server.app.inject({ method: 'POST', url: req.url, headers: req.headers, payload: req.body });
          const after = await fingerprint(server.ctx.db, tables);
          // Taken before any expectation can throw, so a failing case (and fast-check's shrinking) starts from the truth.
          const prev = before;
          before = after;
          const type = String(res.headers['content-type'] ?? '');
          expect(res.statusCode, `${res.statusCode} ${res.body.slice(0, 300)}`).toBeLessThan(500);
          expect(errorLogsSince(server.logs, logsFrom)).toEqual([]);
          if (res.statusCode < 300) {
            seen.ok++;
            expect(req.signedRight, 'a push with a wrong or missing signature was answered 2xx').toBe(true);
            expect(type).toMatch(/^(text\/xml|text\/plain|application\/json)/);
          } else {
            seen.refused++;
            expect(res.statusCode).toBeGreaterThanOrEqual(400);
            expect(type).toMatch(/^application\/problem\+json/);
            const problem = res.json() as { code: string; status: number };
            expect(Object.keys(ERROR_CODES)).toContain(problem.code);
            expect(problem.status).toBe(res.statusCode);
            expect(differences(prev, after), `a refused push (${problem.code}) changed the database`).toEqual([]);
          }
        }),
        { seed, numRuns: RUNS },
      );
      // The generators must reach both sides, or the property says little.
      expect(seen.ok).toBeGreaterThan(0);
      expect(seen.refused).toBeGreaterThan(0);
      process.stdout.write(`[fuzz] oa-endpoint: ${seen.ok} answered, ${seen.refused} refused\n`);
    },
    TIMEOUT_MS,
  );

  it('refuses every DTD and entity attack in every mode with a 400 problem+json and no trace', async () => {
    for (const mode of MODES) {
      for (const attack of XML_ATTACKS.filter((a) => /DOCTYPE|ENTITY/i.test(a))) {
        const before = await fingerprint(server.ctx.db, tables);
        const req = requestFor({ mode, inner: attack, signing: 'valid', encrypted: mode !== 'plain', envelope: { kind: 'valid' }, contentType: 'text/xml', extraQuery: {}, nonce: String(randomInt(1e9)) });
        const res = await server.app.inject({ method: 'POST', url: req.url, headers: req.headers, payload: req.body });
        expect(res.statusCode, res.body).toBe(400);
        expect(res.json()).toMatchObject({ code: 'validation_failed' });
        expect(differences(before, await fingerprint(server.ctx.db, tables))).toEqual([]);
      }
    }
  });
});

// Logs never carry a clear card number, ID number, phone or secret, however a value reaches the logger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import type { ModulePlugin } from '../../../src/app/server.ts';

const CARD = '6228480012345678903';
const ID = '11010519491231002X';
const PHONE = '13912345678';
const SECRET = 'appsecret-0f9e8d7c6b5a';
registerSensitive(CARD, ID, PHONE, SECRET);

const chattyModule: ModulePlugin = (app) => {
  app.post('/api/v1/test-chatty', async (req) => {
    const body = req.body as Record<string, string>;
    // Structured fields, nested objects, free text and an error message: four ways a value can leak.
    req.log.info({ cardNumber: body.cardNumber, idNumber: body.idNumber, phone: body.phone }, 'binding started');
    req.log.info({ binding: { holder: { cardNumber: body.cardNumber, phone: body.phone } }, tenant: { appSecret: body.secret } }, 'nested');
    req.log.warn(`core said card ${body.cardNumber} of holder ${body.idNumber} reachable at ${body.phone}`);
    req.log.error({ err: new Error(`card ${body.cardNumber} rejected`) }, 'core error');
    throw new Error(`unexpected failure for ${body.cardNumber}`);
  });
};

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ modules: [chattyModule] });
});
afterAll(async () => {
  await t?.close();
});

describe('log privacy', () => {
  it('masks or redacts sensitive values in every log line and in the error answer', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/test-chatty?phone=' + PHONE,
      payload: { cardNumber: CARD, idNumber: ID, phone: PHONE, secret: SECRET },
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain(CARD);
    const text = t.logs.join('\n');
    expect(t.logs.length).toBeGreaterThan(4);
    for (const v of [CARD, ID, PHONE, SECRET]) expect(text).not.toContain(v);
    // The masked forms are there, so the logs stay useful to an operator.
    expect(text).toContain('622848*********8903');
    expect(text).toContain('139****5678');
  });
});

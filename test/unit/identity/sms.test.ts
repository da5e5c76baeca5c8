// The HTTP SMS provider adapter against a real local HTTP server: JSON body with bearer auth, bounded retries on 5xx/429/network, none on 4xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { httpSmsSender, SMS_MAX_ATTEMPTS } from '../../../src/identity/sms.ts';

let server: Server;
let url: string;
const seen: { auth: string | undefined; body: unknown }[] = [];
let script: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      seen.push({ auth: req.headers.authorization, body: JSON.parse(data) });
      res.statusCode = script.shift() ?? 200;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/sms`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const noSleep = async () => undefined;

describe('httpSmsSender', () => {
  it('POSTs { phone, text } as JSON with the bearer token, and never the code as a field', async () => {
    seen.length = 0;
    script = [200];
    await httpSmsSender({ url, token: 'tok-1', sleep: noSleep }).send({ phone: '13800001001', text: '【银行】验证码 123456', code: '123456' });
    expect(seen).toEqual([{ auth: 'Bearer tok-1', body: { phone: '13800001001', text: '【银行】验证码 123456' } }]);
  });

  it('retries 5xx and 429 up to its bound, then succeeds', async () => {
    seen.length = 0;
    script = [503, 429, 200];
    await httpSmsSender({ url, token: undefined, sleep: noSleep }).send({ phone: '13800001001', text: 'x' });
    expect(seen).toHaveLength(3);
    expect(seen[0]!.auth).toBeUndefined();
  });

  it('gives up after SMS_MAX_ATTEMPTS failures', async () => {
    seen.length = 0;
    script = Array(SMS_MAX_ATTEMPTS + 2).fill(500);
    await expect(httpSmsSender({ url, token: 't', sleep: noSleep }).send({ phone: '13800001001', text: 'x' })).rejects.toThrow(/500/);
    expect(seen).toHaveLength(SMS_MAX_ATTEMPTS);
  });

  it('does not retry a 4xx refusal', async () => {
    seen.length = 0;
    script = [400, 200];
    await expect(httpSmsSender({ url, token: 't', sleep: noSleep }).send({ phone: '13800001001', text: 'x' })).rejects.toThrow(/400/);
    expect(seen).toHaveLength(1);
  });

  it('retries an unreachable gateway and then gives up', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    let sleeps = 0;
    await expect(
      httpSmsSender({ url: `http://127.0.0.1:${port}/`, token: 't', sleep: async () => void sleeps++ }).send({ phone: '13800001001', text: 'x' }),
    ).rejects.toThrow(/unreachable/);
    expect(sleeps).toBe(SMS_MAX_ATTEMPTS - 1);
  });
});

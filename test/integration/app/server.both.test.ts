// The server's cross-cutting behaviour: health, readiness, metrics, OpenAPI, and problem+json for every failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import type { ModulePlugin } from '../../../src/app/server.ts';
import { AppError } from '../../../src/app/errors.ts';

/** A route shaped like a real money mutation, to exercise validation and error mapping. */
const probeModule: ModulePlugin = (app) => {
  app.post(
    '/api/v1/test-probe',
    {
      schema: {
        body: Type.Object(
          { amount: Type.Integer({ minimum: 1 }), currency: Type.Literal('CNY'), memo: Type.Optional(Type.String({ maxLength: 20 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ amount: Type.Integer(), currency: Type.String() }) },
      },
    },
    async (req) => ({ amount: req.body.amount, currency: req.body.currency, leaked: 'not in schema' }),
  );
  app.get('/api/v1/test-probe/boom', async () => {
    throw new Error('relation "secret_table" does not exist at /srv/wecard/src/x.ts:12');
  });
  app.get('/api/v1/test-probe/card-lost', async () => {
    throw new AppError('card_lost', 'the card was reported lost');
  });
};

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ modules: [probeModule] });
});
afterAll(async () => {
  await t?.close();
});

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const body = res.json();
  expect(body).toMatchObject({ status, code });
  expect(typeof body.title).toBe('string');
  expect(typeof body.type).toBe('string');
  return body;
}

describe('server', () => {
  it('answers /healthz and /readyz with the database kind', async () => {
    expect((await t.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', database: t.ctx.dbKind });
  });

  it('reports not ready while shutting down, so the load balancer drains the instance', async () => {
    t.app.state.shuttingDown = true;
    try {
      expectProblem(await t.app.inject('/readyz'), 503, 'not_ready');
    } finally {
      t.app.state.shuttingDown = false;
    }
  });

  it('exposes Prometheus metrics including request durations by route', async () => {
    await t.app.inject('/healthz');
    const res = await t.app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('wecard_http_request_duration_seconds_bucket');
    expect(res.body).toContain('route="/healthz"');
  });

  it('publishes an OpenAPI 3.1 document generated from the route schemas, and the docs page', async () => {
    const doc = (await t.app.inject('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/healthz']).toBeDefined();
    expect(doc.paths['/api/v1/test-probe'].post.requestBody).toBeDefined();
    const docs = await t.app.inject('/docs/');
    expect([200, 302]).toContain(docs.statusCode);
  });

  it('answers malformed JSON with 400 validation_failed naming the body', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/test-probe', headers: { 'content-type': 'application/json' }, payload: '{"amount": 12,' });
    const body = expectProblem(res, 400, 'validation_failed');
    expect(body.errors).toEqual([{ field: 'body', message: 'is not valid JSON' }]);
  });

  it('refuses a JSON body holding U+0000 (a key or a string at any depth) with 400, and keeps prototype-poisoning protection', async () => {
    for (const payload of ['{"amount": 12, "currency": "CNY", "memo": "a\\u0000b"}', '{"amount": 12, "currency": "CNY", "x": [{"\\u0000": 1}]}']) {
      const body = expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/test-probe', headers: { 'content-type': 'application/json' }, payload }), 400, 'validation_failed');
      expect(body.errors).toEqual([{ field: 'body', message: 'must not contain the NUL character (U+0000)' }]);
    }
    // A text that only mentions the escape (an escaped backslash) is an ordinary string.
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/test-probe', headers: { 'content-type': 'application/json' }, payload: '{"amount": 12, "currency": "CNY", "memo": "a\\\\u0000"}' });
    expect(ok.statusCode).toBe(200);
    expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/test-probe', headers: { 'content-type': 'application/json' }, payload: '{"amount": 12, "currency": "CNY", "__proto__": {"x": 1}}' }), 400, 'validation_failed');
  });

  it('names every bad field of a well-formed body', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/test-probe', payload: { amount: 'ten', currency: 'USD', extra: 1 } });
    const body = expectProblem(res, 400, 'validation_failed');
    const fields = body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(['body.amount', 'body.currency', 'body.extra']);
  });

  it('names a missing required field', async () => {
    const body = expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/test-probe', payload: { amount: 5 } }), 400, 'validation_failed');
    expect(body.errors).toEqual([expect.objectContaining({ field: 'body.currency' })]);
  });

  it('serialises answers through the response schema, dropping fields it does not declare', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/test-probe', payload: { amount: 5, currency: 'CNY' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ amount: 5, currency: 'CNY' });
  });

  it('refuses an oversized body with 413 and a non-JSON content type with 415', async () => {
    const big = JSON.stringify({ amount: 1, currency: 'CNY', memo: 'x'.repeat(300 * 1024) });
    expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/test-probe', headers: { 'content-type': 'application/json' }, payload: big }), 413, 'payload_too_large');
    expectProblem(await t.app.inject({ method: 'POST', url: '/api/v1/test-probe', headers: { 'content-type': 'text/csv' }, payload: 'a,b' }), 415, 'unsupported_media_type');
  });

  it('maps an unexpected error to 500 internal without leaking its message or stack', async () => {
    const res = await t.app.inject('/api/v1/test-probe/boom');
    const body = expectProblem(res, 500, 'internal');
    expect(res.body).not.toContain('secret_table');
    expect(res.body).not.toContain('/srv/wecard');
    expect(body.requestId).toBe(res.headers['x-request-id']);
  });

  it('maps an AppError to its catalogue status and code', async () => {
    const body = expectProblem(await t.app.inject('/api/v1/test-probe/card-lost'), 423, 'card_lost');
    expect(body.detail).toBe('the card was reported lost');
  });

  it('answers unknown routes with 404 problem+json', async () => {
    expectProblem(await t.app.inject('/api/v1/nowhere'), 404, 'not_found');
  });

  it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
    const good = await t.app.inject({ url: '/healthz', headers: { 'x-request-id': 'lb-1234567890' } });
    expect(good.headers['x-request-id']).toBe('lb-1234567890');
    const bad = await t.app.inject({ url: '/healthz', headers: { 'x-request-id': 'x\n<script>' } });
    expect(bad.headers['x-request-id']).not.toContain('<');
  });
});

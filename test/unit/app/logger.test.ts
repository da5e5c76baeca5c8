// The logger's key redaction: every sensitive key at any depth, copy on write, class instances left to their serialisers.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSensitive } from '../../../src/app/logger.ts';

function sink(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

describe('redactSensitive', () => {
  it('replaces sensitive keys at the top, nested in objects and inside arrays', () => {
    const out = redactSensitive({
      cardNumber: '6228480012345678903',
      a: { b: { c: { d: { e: { phone: '13912345678' } } } } },
      list: [{ idNumber: '11010519491231002X' }, 'plain'],
      headers: { authorization: 'Bearer x', cookie: 'sid=1', accept: 'json' },
    });
    expect(out).toEqual({
      cardNumber: '[redacted]',
      a: { b: { c: { d: { e: { phone: '[redacted]' } } } } },
      list: [{ idNumber: '[redacted]' }, 'plain'],
      headers: { authorization: '[redacted]', cookie: '[redacted]', accept: 'json' },
    });
  });

  it('returns the very object when there is nothing to hide, and never changes its input', () => {
    const clean = { tenantId: 't1', nested: { amountFen: 100 }, list: [1, 2] };
    expect(redactSensitive(clean)).toBe(clean);
    const dirty = { nested: { otp: '123456' } };
    const out = redactSensitive(dirty);
    expect(out).not.toBe(dirty);
    expect(dirty.nested.otp).toBe('123456');
  });

  it('leaves class instances to their own serialisers and keeps absent values absent', () => {
    const err = Object.assign(new Error('boom'), { phone: 'x' });
    expect(redactSensitive({ err }).err).toBe(err);
    expect(redactSensitive({ token: undefined })).toEqual({ token: undefined });
  });

  it('stops at a bounded depth instead of walking a cycle forever', () => {
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    expect(() => redactSensitive(loop)).not.toThrow();
  });
});

describe('createLogger', () => {
  it('writes redacted keys, masked free text and an ISO time on every line', () => {
    const { lines, stream } = sink();
    const log = createLogger('info', stream);
    log.info({ req: { headers: { authorization: 'Bearer secret-token-1' } }, secret: 's3cr3t' }, 'card 6228480012345678903 for 13912345678');
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line.secret).toBe('[redacted]');
    expect(lines[0]).not.toContain('secret-token-1');
    expect(line.msg).toBe('card 622848*********8903 for 139****5678');
    expect(line.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});

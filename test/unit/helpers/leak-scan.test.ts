// The suite-wide leak scan really finds a leaked value (a check that cannot fail would be worthless).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanForLeaks } from '../../helpers/global-setup.ts';

describe('log leak scan', () => {
  it('reports a registered value found in a log line, and passes clean logs', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wecard-leak-'));
    const logs = path.join(dir, 'logs');
    mkdirSync(logs);
    const secrets = path.join(dir, 'secrets.txt');
    writeFileSync(secrets, '6228480012345678903\n13912345678\n');
    writeFileSync(path.join(logs, '1.ndjson'), '{"msg":"card 622848*********8903"}\n{"msg":"phone 139****5678"}\n');
    expect(scanForLeaks(logs, secrets)).toEqual({ lines: 2, secrets: 2, leaks: [] });
    writeFileSync(path.join(logs, '2.ndjson'), '{"msg":"oops 13912345678"}\n');
    const r = scanForLeaks(logs, secrets);
    expect(r.leaks).toHaveLength(1);
    expect(r.leaks[0]).not.toContain('13912345678');
  });
});

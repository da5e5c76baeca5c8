// Configuration is validated once at start: every bad value is named, production demands real keys.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../../src/app/config.ts';

const PROD_KEYS = {
  DATABASE_URL: 'postgres://u@db.internal:5432/wecard',
  FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f,v2:0f0e0d0c0b0a09080706050403020100',
  BLIND_INDEX_KEY: 'ab'.repeat(32),
  PASSWORD_PEPPER: 'a-long-enough-pepper',
};

function problemsOf(source: Record<string, string>): string[] {
  try {
    parseConfig(source);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config', () => {
  it('defaults to embedded mode with the sandbox and demo data when no DATABASE_URL is given', () => {
    const c = parseConfig({});
    expect(c.mode).toBe('embedded');
    expect(c.sandbox).toBe(true);
    expect(c.seedDemo).toBe(true);
    expect(c.port).toBe(3000);
    expect(c.publicUrl).toBe('http://127.0.0.1:3000');
    expect(c.wechat.apiBase).toBe('http://127.0.0.1:3000/sandbox/wx');
    expect(c.wechat.payBase).toBe('http://127.0.0.1:3000/sandbox/pay');
  });

  it('runs in production mode on PostgreSQL with the real WeChat platform when DATABASE_URL and keys are set', () => {
    const c = parseConfig(PROD_KEYS);
    expect(c.mode).toBe('production');
    expect(c.sandbox).toBe(false);
    expect(c.seedDemo).toBe(false);
    expect(c.wechat.apiBase).toBe('https://api.weixin.qq.com');
    expect(c.wechat.payBase).toBe('https://api.mch.weixin.qq.com');
    expect(c.fieldKeyCurrent).toBe('v2');
  });

  it('names each bad variable, all at once', () => {
    const problems = problemsOf({ PORT: 'eighty', LOG_LEVEL: 'loud', DB_POOL_MAX: '0', REDIS_URL: 'http://x', SEED_DEMO: 'maybe' });
    expect(problems).toHaveLength(5);
    for (const name of ['PORT', 'LOG_LEVEL', 'DB_POOL_MAX', 'REDIS_URL', 'SEED_DEMO']) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
  });

  it('refuses a port out of range and a malformed database URL', () => {
    expect(problemsOf({ PORT: '70000' })[0]).toMatch(/^PORT: must be a whole number from 0 to 65535/);
    expect(problemsOf({ DATABASE_URL: 'mysql://x/y', ...{ FIELD_KEYS: PROD_KEYS.FIELD_KEYS, BLIND_INDEX_KEY: PROD_KEYS.BLIND_INDEX_KEY, PASSWORD_PEPPER: PROD_KEYS.PASSWORD_PEPPER } })[0]).toMatch(/^DATABASE_URL:/);
  });

  it('takes the https origins WeCom serves contact-way QR images from, and refuses anything else', () => {
    expect(parseConfig(PROD_KEYS).wechat.wecomQrImageOrigins).toEqual(['https://p.qpic.cn', 'https://wework.qpic.cn']);
    expect(parseConfig({ ...PROD_KEYS, WECOM_QR_IMAGE_ORIGINS: 'https://img.example.cn, https://P.example.cn/' }).wechat.wecomQrImageOrigins).toEqual(['https://img.example.cn', 'https://p.example.cn']);
    const problems = problemsOf({ WECOM_QR_IMAGE_ORIGINS: "http://p.qpic.cn https://p.qpic.cn/wwhead https://u:p@x.cn 'unsafe-inline'" });
    expect(problems).toHaveLength(4);
    for (const p of problems) expect(p).toMatch(/^WECOM_QR_IMAGE_ORIGINS: ".+" is not an https origin/);
  });

  it('demands field keys, a blind-index key and a pepper in production rather than generating them', () => {
    const problems = problemsOf({ DATABASE_URL: PROD_KEYS.DATABASE_URL });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['BLIND_INDEX_KEY', 'FIELD_KEYS', 'PASSWORD_PEPPER']);
  });

  it('rejects malformed keys with the variable named and without echoing the key', () => {
    const problems = problemsOf({ ...PROD_KEYS, FIELD_KEYS: 'v1:secretsecret', BLIND_INDEX_KEY: 'zz', PASSWORD_PEPPER: 'short' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['BLIND_INDEX_KEY', 'FIELD_KEYS', 'PASSWORD_PEPPER']);
    expect(problems.join('\n')).not.toContain('secretsecret');
  });

  it('refuses FIELD_KEY_CURRENT naming a version that is not configured', () => {
    expect(problemsOf({ ...PROD_KEYS, FIELD_KEY_CURRENT: 'v9' })[0]).toMatch(/^FIELD_KEY_CURRENT:/);
  });

  it('never mounts the sandbox with NODE_ENV=production', () => {
    expect(problemsOf({ NODE_ENV: 'production', SANDBOX: 'true', ...PROD_KEYS })[0]).toMatch(/^SANDBOX:/);
    expect(problemsOf({ NODE_ENV: 'production' })[0]).toMatch(/^SANDBOX:/);
  });

  it('refuses demo data without the sandbox or in production, where its clear numbers would be published', () => {
    expect(problemsOf({ ...PROD_KEYS, SEED_DEMO: 'true' })[0]).toMatch(/^SEED_DEMO:/);
    expect(problemsOf({ NODE_ENV: 'production', SANDBOX: 'false', SEED_DEMO: 'true', ...PROD_KEYS })[0]).toMatch(/^SEED_DEMO:/);
    expect(problemsOf({ ...PROD_KEYS, SANDBOX: 'true', SEED_DEMO: 'true' })).toEqual([]);
  });

  it('reads wecard.config.json, and the environment wins over the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wecard-config-'));
    writeFileSync(path.join(dir, 'wecard.config.json'), JSON.stringify({ PORT: 4100, LOG_LEVEL: 'warn' }));
    const c = loadConfig({ LOG_LEVEL: 'error' }, dir);
    expect(c.port).toBe(4100);
    expect(c.logLevel).toBe('error');
  });

  it('explains a config file that is not JSON, and a WECARD_CONFIG path that does not exist', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wecard-config-'));
    writeFileSync(path.join(dir, 'wecard.config.json'), '{ PORT: 1');
    expect(() => loadConfig({}, dir)).toThrow(/not valid JSON/);
    expect(() => loadConfig({ WECARD_CONFIG: path.join(dir, 'nope.json') }, dir)).toThrow(/WECARD_CONFIG: file .* does not exist/);
  });
});

describe('README configuration table', () => {
  it('documents every configuration variable the code reads', async () => {
    const { readFileSync } = await import('node:fs');
    const { CONFIG_DOC } = await import('../../../src/app/config.ts');
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');
    for (const [names] of CONFIG_DOC) {
      for (const name of names.split(/,\s*|\s*\/\s*/)) expect(readme, name).toContain(`\`${name}\``);
    }
  });
});
